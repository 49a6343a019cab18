"""Opt-in: devlake-config against a real Apache DevLake.

Runs only when `DTM_LIVE_DEVLAKE_URL` names DevLake's API (the backend, e.g. http://localhost:8080, or config-ui's
http://localhost:4000/api). It creates a GitHub connection with a unique name and a dummy token (DevLake does not
check a token when saving a connection), a manual blueprint over it, reads both back, changes the connection as
the UI would, and deletes both.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from devstream.plugin import PluginContext
from devstream.plugins.devlake_config import DevLakeConfigOptions, DevLakeConfigPlugin
from devstream.plugins.devlake_config.client import DevLakeClient

URL = os.environ.get("DTM_LIVE_DEVLAKE_URL", "")
pytestmark = pytest.mark.skipif(not URL, reason="live DevLake test: set DTM_LIVE_DEVLAKE_URL to run it")


def test_connections_and_blueprint_on_a_real_devlake(tmp_path: Path) -> None:
    plugin = DevLakeConfigPlugin()
    name = f"dtm-live-{uuid.uuid4().hex[:8]}"
    options = DevLakeConfigOptions.model_validate({
        "devlakeAddr": URL,
        "plugins": [{"name": "github", "connections": [{"name": name, "endpoint": "https://api.github.com/",
                                                       "auth": {"token": "dtm-live-not-a-token"}}]}],
        "blueprint": {"name": name, "isManual": True},
    })
    ctx = PluginContext(name="devlake-config", instance_id="live", workdir=tmp_path)
    status = plugin.create(options, ctx)
    try:
        ctx.prior = status
        assert plugin.read(options, ctx) == status
        with DevLakeClient(URL, ctx) as devlake:
            cid = status["outputs"]["connectionIDs"][f"github/{name}"]
            devlake.update_connection("github", cid, {"rateLimitPerHour": 7})
        assert plugin.read(options, ctx)["connections"][f"github/{name}"]["rateLimitPerHour"] == 7  # type: ignore[index]
    finally:
        ctx.prior = status
        plugin.delete(options, ctx)
    assert plugin.read(options, ctx) is None
