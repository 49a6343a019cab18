"""The Docker layer: the Docker Engine API (`engine`) and declared containers made real (`container`), shared by
every plugin that runs a service on Docker (gitlab-ce-docker, harbor-docker)."""

from __future__ import annotations

from devstream.plugins.docker.container import (
    TOOL_LABEL,
    ContainerSpec,
    Port,
    container_status,
    ensure,
    remove_owned,
    run_once,
    wait_healthy,
)
from devstream.plugins.docker.engine import API_VERSION, DockerEngine, engine_host, is_local

__all__ = [
    "API_VERSION",
    "TOOL_LABEL",
    "ContainerSpec",
    "DockerEngine",
    "Port",
    "container_status",
    "engine_host",
    "ensure",
    "is_local",
    "remove_owned",
    "run_once",
    "wait_healthy",
]
