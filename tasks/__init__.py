"""Prefect tasks: each wraps one plugin call (and, for a change, the state write that follows it)."""

from devstream.tasks.change import apply_change
from devstream.tasks.read import read_resource

__all__ = ["apply_change", "read_resource"]
