"""helm-installer: a Helm chart installed as a release, as DevStream v0.12 did it, through the real helm 3 CLI.

The options are DevStream's; what they leave empty comes from the instance default that the instanceID starts
with (`defaults`). Create and update run `helm upgrade --install` with exactly the configured values (values set
by hand since are dropped); an update to options the release already has changes nothing. Read is `helm status`:
no release is None (uninstalled by hand), and the status records what a hand-made change alters: the values'
fingerprint, the revision and its description (an upgrade or `helm rollback`), the chart and app versions, and
DevStream's `workflows` (each Deployment, StatefulSet and DaemonSet and whether it is ready). Delete uninstalls
the release (already gone is fine); the namespace stays, as in DevStream. With `chart.upgradeCRDs` an upgrade first
applies the chart's CRDs through the Kubernetes layer's client (helm installs them only once). helm and that client
reach the cluster the `kubeconfig` and `context` options name (else KUBECONFIG, ~/.kube/config, in-cluster).

Outputs: release, namespace, revision, chart, chartVersion, appVersion, and what DevStream's status getter of the
instance gave: `jenkins_url` (jenkins), `devlake_url` (devlake).
"""

from __future__ import annotations

from typing import Any, ClassVar

import yaml

from devstream.errors import PermanentError
from devstream.plugin.base import Plugin, PluginContext, ResourceStatus, still_adopted
from devstream.plugins.helm import Helm, ReleaseSpec, ensure_release, release_status, remove_release, values_digest
from devstream.plugins.helm_installer.defaults import GENERIC, INSTANCES, Instance, instance_for
from devstream.plugins.helm_installer.options import HelmInstallerOptions, is_inline_yaml
from devstream.plugins.kube import SYSTEM, client_for

__all__ = ["HelmInstallerPlugin", "release_spec"]


def _values_yaml(options: HelmInstallerOptions, ctx: PluginContext) -> str:
    text = options.valuesYaml or options.chart.valuesYaml
    if not text or is_inline_yaml(text):
        return text
    path = ctx.path(text)
    try:
        content = path.read_text()
    except OSError as exc:
        raise PermanentError(f"{ctx.key}: cannot read the values file {path} (valuesYaml): {exc.strerror}") from None
    try:
        loaded = yaml.safe_load(content)
    except yaml.YAMLError as exc:
        raise PermanentError(f"{ctx.key}: the values file {path} is not valid YAML: {exc}") from None
    if loaded is not None and not isinstance(loaded, dict):
        raise PermanentError(f"{ctx.key}: the values file {path} must hold a YAML map of values")
    return content


def release_spec(options: HelmInstallerOptions, ctx: PluginContext) -> tuple[ReleaseSpec, Instance | None]:
    """The release the options describe, the instance default of the tool's instanceID filled in."""
    instance = instance_for(ctx.instance_id)
    if instance is not None:
        options = options.filled(instance.options)
    chart = options.chart.filled(GENERIC)
    repo = options.repo
    if chart.chartPath:
        path = ctx.path(chart.chartPath)
        if not path.exists():
            raise PermanentError(f"{ctx.key}: chart.chartPath {path} does not exist; give a packaged chart (.tgz) "
                                 "or a chart folder")
        reference, repo_name, repo_url = str(path), None, None
    else:
        if not (repo.name and repo.url and chart.chartName):
            raise PermanentError(
                f"{ctx.key}: with no chart.chartPath, repo.name, repo.url and chart.chartName must all be set "
                f"(or use an instanceID that starts with one of {', '.join(INSTANCES)} to take its defaults)")
        reference = chart.chartName if "/" in chart.chartName else f"{repo.name}/{chart.chartName}"
        repo_name, repo_url = repo.name, repo.url
    if not chart.releaseName:
        raise PermanentError(f"{ctx.key}: chart.releaseName is not set (only the instances "
                             f"{', '.join(INSTANCES)} have a default)")
    spec = ReleaseSpec(
        release=chart.releaseName, namespace=chart.namespace or "default", chart=reference,
        values_yaml=_values_yaml(options, ctx), version=chart.version or None, repo_name=repo_name,
        repo_url=repo_url, wait=bool(chart.wait), timeout=chart.timeout or "10m",
        create_namespace=chart.createNamespace is not False, upgrade_crds=bool(chart.upgradeCRDs))
    return spec, instance


def apply_crds(crds: list[dict[str, Any]], options: HelmInstallerOptions, ctx: PluginContext) -> None:
    """Apply a chart's CRDs (server-side, field manager dtm) and wait until each is established: the upgrade of a
    release with `upgradeCRDs` (helm itself never upgrades them)."""
    with client_for(options, ctx) as kube:
        for crd in crds:
            kube.apply(crd)
        for crd in crds:
            kube.wait_established(crd["metadata"]["name"], timeout=120)
    ctx.logger.info("%s: applied the chart's CRDs: %s", ctx.key, ", ".join(c["metadata"]["name"] for c in crds))


class HelmInstallerPlugin(Plugin[HelmInstallerOptions]):
    name: ClassVar[str] = "helm-installer"
    Options: ClassVar[type[HelmInstallerOptions]] = HelmInstallerOptions
    import_id: ClassVar[str] = "namespace/release, e.g. argocd/argocd"
    description: ClassVar[str] = ("A Helm chart installed as a release with the helm 3 CLI; DevStream's ten "
                                  "instance defaults (argocd, jenkins, harbor...) by instanceID prefix.")

    def create(self, options: HelmInstallerOptions, ctx: PluginContext) -> ResourceStatus:
        return self._apply(options, ctx)

    def update(self, options: HelmInstallerOptions, ctx: PluginContext) -> ResourceStatus:
        return still_adopted(self._apply(options, ctx), ctx.prior)

    def read(self, options: HelmInstallerOptions, ctx: PluginContext) -> ResourceStatus | None:
        spec, instance = release_spec(options, ctx)
        live = Helm.for_cluster(options, ctx.workdir).status(spec.release, spec.namespace)
        if live is None:
            return None
        return still_adopted(_with_outputs(release_status(live, spec.source), spec, instance, live), ctx.prior)

    def import_resource(self, resource_id: str, options: HelmInstallerOptions, ctx: PluginContext
                        ) -> ResourceStatus | None:
        spec, instance = release_spec(options, ctx)
        if resource_id.strip().strip("/") != f"{spec.namespace}/{spec.release}":
            raise PermanentError(f"{resource_id} is not the release {ctx.key} describes ({spec.namespace}/"
                                 f"{spec.release}); import that one, or change chart.namespace/releaseName")
        live = Helm.for_cluster(options, ctx.workdir).status(spec.release, spec.namespace)
        if live is None:
            return None
        status = _with_outputs(release_status(live, spec.source), spec, instance, live)
        # As create would have made it: values that differ from the options show as drift at the next plan.
        status["valuesDigest"] = values_digest(spec.values)
        return status if ctx.owned else {**status, "adopted": True}

    def delete(self, options: HelmInstallerOptions, ctx: PluginContext) -> None:
        spec, _ = release_spec(options, ctx)
        if (ctx.prior or {}).get("adopted"):
            ctx.logger.warning("%s: release %s in %s was adopted by dtm import, not installed by dtm, so it is left "
                               "in place", ctx.key, spec.release, spec.namespace)
            return
        remove_release(Helm.for_cluster(options, ctx.workdir), spec, ctx.logger)

    def systems(self, options: Any) -> set[str]:
        return {SYSTEM}

    def _apply(self, options: HelmInstallerOptions, ctx: PluginContext) -> ResourceStatus:
        spec, instance = release_spec(options, ctx)
        helm = Helm.for_cluster(options, ctx.workdir)
        live = ensure_release(helm, spec, ctx.logger, ctx.prior, apply_crds=lambda crds: apply_crds(crds, options, ctx))
        return _with_outputs(release_status(live, spec.source), spec, instance, live)


def _with_outputs(status: ResourceStatus, spec: ReleaseSpec, instance: Instance | None,
                  live: dict[str, Any]) -> ResourceStatus:
    if instance is not None and instance.outputs is not None:
        status["outputs"].update(instance.outputs(spec, live))
    return status

