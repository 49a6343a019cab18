"""harbor-docker: Harbor on Docker, doing declaratively what Harbor's offline installer does.

DevStream ran Harbor's `install.sh`: harbor.yml rendered from the options, `goharbor/prepare` run to turn it into
every service's configuration and a docker-compose.yml, then `docker compose up`. dtm does the same steps
through the Docker layer: it writes harbor.yml under `harborHome` (DevStream's template values, with the options
dtm adds), runs the same `goharbor/prepare` image once, reads the docker-compose.yml it wrote, and makes each of
its services real (Harbor's log, registry, database, core, portal, job service, redis and nginx proxy) on a
network of dtm's, then waits, bounded, for their healthchecks.

Read reports each service's container (gone, stopped or changed is drift); an update re-runs prepare and
recreates the services whose container no longer matches (data under `dataVolume` stays); delete removes the
services and the network, and the data only with `rmDataAfterDelete`. prepare writes its files on the Docker
host, which dtm then reads, so the engine must be this machine's, as for the installer.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import Field, SecretStr, field_validator

from devstream.errors import PermanentError
from devstream.plugin import PluginContext, PluginOptions, ResourceStatus
from devstream.plugin.base import ConvergingPlugin
from devstream.plugins.docker import (
    TOOL_LABEL,
    ContainerSpec,
    DockerEngine,
    engine_host,
    ensure,
    is_local,
    remove_owned,
    run_once,
    wait_healthy,
)
from devstream.plugins.docker.container import container_status
from devstream.plugins.docker.options import Hostname
from devstream.plugins.harbor_docker.compose import services

__all__ = ["HarborDockerOptions", "HarborDockerPlugin"]

_DEFAULT_ADMIN_PASSWORD = "Harbor12345"  # harbor.yml's and DevStream's default


class HarborDockerOptions(PluginOptions):
    """DevStream's `hostname`, and what its harbor.yml template fixed, as options with the same defaults."""

    hostname: Hostname = Field(description="Harbor's hostname: how registries and browsers reach it (not "
                               "localhost or 127.0.0.1, which Harbor refuses).")
    httpPort: int = Field(default=80, ge=1, le=65535, description="The host port for Harbor's HTTP.")
    adminPassword: SecretStr = Field(default=SecretStr(_DEFAULT_ADMIN_PASSWORD), description="The initial "
                                     "password of Harbor's admin user (default Harbor12345: change it).")
    databasePassword: SecretStr = Field(default=SecretStr("root123"), description="The password of Harbor's "
                                        "database.")
    dataVolume: str = Field(default="/data", description="The absolute folder on the Docker host for Harbor's data.")
    harborHome: str = Field(default="harbor", description="Where harbor.yml and the generated configuration and "
                            "docker-compose.yml go, relative to the config's folder.")
    version: str = Field(default="v2.4.3", pattern=r"v\d+\.\d+\.\d+", description="Harbor's version (the "
                         "goharbor/prepare image tag), DevStream's by default.")
    logLevel: str = Field(default="info", pattern=r"debug|info|warning|error|fatal", description="Harbor's log "
                          "level.")
    rmDataAfterDelete: bool = Field(default=False, description="Delete removes dataVolume too.")
    dockerHost: str | None = Field(default=None, description="The Docker engine, on this machine: "
                                   "unix:///path/docker.sock; default DOCKER_HOST, else the local socket.")
    healthTimeout: int = Field(default=600, ge=0, description="Seconds to wait for each service's healthcheck "
                               "(0: do not wait).")
    withTrivy: bool = Field(default=False, description="Also run Trivy, Harbor's vulnerability scanner (the "
                            "installer's --with-trivy): the trivy-adapter service, its cache and reports under "
                            "dataVolume. Turning it off removes the service.")

    @field_validator("hostname")
    @classmethod
    def _reachable(cls, value: str) -> str:
        if value in ("localhost", "127.0.0.1"):
            raise ValueError("Harbor must be reached by other machines' clients: use a hostname or IP address they "
                             "resolve, not localhost or 127.0.0.1")
        return value


class HarborDockerPlugin(ConvergingPlugin[HarborDockerOptions]):
    name: ClassVar[str] = "harbor-docker"
    Options: ClassVar[type[HarborDockerOptions]] = HarborDockerOptions
    description: ClassVar[str] = "Harbor on Docker: its installer's services, from harbor.yml, declaratively."

    def read(self, options: HarborDockerOptions, ctx: PluginContext) -> ResourceStatus | None:
        names = list((ctx.prior or {}).get("services") or {})
        if not names:
            compose = _home(options, ctx) / "docker-compose.yml"
            names = [s.name for s in services(compose, ctx.key, _network(ctx))] if compose.is_file() else []
        with DockerEngine(engine_host(options.dockerHost), ctx) as engine:
            found = {name: live for name in names if (live := engine.inspect(name)) is not None}
        return _status(options, found) if found else None

    def delete(self, options: HarborDockerOptions, ctx: PluginContext) -> None:
        names = list((ctx.prior or {}).get("services") or {})
        with DockerEngine(engine_host(options.dockerHost), ctx) as engine:
            for name in reversed(names):  # dependents first, the log service last
                remove_owned(engine, name, ctx.key, ctx)
            network = engine.network(_network(ctx))
            if network is not None and (network.get("Labels") or {}).get(TOOL_LABEL) == ctx.key:
                engine.remove_network(_network(ctx))
        if options.rmDataAfterDelete:
            shutil.rmtree(options.dataVolume, ignore_errors=True)
            ctx.logger.info("%s: removed Harbor's data under %s", ctx.key, options.dataVolume)

    def output_keys(self, options: HarborDockerOptions) -> set[str] | None:
        return {"url", "hostname", "httpPort", "adminUsername", "services"}

    def systems(self, options: Any) -> set[str]:
        return {"docker"}

    def converge(self, options: HarborDockerOptions, ctx: PluginContext) -> ResourceStatus:
        host = engine_host(options.dockerHost)
        if not is_local(host):
            raise PermanentError(f"harbor-docker needs the Docker engine on this machine (Harbor's prepare step "
                                 f"writes the configuration there, for dtm to read), not {host}")
        if options.adminPassword.get_secret_value() == _DEFAULT_ADMIN_PASSWORD:
            ctx.logger.warning("%s: Harbor's admin password is the default, Harbor12345: set adminPassword",
                               ctx.key)
        home = _home(options, ctx)
        _write_harbor_yml(options, home)
        network = _network(ctx)
        with DockerEngine(host, ctx) as engine:
            ctx.logger.info("%s: preparing Harbor's configuration (goharbor/prepare:%s)", ctx.key, options.version)
            run_once(engine, _prepare_spec(options, home, ctx.key), ctx, timeout=600)
            specs = services(home / "docker-compose.yml", ctx.key, network)
            if engine.network(network) is None:
                engine.create_network(network, {TOOL_LABEL: ctx.key})
            for spec in specs:
                ensure(engine, spec, ctx)
            for gone in set((ctx.prior or {}).get("services") or {}) - {spec.name for spec in specs}:
                remove_owned(engine, gone, ctx.key, ctx)  # a service prepare no longer writes (withTrivy off)
            found = {spec.name: wait_healthy(engine, spec.name, ctx, options.healthTimeout) for spec in specs}
        ctx.logger.info("%s: Harbor is at %s (user admin)", ctx.key, _url(options))
        return _status(options, found)


def _home(options: HarborDockerOptions, ctx: PluginContext) -> Path:
    return ctx.path(options.harborHome).resolve()


def _network(ctx: PluginContext) -> str:
    return f"dtm-{ctx.instance_id}-harbor"


def _url(options: HarborDockerOptions) -> str:
    return f"http://{options.hostname}" + ("" if options.httpPort == 80 else f":{options.httpPort}")


def _write_harbor_yml(options: HarborDockerOptions, home: Path) -> None:
    """harbor.yml as DevStream's template wrote it, with the options' values; only the user may read it (it holds
    the passwords, as the installer's does)."""
    config = {
        "hostname": options.hostname,
        "http": {"port": options.httpPort},
        "harbor_admin_password": options.adminPassword.get_secret_value(),
        "database": {"password": options.databasePassword.get_secret_value(), "max_idle_conns": 100,
                     "max_open_conns": 900},
        "data_volume": options.dataVolume,
        "trivy": {"ignore_unfixed": False, "skip_update": False, "offline_scan": False, "insecure": False},
        "jobservice": {"max_job_workers": 10},
        "notification": {"webhook_job_max_retry": 10},
        "chart": {"absolute_url": "disabled"},
        "log": {"level": options.logLevel, "local": {"rotate_count": 50, "rotate_size": "200M",
                                                     "location": "/var/log/harbor"}},
        "_version": options.version.lstrip("v").rsplit(".", 1)[0] + ".0",
        "proxy": {"http_proxy": None, "https_proxy": None, "no_proxy": None,
                  "components": ["core", "jobservice", "trivy"]},
    }
    (home / "input").mkdir(parents=True, exist_ok=True)
    (home / "common" / "config").mkdir(parents=True, exist_ok=True)
    target = home / "input" / "harbor.yml"
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        yaml.safe_dump(config, handle, sort_keys=False)
    shutil.copyfile(target, home / "harbor.yml")
    os.chmod(home / "harbor.yml", 0o600)


def _prepare_spec(options: HarborDockerOptions, home: Path, tool: str) -> ContainerSpec:
    """install.sh's `docker run --rm --privileged goharbor/prepare prepare [--with-trivy]` with its five mounts."""
    return ContainerSpec(
        name=f"dtm-harbor-prepare-{hashlib.sha256(str(home).encode()).hexdigest()[:12]}",
        image=f"goharbor/prepare:{options.version}",
        tool=tool,
        binds=[f"{home / 'input'}:/input", f"{options.dataVolume}:/data", f"{home}:/compose_location",
               f"{home / 'common' / 'config'}:/config", "/:/hostfs"],
        restart="",
        command=["prepare", *(["--with-trivy"] if options.withTrivy else [])],
        host_extra={"Privileged": True},
    )


def _status(options: HarborDockerOptions, found: dict[str, dict[str, Any]]) -> ResourceStatus:
    described = {name: {k: v for k, v in container_status(live).items() if k in ("containerID", "image", "running")}
                 for name, live in found.items()}
    return {"services": described,
            "outputs": {"url": _url(options), "hostname": options.hostname, "httpPort": options.httpPort,
                        "adminUsername": "admin", "services": sorted(described)}}
