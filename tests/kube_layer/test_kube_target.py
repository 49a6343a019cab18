"""Which cluster a Kubernetes tool talks to: the option, then KUBECONFIG, then ~/.kube/config, then in-cluster.

The same target feeds the Python client and the helm/kubectl command lines, so both reach one cluster."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devstream.errors import ConfigError
from devstream.plugin import PluginOptions
from devstream.plugins.kube import KubeOptions, resolve_target


class ToolOptions(PluginOptions, KubeOptions):
    namespace: str = "default"


def _kubeconfig(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    return path


def test_a_plugin_s_options_take_kubeconfig_and_context_beside_its_own():
    options = ToolOptions.model_validate({"kubeconfig": "kube.yaml", "context": "dev", "namespace": "x"})
    assert (options.kubeconfig, options.context, options.namespace) == ("kube.yaml", "dev", "x")
    with pytest.raises(ValueError, match="kubeconfg"):
        ToolOptions.model_validate({"kubeconfg": "typo"})


def test_the_option_wins_and_is_relative_to_the_config_folder(tmp_path):
    own = _kubeconfig(tmp_path / "cfg" / "kube.yaml")
    env = {"KUBECONFIG": str(_kubeconfig(tmp_path / "env.yaml")), "HOME": str(tmp_path)}
    target = resolve_target(ToolOptions(kubeconfig="kube.yaml", context="dev"), workdir=tmp_path / "cfg", environ=env)
    assert target.kubeconfigs == (own,)
    assert target.helm_args() == ["--kubeconfig", str(own), "--kube-context", "dev"]
    assert target.kubectl_args() == ["--kubeconfig", str(own), "--context", "dev"]
    assert target.env() == {"KUBECONFIG": str(own)}
    assert "context dev" in target.describe() and "option kubeconfig" in target.describe()


def test_a_missing_kubeconfig_option_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"kubeconfig .*nope.yaml: no such file"):
        resolve_target(ToolOptions(kubeconfig="nope.yaml"), workdir=tmp_path, environ={"HOME": str(tmp_path)})


def test_kubeconfig_lists_several_files_and_skips_missing_ones(tmp_path):
    first, second = _kubeconfig(tmp_path / "a.yaml"), _kubeconfig(tmp_path / "b.yaml")
    listed = os.pathsep.join([str(first), str(tmp_path / "missing.yaml"), str(second)])
    target = resolve_target(ToolOptions(), environ={"KUBECONFIG": listed, "HOME": str(tmp_path)})
    assert target.kubeconfigs == (first, second)
    # Several files cannot go through --kubeconfig: the child process gets them in KUBECONFIG.
    assert target.helm_args() == [] and target.env() == {"KUBECONFIG": f"{first}{os.pathsep}{second}"}
    with pytest.raises(ConfigError, match="none of its files exists"):
        resolve_target(ToolOptions(), environ={"KUBECONFIG": str(tmp_path / "x"), "HOME": str(tmp_path)})


def test_home_kubeconfig_then_nothing(tmp_path):
    home = _kubeconfig(tmp_path / ".kube" / "config")
    assert resolve_target(None, context="c", environ={"HOME": str(tmp_path)}).kubeconfigs == (home,)
    home.unlink()
    with pytest.raises(ConfigError, match="no Kubernetes cluster is configured"):
        resolve_target(None, environ={"HOME": str(tmp_path)})
