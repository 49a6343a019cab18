"""The argocdapp plugin against the Kubernetes stand-in (which validates every Application against Argo CD's
own CRD schema) and a simulated Argo CD controller (tests/argo_cd.py).

The story: create pushes a starter chart into the app's repository and applies DevStream's Application; read
sees a hand edit of its spec and what Argo CD reports (sync, health); update takes the edit back; delete waits
for Argo CD to delete what the app deployed (its finalizer), or, with `cascade: none`, leaves it running.
An Application made another way is imported (`dtm import KEY namespace/name`): dtm takes its fields over and
leaves it in place at delete.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from argo_cd import ArgoCD
from argocdapp_testkit import repo_files
from dtm_cli import run_script

from devstream.errors import PermanentError
from devstream.plugin import PluginContext
from devstream.plugins.argocdapp import ArgocdAppOptions, ArgocdAppPlugin

plugin = ArgocdAppPlugin()


def options(cluster: Any, repo: Path, **over: Any) -> ArgocdAppOptions:
    raw: dict[str, Any] = {
        "app": {"name": "hello", "namespace": "argocd"},
        "source": {"repoURL": str(repo), "path": "helm/hello"},
        "imageRepo": {"user": "team", "url": "registry.example.com"},
        "kubeconfig": str(cluster.kubeconfig),
    }
    raw.update(over)
    return ArgocdAppOptions.model_validate(raw)


def test_the_life_of_an_application(argo_cluster: Any, argo_cd: ArgoCD, app_repo: Path, ctx: PluginContext) -> None:
    opts = options(argo_cluster, app_repo)

    # Create: the starter chart in the app's repository, DevStream's Application in the cluster.
    created = plugin.create(opts, ctx)
    files = repo_files(app_repo)
    assert yaml.safe_load(files["helm/hello/values.yaml"])["image"]["repository"] == "registry.example.com/team/hello"
    live = argo_cluster.get("argoproj.io/v1alpha1", "Application", "hello", "argocd")
    assert live["spec"]["source"] == {"repoURL": str(app_repo), "path": "helm/hello", "targetRevision": "HEAD",
                                      "helm": {"valueFiles": ["values.yaml"]}}
    assert live["spec"]["destination"] == {"server": "https://kubernetes.default.svc", "namespace": "default"}
    assert live["spec"]["syncPolicy"] == {"automated": {"prune": True, "selfHeal": True}}
    assert live["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]
    assert created["outputs"] == {"name": "hello", "namespace": "argocd", "repoURL": str(app_repo),
                                  "path": "helm/hello", "sync": "Unknown", "health": "Unknown"}
    assert sorted(created["chart"]["files"]) == sorted(p for p in files if p.startswith("helm/"))
    assert plugin.read(opts, dataclasses.replace(ctx, prior=created)) == created

    # A hand edit with the real kubectl, and what Argo CD reports, show in read.
    argo_cluster.kubectl("patch", "applications.argoproj.io", "hello", "-n", "argocd", "--type", "merge",
                         "-p", '{"spec": {"destination": {"namespace": "elsewhere"}}}')
    argo_cd.report("hello", sync="OutOfSync", health="Degraded")
    drifted = plugin.read(opts, dataclasses.replace(ctx, prior=created))
    assert drifted is not None and drifted["dest"]["namespace"] == "elsewhere"
    assert (drifted["outputs"]["sync"], drifted["outputs"]["health"]) == ("OutOfSync", "Degraded")

    # Update takes dtm's field back (server-side apply); the chart is the team's now and is not pushed again.
    updated = plugin.update(opts, dataclasses.replace(ctx, prior=created))
    assert updated["dest"]["namespace"] == "default"
    assert argo_cluster.get("argoproj.io/v1alpha1", "Application", "hello", "argocd")["spec"]["destination"][
        "namespace"] == "default"
    assert updated["chart"] == created["chart"] and repo_files(app_repo) == files
    assert plugin.read(opts, dataclasses.replace(ctx, prior=updated)) == updated

    # Delete waits for Argo CD to finish the cascade, then takes back the chart dtm pushed.
    seen: list[str] = []
    with argo_cd.running(on_delete=lambda app: seen.append(app["metadata"]["name"])):
        plugin.delete(opts, dataclasses.replace(ctx, prior=updated))
    assert seen == ["hello"]
    assert argo_cluster.get("argoproj.io/v1alpha1", "Application", "hello", "argocd") is None
    assert list(repo_files(app_repo)) == ["README.md"]
    assert plugin.read(opts, ctx) is None
    plugin.delete(opts, ctx)  # gone already: success


def test_a_delete_argo_cd_never_finishes_stops_at_its_bound_and_cascade_none_lets_it_go(
        argo_cluster: Any, app_repo: Path, ctx: PluginContext) -> None:
    created = plugin.create(options(argo_cluster, app_repo, deleteTimeout=1), ctx)  # foreground: a finalizer

    with pytest.raises(PermanentError, match="resources-finalizer.argocd.argoproj.io.*check that Argo CD runs"):
        plugin.delete(options(argo_cluster, app_repo, deleteTimeout=1), dataclasses.replace(ctx, prior=created))
    assert argo_cluster.get("argoproj.io/v1alpha1", "Application", "hello", "argocd")["metadata"]["deletionTimestamp"]

    # What the error advises: cascade none takes dtm's finalizer off, and the Application goes (no Argo CD runs).
    plugin.delete(options(argo_cluster, app_repo, cascade="none"), dataclasses.replace(ctx, prior=created))
    assert argo_cluster.get("argoproj.io/v1alpha1", "Application", "hello", "argocd") is None


def test_without_argo_cd_create_says_to_install_it_and_read_finds_nothing(
        kube_cluster: Any, app_repo: Path, ctx: PluginContext) -> None:
    opts = options(kube_cluster, app_repo)

    assert plugin.read(opts, ctx) is None
    with pytest.raises(PermanentError, match="install Argo CD first"):
        plugin.create(opts, ctx)
    assert list(repo_files(app_repo)) == ["README.md"]  # nothing pushed either


def made_by_hand(cluster: Any, repo: Path) -> None:
    """An Application someone made with `kubectl apply` (as `argocd app create` would), deploying elsewhere."""
    cluster.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "hello", "namespace": "argocd", "labels": {"team": "web"}},
        "spec": {"project": "default",
                 "destination": {"server": "https://kubernetes.default.svc", "namespace": "legacy"},
                 "source": {"repoURL": str(repo), "path": "helm/hello", "targetRevision": "HEAD",
                            "helm": {"valueFiles": ["values.yaml"]}}}}))


def test_an_application_made_by_hand_is_imported_taken_over_and_left_in_place(
        argo_cluster: Any, argo_cd: ArgoCD, app_repo: Path, ctx: PluginContext) -> None:
    made_by_hand(argo_cluster, app_repo)
    argo_cd.report("hello", sync="Synced", health="Healthy")
    opts = options(argo_cluster, app_repo)

    with pytest.raises(PermanentError, match="argocd/other is not the Application argocdapp.hello describes"):
        plugin.import_resource("argocd/other", opts, ctx)
    assert plugin.import_resource("argocd/ghost", options(argo_cluster, app_repo, app={"name": "ghost"}), ctx) is None

    # The record is what create would have made from the options, with what Argo CD reports now.
    imported = plugin.import_resource("argocd/hello", opts, ctx)
    assert imported is not None and imported["adopted"] is True and "chart" not in imported
    assert imported["dest"]["namespace"] == "default" and imported["finalizers"] == [
        "resources-finalizer.argocd.argoproj.io"]
    assert (imported["outputs"]["sync"], imported["outputs"]["health"]) == ("Synced", "Healthy")
    # So the next read shows where the live one differs as drift: its destination and its missing finalizer.
    live = plugin.read(opts, dataclasses.replace(ctx, prior=imported))
    assert live is not None and live["adopted"] is True
    assert {k for k in imported if imported[k] != live[k]} == {"dest", "finalizers", "syncPolicy"}

    # Update takes dtm's fields over; the path's chart is the team's (none is pushed); it stays adopted.
    updated = plugin.update(opts, dataclasses.replace(ctx, prior=imported))
    app = argo_cluster.get("argoproj.io/v1alpha1", "Application", "hello", "argocd")
    assert app["spec"]["destination"]["namespace"] == "default" and app["metadata"]["labels"]["team"] == "web"
    assert list(repo_files(app_repo)) == ["README.md"] and "chart" not in updated
    assert updated["adopted"] is True and plugin.read(opts, dataclasses.replace(ctx, prior=updated)) == updated

    # Not dtm's to delete: the Application, and what it deployed, stay.
    plugin.delete(opts, dataclasses.replace(ctx, prior=updated))
    assert argo_cluster.get("argoproj.io/v1alpha1", "Application", "hello", "argocd") is not None


def test_dtm_import_adopts_an_application_and_the_next_plan_shows_its_drift(
        argo_cluster: Any, app_repo: Path, tmp_path: Path) -> None:
    made_by_hand(argo_cluster, app_repo)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"config": {"state": {"backend": "local"}}, "tools": [{
        "name": "argocdapp", "instanceID": "hello",
        "options": {"app": {"name": "hello", "namespace": "argocd"}, "kubeconfig": str(argo_cluster.kubeconfig),
                    "source": {"repoURL": str(app_repo), "path": "helm/hello"}}}]}))

    done = run_script("import", "-f", str(config), "argocdapp.hello", "argocd/hello", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Imported argocd/hello as argocdapp.hello" in done.stdout

    done = run_script("plan", "-f", str(config), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (change,) = json.loads(done.stdout)["changes"]
    assert (change["key"], change["action"]) == ("argocdapp.hello", "update")
    assert "dest" in change["reason"]
