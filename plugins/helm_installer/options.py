"""helm-installer's options, as DevStream v0.12 wrote them: `repo` (name, url), `chart` (chartPath or chartName,
version, releaseName, namespace, wait, timeout, upgradeCRDs, valuesYaml) and `valuesYaml` (YAML text, or the
path of a values file). Every field may be left out: what the instance's default (chosen by instanceID prefix,
see `defaults`) does not fill is filled by `defaults.GENERIC`; `plugin.release_spec` says what is still missing.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from devstream.plugin.base import PluginOptions
from devstream.plugins.helm.options import Chart, Repo, check_values, is_inline_yaml
from devstream.plugins.kube import KubeOptions

__all__ = ["Chart", "HelmInstallerOptions", "Repo", "is_inline_yaml"]


class HelmInstallerOptions(PluginOptions, KubeOptions):
    """DevStream's helm-installer options. Left empty, they come from the instance default that the tool's
    instanceID starts with (argocd, artifactory, devlake, harbor, jenkins, kube-prometheus, openldap,
    sonarqube, tekton, vault): `instanceID: argocd` alone installs Argo CD. `kubeconfig` and `context` say which
    cluster (default KUBECONFIG, ~/.kube/config, in-cluster)."""

    repo: Repo = Field(default_factory=Repo, description="The chart repository (name and URL).")
    chart: Chart = Field(default_factory=Chart, description="The chart and the release made from it.")
    valuesYaml: str = Field(default="", description="The release's values: YAML text, or the path of a values "
                            "file (relative to the config's folder); overrides chart.valuesYaml.")

    @field_validator("valuesYaml")
    @classmethod
    def _values(cls, value: str) -> str:
        return check_values(value)

    def filled(self, default: HelmInstallerOptions) -> HelmInstallerOptions:
        repo = Repo.model_validate({**default.repo.model_dump(exclude_defaults=True),
                                    **self.repo.model_dump(exclude_defaults=True)})
        return self.model_copy(update={"repo": repo, "chart": self.chart.filled(default.chart)})

    def dump(self) -> dict[str, Any]:
        return self.model_dump(exclude_defaults=True)
