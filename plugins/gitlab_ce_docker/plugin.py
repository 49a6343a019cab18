"""gitlab-ce-docker: GitLab Community Edition in one container on Docker, as DevStream ran it.

The container is GitLab's documented `docker run`: image `gitlab/gitlab-ce:<imageTag>`, hostname, ports 22, 80
and 443 published on `sshPort`, `httpPort` and `httpsPort`, the three folders under `gitlabHome` mounted on
/etc/gitlab, /var/opt/gitlab and /var/log/gitlab, `--restart always` and `--shm-size 256m`. Unlike DevStream,
GitLab is also told its own address (`GITLAB_OMNIBUS_CONFIG`: external_url and the SSH port), so clone URLs
work on ports other than 80 and 22, and `https: true` serves GitLab over HTTPS.

Create and update wait, bounded by `healthTimeout`, for GitLab's own healthcheck to pass (it takes minutes),
logging progress; past the bound the change fails as transient and Prefect's retry looks again. Read inspects the
container: gone, stopped, another image, other ports or mounts are drift. An update recreates the container and
keeps the data; delete removes the container, and the data only when `rmDataAfterDelete` says so (and the engine
is this machine's, where the folders are).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from pydantic import Field, field_validator

from devstream.plugin.base import ConvergingPlugin, PluginContext, PluginOptions, ResourceStatus
from devstream.plugins.docker import (
    ContainerSpec,
    DockerEngine,
    Port,
    container_status,
    engine_host,
    ensure,
    is_local,
    remove_owned,
    wait_healthy,
)
from devstream.plugins.docker.options import Hostname

__all__ = ["GitLabCEDockerOptions", "GitLabCEDockerPlugin"]

IMAGE = "gitlab/gitlab-ce"
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_SHM_SIZE = 256 * 1024 * 1024
# GitLab's folders under gitlabHome and where the container mounts them.
VOLUMES = {"config": "/etc/gitlab", "data": "/var/opt/gitlab", "logs": "/var/log/gitlab"}


class GitLabCEDockerOptions(PluginOptions):
    """DevStream's options (with its defaults), and where the engine is and how long to wait for GitLab."""

    hostname: Hostname = Field(default="gitlab.example.com", description="GitLab's hostname, in its URLs and the "
                          "container's hostname.")
    gitlabHome: str = Field(default="/srv/gitlab", description="The absolute folder on the Docker host holding "
                            "GitLab's config, data and logs folders.")
    sshPort: int = Field(default=22, ge=1, le=65535, description="The host port for GitLab's SSH (git clone).")
    httpPort: int = Field(default=80, ge=1, le=65535, description="The host port for GitLab's HTTP.")
    httpsPort: int = Field(default=443, ge=1, le=65535, description="The host port for GitLab's HTTPS.")
    https: bool = Field(default=False, description="Serve GitLab over HTTPS: its external URL is https://hostname "
                        "(certificates under gitlabHome/config/ssl, or GitLab's Let's Encrypt integration).")
    rmDataAfterDelete: bool = Field(default=False, description="Delete removes gitlabHome's config, data and "
                                    "logs folders too (only on a local engine). Updates always keep them.")
    imageTag: str = Field(default="rc", description="The gitlab/gitlab-ce image tag, e.g. 16.11.2-ce.0.")
    containerName: str = Field(default="gitlab", pattern=r"[a-zA-Z0-9][a-zA-Z0-9_.-]*",
                               description="The container's name.")
    dockerHost: str | None = Field(default=None, description="The Docker engine: unix:///path/docker.sock or "
                                   "tcp://HOST:PORT; default DOCKER_HOST, else unix:///var/run/docker.sock.")
    healthTimeout: int = Field(default=900, ge=0, description="Seconds to wait for GitLab to be healthy after a "
                               "create or update (0: do not wait).")

    @field_validator("gitlabHome")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not PurePosixPath(value).is_absolute():
            raise ValueError(f"gitlabHome must be an absolute path on the Docker host, not {value!r}")
        return str(PurePosixPath(value))

    @field_validator("imageTag")
    @classmethod
    def _tag(cls, value: str) -> str:
        if not _TAG.fullmatch(value):
            raise ValueError(f"{value!r} is not an image tag")
        return value


class GitLabCEDockerPlugin(ConvergingPlugin[GitLabCEDockerOptions]):
    name: ClassVar[str] = "gitlab-ce-docker"
    Options: ClassVar[type[GitLabCEDockerOptions]] = GitLabCEDockerOptions
    description: ClassVar[str] = "GitLab CE in a container on Docker, its data in folders of the Docker host."

    def read(self, options: GitLabCEDockerOptions, ctx: PluginContext) -> ResourceStatus | None:
        with DockerEngine(engine_host(options.dockerHost), ctx) as engine:
            live = engine.inspect(options.containerName)
        return None if live is None else _status(options, live)

    def delete(self, options: GitLabCEDockerOptions, ctx: PluginContext) -> None:
        host = engine_host(options.dockerHost)
        with DockerEngine(host, ctx) as engine:
            remove_owned(engine, options.containerName, ctx.key, ctx)
        if not options.rmDataAfterDelete:
            return
        if not is_local(host):
            ctx.logger.warning("%s: GitLab's data is on the Docker host %s, not on this machine: remove %s there",
                               ctx.key, host, options.gitlabHome)
            return
        for folder in VOLUMES:
            shutil.rmtree(Path(options.gitlabHome) / folder, ignore_errors=True)
        ctx.logger.info("%s: removed GitLab's data under %s", ctx.key, options.gitlabHome)

    def output_keys(self, options: GitLabCEDockerOptions) -> set[str] | None:
        return {"url", "hostname", "sshPort", "httpPort", "httpsPort", "containerID", "containerName"}

    def systems(self, options: Any) -> set[str]:
        return {"docker"}

    def converge(self, options: GitLabCEDockerOptions, ctx: PluginContext) -> ResourceStatus:
        host = engine_host(options.dockerHost)
        if is_local(host):
            # Docker would make missing bind-mount folders owned by root; made here they are the user's.
            for folder in VOLUMES:
                (Path(options.gitlabHome) / folder).mkdir(parents=True, exist_ok=True)
        with DockerEngine(host, ctx) as engine:
            ensure(engine, container_spec(options, ctx.key), ctx)
            live = wait_healthy(engine, options.containerName, ctx, options.healthTimeout)
        ctx.logger.info("%s: GitLab is at %s; its root password: docker exec -it %s grep 'Password:' "
                        "/etc/gitlab/initial_root_password", ctx.key, external_url(options), options.containerName)
        return _status(options, live)


def external_url(options: GitLabCEDockerOptions) -> str:
    scheme, port, default = ("https", options.httpsPort, 443) if options.https else ("http", options.httpPort, 80)
    return f"{scheme}://{options.hostname}" + ("" if port == default else f":{port}")


def container_spec(options: GitLabCEDockerOptions, tool: str) -> ContainerSpec:
    omnibus = f"external_url '{external_url(options)}'; gitlab_rails['gitlab_shell_ssh_port'] = {options.sshPort}"
    return ContainerSpec(
        name=options.containerName,
        image=f"{IMAGE}:{options.imageTag}",
        tool=tool,
        hostname=options.hostname,
        ports=[Port(options.sshPort, 22), Port(options.httpPort, 80), Port(options.httpsPort, 443)],
        binds=[f"{PurePosixPath(options.gitlabHome) / folder}:{target}" for folder, target in VOLUMES.items()],
        env={"GITLAB_OMNIBUS_CONFIG": omnibus},
        restart="always",
        shm_size=_SHM_SIZE,
    )


def _status(options: GitLabCEDockerOptions, live: dict[str, Any]) -> ResourceStatus:
    status = container_status(live)
    status["outputs"] = {
        "url": external_url(options),
        "hostname": options.hostname,
        "sshPort": options.sshPort,
        "httpPort": options.httpPort,
        "httpsPort": options.httpsPort,
        "containerID": status["containerID"],
        "containerName": options.containerName,
    }
    return status
