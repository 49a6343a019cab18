"""The GitHub stand-in's Actions secrets and webhook routes, as a mixin of `GitHubStandIn` (github_standin.py)."""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx
from github_standin_objects import _SECRET_NAME, _WHEN, HOOK_EVENTS, Hook, Repo, Secret, _Answer
from nacl.public import SealedBox


class SettingsRoutes:
    """Actions secrets (sealed for the stand-in's NaCl key) and repository webhooks, on `self.repos`."""

    # -- Actions secrets -------------------------------------------------------------------------------
    def _list_secrets(self, request: httpx.Request, payload: Any, **where: str) -> httpx.Response:
        repo = self._find(**where)
        names, headers = self._page(request, sorted(repo.secrets), f"repositories/{repo.id}/actions/secrets")
        secrets = [{"name": n, "created_at": repo.secrets[n].created_at, "updated_at": repo.secrets[n].updated_at}
                   for n in names]
        return httpx.Response(200, headers=headers, json={"total_count": len(repo.secrets), "secrets": secrets})

    def _public_key(self, request: httpx.Request, payload: Any, **where: str) -> httpx.Response:
        self._find(**where)
        return httpx.Response(200, json={"key_id": self.key_id, "key": self.public_key()})

    def _get_secret(self, request: httpx.Request, payload: Any, secret: str, **where: str) -> httpx.Response:
        repo = self._find(**where)
        found = repo.secrets.get(secret.upper())
        if found is None:
            raise _Answer(404, "Not Found")
        return httpx.Response(200, json={"name": secret.upper(), "created_at": found.created_at,
                                         "updated_at": found.updated_at})

    def _put_secret(self, request: httpx.Request, payload: dict[str, Any], secret: str,
                    **where: str) -> httpx.Response:
        repo = self._find(**where)
        name = secret.upper()  # GitHub's secret names are case-insensitive and kept in upper case
        if not _SECRET_NAME.fullmatch(name) or name.startswith("GITHUB_"):
            raise _Answer(422, f"Secret name {secret} is invalid")
        if payload.get("key_id") != self.key_id:
            raise _Answer(422, "Bad request - key_id does not match the repository's public key")
        try:
            SealedBox(self.private_key).decrypt(base64.b64decode(payload.get("encrypted_value", "")))
        except Exception:
            raise _Answer(422, "Bad request - encrypted_value could not be decrypted") from None
        existing = repo.secrets.get(name)
        repo.secrets[name] = Secret(str(payload["encrypted_value"]), existing.created_at if existing else _WHEN,
                                    _WHEN)
        return httpx.Response(204) if existing else httpx.Response(201, json={})

    def _delete_secret(self, request: httpx.Request, payload: Any, secret: str, **where: str) -> httpx.Response:
        repo = self._find(**where)
        if repo.secrets.pop(secret.upper(), None) is None:
            raise _Answer(404, "Not Found")
        return httpx.Response(204)

    # -- webhooks --------------------------------------------------------------------------------------
    def _hook_json(self, repo: Repo, hook: Hook) -> dict[str, Any]:
        config = {k: ("********" if k == "secret" else v) for k, v in hook.config.items()}
        base = f"repos/{repo.full_name}/hooks/{hook.id}"
        return {"type": "Repository", "id": hook.id, "name": "web", "active": hook.active, "events": hook.events,
                "config": config, "updated_at": _WHEN, "created_at": _WHEN, "url": self._url(base),
                "test_url": self._url(f"{base}/test"), "ping_url": self._url(f"{base}/pings"),
                "deliveries_url": self._url(f"{base}/deliveries"),
                "last_response": {"code": None, "status": "unused", "message": None}}

    def _find_hook(self, repo: Repo, hook_id: str) -> Hook:
        hook = repo.hooks.get(int(hook_id))
        if hook is None:
            raise _Answer(404, "Not Found")
        return hook

    def _hook_settings(self, repo: Repo, config: Any, events: list[str], other: int | None) -> dict[str, Any]:
        """The config of a hook to be, checked as GitHub checks it (`other`: the hook being updated)."""
        if not isinstance(config, dict) or not config.get("url"):
            raise _Answer(422, "Validation Failed", errors=[{"resource": "Hook", "code": "custom",
                                                              "message": "Config must contain URL for webhooks"}])
        if not re.fullmatch(r"https?://[^/\s]+(/\S*)?", str(config["url"])):
            raise _Answer(422, "Validation Failed", errors=[{
                "resource": "Hook", "code": "custom",
                "message": "The URL you've entered is not valid. Please make sure that you encode all special "
                           "characters first"}])
        unknown = sorted(set(events) - HOOK_EVENTS)
        if unknown or not events:
            raise _Answer(422, "Validation Failed", errors=[{"resource": "Hook", "code": "invalid", "field": "events",
                                                              "message": f"{unknown} are not valid events"}])
        for hook in repo.hooks.values():
            if hook.id != other and hook.config.get("url") == config["url"] and set(hook.events) & set(events):
                raise _Answer(422, "Validation Failed", errors=[{
                    "resource": "Hook", "code": "custom", "message": "Hook already exists on this repository"}])
        return {"content_type": "form", "insecure_ssl": "0", **config}

    def _list_hooks(self, request: httpx.Request, payload: Any, **where: str) -> httpx.Response:
        repo = self._find(**where)
        in_order = [repo.hooks[i] for i in sorted(repo.hooks)]
        hooks, headers = self._page(request, in_order, f"repositories/{repo.id}/hooks")
        return httpx.Response(200, headers=headers, json=[self._hook_json(repo, h) for h in hooks])

    def _create_hook(self, request: httpx.Request, payload: dict[str, Any], **where: str) -> httpx.Response:
        repo = self._find(**where)
        if payload.get("name", "web") != "web":
            raise _Answer(422, "Validation Failed", errors=[{"resource": "Hook", "code": "invalid", "field": "name"}])
        events = [str(e) for e in payload.get("events") or ["push"]]
        config = self._hook_settings(repo, payload.get("config"), events, None)
        hook = Hook(next(self._ids), events, bool(payload.get("active", True)), config)
        repo.hooks[hook.id] = hook
        return httpx.Response(201, headers={"location": self._url(f"repos/{repo.full_name}/hooks/{hook.id}")},
                              json=self._hook_json(repo, hook))

    def _get_hook(self, request: httpx.Request, payload: Any, hook_id: str, **where: str) -> httpx.Response:
        repo = self._find(**where)
        return httpx.Response(200, json=self._hook_json(repo, self._find_hook(repo, hook_id)))

    def _update_hook(self, request: httpx.Request, payload: dict[str, Any], hook_id: str,
                     **where: str) -> httpx.Response:
        repo = self._find(**where)
        hook = self._find_hook(repo, hook_id)
        events = [str(e) for e in payload.get("events", hook.events)]
        events += [str(e) for e in payload.get("add_events", []) if e not in events]
        events = [e for e in events if e not in payload.get("remove_events", [])]
        # `config` replaces the whole config: a secret left out is removed, as GitHub documents
        config = self._hook_settings(repo, payload.get("config", hook.config), events, hook.id)
        hook.events, hook.config, hook.active = events, config, bool(payload.get("active", hook.active))
        return httpx.Response(200, json=self._hook_json(repo, hook))

    def _delete_hook(self, request: httpx.Request, payload: Any, hook_id: str, **where: str) -> httpx.Response:
        repo = self._find(**where)
        del repo.hooks[self._find_hook(repo, hook_id).id]
        return httpx.Response(204)
