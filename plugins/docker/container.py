"""A container as a tool declares it, and the work of making one real: the Docker layer's shared half.

`ContainerSpec` is what a plugin wants (image, hostname, published ports, bind mounts, environment, restart
policy); `ensure` makes the engine hold exactly that: it pulls a missing image, creates the container, starts
a stopped one, and recreates one whose image, ports, mounts, hostname or environment differ (bind-mounted data
stays on the host). Then it waits, bounded, for the container to be healthy (see `wait_healthy`).

Every container dtm creates carries the label `io.devstream.tool=<tool key>`; dtm never recreates or removes a
container without its own tool's label, so a container someone started by hand under the same name is
reported, not replaced.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_exponential

from devstream.errors import PermanentError, TransientError
from devstream.plugin import PluginContext
from devstream.plugins.docker.engine import DockerEngine

__all__ = ["TOOL_LABEL", "ContainerSpec", "Port", "container_status", "ensure", "remove_owned", "run_once",
           "wait_healthy"]

TOOL_LABEL = "io.devstream.tool"


@dataclass(frozen=True)
class Port:
    """A container port published on the host: `host` on every address of the host -> `container`/`protocol`."""

    host: int
    container: int
    protocol: str = "tcp"

    @property
    def key(self) -> str:
        return f"{self.container}/{self.protocol}"


@dataclass
class ContainerSpec:
    name: str
    image: str
    tool: str
    hostname: str = ""
    ports: list[Port] = field(default_factory=list)
    binds: list[str] = field(default_factory=list)  # HOST:CONTAINER[:MODE], as `docker run -v` takes them
    env: dict[str, str] = field(default_factory=dict)
    restart: str = "always"
    shm_size: int = 0
    network: str = ""
    aliases: list[str] = field(default_factory=list)
    command: list[str] = field(default_factory=list)
    host_extra: dict[str, Any] = field(default_factory=dict)  # further HostConfig: CapAdd, LogConfig, DnsSearch...

    def create_body(self) -> dict[str, Any]:
        host_config: dict[str, Any] = {
            "Binds": list(self.binds),
            "PortBindings": {p.key: [{"HostIp": "", "HostPort": str(p.host)}] for p in self.ports},
            "RestartPolicy": {"Name": self.restart},
        }
        if self.shm_size:
            host_config["ShmSize"] = self.shm_size
        host_config.update(self.host_extra)
        body: dict[str, Any] = {
            "Image": self.image,
            "Labels": {TOOL_LABEL: self.tool},
            "ExposedPorts": {p.key: {} for p in self.ports},
            "Env": [f"{k}={v}" for k, v in sorted(self.env.items())],
            "HostConfig": host_config,
        }
        if self.hostname:
            body["Hostname"] = self.hostname
        if self.command:
            body["Cmd"] = list(self.command)
        if self.network:
            host_config["NetworkMode"] = self.network
            body["NetworkingConfig"] = {"EndpointsConfig": {self.network: {"Aliases": self.aliases or [self.name]}}}
        return body

    def differences(self, live: Mapping[str, Any]) -> list[str]:
        """What of the live container (an inspect answer) is not as declared; empty when it matches."""
        config, host = live.get("Config") or {}, live.get("HostConfig") or {}
        found: list[str] = []
        if config.get("Image") != self.image:
            found.append(f"image {config.get('Image')} (want {self.image})")
        if self.hostname and config.get("Hostname") != self.hostname:
            found.append(f"hostname {config.get('Hostname')} (want {self.hostname})")
        if _ports(host) != {p.key: p.host for p in self.ports}:
            found.append(f"ports {_ports(host)} (want {({p.key: p.host for p in self.ports})})")
        if sorted(host.get("Binds") or []) != sorted(self.binds):
            found.append("volumes")
        live_env = set(config.get("Env") or [])
        if not {f"{k}={v}" for k, v in self.env.items()} <= live_env:
            found.append("environment")
        if (host.get("RestartPolicy") or {}).get("Name", "") != self.restart:
            found.append("restart policy")
        if self.network and host.get("NetworkMode") != self.network:
            found.append(f"network {host.get('NetworkMode')} (want {self.network})")
        return found


def _ports(host_config: Mapping[str, Any]) -> dict[str, int]:
    bindings = host_config.get("PortBindings") or {}
    return {key: int(b[0]["HostPort"]) for key, b in bindings.items() if b and str(b[0].get("HostPort", "")).isdigit()}


def container_status(live: Mapping[str, Any]) -> dict[str, Any]:
    """What Read reports of a container: compared with the record, so only what dtm declares and whether it runs
    (health is left out: it moves by itself while the container starts)."""
    config, host = live.get("Config") or {}, live.get("HostConfig") or {}
    return {
        "containerID": live.get("Id", ""),
        "image": config.get("Image", ""),
        "hostname": config.get("Hostname", ""),
        "running": bool((live.get("State") or {}).get("Running")),
        "ports": _ports(host),
        "volumes": sorted(host.get("Binds") or []),
        "restartPolicy": (host.get("RestartPolicy") or {}).get("Name", ""),
    }


def owned(live: Mapping[str, Any], tool: str) -> bool:
    return ((live.get("Config") or {}).get("Labels") or {}).get(TOOL_LABEL) == tool


def ensure(engine: DockerEngine, spec: ContainerSpec, ctx: PluginContext) -> dict[str, Any]:
    """Make the container exist, run and match the spec; return its inspect answer."""
    live = engine.inspect(spec.name)
    if live is not None and not owned(live, spec.tool):
        raise PermanentError(
            f"a container named {spec.name!r} exists on {engine.host} and dtm did not create it for {spec.tool} "
            f"(it has no {TOOL_LABEL}={spec.tool} label): remove it (docker rm -f {spec.name}) or choose another "
            "container name")
    if live is not None and (why := spec.differences(live)):
        ctx.logger.info("%s: recreating container %s (%s); its data on the host stays", ctx.key, spec.name,
                        ", ".join(why))
        engine.remove(spec.name)
        live = None
    if live is None:
        if not engine.image_present(spec.image):
            ctx.logger.info("%s: pulling %s", ctx.key, spec.image)
            engine.pull(spec.image, lambda line: ctx.logger.info("%s: %s", ctx.key, line))
        engine.create(spec.name, spec.create_body())
        ctx.logger.info("%s: created container %s from %s", ctx.key, spec.name, spec.image)
    engine.start(spec.name)
    live = engine.inspect(spec.name)
    if live is None:
        raise TransientError(f"container {spec.name} disappeared right after it was started")
    return live


def wait_healthy(engine: DockerEngine, name: str, ctx: PluginContext, timeout: float) -> dict[str, Any]:
    """Wait until the container is healthy (or, with no healthcheck, running), at most `timeout` seconds.

    Progress is logged at each look. A container that exits fails at once; one still starting when time runs
    out raises TransientError, so Prefect's retries of the task come back to it (the container is kept).
    """
    started = time.monotonic()

    def look() -> tuple[str, dict[str, Any]]:
        live = engine.inspect(name)
        if live is None:
            raise PermanentError(f"container {name} was removed while dtm waited for it to be healthy")
        state = live.get("State") or {}
        if not state.get("Running"):
            raise PermanentError(f"container {name} stopped (exit code {state.get('ExitCode')}): see "
                                 f"`docker logs {name}`")
        health = (state.get("Health") or {}).get("Status", "")
        ctx.logger.info("%s: container %s is %s (%.0f s of %.0f s)", ctx.key, name, health or "running",
                        time.monotonic() - started, timeout)
        return health, live

    if timeout <= 0:
        return look()[1]
    retrying = Retrying(stop=stop_after_delay(timeout), wait=wait_exponential(multiplier=0.5, max=15),
                        retry=retry_if_result(lambda seen: seen[0] not in ("", "healthy")), reraise=True)
    try:
        return retrying(look)[1]
    except RetryError as exc:
        health, live = exc.last_attempt.result()
        log = ((live.get("State") or {}).get("Health") or {}).get("Log") or [{}]
        last = str(log[-1].get("Output", "")).strip()[:200]
        raise TransientError(f"container {name} is not healthy after {timeout:.0f} s (health: {health}"
                             f"{'; last check: ' + last if last else ''}); dtm will look again when retried, or "
                             f"see `docker logs {name}`") from None


def remove_owned(engine: DockerEngine, name: str, tool: str, ctx: PluginContext) -> bool:
    """Remove the container if dtm created it for this tool; say so and leave it otherwise. True when removed."""
    live = engine.inspect(name)
    if live is None:
        return False
    if not owned(live, tool):
        ctx.logger.warning("%s: container %s was not created by dtm for this tool; it is left in place", ctx.key,
                           name)
        return False
    engine.remove(name)
    return True


def run_once(engine: DockerEngine, spec: ContainerSpec, ctx: PluginContext, timeout: float) -> str:
    """Run a one-shot container to its end (as `docker run --rm` does) and return what it printed; a non-zero exit
    fails with the last lines it printed. A container left by an earlier, interrupted run is replaced."""
    if (left := engine.inspect(spec.name)) is not None and owned(left, spec.tool):
        engine.remove(spec.name)
    if not engine.image_present(spec.image):
        ctx.logger.info("%s: pulling %s", ctx.key, spec.image)
        engine.pull(spec.image, lambda line: ctx.logger.info("%s: %s", ctx.key, line))
    engine.create(spec.name, spec.create_body())
    try:
        engine.start(spec.name)
        code = engine.wait(spec.name, timeout)
        output = engine.logs(spec.name)
    finally:
        engine.remove(spec.name)
    if code != 0:
        raise PermanentError(f"{spec.image} exited with code {code}: {output.strip()[-600:]}")
    return output
