"""Prefect flows: apply, delete, destroy and plan. They compose tasks and never talk to a tool directly."""

from devstream.flows.run import apply, delete, destroy, plan

__all__ = ["apply", "delete", "destroy", "plan"]
