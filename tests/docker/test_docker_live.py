"""Opt-in: gitlab-ce-docker's Docker layer against a real Docker engine.

Runs only when `DTM_LIVE_DOCKER=1` (the engine is DOCKER_HOST or the local socket). It pulls a small image
(`DTM_LIVE_DOCKER_IMAGE`, default busybox:1.36), runs it as a container dtm declares, finds it stopped by hand,
starts it again, recreates it with other ports and removes it, leaving nothing behind. Pulling GitLab itself
(gigabytes, minutes to be healthy) is left to `dtm apply` on a real config.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from devstream.plugin import PluginContext
from devstream.plugins.docker import ContainerSpec, DockerEngine, Port, engine_host, ensure, remove_owned

pytestmark = pytest.mark.skipif(os.environ.get("DTM_LIVE_DOCKER") != "1",
                                reason="live Docker test: set DTM_LIVE_DOCKER=1 to run it")
IMAGE = os.environ.get("DTM_LIVE_DOCKER_IMAGE", "busybox:1.36")


def test_a_declared_container_on_a_real_engine(tmp_path: Path) -> None:
    ctx = PluginContext(name="live", instance_id="docker", workdir=tmp_path)
    name = f"dtm-live-{uuid.uuid4().hex[:8]}"
    spec = ContainerSpec(name=name, image=IMAGE, tool=ctx.key, ports=[Port(18080, 8080)], restart="unless-stopped",
                         command=["sleep", "3600"])
    with DockerEngine(engine_host(None), ctx) as engine:
        try:
            live = ensure(engine, spec, ctx)
            assert live["State"]["Running"] is True
            engine.stop(name, grace_seconds=1)
            assert ensure(engine, spec, ctx)["Id"] == live["Id"]  # started again, not recreated
            spec.ports = [Port(18081, 8080)]
            assert ensure(engine, spec, ctx)["Id"] != live["Id"]  # other ports: recreated
        finally:
            remove_owned(engine, name, ctx.key, ctx)
        assert engine.inspect(name) is None
