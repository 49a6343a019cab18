"""How CLI commands open a config: the state backend, and the Prefect server it may need, ready."""

from __future__ import annotations

import os
from pathlib import Path

from devstream.config import load_config
from devstream.engine import Workspace
from devstream.executor import ClientFactory
from devstream.state import open_store

__all__ = ["open_workspace", "use_prefect_server"]


def use_prefect_server() -> str | None:
    """Point this process at a Prefect server before prefect (or the prefect state backend) needs one, and
    return its API URL (None: Prefect's ephemeral server, inside this process). The one place the CLI chooses.

    Without PREFECT_API_URL every dtm process would start Prefect's ephemeral server (7-18 s); dtm's local
    server is started once and reused (see devstream/prefect_boundary/server.py). Prefect reads the URL once, when it
    is first imported, so this runs before that.
    """
    from devstream.prefect_boundary.server import ensure_server

    if (url := ensure_server()) is not None:
        os.environ["PREFECT_API_URL"] = url
    return url


def open_workspace(config_path: Path, client_factory: ClientFactory | None = None) -> Workspace:
    """Load the config, then open its state; a `prefect` state needs a server, started here if need be.
    `client_factory` builds plugins' HTTP clients (default dtm's `http_client`; tests pass a stand-in's)."""
    config = load_config(config_path)
    if config.state.backend == "prefect":
        use_prefect_server()
    return Workspace(config=config, store=open_store(config), client_factory=client_factory)
