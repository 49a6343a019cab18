"""The GitLab stand-in's CI/CD variables and project hooks, as a mixin of `GitLabStandIn` (gitlab_standin.py)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from gitlab_standin_objects import _KEY, _MASKABLE, HOOK_FLAGS, Project, _error


class SettingsRoutes:
    """CI/CD variables per environment scope and project hooks, on `self.projects`."""

    # -- variables ---------------------------------------------------------------------------------------------
    def _create_variable(self, project: Project, body: dict[str, Any]) -> httpx.Response:
        key, scope = body.get("key", ""), body.get("environment_scope", "*")
        if not _KEY.fullmatch(key):
            return _error(400, {"key": ["can contain only letters, digits and '_'."]})
        if any(v["key"] == key and v["environment_scope"] == scope for v in project.variables):
            return _error(400, {"key": [f"({key}) has already been taken"]})
        if body.get("masked") and not _MASKABLE.fullmatch(str(body.get("value", ""))):
            return _error(400, {"value": ["is invalid"]})
        variable = {"key": key, "value": str(body.get("value", "")), "variable_type": body.get("variable_type",
                    "env_var"), "protected": bool(body.get("protected", False)), "masked": bool(body.get("masked")),
                    "raw": bool(body.get("raw", False)), "environment_scope": scope,
                    "description": body.get("description")}
        project.variables.append(variable)
        return httpx.Response(201, json=variable)

    def _variable(self, project: Project, key: str, method: str, query: dict[str, str],
                  body: dict[str, Any]) -> httpx.Response:
        scope = query.get("filter[environment_scope]")
        found = [v for v in project.variables if v["key"] == key and (scope is None or v["environment_scope"] == scope)]
        if not found:
            return _error(404, "404 Variable Not Found")
        if len(found) > 1:
            return _error(409, "There are multiple variables with provided parameters. Please use "
                               "'filter[environment_scope]'")
        variable = found[0]
        if method == "GET":
            return httpx.Response(200, json=variable)
        if method == "DELETE":
            project.variables.remove(variable)
            return httpx.Response(204)
        value = str(body.get("value", variable["value"]))
        if body.get("masked", variable["masked"]) and not _MASKABLE.fullmatch(value):
            return _error(400, {"value": ["is invalid"]})
        variable.update({k: v for k, v in body.items() if k in
                         ("value", "protected", "masked", "raw", "variable_type", "description")})
        return httpx.Response(200, json=variable)

    # -- hooks -------------------------------------------------------------------------------------------------
    def _new_hook(self, project: Project, body: dict[str, Any]) -> dict[str, Any]:
        hook: dict[str, Any] = {"id": next(self._ids), "url": body["url"], "project_id": project.id,
                                "created_at": "2024-01-01T00:00:00Z", "alert_status": "executable",
                                "disabled_until": None, "push_events_branch_filter": "",
                                "enable_ssl_verification": True, "token": ""}
        hook |= {flag: default for flag, default in HOOK_FLAGS.items()}
        return _update_hook(hook, body)

    def _create_hook(self, project: Project, body: dict[str, Any]) -> httpx.Response:
        if not body.get("url"):
            return httpx.Response(400, json={"error": "url is missing"})
        if not _HOOK_URL.fullmatch(str(body["url"])):
            return _error(422, "Invalid url given")
        hook = self._new_hook(project, body)
        project.hooks.append(hook)
        return httpx.Response(201, json=_hook_json(hook))

    def _hook(self, project: Project, hook_id: str, method: str, body: dict[str, Any]) -> httpx.Response:
        hook = next((h for h in project.hooks if str(h["id"]) == hook_id), None)
        if hook is None:
            return _error(404, "404 Not found")
        if method == "GET":
            return httpx.Response(200, json=_hook_json(hook))
        if method == "DELETE":
            project.hooks.remove(hook)
            return httpx.Response(204)
        if "url" in body and not _HOOK_URL.fullmatch(str(body["url"])):
            return _error(422, "Invalid url given")
        return httpx.Response(200, json=_hook_json(_update_hook(hook, body)))


_HOOK_URL = re.compile(r"https?://[^/\s]+(/\S*)?")


def _update_hook(hook: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Set what the request sends; GitLab ignores parameters it does not know."""
    for key in ("url", "token", "enable_ssl_verification", "push_events_branch_filter", *HOOK_FLAGS):
        if key in body:
            hook[key] = body[key] if key in ("url", "token", "push_events_branch_filter") else bool(body[key])
    return hook


def _hook_json(hook: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in hook.items() if k != "token"}  # "this isn't returned in the response"
