"""An in-process, stateful stand-in for Jenkins' REST API: items (folders and jobs) by path, plugins, credentials.

Built from Jenkins' remote access API documentation (jenkins.io/doc/book/using/remote-access-api) and the
credentials plugin's: Jenkins publishes no machine-readable description of its API, so the operations served are
listed in `OPERATIONS` (method, path pattern, the query parameters each takes) and anything else is answered
404 or 400 and reported by `problems()`.

As Jenkins does: basic auth with a user's password or API token, else 401; with CSRF protection on (`csrf`), a
POST without the crumb issued to its session (`/crumbIssuer/api/json` sets the session cookie) is 403 "No valid
crumb was included in the request"; `createItem` of a name that is taken is 400; a config.xml that is not
well-formed XML is 500; configs are kept as Jenkins re-serializes them (its own XML declaration, secrets such as a
GitLab trigger's `secretToken` and a credential's `password` encrypted as `{...}`); deleting a job or folder
answers a redirect. Plugins asked for by `installNecessaryPlugins` load at once, or only after `safeRestart` when
`plugins_need_restart`. `inject` answers the next matching requests with a given status.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import unquote

import httpx
from http_standin import OneAtATime, Recorded

_ITEM = r"(?P<item>(?:/job/[^/]+)+)"
OPERATIONS: list[tuple[str, str, frozenset[str]]] = [
    ("GET", r"/crumbIssuer/api/json", frozenset()),
    ("GET", r"/pluginManager/api/json", frozenset({"tree", "depth"})),
    ("POST", r"/pluginManager/installNecessaryPlugins", frozenset()),
    ("POST", r"/safeRestart", frozenset()),
    ("GET", rf"{_ITEM}/config\.xml", frozenset()),
    ("POST", rf"{_ITEM}/config\.xml", frozenset()),
    ("GET", r"(?P<item>(?:/job/[^/]+)*)/api/json", frozenset({"tree", "depth"})),
    ("POST", r"(?P<item>(?:/job/[^/]+)*)/createItem", frozenset({"name", "mode", "from"})),
    ("POST", rf"{_ITEM}/doDelete", frozenset()),
    ("GET", r"/credentials/store/system/domain/_/credential/(?P<cred>[^/]+)/api/json", frozenset({"tree", "depth"})),
    ("POST", r"/credentials/store/system/domain/_/createCredentials", frozenset()),
    ("POST", r"/credentials/store/system/domain/_/credential/(?P<cred>[^/]+)/config\.xml", frozenset()),
    ("POST", r"/credentials/store/system/domain/_/credential/(?P<cred>[^/]+)/doDelete", frozenset()),
]
_SECRET_TAGS = ("secretToken", "password")


@dataclass
class Item:
    kind: str  # "folder" or "job"
    config: bytes
    builds: list[int] = field(default_factory=list)


class JenkinsStandIn(OneAtATime):
    """One Jenkins at `url`, with one user."""

    def __init__(self, *, url: str = "http://jenkins.example.com:8080", user: str = "admin",
                 password: str = "jenkins-standin-password", csrf: bool = True,
                 plugins: dict[str, str] | None = None) -> None:
        self.url = httpx.URL(url)
        self.user, self.password, self.csrf = user, password, csrf
        self.items: dict[str, Item] = {}
        self.plugins: dict[str, str] = dict(plugins if plugins is not None else {
            "workflow-job": "1400.v7fd111b_ec82f", "workflow-cps": "3894.vd0f0248b_a_fc4", "git": "5.2.1",
            "credentials": "1319.v7eb_51b_3a_c97b_", "github": "1.38.0", "cloudbees-folder": "6.928.v7c780211d66e"})
        self.pending: dict[str, str] = {}  # installed, loaded at the next restart
        self.plugins_need_restart = False
        self.restarts = 0
        self.credentials: dict[str, bytes] = {}
        self.requests: list[Recorded] = []
        self.injected: list[tuple[str, re.Pattern[str], int, dict[str, str], int]] = []
        self._sessions: dict[str, str] = {}  # session cookie -> crumb
        self._ids = itertools.count(1)
        self._serving = threading.Lock()

    # -- what tests do behind the client's back ----------------------------------------------------------------
    def inject(self, method: str, path: str, status: int, *, headers: dict[str, str] | None = None,
               times: int = 1) -> None:
        self.injected.append((method.upper(), re.compile(path), status, dict(headers or {}), times))

    def forget_crumbs(self) -> None:
        """Sessions end (as at a restart): the crumbs issued so far are no longer taken."""
        self._sessions.clear()

    def job_text(self, path: str) -> str:
        return self.items[path].config.decode()

    def problems(self) -> list[str]:
        return [p for r in self.requests for p in _check(r.method, r.path, r.params)]

    # -- serving ---------------------------------------------------------------------------------------------
    def _respond(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        prefix = self.url.path.rstrip("/")
        path = request.url.path[len(prefix):] if request.url.path.startswith(prefix) else request.url.path
        params = dict(request.url.params.multi_items())
        self.requests.append(Recorded(request.method, path, params))
        for i, (method, pattern, status, headers, times) in enumerate(self.injected):
            if method == request.method and pattern.search(path):
                self.injected[i] = (method, pattern, status, headers, times - 1)
                if times <= 1:
                    del self.injected[i]
                return httpx.Response(status, text="injected", headers=headers)
        expected = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return httpx.Response(401, text="Unauthorized", headers={"WWW-Authenticate": 'Basic realm="Jenkins"'})
        problems = _check(request.method, path, params)
        if problems:
            return httpx.Response(404 if "no such" in problems[0] else 400, text=problems[0])
        if request.method == "POST" and self.csrf:
            session = _session(request)
            crumb = self._sessions.get(session or "")
            if crumb is None or request.headers.get("Jenkins-Crumb") != crumb:
                return httpx.Response(403, text="No valid crumb was included in the request")
        for method, pattern, _ in OPERATIONS:
            found = re.fullmatch(pattern, path)
            if method == request.method and found:
                return self._serve(method, pattern, found.groupdict(), params, body)
        return httpx.Response(404, text="Not Found")

    def _serve(self, method: str, pattern: str, groups: dict[str, str], params: dict[str, str],
               body: bytes) -> httpx.Response:
        item = _item_path(groups.get("item") or "")
        cred = unquote(groups.get("cred") or "")
        if pattern.startswith("/crumbIssuer"):
            if not self.csrf:
                return httpx.Response(404, text="Not Found")
            session, crumb = f"node0{next(self._ids)}", hashlib.sha256(str(next(self._ids)).encode()).hexdigest()
            self._sessions[session] = crumb
            return httpx.Response(200, json={"_class": "hudson.security.csrf.DefaultCrumbIssuer", "crumb": crumb,
                                             "crumbRequestField": "Jenkins-Crumb"},
                                  headers={"Set-Cookie": f"JSESSIONID.abc={session}; Path=/; HttpOnly"})
        if pattern.startswith("/pluginManager/api"):
            return httpx.Response(200, json={"_class": "hudson.LocalPluginManager", "plugins": [
                {"shortName": n, "version": v, "active": True} for n, v in sorted(self.plugins.items())]})
        if pattern.startswith("/pluginManager/install"):
            for name in re.findall(r'plugin="([^"@]+)@', body.decode()):
                (self.pending if self.plugins_need_restart else self.plugins)[name] = "1.0"
            return httpx.Response(302, headers={"Location": f"{self.url}/updateCenter/"})
        if pattern == r"/safeRestart":
            self.plugins.update(self.pending)
            self.pending.clear()
            self.restarts += 1
            return httpx.Response(302, headers={"Location": f"{self.url}/"})
        if pattern.startswith("/credentials"):
            return self._credentials(method, pattern, cred, body)
        if pattern.endswith(r"/config\.xml"):
            found = self.items.get(item)
            if found is None:
                return httpx.Response(404, text="Not Found")
            if method == "GET":
                return httpx.Response(200, content=found.config, headers={"Content-Type": "application/xml"})
            config = _saved(body)
            if config is None:
                return httpx.Response(500, text="Unable to read config.xml: not well-formed")
            found.config = config
            return httpx.Response(200, text="")
        if pattern.endswith("/api/json"):
            if item and (item not in self.items or self.items[item].kind != "folder"):
                return httpx.Response(404, text="Not Found")
            children = sorted({p[len(item) + 1 if item else 0:].split("/")[0] for p in self.items
                               if p.startswith(item + "/" if item else "") and p != item})
            return httpx.Response(200, json={"_class": "com.cloudbees.hudson.plugins.folder.Folder",
                                             "jobs": [{"name": n} for n in children]})
        if pattern.endswith("/createItem"):
            name = params.get("name", "")
            full = f"{item}/{name}" if item else name
            if item and (item not in self.items or self.items[item].kind != "folder"):
                return httpx.Response(404, text="Not Found")
            if full in self.items:
                return httpx.Response(400, text=f"A job already exists with the name '{name}'",
                                      headers={"X-Error": f"A job already exists with the name '{name}'"})
            config = _saved(body)
            if config is None:
                return httpx.Response(500, text="Failed to parse config.xml")
            kind = "folder" if config.find(b"com.cloudbees.hudson.plugins.folder.Folder") >= 0 else "job"
            if kind == "folder" and "cloudbees-folder" not in self.plugins:
                return httpx.Response(500, text="Unable to create folder: cloudbees-folder is not installed")
            self.items[full] = Item(kind, config)
            return httpx.Response(200, text="")
        if pattern.endswith("/doDelete"):
            if item not in self.items:
                return httpx.Response(404, text="Not Found")
            for path in [p for p in self.items if p == item or p.startswith(item + "/")]:
                del self.items[path]
            return httpx.Response(302, headers={"Location": f"{self.url}/"})
        return httpx.Response(404, text="Not Found")

    def _credentials(self, method: str, pattern: str, cred: str, body: bytes) -> httpx.Response:
        if pattern.endswith("/createCredentials"):
            config = _saved(body)
            if config is None:
                return httpx.Response(400, text="not well-formed")
            new_id = ET.fromstring(config).findtext("id") or ""
            if new_id in self.credentials:
                return httpx.Response(409, text=f"A credential with id {new_id} already exists")
            self.credentials[new_id] = config
            return httpx.Response(200, text="")
        if cred not in self.credentials:
            return httpx.Response(404, text="Not Found")
        if pattern.endswith("/api/json"):
            return httpx.Response(200, json={"id": cred, "displayName": cred, "typeName": "Username with password"})
        if pattern.endswith("/doDelete"):
            del self.credentials[cred]
            return httpx.Response(302, headers={"Location": f"{self.url}/credentials/"})
        config = _saved(body)
        if config is None:
            return httpx.Response(400, text="not well-formed")
        self.credentials[cred] = config
        return httpx.Response(200, text="")


def _check(method: str, path: str, params: dict[str, str]) -> list[str]:
    for m, pattern, allowed in OPERATIONS:
        if m == method and re.fullmatch(pattern, path):
            return [f"{method} {path}: query parameter {name!r} is not one of {sorted(allowed)}"
                    for name in params if name not in allowed]
    return [f"{method} {path}: no such operation in Jenkins' remote access API"]


def _item_path(url_path: str) -> str:
    return "/".join(unquote(p) for p in url_path.split("/job/") if p)


def _session(request: httpx.Request) -> str | None:
    found = re.search(r"JSESSIONID\.abc=([^;]+)", request.headers.get("cookie", ""))
    return found.group(1) if found else None


def _saved(body: bytes) -> bytes | None:
    """The config as Jenkins keeps it: its own declaration, secrets encrypted; None when not well-formed."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    for element in root.iter():
        if element.tag in _SECRET_TAGS and element.text:
            element.text = "{" + base64.b64encode(hashlib.sha256(element.text.encode()).digest()).decode() + "}"
    return b"<?xml version='1.1' encoding='UTF-8'?>\n" + ET.tostring(root, encoding="utf-8")
