"""Prefect flows: apply, delete, destroy, plan and the drift check.

They compose tasks and never talk to a tool directly.
"""

from devstream.flows.drift import drift_check
from devstream.flows.run import apply, delete, destroy, plan

__all__ = ["apply", "delete", "destroy", "drift_check", "plan"]
