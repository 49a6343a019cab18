"""A run killed outright (SIGKILL, OOM, a pulled plug) leaves its flow run Running in Prefect's UI for good:
CLI runs send no heartbeats (see devstream/cli/prefect_setup.py), so the server never learns it died.

The state's lock knows better. Each run adds its flow run's id to its holder record as it starts
(`note_this_run`); the next run on the same state takes over the lock of a holder whose process is gone
(same host, pid ended) and, holding that record, marks the dead run's flow run Crashed with the reason
(`bury_predecessor`). Heartbeats would tell the server the same thing, but cost every CLI run up to 1 s at
its end (the heartbeat thread is joined) and a request every 30 s; this costs one read and one state
write, once, in the run after a crash.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.runtime import flow_run
from prefect.states import Crashed

from devstream.engine import Workspace
from devstream.state.lock_protocol import describe_holder

__all__ = ["note_this_run", "bury_predecessor"]


def note_this_run(ws: Workspace) -> None:
    """Record this flow run in the state lock's holder record, for the run after a crash to find."""
    run_id = flow_run.get_id()
    if not run_id:
        return
    try:
        ws.store.note_holder(flow_run=str(run_id), flow_run_name=flow_run.get_name() or "")
    except Exception as exc:  # a convenience for the UI: never worth failing a run over
        get_run_logger().warning("could not record this flow run in the state's lock: %s", exc)


def bury_predecessor(ws: Workspace) -> None:
    """Mark Crashed the flow run of the gone holder whose lock this run took over, if it is still running."""
    dead = ws.store.taken_over()
    if not dead or not dead.get("flow_run"):
        return
    try:
        _mark_crashed(dead)
    except Exception as exc:  # the dead run's record is cosmetic for this run: report, go on
        get_run_logger().warning("could not mark the dead run's flow run %s Crashed: %s", dead["flow_run"], exc)


def _mark_crashed(dead: dict[str, Any]) -> None:
    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(UUID(str(dead["flow_run"])))
        except (ObjectNotFound, ValueError):
            return  # deleted since, or not a flow run id: nothing to mark
        if run.state is not None and run.state.is_final():
            return
        reason = (f"the dtm process that ran it, {describe_holder(dead)}, ended without finishing (killed?); "
                  f"found by flow run {flow_run.get_name() or flow_run.get_id()}, which took over the state's lock")
        client.set_flow_run_state(run.id, Crashed(message=reason), force=True)
    get_run_logger().warning("marked flow run %s (%s) Crashed: %s", run.name, run.id, reason)
