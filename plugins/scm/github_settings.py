"""GitHub's repository settings dtm manages: Actions secrets and webhooks (a part of `GitHubClient`).

Secrets are sealed with the repository's public key (libsodium's sealed box, as GitHub's API wants) and
written with PUT; their values are never read back (GitHub does not give them), so only names are listed.

Webhooks are found by their delivery URL (`config.url`) in the paginated listing, then created (POST) or
updated in place (PATCH, which replaces the whole config: a hook put without a secret loses its old one, as
declared). GitHub answers 404, not 403, on the webhooks of a repository the token may not administer; the
error then says so rather than claiming the repository is missing. A hook's secret, and a delivery URL that
carries credentials, are scrubbed from every error, and only the URL without its query is ever logged.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from devstream.errors import PermanentError, TransientError
from devstream.plugin.http import safe_url
from devstream.plugins.scm.base import WEBHOOK_EVENTS, Webhook, WebhookInfo, one_hook_per_url, url_secrets
from devstream.plugins.scm.github_answers import error_message, field
from devstream.plugins.scm.github_core import GitHubCore

__all__ = ["GitHubRepoSettings", "encrypt_secret"]

_HOOKS_HIDDEN = ("GitHub answers 404 on the webhooks of a repository the token may not administer: the token needs "
                 "admin rights on it (a classic token the admin:repo_hook scope, a fine-grained one the Webhooks "
                 "permission, read and write)")


def encrypt_secret(public_key: str, value: str) -> str:
    """`value` sealed for the repository's public key (both base64), as GitHub's secrets API wants it."""
    from nacl.public import PublicKey, SealedBox

    try:
        key = PublicKey(base64.b64decode(public_key, validate=True))
    except Exception as exc:  # binascii.Error, nacl's TypeError/ValueError: the server sent a bad key
        raise PermanentError(f"GitHub's repository public key cannot be used: {type(exc).__name__}") from None
    return base64.b64encode(SealedBox(key).encrypt(value.encode("utf-8"))).decode("ascii")


class GitHubRepoSettings(GitHubCore):
    """The secrets and webhooks half of `GitHubClient`, which it inherits."""

    # -- secrets ---------------------------------------------------------------------------------------
    def list_secrets(self) -> list[str]:
        names: list[str] = []
        try:
            for page in self._pages(f"{self._repo}/actions/secrets", {}, "list the Actions secrets"):
                names.extend(field(s, self._where("list the Actions secrets"), "name") for s in page.get("secrets", []))
        except PermanentError:
            if self.describe_repo() is None:
                return []  # no repository, no secrets
            raise
        return sorted(names)

    def put_secret(self, name: str, value: str) -> None:
        key_id, key = self._key()
        response = self._send("PUT", f"{self._repo}/actions/secrets/{quote(name, safe='')}",
                              body={"encrypted_value": encrypt_secret(key, value), "key_id": key_id})
        if response.status_code not in (201, 204):
            self._fail(response, f"set Actions secret {name}")

    def _key(self) -> tuple[str, str]:
        if self._public_key is None:
            data = self._json(self._send("GET", f"{self._repo}/actions/secrets/public-key"),
                              "read the Actions public key")
            where = self._where("read the Actions public key")
            self._public_key = (field(data, where, "key_id"), field(data, where, "key"))
        return self._public_key

    def delete_secret(self, name: str) -> None:
        response = self._send("DELETE", f"{self._repo}/actions/secrets/{quote(name, safe='')}")
        if response.status_code not in (204, 404):
            self._fail(response, f"delete Actions secret {name}")

    # -- webhooks --------------------------------------------------------------------------------------
    def list_webhooks(self) -> list[WebhookInfo]:
        return [_webhook_info(h, self._where("list the webhooks")) for h in self._hooks("list the webhooks")]

    def _hooks(self, doing: str) -> list[dict[str, Any]]:
        """The repository's hooks as GitHub lists them ([] when the repository does not exist)."""
        hooks: list[dict[str, Any]] = []
        for page in self._pages(f"{self._repo}/hooks", {}, doing, missing=lambda: self._hooks_404(doing, ok=True)):
            for hook in (h for h in page if isinstance(h, dict)):
                if not field(hook, self._where(doing), "id").isdigit():
                    raise PermanentError(f"{self._where(doing)}: GitHub's answer holds a webhook id that is "
                                         f"not a number")
                hooks.append(hook)
        return hooks

    def _hooks_404(self, doing: str, *, ok: bool) -> None:
        """Account for a 404 from the webhooks API: a missing repository (fine when `ok`), or no admin rights."""
        if self.describe_repo() is not None:
            raise PermanentError(f"GitHub {self.spec.full_name}: {doing}: {_HOOKS_HIDDEN}")
        if not ok:
            raise PermanentError(f"GitHub {self.spec.full_name}: {doing}: the repository does not exist")

    def put_webhook(self, hook: Webhook) -> WebhookInfo:
        doing = f"set the webhook for {safe_url(hook.url)}"
        events = _github_events(hook.events, f"GitHub {self.spec.full_name}: {doing}")
        secret = hook.secret.get_secret_value() if hook.secret is not None else ""
        masked = [secret, *url_secrets(hook.url)]
        config = {"url": hook.url, "content_type": "json", "insecure_ssl": "1" if hook.insecure_ssl else "0"}
        if secret:
            config["secret"] = secret
        body: dict[str, Any] = {"config": config, "events": events, "active": hook.active}

        existing = one_hook_per_url([h for h in self._hooks(doing) if _hook_url(h) == hook.url],
                                    f"GitHub {self.spec.full_name}: {doing}")
        if existing is None:
            response = self._send("POST", f"{self._repo}/hooks", body={"name": "web", **body})
            if response.status_code == 404:
                self._hooks_404(doing, ok=False)
            if response.status_code == 422 and "already exists" in error_message(response).lower():
                raise TransientError(f"GitHub {self.spec.full_name}: {doing}: the webhook appeared while dtm was "
                                     f"creating it; try again")
            info = _webhook_info(self._json(response, doing, ok=(201,), secrets=masked), self._where(doing))
            verb = "created"
        else:
            response = self._send("PATCH", f"{self._repo}/hooks/{int(existing['id'])}", body=body)
            if response.status_code == 404:
                raise TransientError(f"GitHub {self.spec.full_name}: {doing}: webhook {existing['id']} went away "
                                     f"while dtm was updating it; try again")
            info = _webhook_info(self._json(response, doing, secrets=masked), self._where(doing))
            verb = "updated"
        self.ctx.logger.info("GitHub %s: %s webhook %s for %s (%s)", self.spec.full_name, verb, info.id,
                             safe_url(hook.url), ", ".join(info.events))
        return info

    def delete_webhook(self, url: str) -> None:
        doing = f"delete the webhook for {safe_url(url)}"
        for hook in self._hooks(doing):
            if _hook_url(hook) != url:
                continue
            response = self._send("DELETE", f"{self._repo}/hooks/{int(hook['id'])}")
            if response.status_code not in (204, 404):  # 404: gone meanwhile, as wanted
                self._fail(response, doing, url_secrets(url))
            self.ctx.logger.info("GitHub %s: deleted webhook %s for %s", self.spec.full_name, hook["id"],
                                 safe_url(url))


def _github_events(events: Sequence[str], where: str) -> list[str]:
    """GitHub's names for dtm's events; refuses, by name, the ones only GitLab has."""
    out: list[str] = []
    for event in events:
        mapping = WEBHOOK_EVENTS.get(event)
        if mapping is None:
            out.append(event)  # one of GitHub's many other events: GitHub judges it
        elif mapping.github is None:
            raise PermanentError(f"{where}: GitHub webhooks have no {event!r} event; {mapping.instead}")
        else:
            out.append(mapping.github)
    return sorted(set(out))


def _hook_url(hook: Mapping[str, Any]) -> str:
    config = hook.get("config")
    return str(config.get("url") or "") if isinstance(config, dict) else ""


def _webhook_info(hook: Mapping[str, Any], where: str) -> WebhookInfo:
    raw = hook.get("config")
    config: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    try:  # "0"/"1", or a number
        insecure = float(config.get("insecure_ssl") or 0) != 0
    except (TypeError, ValueError):
        insecure = False
    return WebhookInfo(id=field(hook, where, "id"), url=_hook_url(hook),
                       events=sorted({str(e) for e in hook.get("events", [])}),
                       active=bool(hook.get("active", True)), insecure_ssl=insecure,
                       content_type=str(config.get("content_type") or "form"),  # form: GitHub's default
                       has_secret=bool(config.get("secret")))  # GitHub shows a set secret as "********"
