"""What `goharbor/prepare` does, for the Docker stand-in: reads /input/harbor.yml, refuses what Harbor's prepare
refuses (no hostname, localhost), and writes the configuration and docker-compose.yml of Harbor 2.4's services
into the folders mounted at /config and /compose_location, as the real image does (trimmed to what a container
needs to start: every service, its image, mounts, ports, env files, capabilities, logging and dependencies).
`prepare --with-trivy` adds the trivy-adapter service as Harbor 2.4.3's docker-compose template writes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SERVICES = ("log", "registry", "registryctl", "postgresql", "core", "portal", "jobservice", "redis", "proxy")
CONTAINERS = {"log": "harbor-log", "registry": "registry", "registryctl": "registryctl", "postgresql": "harbor-db",
              "core": "harbor-core", "portal": "harbor-portal", "jobservice": "harbor-jobservice", "redis": "redis",
              "proxy": "nginx"}
IMAGES = {"log": "harbor-log", "registry": "registry-photon", "registryctl": "harbor-registryctl",
          "postgresql": "harbor-db", "core": "harbor-core", "portal": "harbor-portal",
          "jobservice": "harbor-jobservice", "redis": "redis-photon", "proxy": "nginx-photon"}


TRIVY = "trivy-adapter"  # the service and its container, with --with-trivy


def images(version: str) -> dict[str, bool]:
    """The images a registry holds for Harbor `version`: each service's (with a healthcheck), and prepare's."""
    return {**{f"goharbor/{image}:{version}": True for image in IMAGES.values()},
            f"goharbor/trivy-adapter-photon:{version}": True, f"goharbor/prepare:{version}": False}


def prepare(container: dict[str, Any]) -> tuple[int, str]:
    mounts = {b.split(":")[1]: Path(b.split(":")[0]) for b in container["HostConfig"].get("Binds") or []}
    version = container["Config"]["Image"].rsplit(":", 1)[1]
    try:
        config = yaml.safe_load((mounts["/input"] / "harbor.yml").read_text())
    except (KeyError, OSError) as exc:
        return 1, f"no config file: harbor.yml ({exc})\n"
    hostname = str(config.get("hostname") or "")
    if not hostname or hostname in ("localhost", "127.0.0.1"):
        return 1, "Error happened in config validation...\nERROR:root:Please specify hostname\n"
    data = str(config["data_volume"]).rstrip("/")
    config_dir = mounts["/config"]
    with_trivy = "--with-trivy" in (container["Config"].get("Cmd") or [])
    envs = {"core": {"POSTGRESQL_PASSWORD": config["database"]["password"],
                     "HARBOR_ADMIN_PASSWORD": config["harbor_admin_password"],
                     "EXT_ENDPOINT": f"http://{hostname}", "WITH_TRIVY": str(with_trivy),
                     "TRIVY_ADAPTER_URL": "http://trivy-adapter:8080"},
            "db": {"POSTGRES_PASSWORD": config["database"]["password"]},
            "jobservice": {"CORE_URL": "http://core:8080"},
            "registryctl": {"CORE_SECRET": "s3cr3t"}}
    if with_trivy:
        envs[TRIVY] = {"SCANNER_REDIS_URL": "redis://redis:6379/5",
                       "SCANNER_TRIVY_CACHE_DIR": "/home/scanner/.cache/trivy"}
    for service, env in envs.items():
        (config_dir / service).mkdir(parents=True, exist_ok=True)
        (config_dir / service / "env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    compose: dict[str, Any] = {"version": "2.3", "services": {}, "networks": {"harbor": {"external": False}}}
    for service in SERVICES:
        spec: dict[str, Any] = {
            "image": f"goharbor/{IMAGES[service]}:{version}", "container_name": CONTAINERS[service],
            "restart": "always", "cap_drop": ["ALL"], "cap_add": ["CHOWN", "SETGID", "SETUID"],
            "networks": ["harbor"], "dns_search": ".",
        }
        if service == "log":
            spec["volumes"] = ["/var/log/harbor/:/var/log/docker/:z",
                               {"type": "bind", "source": "./common/config/log/logrotate.conf",
                                "target": "/etc/logrotate.d/logrotate.conf"}]
            spec["ports"] = ["127.0.0.1:1514:10514"]
        else:
            spec["depends_on"] = ["log"] + (["registry", "core", "portal"] if service == "proxy" else [])
            spec["logging"] = {"driver": "syslog", "options": {"syslog-address": "tcp://localhost:1514",
                                                               "tag": service}}
        if service == "registry":
            spec["volumes"] = [f"{data}/registry:/storage:z", "./common/config/registry/:/etc/registry/:z"]
        if service == "postgresql":
            spec["volumes"] = [f"{data}/database:/var/lib/postgresql/data:z"]
            spec["env_file"] = ["./common/config/db/env"]
        if service in ("core", "jobservice", "registryctl"):
            spec["env_file"] = [f"./common/config/{service}/env"]
        if service == "proxy":
            spec["ports"] = [f"{config['http']['port']}:8080"]
        compose["services"][service] = spec
    if with_trivy:
        compose["services"][TRIVY] = {
            "container_name": TRIVY, "image": f"goharbor/trivy-adapter-photon:{version}", "restart": "always",
            "cap_drop": ["ALL"], "depends_on": ["log", "redis"], "networks": ["harbor"],
            "volumes": [{"type": "bind", "source": f"{data}/trivy-adapter/{kind}",
                         "target": f"/home/scanner/.cache/{kind}"} for kind in ("trivy", "reports")],
            "logging": {"driver": "syslog", "options": {"syslog-address": "tcp://localhost:1514", "tag": TRIVY}},
            "env_file": [f"./common/config/{TRIVY}/env"]}
    (mounts["/compose_location"] / "docker-compose.yml").write_text(yaml.safe_dump(compose, sort_keys=False))
    return 0, "prepare base dir is set to /compose_location\nGenerated configuration file: /config/core/env\n" \
              "Generated and saved secret to file: /data/secret/keys/secretkey\nSuccessfully called func: main\n"
