"""The loaded, validated config: what the planner and the flows work from."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "NOT_YET_BACKENDS", "STATE_OPTIONS", "Config", "LocalStateOptions",
           "K8sStateOptions", "Location", "PrefectStateOptions", "S3StateOptions", "StateConfig", "StateKey",
           "ToolKeys", "ToolSpec", "backend_not_available"]

# Backends a config may name: `prefect` (the default), `local`, `s3` and `k8s` (alias `kubernetes`), every one
# DevStream knew. A backend named here but not built yet would be refused by validate and by the state package
# with the one message of `backend_not_available`.
BACKENDS = ("local", "prefect", "s3", "k8s", "kubernetes")
NOT_YET_BACKENDS: tuple[str, ...] = ()
DEFAULT_BACKEND = "prefect"

# Text that says something: a number or a blank where a name or a path belongs is a mistake to report.
_Text = Annotated[str, StringConstraints(strict=True, min_length=1, pattern=r"\S")]


class LocalStateOptions(BaseModel):
    """`config.state.options` of the `local` backend."""

    model_config = ConfigDict(extra="forbid")

    stateFile: _Text = Field(default="devstream.state",
                             description="The state file; a relative path is relative to the config's folder.")
    name: _Text | None = Field(default=None, description="The state's name (the config's name by default).")


class PrefectStateOptions(BaseModel):
    """`config.state.options` of the `prefect` backend (the server is PREFECT_API_URL from the environment)."""

    model_config = ConfigDict(extra="forbid")

    name: _Text | None = Field(default=None, description="The state's name (the config file's or folder's "
                                                          "name by default).")


class S3StateOptions(BaseModel):
    """`config.state.options` of the `s3` backend: DevStream's three (all required), and where an S3-compatible
    server is. Credentials come the AWS way (environment, shared files, a profile), never from the config."""

    model_config = ConfigDict(extra="forbid")

    bucket: _Text = Field(description="The S3 bucket that holds the state (it must exist).")
    region: _Text = Field(description="The bucket's AWS region, e.g. us-east-1.")
    key: _Text = Field(description="The state object's key in the bucket, e.g. devstream.state.")
    endpoint: _Text | None = Field(default=None, description="The URL of an S3-compatible server (MinIO, Ceph...); "
                                                             "AWS S3 when absent.")
    pathStyle: bool | None = Field(default=None, description="Address the bucket in the URL's path rather than "
                                                             "its host name (default: true with an endpoint).")
    profile: _Text | None = Field(default=None, description="The AWS profile whose credentials to use "
                                                            "(default: the AWS credential chain, AWS_PROFILE).")


class K8sStateOptions(BaseModel):
    """`config.state.options` of the `k8s` backend (alias `kubernetes`): DevStream's two, and where the cluster is."""

    model_config = ConfigDict(extra="forbid")

    namespace: _Text = Field(default="devstream", pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
                             description="The namespace of the state's ConfigMap and Lease (created if missing).")
    configmap: _Text = Field(default="state", pattern=r"^[a-z0-9]([-.a-z0-9]{0,240}[a-z0-9])?$",
                             description="The ConfigMap holding the state (data key `state`, DevStream's format); "
                                         "its lock is the Lease `<configmap>-lock`.")
    kubeconfig: _Text | None = Field(default=None, description="The cluster's kubeconfig (relative to the config's "
                                     "folder); default KUBECONFIG, else ~/.kube/config, else in-cluster.")
    context: _Text | None = Field(default=None, description="The kubeconfig context; default its current-context.")
    leaseSeconds: int = Field(default=30, ge=2, le=3600, description="How long the lock's Lease lasts without "
                              "renewal: a run that dies frees the state this long after its last renewal.")


STATE_OPTIONS: dict[str, type[BaseModel]] = {"local": LocalStateOptions, "prefect": PrefectStateOptions,
                                             "s3": S3StateOptions, "k8s": K8sStateOptions}
"""The options model of each built backend; the config loader checks `config.state.options` against it."""


def backend_not_available(backend: str) -> str:
    """Why a backend DevStream knew cannot be used yet, and what to use instead."""
    return (f"state backend `{backend}` is not available yet in this version of dtm; use `prefect` (the default: "
            "state on the Prefect server), `local` (state: {backend: local, options: {stateFile: devstream.state}}) "
            "or `s3` (state: {backend: s3, options: {bucket: ..., region: ..., key: ...}})")


@dataclass(frozen=True)
class Location:
    """Where something came from in the config files: file, line and the field path."""

    file: str | None
    line: int | None
    field: str


class StateConfig(BaseModel):
    """`config.state`: which backend keeps the state, and its options."""

    model_config = ConfigDict(extra="forbid")

    backend: str = DEFAULT_BACKEND
    options: dict[str, Any] = Field(default_factory=dict)
    # Where each option was written, so a backend that fails on one (a bucket that does not exist) names it.
    _locations: dict[str, Location] = PrivateAttr(default_factory=dict)

    def location_of(self, option: str) -> Location:
        """Where `config.state.options.<option>` was written (file and line when known)."""
        return self._locations.get(option) or Location(None, None, f"config.state.options.{option}")


class StateKey:
    """The state key, for anything with `name` and `instanceID` (changes and drift verdicts keep `key` as a
    field of their own, so they take only this part)."""

    if TYPE_CHECKING:  # declared by each model, so pydantic keeps the model's own field order
        name: str
        instanceID: str

    @property
    def state_key(self) -> str:
        """`name_instanceID`: the state record's key, as DevStream keyed it."""
        return f"{self.name}_{self.instanceID}"


class ToolKeys(StateKey):
    """The two names of a tool, for anything with `name` and `instanceID` (tools, records)."""

    @property
    def key(self) -> str:
        """`name.instanceID`: how dependsOn and output references name a tool."""
        return f"{self.name}.{self.instanceID}"


class ToolSpec(ToolKeys, BaseModel):
    """One tool: an instance of a plugin. Apps are expanded into these."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str
    instanceID: str
    dependsOn: list[str] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)



@dataclass
class Config:
    """A loaded config: vars rendered, apps expanded, options validated, dependencies checked.

    `tools` are in config order; `locations` maps a tool key to where it was written (for apps, the
    app), so later errors (a cycle, a failed reference at apply time) can still point at a line.
    """

    path: Path
    workdir: Path
    name: str
    state: StateConfig
    vars: dict[str, Any]
    tools: list[ToolSpec]
    files: list[Path] = field(default_factory=list)
    locations: dict[str, Location] = field(default_factory=dict)
    plugin_dir: Path | None = None  # config.pluginDir: a folder of plugins (`dtm init -d`), on sys.path
    plugin_index: Path | None = None  # config.pluginIndex: a plugin index file `dtm init` reads besides dtm's

    def tool(self, key: str) -> ToolSpec:
        for t in self.tools:
            if t.key == key:
                return t
        raise KeyError(key)

    @cached_property
    def by_key(self) -> dict[str, ToolSpec]:
        return {t.key: t for t in self.tools}
