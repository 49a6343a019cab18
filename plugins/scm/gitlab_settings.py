"""GitLab project settings dtm manages: CI/CD variables, runners and webhooks (a part of `GitLabClient`).

Project webhooks are found by URL and created (POST) or updated in place (PUT); see gitlab.py for how dtm's
event names map to GitLab's `*_events` flags."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from devstream.errors import PermanentError, TransientError
from devstream.plugin.http import safe_url
from devstream.plugins.scm.base import (
    WEBHOOK_EVENTS,
    Webhook,
    WebhookInfo,
    one_hook_per_url,
    url_secrets,
)
from devstream.plugins.scm.gitlab_core import TAKEN, GitLabCore

__all__ = ["GitLabProjectSettings", "gitlab_hook_flags", "maskable"]

_ALL_ENVIRONMENTS = "*"
# What GitLab accepts as a masked value: one line of 8+ characters from the Base64 alphabets (RFC 4648,
# both the standard and the URL-safe one) plus `@ : . ~`. Newer GitLab versions allow more; this is the
# set every supported version takes.
_MASKABLE = re.compile(r"[A-Za-z0-9+/=_@:.~-]{8,}")


def maskable(value: str) -> bool:
    """Whether GitLab can mask this value in job logs (otherwise it must be stored unmasked)."""
    return bool(_MASKABLE.fullmatch(value))


def gitlab_hook_flags(events: Sequence[str], where: str = "gitlab") -> dict[str, bool]:
    """Every `*_events` flag of `WEBHOOK_EVENTS`, true for the events asked for.

    Raises:
        PermanentError: an event GitLab has no flag for (named, with those it has).
    """
    flags = {m.gitlab: False for m in WEBHOOK_EVENTS.values() if m.gitlab}
    for event in events:
        mapping = WEBHOOK_EVENTS.get(event)
        if mapping is None or mapping.gitlab is None:
            known = ", ".join(e for e, m in WEBHOOK_EVENTS.items() if m.gitlab)
            raise PermanentError(f"{where}: GitLab webhooks have no {event!r} event; they can deliver {known}")
        flags[mapping.gitlab] = True
    return flags


class GitLabProjectSettings(GitLabCore):
    """The CI/CD variables, runners and webhooks part of `GitLabClient`, which it inherits."""

    # -- CI/CD variables -------------------------------------------------------------------------------------
    def list_variables(self) -> list[dict[str, Any]]:
        """The project's CI/CD variables without their values: key, scope, masked, protected, description."""
        keep = ("key", "environment_scope", "masked", "protected", "description")
        return [{k: v.get(k) for k in keep} for v in self._pages(self._project_url("variables"), {})]

    def list_secrets(self) -> list[str]:
        """Names of the project's CI/CD variables (each once, whatever its environment scopes)."""
        return sorted({str(v["key"]) for v in self.list_variables()})

    def put_secret(self, name: str, value: str, *, description: str | None = None) -> None:
        """Set a CI/CD variable for all environments: masked when GitLab can mask the value, unprotected
        (so every branch's pipelines get it) and raw (a `$` in it is not expanded)."""
        masked = maskable(value)
        if not masked:
            self.ctx.logger.warning(
                "gitlab %s: the value of CI/CD variable %s cannot be masked in job logs (GitLab needs 8 or more "
                "characters from A-Z a-z 0-9 + / = _ @ : . ~ -); it is stored unmasked", self.path, name)
        body: dict[str, Any] = {"value": value, "masked": masked, "protected": False, "raw": True,
                                "variable_type": "env_var"}
        if description is not None:
            body["description"] = description
        url = self._project_url("variables")
        response = self.http.post(url, json={"key": name, "environment_scope": _ALL_ENVIRONMENTS, **body})
        if response.status_code == 400 and TAKEN in response.text:
            response = self.http.put(f"{url}/{quote(name, safe='')}", json=body,
                                     params={"filter[environment_scope]": _ALL_ENVIRONMENTS})
        self._check(response, secrets=[value])

    def delete_secret(self, name: str) -> None:
        """Remove the variable (all-environments scope); one already gone is success."""
        self._call("DELETE", self._project_url("variables", quote(name, safe="")),
                   params={"filter[environment_scope]": _ALL_ENVIRONMENTS}, missing_ok=True)

    # -- runners ---------------------------------------------------------------------------------------------
    def reset_runner_registration_token(self) -> str:
        """A new registration token for the project's runners (the old one stops registering new runners; runners
        already registered go on). Never logged: it registers runners."""
        try:
            response = self._call("POST", self._project_url("runners_reset_registration_token"))
        except PermanentError as exc:
            raise PermanentError(f"{exc}; if registration tokens are disabled (GitLab 17 and later, unless an "
                                 "administrator allows them), leave runner.registration at authenticationToken "
                                 "(the default): dtm then creates the runner through the API") from exc
        assert response is not None
        token = str(response.json().get("token") or "")
        if not token:
            raise PermanentError(f"gitlab {self.path}: GitLab returned no runner registration token")
        return token

    def create_runner(self, description: str, tags: Sequence[str], run_untagged: bool) -> tuple[int, str]:
        """A new runner of the project (GitLab 15.10 and later: `POST /user/runners`): its id and its
        authentication token (`glrt-`), which the runner itself then uses. Never logged: it runs the project's
        jobs. The access token needs the `create_runner` (or `api`) scope and the Maintainer role."""
        project = self._require_project()
        try:
            response = self._call("POST", "/user/runners", json={
                "runner_type": "project_type", "project_id": project["id"], "description": description,
                "tag_list": ",".join(tags), "run_untagged": run_untagged})
        except PermanentError as exc:
            raise PermanentError(f"{exc}; the access token needs the create_runner or api scope, and GitLab before "
                                 "15.10 has no runner creation API: set runner.registration: registrationToken "
                                 "there (DevStream's way)") from exc
        assert response is not None
        created = response.json()
        token, runner_id = str(created.get("token") or ""), created.get("id")
        if not token or not isinstance(runner_id, int):
            raise PermanentError(f"gitlab {self.path}: GitLab created a runner but returned no id or token")
        return runner_id, token

    def runner_exists(self, runner_id: int) -> bool:
        """Whether GitLab still has the runner (one deleted in GitLab's settings is gone)."""
        return self._call("GET", f"/runners/{runner_id}", missing_ok=True) is not None

    def delete_runner(self, runner_id: int) -> None:
        """Remove the runner from GitLab; one already gone is success."""
        self._call("DELETE", f"/runners/{runner_id}", missing_ok=True)

    def set_shared_runners(self, enabled: bool) -> None:
        """Turn the instance's shared runners on or off for the project."""
        self._call("PUT", self._project_url(), json={"shared_runners_enabled": enabled})
        self._project_cache = None

    # -- webhooks --------------------------------------------------------------------------------------------
    def list_webhooks(self) -> list[WebhookInfo]:
        """The project's hooks ([] when the project does not exist); events are dtm's names of their flags."""
        return [_webhook_info(h) for h in self._hooks()]

    def _hooks(self) -> list[dict[str, Any]]:
        return [h for h in self._pages(self._project_url("hooks"), {}, missing_ok=True) if isinstance(h, dict)]

    def put_webhook(self, hook: Webhook) -> WebhookInfo:
        """Create the hook for `hook.url`, or update the one there in place; see the module's docstring."""
        where = f"gitlab {self.path}: webhook for {safe_url(hook.url)}"
        if not hook.active:
            raise PermanentError(f"{where}: GitLab cannot pause a project webhook; delete it instead (or leave "
                                 f"`active` true)")
        flags = gitlab_hook_flags(hook.events, where)
        secret = hook.secret.get_secret_value() if hook.secret is not None else ""
        masked = [secret, *url_secrets(hook.url)]
        body: dict[str, Any] = {"url": hook.url, **flags, "enable_ssl_verification": not hook.insecure_ssl,
                                "token": secret}
        existing = one_hook_per_url([h for h in self._hooks() if h.get("url") == hook.url], where)
        if existing is not None:
            response = self.http.put(self._project_url("hooks", str(existing["id"])), json=body)
            if response.status_code == 404:
                raise TransientError(f"{where}: hook {existing['id']} went away while dtm was updating it; try again")
        else:
            response = self.http.post(self._project_url("hooks"), json=body)
            if response.status_code == 404:
                self._project_cache = None
                self._require_project()  # a clear error when the project is missing
        info = _webhook_info(self._check(response, secrets=masked).json())
        self.ctx.logger.info("gitlab %s: %s webhook %s for %s (%s)", self.path,
                             "updated" if existing is not None else "created", info.id, safe_url(hook.url),
                             ", ".join(info.events))
        return info

    def delete_webhook(self, url: str) -> None:
        """Remove the project's hook(s) for `url`; none there (or no project) is success."""
        for hook in self._hooks():
            if hook.get("url") != url:
                continue
            self._call("DELETE", self._project_url("hooks", str(hook["id"])), missing_ok=True,
                       secrets=url_secrets(url))
            self.ctx.logger.info("gitlab %s: deleted webhook %s for %s", self.path, hook["id"], safe_url(url))


def _webhook_info(hook: Mapping[str, Any]) -> WebhookInfo:
    return WebhookInfo(
        id=str(hook["id"]), url=str(hook.get("url") or ""),
        events=sorted(e for e, m in WEBHOOK_EVENTS.items() if m.gitlab and hook.get(m.gitlab)),
        # GitLab switches off a hook whose deliveries keep failing; that is the only way one is not active
        active=str(hook.get("alert_status") or "executable") == "executable",
        insecure_ssl=not hook.get("enable_ssl_verification", True), content_type="json", has_secret=None)
