"""gitlab-ce-docker passes the conformance suite every plugin passes, on the Docker Engine stand-in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from docker_standin import DockerStandIn

from devstream.plugin import PluginContext
from devstream.plugins.gitlab_ce_docker import GitLabCEDockerPlugin
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
