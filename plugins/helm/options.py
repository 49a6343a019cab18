"""A chart and its repository as DevStream's helm options name them (`repo`, `chart`), shared by every plugin that
installs a chart: helm-installer, and gitlab-ci's runner."""

from __future__ import annotations

import re

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["Chart", "Repo", "check_values", "is_inline_yaml"]

_DURATION = re.compile(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+")
_RELEASE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def is_inline_yaml(text: str) -> bool:
    """DevStream's rule: valuesYaml holding ": " is YAML text, otherwise it is the path of a values file."""
    return ": " in text or "\n" in text.strip() or text.strip() in ("{}", "")


def check_values(text: str) -> str:
    if not is_inline_yaml(text):
        return text
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"valuesYaml is not valid YAML: {exc}") from None
    if loaded is not None and not isinstance(loaded, dict):
        raise ValueError("valuesYaml must be a YAML map of values (key: value), or the path of a values file")
    return text


class Repo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", description="The chart repository's name, the prefix of chart.chartName "
                      "(e.g. `argo` for argo/argo-cd). Kept in dtm's own repository config, not the user's.")
    url: str = Field(default="", description="The chart repository's URL (where its index.yaml is), e.g. "
                     "https://argoproj.github.io/argo-helm.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not re.match(r"(https?|oci)://", value):
            raise ValueError(f"repo.url must be an http(s):// or oci:// URL, not {value!r}")
        return value


class Chart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chartPath: str = Field(default="", description="A local chart (a packaged .tgz or a chart folder), relative "
                           "to the config's folder; when set, repo and chartName are not used.")
    chartName: str = Field(default="", description="The chart as `repoName/chart` (e.g. argo/argo-cd).")
    version: str = Field(default="", description="The chart version (or range); empty: the newest.")
    releaseName: str = Field(default="", description="The Helm release's name.")
    namespace: str = Field(default="", description="The namespace to install the release into.")
    createNamespace: bool | None = Field(default=None, description="Create the namespace when it is missing "
                                         "(default true, as DevStream did).")
    wait: bool | None = Field(default=None, description="Wait until the release's workloads are ready; a failed "
                              "wait rolls the release back (helm --wait --atomic). Default true.")
    timeout: str = Field(default="", description="How long helm may take, a duration such as 5m, 1.5h or 2h45m. "
                         "Default 10m.")
    upgradeCRDs: bool | None = Field(default=None, description="On upgrade, also apply the chart's CRDs (which helm "
                                     "itself installs only once). Default true.")
    valuesYaml: str = Field(default="", description="The release's values as YAML text (the top-level valuesYaml "
                            "overrides it).")

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: str) -> str:
        if value and not _DURATION.fullmatch(value):
            raise ValueError(f"chart.timeout must be a duration such as 5m, 1.5h or 2h45m, not {value!r}")
        return value

    @field_validator("releaseName")
    @classmethod
    def _release(cls, value: str) -> str:
        if value and (len(value) > 53 or not _RELEASE.fullmatch(value)):
            raise ValueError(f"chart.releaseName {value!r} is not a valid Helm release name (lower-case letters, "
                             "digits, '-' and '.', at most 53 characters)")
        return value

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if value and (len(value) > 63 or not _NAMESPACE.fullmatch(value)):
            raise ValueError(f"chart.namespace {value!r} is not a valid namespace name (lower-case letters, digits "
                             "and '-', at most 63 characters)")
        return value

    @field_validator("valuesYaml")
    @classmethod
    def _values(cls, value: str) -> str:
        if value and not is_inline_yaml(value):
            raise ValueError("chart.valuesYaml must be YAML text; a values file's path goes in the top-level "
                             "valuesYaml")
        return check_values(value)

    def filled(self, default: Chart) -> Chart:
        """DevStream's FillDefaultValue: every field left empty takes the default's value."""
        mine = self.model_dump(exclude_defaults=True)
        return Chart.model_validate({**default.model_dump(exclude_defaults=True), **mine})
