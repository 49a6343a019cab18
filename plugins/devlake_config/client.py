"""Apache DevLake's REST API, as devlake-config uses it: data-source connections, their scopes, and blueprints.

Paths are those of DevLake's backend (`/plugins/{plugin}/connections`, `/blueprints`), under the address given
(`devlakeAddr`): the backend itself (port 8080) or config-ui's `/api` proxy. Every call goes through the plugin
context's retrying httpx client; a 4xx leaves as PermanentError with DevLake's own message.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx

from devstream.errors import PermanentError
from devstream.plugin import PluginContext, raise_for_status

__all__ = ["DevLakeClient"]

_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class DevLakeClient:
    def __init__(self, address: str, ctx: PluginContext):
        self.address = address.rstrip("/")
        self.http = ctx.http_client(base_url=self.address, timeout=_TIMEOUT,
                                    headers={"Content-Type": "application/json"})

    def __enter__(self) -> DevLakeClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.http.close()

    def _call(self, method: str, path: str, *, missing_ok: bool = False, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if missing_ok and response.status_code == 404:
            return None
        if 400 <= response.status_code < 500:
            raise PermanentError(f"DevLake at {self.address} refused {method} {path}: {response.status_code} "
                                 f"{_message(response)}")
        raise_for_status(response)
        return response.json() if response.content else None

    # -- connections ------------------------------------------------------------------------------------
    def connections(self, plugin: str) -> list[dict[str, Any]]:
        found = self._call("GET", f"/plugins/{plugin}/connections")
        return list(found or [])

    def connection(self, plugin: str, connection_id: int) -> dict[str, Any] | None:
        return self._call("GET", f"/plugins/{plugin}/connections/{connection_id}", missing_ok=True)

    def create_connection(self, plugin: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", f"/plugins/{plugin}/connections", json=dict(body)))

    def update_connection(self, plugin: str, connection_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        return dict(self._call("PATCH", f"/plugins/{plugin}/connections/{connection_id}", json=dict(body)))

    def delete_connection(self, plugin: str, connection_id: int) -> None:
        self._call("DELETE", f"/plugins/{plugin}/connections/{connection_id}", missing_ok=True)

    def put_scopes(self, plugin: str, connection_id: int, scopes: list[dict[str, Any]]) -> None:
        self._call("PUT", f"/plugins/{plugin}/connections/{connection_id}/scopes", json={"data": scopes})

    # -- blueprints -------------------------------------------------------------------------------------
    def blueprint(self, blueprint_id: int) -> dict[str, Any] | None:
        return self._call("GET", f"/blueprints/{blueprint_id}", missing_ok=True)

    def blueprints(self) -> list[dict[str, Any]]:
        found = self._call("GET", "/blueprints", params={"pageSize": 1000}) or {}
        return list(found.get("blueprints") or [])

    def create_blueprint(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", "/blueprints", json=dict(body)))

    def update_blueprint(self, blueprint_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        return dict(self._call("PATCH", f"/blueprints/{blueprint_id}", json=dict(body)))

    def delete_blueprint(self, blueprint_id: int) -> None:
        self._call("DELETE", f"/blueprints/{blueprint_id}", missing_ok=True)


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("message") or body)[:300] if isinstance(body, dict) else str(body)[:300]
