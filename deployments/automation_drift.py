"""Example: answer drift with an apply. Creates a Prefect automation that runs the apply deployment
whenever a drift check announces `dtm.drift.detected`, for the config named in the event.

    python deployments/automation_drift.py --deployment dtm-apply/dtm-apply [--name dtm-remediate-drift]

PREFECT_API_URL must point at the server the deployments live on; its triggers and actions services
must run (they do in `prefect server start`, and in the ephemeral/test server too). Running the script
again replaces the automation of the same name instead of adding a second one.

Each drifted resource is one event. With the default window (0 s) every event starts an apply run, so a
check that finds five drifted tools of one config queues five applies (the `dtm-apply` deployment runs
them one at a time and all but the first find nothing to do). `--within 300` fires once per state per
five minutes instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.events.actions import RunDeployment
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

__all__ = ["DRIFT_EVENT", "create_drift_automation", "deployment_id", "main"]

DRIFT_EVENT = "dtm.drift.detected"  # what devstream.flows.drift emits; kept literal so this script stands alone
DEFAULT_NAME = "dtm-remediate-drift"


def create_drift_automation(deployment_id: UUID, name: str = DEFAULT_NAME, *, within_seconds: float = 0,
                            replace: bool = True) -> UUID:
    """Create the automation (replacing any of the same name) and return its id.

    Trigger: `dtm.drift.detected` on any resource `dtm.*`, reactive, threshold 1, buckets per `dtm.state`
    (the config's state name), so a non-zero `within_seconds` fires at most once per state per window.
    Action: run the deployment with `config` taken from the event's payload. Prefect renders the Jinja
    string when the action runs; a lone `{{ ... }}` expression keeps the value's JSON type (a string here).
    """
    automation = AutomationCore(
        name=name,
        description="Re-apply a config when a dtm drift check finds drifted or missing resources.",
        trigger=EventTrigger(
            expect={DRIFT_EVENT},
            match={"prefect.resource.id": "dtm.*"},
            for_each={"dtm.state"},
            posture=Posture.Reactive,
            threshold=1,
            within=timedelta(seconds=within_seconds),
        ),
        actions=[RunDeployment(source="selected", deployment_id=deployment_id, job_variables=None,
                               parameters={"config": "{{ event.payload.config }}"})],
    )
    with get_client(sync_client=True) as client:
        if replace:
            for existing in client.read_automations_by_name(name):
                client.delete_automation(existing.id)
        return client.create_automation(automation)


def deployment_id(name: str) -> UUID:
    """The id of a deployment named `flow-name/deployment-name`, e.g. `dtm-apply/dtm-apply`."""
    with get_client(sync_client=True) as client:
        return client.read_deployment_by_name(name).id


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--deployment", default="dtm-apply/dtm-apply",
                        help="The deployment to run, as flow-name/deployment-name (default: %(default)s).")
    parser.add_argument("--name", default=DEFAULT_NAME, help="The automation's name (default: %(default)s).")
    parser.add_argument("--within", type=float, default=0.0, metavar="SECONDS",
                        help="Fire at most once per state in this many seconds (default: 0, every event).")
    args = parser.parse_args(argv)
    automation_id = create_drift_automation(deployment_id(args.deployment), args.name, within_seconds=args.within)
    print(f"automation {args.name} ({automation_id}): on {DRIFT_EVENT} run {args.deployment} "
          "with config={{ event.payload.config }}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
