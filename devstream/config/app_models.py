"""The models of the `apps` and `pipelineTemplates` sections, in DevStream v0.12's shapes (unknown keys are
errors); apps.py expands them into tools, schema.py describes them in the config's JSON Schema."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["App", "AppSpec", "Pipeline", "PipelineTemplate", "RepoInfo", "RepoTemplate"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RepoInfo(_Strict):
    """A git repository: DevStream's RepoInfo keys."""

    owner: str | None = None
    org: str | None = None
    name: str | None = None
    branch: str | None = None
    scmType: str | None = None  # noqa: N815 - YAML spelling
    token: str | None = None
    apiURL: str | None = None  # noqa: N815
    url: str | None = None
    baseURL: str | None = None  # noqa: N815
    sshPrivateKey: str | None = None  # noqa: N815


class RepoTemplate(RepoInfo):
    vars: dict[str, Any] | None = None


class AppSpec(_Strict):
    language: str
    framework: str


class Pipeline(_Strict):
    """One `ci` or `cd` entry."""

    type: str
    templateName: str | None = None  # noqa: N815
    vars: dict[str, Any] | None = None
    options: dict[str, Any] | None = None


class App(_Strict):
    name: str
    spec: AppSpec
    repo: RepoInfo
    repoTemplate: RepoTemplate | None = None  # noqa: N815
    ci: list[Pipeline] | None = None
    cd: list[Pipeline] | None = None


class PipelineTemplate(_Strict):
    name: str
    type: str
    options: dict[str, Any] | None = None
