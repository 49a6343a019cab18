"""gitlab-ce-docker and harbor-docker pass the conformance suite every plugin passes, on the Docker Engine stand-in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import harbor_prepare
import pytest
from docker_standin import DockerStandIn

from devstream.plugin import PluginContext
from devstream.plugins.gitlab_ce_docker import GitLabCEDockerPlugin
from devstream.plugins.harbor_docker import HarborDockerPlugin
from devstream.testing import Harness, PluginConformance


class TestGitLabCEDockerConformance(PluginConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path, standin: DockerStandIn, docker_host: str) -> Harness:
        options: dict[str, Any] = {"gitlabHome": str(tmp_path / "gitlab"), "hostname": "gitlab.test",
                                   "healthTimeout": 30}
        ctx = PluginContext(name="gitlab-ce-docker", instance_id="conformance", workdir=tmp_path)

        def engine() -> dict[str, Any]:
            return {"containers": {c["Name"]: (c["Id"], c["Config"], c["HostConfig"], c["State"]["Running"])
                                   for c in standin.containers.values()}, "images": sorted(standin.images)}

        return Harness(plugin=GitLabCEDockerPlugin(), options=options, context=ctx, snapshot=engine, failures={
            # no engine listening: may pass when retried (the daemon restarting)
            "transient": lambda: ({**options, "dockerHost": f"unix://{tmp_path}/no-docker.sock"}, ctx),
            # an image no registry has: retrying cannot help
            "permanent": lambda: ({**options, "imageTag": "no-such-tag"}, ctx),
        })


class TestHarborDockerConformance(PluginConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path, standin: DockerStandIn, docker_host: str) -> Harness:
        standin.registry.update(harbor_prepare.images("v2.4.3"))
        standin.programs["goharbor/prepare:"] = harbor_prepare.prepare
        standin.health_after = 2
        options: dict[str, Any] = {"hostname": "harbor.test", "dataVolume": str(tmp_path / "data"),
                                   "adminPassword": "conformance-admin-secret", "databasePassword": "db-secret-42"}
        ctx = PluginContext(name="harbor-docker", instance_id="conformance", workdir=tmp_path)

        def engine() -> dict[str, Any]:
            return {"containers": {c["Name"]: (c["Id"], c["Config"], c["HostConfig"], c["State"]["Running"])
                                   for c in standin.containers.values()}, "networks": sorted(standin.networks)}

        return Harness(plugin=HarborDockerPlugin(), options=options, context=ctx, snapshot=engine, failures={
            "transient": lambda: ({**options, "dockerHost": f"unix://{tmp_path}/no-docker.sock"}, ctx),
            # a Harbor version no registry has
            "permanent": lambda: ({**options, "version": "v0.0.1"}, ctx),
        })
