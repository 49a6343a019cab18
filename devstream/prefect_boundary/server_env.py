"""What dtm's local Prefect server is told: the environment of the `prefect server start` dtm runs.

The caller's environment is passed on, so a user's own PREFECT_SERVER_* settings reach the server, except
the few that would make it someone else's server (another database, another home or address); each
setting dtm chooses says why below, and a user's own value of it wins.

Prefect's defaults are kept where dtm measured no gain. One measured and left alone: the task-run recorder
writes one task-run event to a transaction (PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE=1). After
a 1,000-change apply the SQLite server stayed busy recording for 41-46 s (three runs); at 100 events to a
transaction (flush interval 1 s) for 14-17 s (four), but the apply itself took 13.9-18.3 s (median 15.7)
against 11.2-15.1 s (median 13.0), `python benchmarks/apply_scale.py --n 1000 --repeat 2` alternated: a
server that keeps up takes its CPU during the run instead of after it. Users who run big applies back to
back may prefer the batches (README, Performance).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["server_env"]

# The server is dtm's private one: its database lives in dtm's home, whatever the caller's environment says,
# so that `dtm server status` tells the truth and runs are kept between dtm versions. A user who wants
# PostgreSQL or a shared server runs their own and sets PREFECT_API_URL.
_NOT_PASSED_ON = ("PREFECT_API_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_API_DATABASE_CONNECTION_URL",
                  "PREFECT_PROFILES_PATH", "PREFECT_PROFILE", "PREFECT_UI_API_URL")


def server_env(prefect_home: Path, host: str, port: int) -> dict[str, str]:
    """The environment for a `prefect server start` listening on host:port with its home in prefect_home."""
    env = {name: value for name, value in os.environ.items() if name not in _NOT_PASSED_ON}
    # Concurrency leases (the prefect state's lock) kept on disk rather than in memory survive a restart,
    # so a lock does not outlive its holder's death by a lease the server forgot.
    env.setdefault("PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE", "prefect.server.concurrency.lease_storage.filesystem")
    # The UI finds the API through a setting, not through `--port`: left alone it would call port 4200.
    env.update(PREFECT_HOME=str(prefect_home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_SERVER_API_HOST=host, PREFECT_SERVER_API_PORT=str(port),
               PREFECT_SERVER_UI_API_URL=f"http://{host}:{port}/api")
    return env
