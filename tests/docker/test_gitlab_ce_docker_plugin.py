"""gitlab-ce-docker, plugin call by plugin call, against the Docker Engine stand-in on a unix socket: the container
GitLab's docs describe, waiting for its healthcheck, drift as Read sees it, updates that keep the data, and a
delete that touches only what dtm made."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from docker_standin import GITLAB_IMAGE, DockerStandIn
from swagger2 import Swagger2

from devstream.errors import PermanentError, TransientError
from devstream.plugin import PluginContext
from devstream.plugins.docker import DockerEngine
from devstream.plugins.gitlab_ce_docker import GitLabCEDockerOptions, GitLabCEDockerPlugin

plugin = GitLabCEDockerPlugin()


def options(tmp_path: Path, **given: object) -> GitLabCEDockerOptions:
    return GitLabCEDockerOptions.model_validate({"gitlabHome": str(tmp_path / "gitlab"), **given})


def test_create_runs_gitlab_as_its_docs_say_and_waits_until_healthy(
        tmp_path: Path, standin: DockerStandIn, docker_host: str, ctx: PluginContext,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    opts = options(tmp_path, hostname="gitlab.test", sshPort=2222, httpPort=8929)
    status = plugin.create(opts, ctx)

    live = standin.container("gitlab")
    assert live is not None
    assert live["Config"]["Image"] == GITLAB_IMAGE
    assert live["Config"]["Hostname"] == "gitlab.test"
    assert live["Config"]["Labels"] == {"io.devstream.tool": "gitlab-ce-docker.default"}
    assert "GITLAB_OMNIBUS_CONFIG=external_url 'http://gitlab.test:8929'; gitlab_rails['gitlab_shell_ssh_port'] " \
           "= 2222" in live["Config"]["Env"]
    host = live["HostConfig"]
    assert sorted(host["Binds"]) == sorted([f"{tmp_path}/gitlab/config:/etc/gitlab",
                                            f"{tmp_path}/gitlab/data:/var/opt/gitlab",
                                            f"{tmp_path}/gitlab/logs:/var/log/gitlab"])
    assert host["PortBindings"] == {"22/tcp": [{"HostIp": "", "HostPort": "2222"}],
                                    "80/tcp": [{"HostIp": "", "HostPort": "8929"}],
                                    "443/tcp": [{"HostIp": "", "HostPort": "443"}]}
    assert host["RestartPolicy"] == {"Name": "always"} and host["ShmSize"] == 256 * 1024 * 1024
    assert live["State"]["Health"]["Status"] == "healthy"  # create returned only once GitLab was healthy
    assert all((tmp_path / "gitlab" / d).is_dir() for d in ("config", "data", "logs"))

    assert status["running"] is True
    assert status["outputs"] == {"url": "http://gitlab.test:8929", "hostname": "gitlab.test", "sshPort": 2222,
                                 "httpPort": 8929, "httpsPort": 443, "containerID": live["Id"],
                                 "containerName": "gitlab"}
    assert "pulling gitlab/gitlab-ce:rc" in caplog.text and "is starting" in caplog.text
    assert plugin.read(opts, ctx) == status  # create -> read: the same status, so no drift


def test_read_reports_a_stopped_or_changed_container_and_none_when_gone(
        tmp_path: Path, standin: DockerStandIn, docker_host: str, ctx: PluginContext) -> None:
    opts = options(tmp_path)
    assert plugin.read(opts, ctx) is None
    created = plugin.create(opts, ctx)

    standin.container("gitlab")["State"].update(Running=False, Status="exited")  # type: ignore[index]
    assert plugin.read(opts, ctx) == {**created, "running": False}

    plugin.update(opts, ctx)  # a stopped container is started again, not recreated
    assert standin.container("gitlab")["Id"] == created["containerID"]  # type: ignore[index]
    assert plugin.read(opts, ctx) == created

    standin.containers.clear()
    assert plugin.read(opts, ctx) is None


def test_an_update_recreates_the_container_and_keeps_the_data(
        tmp_path: Path, standin: DockerStandIn, docker_host: str, ctx: PluginContext) -> None:
    first = plugin.create(options(tmp_path), ctx)
    data = tmp_path / "gitlab" / "data" / "repositories.db"
    data.write_text("precious")

    newer = options(tmp_path, imageTag="16.11.2-ce.0", httpPort=8080)
    status = plugin.update(newer, ctx)
    assert status["containerID"] != first["containerID"]
    assert status["image"] == "gitlab/gitlab-ce:16.11.2-ce.0" and status["ports"]["80/tcp"] == 8080
    assert len(standin.containers) == 1
    assert data.read_text() == "precious"


def test_delete_removes_the_container_and_the_data_only_when_asked(
        tmp_path: Path, standin: DockerStandIn, docker_host: str, ctx: PluginContext) -> None:
    opts = options(tmp_path)
    plugin.create(opts, ctx)
    plugin.delete(opts, ctx)
    assert standin.containers == {}
    assert (tmp_path / "gitlab" / "data").is_dir()  # rmDataAfterDelete is false by default
    plugin.delete(opts, ctx)  # already gone is success

    plugin.create(opts, ctx)
    plugin.delete(options(tmp_path, rmDataAfterDelete=True), ctx)
    assert not (tmp_path / "gitlab" / "data").exists()


def test_a_container_dtm_did_not_make_is_never_replaced_or_removed(
        tmp_path: Path, standin: DockerStandIn, docker_host: str, ctx: PluginContext) -> None:
    with DockerEngine(docker_host, ctx) as engine:
        engine.pull(GITLAB_IMAGE)
        engine.create("gitlab", {"Image": GITLAB_IMAGE, "Labels": {"owner": "ops"}})
    with pytest.raises(PermanentError, match=r"exists .* dtm did not create it .* \(docker rm -f gitlab\)"):
        plugin.create(options(tmp_path), ctx)
    plugin.delete(options(tmp_path), ctx)
    assert standin.container("gitlab") is not None


def test_waiting_for_health_is_bounded_and_a_crash_fails_at_once(
        tmp_path: Path, standin: DockerStandIn, docker_host: str, ctx: PluginContext) -> None:
    standin.health_after = 10_000
    with pytest.raises(TransientError, match=r"not healthy after 1 s \(health: starting"):
        plugin.create(options(tmp_path, healthTimeout=1), ctx)
    standin.health_after = 1  # Prefect's retry of the change finds the same container, now healthy
    assert plugin.create(options(tmp_path, healthTimeout=30), ctx)["running"] is True
    assert len(standin.containers) == 1


def test_an_image_no_registry_has_fails_with_the_engine_s_reason(
        tmp_path: Path, standin: DockerStandIn, docker_host: str, ctx: PluginContext) -> None:
    with pytest.raises(PermanentError, match=r"404 .*manifest for gitlab/gitlab-ce:nope not found"):
        plugin.create(options(tmp_path, imageTag="nope"), ctx)
    assert standin.containers == {}


def test_an_engine_that_is_not_there_is_named() -> None:
    ctx = PluginContext(name="gitlab-ce-docker", instance_id="default", workdir=Path("/tmp"))
    opts = GitLabCEDockerOptions(dockerHost="unix:///tmp/dtm-no-such-docker.sock")
    with pytest.raises(TransientError, match=r"Docker engine at unix:///tmp/dtm-no-such-docker.sock did not answer"):
        plugin.read(opts, ctx)


@pytest.mark.parametrize(("given", "message"), [
    ({"gitlabHome": "srv/gitlab"}, "must be an absolute path"),
    ({"hostname": "not a host"}, "is not a hostname"),
    ({"httpPort": 70000}, "less than or equal to 65535"),
    ({"imageTag": "rc latest"}, "is not an image tag"),
])
def test_options_devstream_refused_are_refused(given: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GitLabCEDockerOptions.model_validate(given)


def test_the_description_catches_a_request_docker_would_not_understand(engine_api: Swagger2) -> None:
    """The check the suite runs after every test is real: a misspelt field and an unknown parameter are caught."""
    problems = engine_api.request_problems("POST", "/v1.41/containers/create", {"nmae": ["gitlab"]},
                                           {"Image": GITLAB_IMAGE, "HostConfig": {"Bind": ["/a:/b"]}})
    assert problems == ["POST /containers/create: query parameter 'nmae' is not declared",
                        "POST /containers/create: body: HostConfig.Bind: not a property the description declares"]
    assert engine_api.response_problems("GET", "/v1.41/containers/x/json", 200, {"State": {"Running": "yes"}}) == [
        "GET /containers/{id}/json -> 200: State.Running: 'yes' is not of type 'boolean'"]
