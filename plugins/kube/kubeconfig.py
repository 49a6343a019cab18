"""From a `KubeTarget` to a connection: the API server's URL, TLS, credentials and the default namespace.

Reads kubeconfig files as kubectl does: several files merge with the first file to name a cluster, user or
context winning (and the first `current-context`); a relative path inside a file (certificate-authority,
client-certificate, client-key, tokenFile) is relative to that file's folder. Credentials dtm understands:
`token`, `tokenFile` (read again before each request, as projected tokens rotate), `username`/`password`,
client certificates (files or `-data`), and `exec` credential plugins (client.authentication.k8s.io v1 and
v1beta1: `aws eks get-token`, `gke-gcloud-auth-plugin`, `kubelogin`...), whose token is kept until it
expires. The legacy `auth-provider` entries are refused with what to use instead. In a pod, the service
account's token, CA and namespace are used (`/var/run/secrets/kubernetes.io/serviceaccount`).

Nothing here logs or returns a credential: tokens live only in the `httpx.Auth` that sends them.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from devstream.errors import ConfigError
from devstream.plugins.kube.config import SERVICE_ACCOUNT_DIR, KubeTarget

__all__ = ["Connection", "connect"]

_EXEC_TIMEOUT = 60.0
# An exec token is fetched again this long before it expires, so a request never carries a stale one.
_EXEC_EARLY = 30.0


@dataclass
class Connection:
    """What the client needs to reach one API server."""

    server: str
    namespace: str = "default"
    verify: ssl.SSLContext | bool = True
    auth: httpx.Auth | None = None
    proxy: str | None = None
    description: str = ""
    cluster_name: str = field(default="")


def _named(entries: Any, kind: str, source: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if entries is None:
        return out
    if not isinstance(entries, list):
        raise ConfigError(f"kubeconfig {source}: `{kind}` must be a list")
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            body = entry.get(kind[:-1]) or {}
            if isinstance(body, dict):
                out[entry["name"]] = {**body, "_dir": str(source.parent)}
    return out


def _merged(files: tuple[Path, ...]) -> dict[str, Any]:
    merged: dict[str, Any] = {"clusters": {}, "users": {}, "contexts": {}, "current-context": None}
    for path in files:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ConfigError(f"kubeconfig {path}: cannot read it: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"kubeconfig {path}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"kubeconfig {path}: expected a mapping (apiVersion: v1, kind: Config)")
        for kind in ("clusters", "users", "contexts"):
            for name, body in _named(data.get(kind), kind, path).items():
                merged[kind].setdefault(name, body)  # the first file to name it wins, as in kubectl
        if not merged["current-context"] and isinstance(data.get("current-context"), str):
            merged["current-context"] = data["current-context"] or None
    return merged


def _path(value: str, base: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else Path(base) / p


def _pem(entry: Mapping[str, Any], key: str, what: str, where: str) -> bytes | None:
    """The PEM bytes of `key-data` (base64) or of the file `key`."""
    data = entry.get(f"{key}-data")
    if data:
        try:
            return base64.b64decode(data, validate=False)
        except ValueError:
            raise ConfigError(f"{where}: {key}-data is not base64") from None
    if entry.get(key):
        path = _path(str(entry[key]), entry["_dir"])
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read the {what} {path}: {exc.strerror or exc}") from None
    return None


def _ssl_context(ca: bytes | None, cert: bytes | None, key: bytes | None, insecure: bool, where: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif ca:
        try:
            context.load_verify_locations(cadata=ca.decode("ascii", "replace"))
        except ssl.SSLError as exc:
            raise ConfigError(f"{where}: the certificate authority is not a PEM certificate: {exc}") from None
    if cert and key:
        # ssl reads a chain from files only: a folder of our own, mode 0700, removed at once.
        with tempfile.TemporaryDirectory(prefix="dtm-kube-") as folder:
            cert_file, key_file = Path(folder) / "cert.pem", Path(folder) / "key.pem"
            for target, content in ((cert_file, cert), (key_file, key)):
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(content)
            try:
                context.load_cert_chain(str(cert_file), str(key_file))
            except ssl.SSLError as exc:
                raise ConfigError(f"{where}: the client certificate or key is not valid PEM: {exc}") from None
    elif cert or key:
        raise ConfigError(f"{where}: a client certificate needs its key, and a key its certificate")
    return context


class _BearerAuth(httpx.Auth):
    """`Authorization: Bearer <token>`, the token asked of `source` for each request (files rotate, exec
    tokens expire)."""

    def __init__(self, source: Any) -> None:
        self.source = source

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.source()}"
        yield request


class _TokenFile:
    def __init__(self, path: Path, where: str) -> None:
        self.path, self.where = path, where

    def __call__(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{self.where}: cannot read the token file {self.path}: {exc.strerror or exc}") from None


class _ExecCredential:
    """An exec credential plugin, run when no unexpired token is at hand."""

    def __init__(self, spec: Mapping[str, Any], where: str) -> None:
        self.spec, self.where = spec, where
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires: float | None = None
        self.status: dict[str, Any] = {}

    def run(self) -> dict[str, Any]:
        command = self.spec.get("command")
        if not isinstance(command, str) or not command:
            raise ConfigError(f"{self.where}: exec needs a `command`")
        api_version = self.spec.get("apiVersion") or "client.authentication.k8s.io/v1"
        env = dict(os.environ)
        for item in self.spec.get("env") or []:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                env[item["name"]] = str(item.get("value", ""))
        env["KUBERNETES_EXEC_INFO"] = json.dumps({"apiVersion": api_version, "kind": "ExecCredential",
                                                  "spec": {"interactive": False}})
        argv = [_path(command, self.spec["_dir"]).as_posix() if "/" in command else command,
                *[str(a) for a in self.spec.get("args") or []]]
        try:
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=_EXEC_TIMEOUT,
                                  stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            hint = self.spec.get("installHint") or f"install {command} or fix the kubeconfig's exec command"
            raise ConfigError(f"{self.where}: the credential plugin {command} is not installed; {hint}") from None
        except subprocess.TimeoutExpired:
            raise ConfigError(f"{self.where}: the credential plugin {command} did not answer within "
                              f"{_EXEC_TIMEOUT:.0f} s") from None
        if done.returncode != 0:
            raise ConfigError(f"{self.where}: the credential plugin {command} failed (exit {done.returncode}): "
                              f"{done.stderr.strip()[:300]}")
        try:
            status = json.loads(done.stdout).get("status") or {}
        except (ValueError, AttributeError):
            raise ConfigError(f"{self.where}: the credential plugin {command} printed no ExecCredential") from None
        self.status = status if isinstance(status, dict) else {}
        return self.status

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or (self._expires is not None and time.time() > self._expires - _EXEC_EARLY):
                status = self.run()
                token = status.get("token")
                if not isinstance(token, str) or not token:
                    raise ConfigError(f"{self.where}: the credential plugin gave no token")
                self._token = token
                expires = status.get("expirationTimestamp")
                self._expires = (datetime.fromisoformat(str(expires).replace("Z", "+00:00")).timestamp()
                                 if expires else None)
            return self._token


def _in_cluster() -> Connection:
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST", ""), os.environ.get("KUBERNETES_SERVICE_PORT", "")
    host = f"[{host}]" if ":" in host else host
    ca_file = SERVICE_ACCOUNT_DIR / "ca.crt"
    ca = ca_file.read_bytes() if ca_file.is_file() else None
    where = "in-cluster service account"
    namespace_file = SERVICE_ACCOUNT_DIR / "namespace"
    namespace = namespace_file.read_text().strip() if namespace_file.is_file() else "default"
    return Connection(server=f"https://{host}:{port}", namespace=namespace or "default",
                      verify=_ssl_context(ca, None, None, False, where),
                      auth=_BearerAuth(_TokenFile(SERVICE_ACCOUNT_DIR / "token", where)), description=where)


def connect(target: KubeTarget) -> Connection:
    """The connection `target` names; ConfigError, naming the file and entry, for what cannot be used."""
    if target.in_cluster:
        return _in_cluster()
    config = _merged(target.kubeconfigs)
    files = ", ".join(str(p) for p in target.kubeconfigs)
    context_name = target.context or config["current-context"]
    if not context_name:
        raise ConfigError(f"kubeconfig {files}: no current-context; give the tool a `context` option "
                          f"(one of: {', '.join(sorted(config['contexts'])) or 'none defined'})")
    context = config["contexts"].get(context_name)
    if context is None:
        raise ConfigError(f"kubeconfig {files}: no context {context_name!r}; it has: "
                          f"{', '.join(sorted(config['contexts'])) or 'none'}")
    cluster_name, user_name = context.get("cluster"), context.get("user")
    cluster = config["clusters"].get(cluster_name)
    if cluster is None or not cluster.get("server"):
        raise ConfigError(f"kubeconfig {files}: context {context_name!r} names cluster {cluster_name!r}, which is "
                          "not defined or has no server")
    user = config["users"].get(user_name, {"_dir": cluster["_dir"]}) if user_name else {"_dir": cluster["_dir"]}
    where = f"kubeconfig {files}, user {user_name!r}"
    if user.get("auth-provider"):
        name = (user["auth-provider"] or {}).get("name", "?")
        raise ConfigError(f"{where}: the legacy auth-provider {name!r} is not supported (kubectl dropped it too); "
                          "use its exec credential plugin, e.g. gke-gcloud-auth-plugin or kubelogin")
    auth: httpx.Auth | None = None
    cert, key = _pem(user, "client-certificate", "client certificate", where), _pem(user, "client-key", "key", where)
    if user.get("token"):
        token = str(user["token"])
        auth = _BearerAuth(lambda: token)
    elif user.get("tokenFile"):
        auth = _BearerAuth(_TokenFile(_path(str(user["tokenFile"]), user["_dir"]), where))
    elif user.get("username") and user.get("password") is not None:
        auth = httpx.BasicAuth(str(user["username"]), str(user["password"]))
    elif isinstance(user.get("exec"), dict):
        plugin = _ExecCredential({**user["exec"], "_dir": user["_dir"]}, where)
        status = plugin.run()
        if status.get("clientCertificateData") and status.get("clientKeyData"):
            cert, key = str(status["clientCertificateData"]).encode(), str(status["clientKeyData"]).encode()
        if status.get("token"):
            auth = _BearerAuth(plugin)
    cluster_where = f"kubeconfig {files}, cluster {cluster_name!r}"
    server = str(cluster["server"]).rstrip("/")
    verify: ssl.SSLContext | bool = True
    if server.startswith("https://") or cert:
        ca = _pem(cluster, "certificate-authority", "certificate authority", cluster_where)
        verify = _ssl_context(ca, cert, key, bool(cluster.get("insecure-skip-tls-verify")), cluster_where)
    return Connection(server=server, namespace=str(context.get("namespace") or "default"), verify=verify,
                      auth=auth, proxy=cluster.get("proxy-url") or None,
                      description=f"{server} ({target.describe()})", cluster_name=str(cluster_name))
