"""`dtm serve`: one process that serves a config's deployments and its drift schedule, no work pool needed.

Prefect's `serve` registers the deployments on the server PREFECT_API_URL names (dtm's local server by
default), then polls for their runs and executes each in a subprocess. The same runs can then be
triggered from the UI, `prefect deployment run 'dtm-apply/<name>'` or the REST API.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from devstream.cli import render
from devstream.cli.workspace import open_workspace, use_prefect_server

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

__all__ = ["serve"]


def serve(*, config_path: Path, drift_cron: str = "0 * * * *", limit: int | None = None) -> int:
    ws = open_workspace(config_path)  # the config must load before anything is registered
    use_prefect_server()
    from prefect import serve as prefect_serve
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    from devstream import flows

    name = ws.config.name
    parameters = {"config": str(Path(config_path).resolve())}
    # Applies and destroys of one config queue behind each other rather than race for the state's lock.
    one_at_a_time = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)
    deployments = [
        flows.apply.to_deployment(name=name, parameters=parameters, concurrency_limit=one_at_a_time,
                                  tags=["dtm"], description=f"Apply {config_path}"),
        flows.plan.to_deployment(name=name, parameters=parameters, tags=["dtm"], description=f"Plan {config_path}"),
        flows.drift_check.to_deployment(name=name, parameters=parameters, cron=drift_cron, tags=["dtm"],
                                        description=f"Drift check of {config_path} ({drift_cron})"),
        flows.destroy.to_deployment(name=name, parameters=parameters, concurrency_limit=one_at_a_time,
                                    tags=["dtm"], description=f"Destroy everything in the state of {config_path}"),
    ]
    render.console.print(f"Serving [bold]{name}[/]: dtm-apply/{name}, dtm-plan/{name}, dtm-destroy/{name}, and "
                         f"dtm-drift-check/{name} on cron '{drift_cron}'. Trigger a run from the UI or with "
                         f"`prefect deployment run 'dtm-apply/{name}'`; Ctrl-C stops serving.")
    # to_deployment gives the deployment itself (not a coroutine) when called from sync code, as here
    prefect_serve(*cast("list[RunnerDeployment]", deployments), limit=limit)
    return 0
