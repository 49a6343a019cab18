"""The services of Harbor's generated `docker-compose.yml`, as containers the Docker layer makes real.

Harbor's installer runs `goharbor/prepare`, which renders every service's configuration from harbor.yml and
writes a docker-compose.yml; `docker compose up` then starts it. dtm reads that file and starts the same
services itself, each a `ContainerSpec`: image, container name, restart policy, published ports, bind mounts
(short and long syntax), environment (`environment` and `env_file`), capabilities, DNS search domains, the
logging driver, and the network with the service's name as alias, in `depends_on` order.
"""

from __future__ import annotations

from collections.abc import Mapping
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

import yaml

from devstream.errors import PermanentError
from devstream.plugins.docker import ContainerSpec, Port

__all__ = ["services"]


def services(compose_file: Path, tool: str, network: str) -> list[ContainerSpec]:
    """The compose file's services as container specs, dependencies first."""
    try:
        document = yaml.safe_load(compose_file.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise PermanentError(f"{compose_file}: Harbor's prepare step left no readable docker-compose.yml: {exc}"
                             ) from None
    declared = (document or {}).get("services") or {}
    if not isinstance(declared, dict) or not declared:
        raise PermanentError(f"{compose_file}: no services in Harbor's docker-compose.yml")
    order = TopologicalSorter({name: _depends_on(svc) for name, svc in declared.items()})
    try:
        names = [n for n in order.static_order() if n in declared]
    except CycleError as exc:
        raise PermanentError(f"{compose_file}: the services depend on each other in a loop: {exc.args[1]}") from None
    return [_spec(name, declared[name], compose_file.parent, tool, network) for name in names]


def _depends_on(service: Mapping[str, Any]) -> list[str]:
    depends = service.get("depends_on") or []
    return list(depends) if isinstance(depends, list | dict) else []


def _spec(name: str, service: Mapping[str, Any], folder: Path, tool: str, network: str) -> ContainerSpec:
    env: dict[str, str] = {}
    for env_file in _as_list(service.get("env_file")):
        env.update(_read_env(folder / str(env_file)))
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    env.update({str(k): "" if v is None else str(v) for k, v in environment.items()})
    host_extra: dict[str, Any] = {}
    if service.get("cap_add"):
        host_extra["CapAdd"] = list(service["cap_add"])
    if service.get("cap_drop"):
        host_extra["CapDrop"] = list(service["cap_drop"])
    if service.get("dns_search"):
        host_extra["DnsSearch"] = _as_list(service["dns_search"])
    logging = service.get("logging") or {}
    if logging.get("driver"):
        host_extra["LogConfig"] = {"Type": logging["driver"],
                                   "Config": {str(k): str(v) for k, v in (logging.get("options") or {}).items()}}
    restart = str(service.get("restart") or "")
    return ContainerSpec(
        name=str(service.get("container_name") or name),
        image=str(service["image"]),
        tool=tool,
        ports=[_port(p) for p in _as_list(service.get("ports"))],
        binds=[_bind(v, folder) for v in _as_list(service.get("volumes"))],
        env=env,
        restart="" if restart == "no" else restart,
        network=network,
        aliases=sorted({name, str(service.get("container_name") or name)}),
        command=_as_list(service.get("command")),
        host_extra=host_extra,
    )


def _as_list(value: Any) -> list[Any]:
    """A compose field that takes one item or a list, as a list (a volume's long syntax stays a map)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [v if isinstance(v, dict) else str(v) for v in value]


def _port(value: Any) -> Port:
    text = str(value)
    protocol = "tcp"
    if "/" in text:
        text, protocol = text.rsplit("/", 1)
    parts = text.split(":")  # [IP:]HOST:CONTAINER; the host IP is dropped: Harbor binds 127.0.0.1 for its log only
    return Port(int(parts[-2]) if len(parts) >= 2 else int(parts[-1]), int(parts[-1]), protocol)


def _bind(value: Any, folder: Path) -> str:
    if isinstance(value, dict):  # long syntax: {type: bind, source, target, read_only}
        source, target = str(value["source"]), str(value["target"])
        mode = ":ro" if value.get("read_only") else ""
    else:
        parts = str(value).split(":")
        source, target, mode = parts[0], parts[1], (":" + parts[2]) if len(parts) > 2 else ""
    if source.startswith("."):  # compose takes relative sources from the file's folder
        source = str((folder / source).resolve())
    return f"{source}:{target}{mode}"


def _read_env(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise PermanentError(f"{path}: an env_file of Harbor's docker-compose.yml cannot be read: {exc}") from None
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            found[key.strip()] = value
    return found
