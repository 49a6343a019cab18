"""Reading kubeconfig files as kubectl does: merged files, contexts, and each kind of credential.

The connection's credentials are checked where they matter: on the request the client sends."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import httpx
import pytest
import yaml

from devstream.errors import ConfigError
from devstream.plugins.kube import KubeClient, KubeTarget
from devstream.plugins.kube.kubeconfig import connect


def _write(path: Path, users: list, contexts: list, current: str | None = None, clusters: list | None = None) -> Path:
    clusters = clusters if clusters is not None else [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}]
    doc = {"apiVersion": "v1", "kind": "Config", "clusters": clusters, "users": users, "contexts": contexts}
    if current:
        doc["current-context"] = current
    path.write_text(yaml.safe_dump(doc))
    return path


def _sent_headers(conn, tmp_path) -> httpx.Headers:
    """The headers of one request the client sends through this connection."""
    seen = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(200, json={"kind": "APIResourceList", "resources": [
            {"name": "namespaces", "kind": "Namespace", "namespaced": False}]})

    def factory(**kwargs):
        kwargs["transport"] = httpx.MockTransport(answer)
        return httpx.Client(**kwargs)

    with KubeClient(conn, client_factory=factory) as kube:
        kube.resource("v1", "Namespace")
    return seen[0]


def test_contexts_pick_cluster_user_and_namespace_and_the_first_file_wins(tmp_path):
    first = _write(tmp_path / "a.yaml", [{"name": "u", "user": {"token": "first-token"}}],
                   [{"name": "dev", "context": {"cluster": "c", "user": "u", "namespace": "team"}}], current="dev")
    second = _write(tmp_path / "b.yaml", [{"name": "u", "user": {"token": "second-token"}}],
                    [{"name": "other", "context": {"cluster": "c", "user": "u"}}], current="other")
    conn = connect(KubeTarget((first, second), None, source="KUBECONFIG"))
    assert (conn.server, conn.namespace) == ("http://127.0.0.1:1", "team")
    assert _sent_headers(conn, tmp_path)["authorization"] == "Bearer first-token"
    other = connect(KubeTarget((first, second), "other", source="KUBECONFIG"))
    assert other.namespace == "default"
    with pytest.raises(ConfigError, match=r"no context 'nope'; it has: dev, other"):
        connect(KubeTarget((first, second), "nope", source="KUBECONFIG"))


def test_token_file_is_read_for_each_request_and_basic_auth_works(tmp_path):
    (tmp_path / "token").write_text("rotating-1\n")
    path = _write(tmp_path / "k.yaml", [{"name": "u", "user": {"tokenFile": "token"}}],
                  [{"name": "x", "context": {"cluster": "c", "user": "u"}}], current="x")
    conn = connect(KubeTarget((path,), None, source="test"))
    assert _sent_headers(conn, tmp_path)["authorization"] == "Bearer rotating-1"
    (tmp_path / "token").write_text("rotating-2\n")
    assert _sent_headers(conn, tmp_path)["authorization"] == "Bearer rotating-2"
    basic = _write(tmp_path / "b.yaml", [{"name": "u", "user": {"username": "admin", "password": "pw"}}],
                   [{"name": "x", "context": {"cluster": "c", "user": "u"}}], current="x")
    assert _sent_headers(connect(KubeTarget((basic,), None)), tmp_path)["authorization"].startswith("Basic ")


def test_an_exec_credential_plugin_gives_the_token(tmp_path):
    plugin = tmp_path / "get-token.py"
    plugin.write_text(textwrap.dedent("""
        import json, os, sys
        info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
        print(json.dumps({"apiVersion": info["apiVersion"], "kind": "ExecCredential",
                          "status": {"token": "exec-" + os.environ["WHO"]}}))
    """))
    exec_spec = {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                 "args": [str(plugin)], "env": [{"name": "WHO", "value": "me"}]}
    path = _write(tmp_path / "k.yaml", [{"name": "u", "user": {"exec": exec_spec}}],
                  [{"name": "x", "context": {"cluster": "c", "user": "u"}}], current="x")
    assert _sent_headers(connect(KubeTarget((path,), None)), tmp_path)["authorization"] == "Bearer exec-me"
    broken = _write(tmp_path / "b.yaml", [{"name": "u", "user": {"exec": {"command": "no-such-plugin-dtm"}}}],
                    [{"name": "x", "context": {"cluster": "c", "user": "u"}}], current="x")
    with pytest.raises(ConfigError, match="credential plugin no-such-plugin-dtm is not installed"):
        connect(KubeTarget((broken,), None))


def test_what_cannot_be_used_is_named(tmp_path):
    legacy = _write(tmp_path / "l.yaml", [{"name": "u", "user": {"auth-provider": {"name": "gcp"}}}],
                    [{"name": "x", "context": {"cluster": "c", "user": "u"}}], current="x")
    with pytest.raises(ConfigError, match="legacy auth-provider 'gcp'"):
        connect(KubeTarget((legacy,), None))
    no_current = _write(tmp_path / "n.yaml", [], [{"name": "x", "context": {"cluster": "c"}}])
    with pytest.raises(ConfigError, match="no current-context"):
        connect(KubeTarget((no_current,), None))
    no_cluster = _write(tmp_path / "m.yaml", [], [{"name": "x", "context": {"cluster": "gone"}}], current="x")
    with pytest.raises(ConfigError, match="cluster 'gone', which is not defined"):
        connect(KubeTarget((no_cluster,), None))
    bad_ca = _write(tmp_path / "t.yaml", [], [{"name": "x", "context": {"cluster": "c"}}], current="x",
                    clusters=[{"name": "c", "cluster": {"server": "https://127.0.0.1:1",
                                                         "certificate-authority-data": "bm90IGEgY2VydA=="}}])
    with pytest.raises(ConfigError, match="certificate authority is not a PEM certificate"):
        connect(KubeTarget((bad_ca,), None))
