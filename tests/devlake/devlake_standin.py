"""A stateful stand-in for Apache DevLake's REST API (its backend, as config-ui's `/api` proxies it): connections per
data-source plugin, their scopes, and blueprints.

It answers as DevLake's handlers do (backend/server/api and each plugin's connection API): a connection is created
with 200 and its `id`, its secret never shown again (`token`, `password` and `secretKey` come back empty); a name
taken within the plugin is a 400 ("duplicate"); an unknown plugin, connection or blueprint is a 404 with
`{"success": false, "message": ...}`; a blueprint needs a name and, unless manual, a cron schedule, and may name
only connections that exist. Requests are checked as they arrive (`problems`): fields DevLake does not take,
a missing required one, or a value of the wrong type is recorded, for the tests to assert there is none.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

PLUGINS = ("github", "gitlab", "jira", "jenkins", "bitbucket", "gitee", "tapd", "zentao", "sonarqube", "feishu")
_WHEN = "2024-01-01T00:00:00Z"
_CONNECTION_FIELDS = {"name": str, "endpoint": str, "proxy": str, "rateLimitPerHour": int, "authMethod": str,
                      "token": str, "username": str, "password": str, "appId": str, "secretKey": str}
_SECRETS = ("token", "password", "secretKey")
_BLUEPRINT_FIELDS = {"name": str, "mode": str, "enable": bool, "cronConfig": str, "isManual": bool,
                     "skipOnFail": bool, "connections": list, "projectName": str, "labels": list, "plan": list}


@dataclass
class DevLakeStandIn:
    connections: dict[str, dict[int, dict[str, Any]]] = field(default_factory=lambda: {p: {} for p in PLUGINS})
    scopes: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    blueprints: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any, int]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any, client: str = ""
               ) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            status, answer = self._route(method, path.rstrip("/"), body)
            self.requests.append((method, path, body, status))
            return status, answer, {}

    # -- what tests do in DevLake's UI --------------------------------------------------------------------
    def by_name(self, plugin: str, name: str) -> dict[str, Any] | None:
        return next((c for c in self.connections[plugin].values() if c["name"] == name), None)

    # -- the API ------------------------------------------------------------------------------------------
    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if m := re.fullmatch(r"/plugins/([^/]+)/connections", path):
            return self._connections(method, m.group(1), body)
        if m := re.fullmatch(r"/plugins/([^/]+)/connections/(\d+)", path):
            return self._connection(method, m.group(1), int(m.group(2)), body)
        if (m := re.fullmatch(r"/plugins/([^/]+)/connections/(\d+)/scopes", path)) and method == "PUT":
            return self._put_scopes(m.group(1), int(m.group(2)), body)
        if path == "/blueprints":
            return self._blueprints(method, body)
        if m := re.fullmatch(r"/blueprints/(\d+)", path):
            return self._blueprint(method, int(m.group(1)), body)
        return 404, _error("404 page not found")

    def _connections(self, method: str, plugin: str, body: Any) -> tuple[int, Any]:
        if plugin not in self.connections:
            return 404, _error(f"plugin {plugin} not found")
        if method == "GET":
            return 200, [_shown(c) for c in self.connections[plugin].values()]
        if method != "POST":
            return 405, _error("method not allowed")
        self._check(body, _CONNECTION_FIELDS, required=("name", "endpoint"), what=f"{plugin} connection")
        if self.by_name(plugin, str(body.get("name"))) is not None:
            return 400, _error(f"Error 1062 (23000): Duplicate entry '{body.get('name')}' for key "
                               f"'_tool_{plugin}_connections.idx_name'")
        cid = next(self._ids)
        record = {**{k: v for k, v in body.items() if k in _CONNECTION_FIELDS}, "id": cid, "createdAt": _WHEN,
                  "updatedAt": _WHEN}
        record.setdefault("proxy", "")
        record.setdefault("rateLimitPerHour", 0)
        self.connections[plugin][cid] = record
        return 200, _shown(record)

    def _connection(self, method: str, plugin: str, cid: int, body: Any) -> tuple[int, Any]:
        record = self.connections.get(plugin, {}).get(cid)
        if record is None:
            return 404, _error(f"could not find connection {cid}: record not found")
        if method == "GET":
            return 200, _shown(record)
        if method == "PATCH":
            self._check(body, _CONNECTION_FIELDS, required=(), what=f"{plugin} connection")
            other = self.by_name(plugin, str(body.get("name", record["name"])))
            if other is not None and other["id"] != cid:
                return 400, _error(f"Duplicate entry '{body.get('name')}'")
            record.update({k: v for k, v in body.items() if k in _CONNECTION_FIELDS})
            return 200, _shown(record)
        if method == "DELETE":
            if any(cid == c.get("connectionId") and plugin == c.get("pluginName")
                   for bp in self.blueprints.values() for c in bp.get("connections") or []):
                return 409, _error(f"connection {cid} is used by a blueprint; remove it from the blueprint first")
            del self.connections[plugin][cid]
            self.scopes.pop((plugin, cid), None)
            return 200, _shown(record)
        return 405, _error("method not allowed")

    def _put_scopes(self, plugin: str, cid: int, body: Any) -> tuple[int, Any]:
        if cid not in self.connections.get(plugin, {}):
            return 404, _error(f"could not find connection {cid}")
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            self.problems.append(f"PUT scopes: the body must be {{\"data\": [...]}}, not {body!r}")
            return 400, _error("invalid request body")
        self.scopes[(plugin, cid)] = body["data"]
        return 200, body["data"]

    def _blueprints(self, method: str, body: Any) -> tuple[int, Any]:
        if method == "GET":
            return 200, {"blueprints": list(self.blueprints.values()), "count": len(self.blueprints)}
        if method != "POST":
            return 405, _error("method not allowed")
        self._check(body, _BLUEPRINT_FIELDS, required=("name", "mode"), what="blueprint")
        if problem := self._blueprint_problem(body):
            return 400, _error(problem)
        bid = next(self._ids)
        self.blueprints[bid] = {**body, "id": bid, "createdAt": _WHEN, "updatedAt": _WHEN}
        return 201, self.blueprints[bid]

    def _blueprint(self, method: str, bid: int, body: Any) -> tuple[int, Any]:
        record = self.blueprints.get(bid)
        if record is None:
            return 404, _error(f"could not find blueprint {bid}: record not found")
        if method == "GET":
            return 200, record
        if method == "PATCH":
            self._check(body, _BLUEPRINT_FIELDS, required=(), what="blueprint")
            merged = {**record, **body}
            if problem := self._blueprint_problem(merged):
                return 400, _error(problem)
            record.update(body)
            return 200, record
        if method == "DELETE":
            del self.blueprints[bid]
            return 200, None
        return 405, _error("method not allowed")

    def _blueprint_problem(self, body: dict[str, Any]) -> str:
        if not body.get("isManual") and not body.get("cronConfig"):
            return "cronConfig is required for a blueprint that is not manual"
        for conn in body.get("connections") or []:
            if conn.get("connectionId") not in self.connections.get(conn.get("pluginName", ""), {}):
                return f"connection {conn.get('pluginName')}/{conn.get('connectionId')} does not exist"
        return ""

    def _check(self, body: Any, fields: dict[str, type], required: tuple[str, ...], what: str) -> None:
        if not isinstance(body, dict):
            self.problems.append(f"{what}: the body is not a JSON object: {body!r}")
            return
        for key, value in body.items():
            kind = fields.get(key)
            if kind is None:
                self.problems.append(f"{what}: DevLake takes no field {key!r}")
            elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                self.problems.append(f"{what}: {key} must be {kind.__name__}, not {value!r}")
        self.problems += [f"{what}: {key} is required" for key in required if key not in body]


def _shown(record: dict[str, Any]) -> dict[str, Any]:
    """A connection as DevLake answers with it: its secrets never shown."""
    return {k: ("" if k in _SECRETS else v) for k, v in record.items()}


def _error(message: str) -> dict[str, Any]:
    return {"success": False, "message": message, "causes": None, "data": None}
