"""zentao's options: DevStream's (its goclient installer's), spelled as its docs spell them, and a few of dtm's."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from devstream.plugin import PluginOptions
from devstream.plugins.kube import KubeOptions

__all__ = ["Deployment", "Env", "PersistentVolume", "PersistentVolumeClaim", "Service", "ZentaoOptions"]

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"(?=.{1,253}\Z)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# A Kubernetes resource.Quantity: a number, then a binary (Ki..Ei) or decimal (m, k, M..E) suffix or an exponent.
_QUANTITY = re.compile(r"[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i|[mkMGTPE])?")
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")


def _check(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}")
        return value
    return AfterValidator(check)


Label = Annotated[str, _check(_DNS_LABEL, "a DNS label (lowercase letters, digits and '-', at most 63)")]
Name = Annotated[str, _check(_DNS_SUBDOMAIN, "a Kubernetes name (lowercase letters, digits, '-' and '.')")]
Quantity = Annotated[str, _check(_QUANTITY, "a Kubernetes quantity such as 1G, 500Mi or 10Gi")]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PersistentVolume(_Part):
    pvName: Name = Field(description="The PersistentVolume's name.")
    pvCapacity: Quantity = Field(description="Its capacity, e.g. 1G or 10Gi.")
    hostPath: str | None = Field(default=None, description="The folder on the node backing it (DevStream's hostPath "
                                 "volume); default: /www/zentaopms for the first volume, /var/lib/mysql for the second "
                                 "(DevStream's paths for zentao-pv and mysql-pv), /var/lib/zentao/<pvName> after.")


class PersistentVolumeClaim(_Part):
    pvcName: Name = Field(description="The PersistentVolumeClaim's name (also the Deployment's volume name).")
    pvcCapacity: Quantity = Field(description="The storage it requests, e.g. 1G.")
    mountPath: str | None = Field(default=None, description="Where the ZenTao container mounts it; default: "
                                  "/www/zentaopms for the first claim (ZenTao's files), /var/lib/mysql for the second "
                                  "(its database); later claims are not mounted unless given one. DevStream mounted "
                                  "none, so ZenTao's data did not reach the volumes.")


class Env(_Part):
    key: Annotated[str, _check(_ENV_NAME, "an environment variable name")] = Field(
        description="The variable's name, e.g. MYSQL_ROOT_PASSWORD.")
    value: SecretStr = Field(description="Its value. Kept in a Kubernetes Secret the container reads, never in the "
                             "Deployment, dtm's state or its logs (they hold a fingerprint).")


class Deployment(_Part):
    name: Name = Field(description="The Deployment's name.")
    replicas: int = Field(ge=1, description="How many ZenTao pods run.")
    image: str = Field(min_length=1, description="The ZenTao image, e.g. easysoft/zentao:latest.")
    envs: list[Env] = Field(default_factory=list, description="Environment of the ZenTao container, e.g. "
                            "MYSQL_ROOT_PASSWORD, the initial password of its database.")


class Service(_Part):
    name: Name = Field(description="The Service's name.")
    nodePort: int = Field(ge=1, le=65535, description="The node port ZenTao is reached on (a NodePort Service; "
                          "clusters allow 30000-32767 by default).")


class ZentaoOptions(PluginOptions, KubeOptions):
    """DevStream's zentao options (every one required, as there), and dtm's `waitTimeout`, `kubeconfig`, `context`."""

    namespace: Label = Field(description="The namespace ZenTao runs in; created (and deleted with the tool) when "
                             "it does not exist.")
    storageClassName: Name = Field(description="The storage class binding the claims to the volumes.")
    persistentVolumes: list[PersistentVolume] = Field(min_length=1, description="The volumes (ZenTao's files, then "
                                                      "its database), hostPath volumes on the node.")
    persistentVolumeClaims: list[PersistentVolumeClaim] = Field(min_length=1, description="The claims the "
                                                                "Deployment mounts, in the namespace.")
    deployment: Deployment = Field(description="The ZenTao Deployment.")
    service: Service = Field(description="The NodePort Service exposing ZenTao on port 80.")
    waitTimeout: int = Field(default=600, ge=0, description="Seconds create and update wait for the Deployment to "
                             "roll out (DevStream's 120 x 5 s); 0: do not wait.")
