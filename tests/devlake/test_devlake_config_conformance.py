"""devlake-config passes the conformance suite every plugin passes, on the DevLake stand-in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from devlake_standin import DevLakeStandIn
from test_devlake_config_plugin import JIRA_PASSWORD, TOKEN

from devstream.plugin import PluginContext
from devstream.plugins.devlake_config import DevLakeConfigPlugin
from devstream.testing import Harness, PluginConformance


class TestDevLakeConfigConformance(PluginConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path, devlake: DevLakeStandIn, devlake_url: str) -> Harness:
        options: dict[str, Any] = {
            "devlakeAddr": devlake_url,
            "plugins": [{"name": "github", "connections": [{"name": "default", "endpoint": "https://api.github.com/",
                                                           "auth": {"token": TOKEN}}]},
                        {"name": "jira", "connections": [{"name": "default", "endpoint": "https://acme.atlassian.net/",
                                                         "auth": {"username": "bot", "password": JIRA_PASSWORD}}]}],
            "blueprint": {"name": "conformance"},
        }
        ctx = PluginContext(name="devlake-config", instance_id="conformance", workdir=tmp_path)

        def held() -> Any:
            return {"connections": devlake.connections, "blueprints": devlake.blueprints}

        return Harness(plugin=DevLakeConfigPlugin(), options=options, context=ctx, snapshot=held, failures={
            # nothing listening there: may pass when DevLake is up
            "transient": lambda: ({**options, "devlakeAddr": "http://127.0.0.1:9"}, ctx),
            # a data source DevLake has no plugin for: retrying cannot help
            "permanent": lambda: ({**options, "plugins": [{"name": "nosuchsource"}]}, ctx),
        })
