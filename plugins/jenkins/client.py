"""Jenkins over its REST API: jobs and folders by path, the plugins installed, and credentials.

One client is one Jenkins (`url`) as one user, authenticated with HTTP basic auth: the user's API token (what a
script should use) or password. Jenkins' CSRF protection wants a crumb on every POST: it is fetched once from
`/crumbIssuer/api/json` (in the same HTTP session, whose cookie Jenkins ties it to), and fetched anew when Jenkins
answers 403 "No valid crumb"; a Jenkins without CSRF protection (404 there) gets none. Requests go through the
context's retrying client (429 and 5xx retried, honouring `Retry-After`); the credentials go to `url`'s host only
(redirects are not followed).

A job is named by its path: `test-job`, or `jobs/test-job` for a job in the folder `jobs` (`/job/jobs/job/
test-job/` in Jenkins' URLs). Configurations travel as Jenkins' config.xml, built with an XML library so that
every value is escaped.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import TracebackType
from typing import Any, NoReturn
from urllib.parse import quote

import httpx

from devstream.errors import PermanentError
from devstream.plugin import PluginContext
from devstream.plugin.http import fail, json_answer, safe_url

__all__ = ["PASSWORD_ENV", "JenkinsClient", "job_url_path"]

PASSWORD_ENV = "JENKINS_PASSWORD"
_TIMEOUT = 60.0
_XML = {"Content-Type": "application/xml; charset=utf-8"}
_CREDENTIALS = "/credentials/store/system/domain/_"
# What Jenkins means by a refusal, and what to check.
_ADVICE = {
    401: "Jenkins refused the user and password or API token (401); check jenkins.user and jenkins.password",
    403: "the user may not do this (403); give it the permission (Overall/Administer for plugins and credentials, "
         "Job/Create and Job/Configure for jobs)",
}


def job_url_path(path: str) -> str:
    """`jobs/test-job` -> `/job/jobs/job/test-job`."""
    return "".join(f"/job/{quote(part, safe='')}" for part in path.strip("/").split("/"))


class JenkinsClient:
    """One Jenkins as one user. The password (or API token) is the options' or, when not given, the
    JENKINS_PASSWORD environment variable. Close it, or use it as a context manager."""

    def __init__(self, ctx: PluginContext, url: str, user: str, password: str | None) -> None:
        password = password or os.environ.get(PASSWORD_ENV, "")
        if not password:
            raise PermanentError(f"{ctx.key}: no Jenkins password or API token for {user}: set jenkins.password (e.g. "
                                 f"[[ env \"{PASSWORD_ENV}\" ]]) or the {PASSWORD_ENV} environment variable")
        self.url = url.rstrip("/")
        self._secrets = [password]
        self._crumb: dict[str, str] | None = None
        self._http = ctx.http_client(base_url=self.url, timeout=_TIMEOUT, auth=httpx.BasicAuth(user, password),
                                     headers={"User-Agent": "dtm"}, follow_redirects=False)

    def __enter__(self) -> JenkinsClient:
        return self

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- plumbing --------------------------------------------------------------------------------------------
    def _get(self, path: str, params: Mapping[str, str] | None = None) -> httpx.Response:
        response = self._http.get(path, params=dict(params or {}))
        response.read()
        return response

    def _post(self, path: str, *, params: Mapping[str, str] | None = None, xml: bytes | None = None) -> httpx.Response:
        """A POST with the CSRF crumb; a crumb Jenkins no longer takes is fetched anew once."""
        for fresh in (False, True):
            headers = {**self._crumb_header(refresh=fresh), **(_XML if xml is not None else {})}
            response = self._http.post(path, params=dict(params or {}), content=xml, headers=headers)
            response.read()
            if not (response.status_code == 403 and "crumb" in response.text.lower()):
                return response
        return response

    def _crumb_header(self, *, refresh: bool) -> dict[str, str]:
        if self._crumb is None or refresh:
            response = self._get("/crumbIssuer/api/json")
            if response.status_code == 404:
                self._crumb = {}  # CSRF protection is off
            else:
                data = self._json(response, "get a CSRF crumb")
                self._crumb = {str(data["crumbRequestField"]): str(data["crumb"])}
        return self._crumb

    def _fail(self, response: httpx.Response, doing: str) -> NoReturn:
        fail(response, f"Jenkins {safe_url(self.url)}: {doing}", advice=_ADVICE, secrets=self._secrets)

    def _json(self, response: httpx.Response, doing: str) -> Any:
        return json_answer(response, f"Jenkins {safe_url(self.url)}: {doing}", advice=_ADVICE, secrets=self._secrets)

    def _ok(self, response: httpx.Response, doing: str) -> None:
        # Jenkins answers many form posts with a redirect to the page of what changed
        if not (200 <= response.status_code < 400):
            self._fail(response, doing)

    # -- jobs and folders ------------------------------------------------------------------------------------
    def job_config(self, path: str) -> bytes | None:
        """The job's (or folder's) config.xml as Jenkins has it; None when there is no such item."""
        response = self._get(f"{job_url_path(path)}/config.xml")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            self._fail(response, f"read {path}")
        return response.content

    def children(self, folder: str) -> list[str] | None:
        """The names of the items in a folder (None when there is no such folder)."""
        response = self._get(f"{job_url_path(folder)}/api/json", {"tree": "jobs[name]"})
        if response.status_code == 404:
            return None
        return [str(j["name"]) for j in self._json(response, f"list folder {folder}").get("jobs") or []]

    def create_item(self, path: str, config: bytes) -> None:
        """Create the job or folder at `path` (its parent folder must exist)."""
        parent, _, name = path.strip("/").rpartition("/")
        where = job_url_path(parent) if parent else ""
        response = self._post(f"{where}/createItem", params={"name": name}, xml=config)
        self._ok(response, f"create {path}")

    def update_item(self, path: str, config: bytes) -> None:
        """Rewrite the item's config.xml in place (a job keeps its builds)."""
        self._ok(self._post(f"{job_url_path(path)}/config.xml", xml=config), f"update {path}")

    def delete_item(self, path: str) -> None:
        """Delete the job or folder; one already gone is success."""
        response = self._post(f"{job_url_path(path)}/doDelete")
        if response.status_code != 404:
            self._ok(response, f"delete {path}")

    # -- plugins ---------------------------------------------------------------------------------------------
    def plugins(self) -> dict[str, str]:
        """Installed plugins: short name -> version (active ones only)."""
        response = self._get("/pluginManager/api/json", {"tree": "plugins[shortName,version,active]"})
        return {str(p["shortName"]): str(p.get("version", "")) for p in self._json(response, "list plugins")
                .get("plugins") or [] if p.get("active", True)}

    def install_plugins(self, names: list[str]) -> None:
        """Ask Jenkins to install the plugins (their latest versions, with their dependencies)."""
        body = "<jenkins>" + "".join(f'<install plugin="{quote(n, safe="-_.")}@latest" />' for n in names)
        self._ok(self._post("/pluginManager/installNecessaryPlugins", xml=(body + "</jenkins>").encode()),
                 f"install plugins {', '.join(names)}")

    def safe_restart(self) -> None:
        """Restart Jenkins once running builds are done (what new plugins may need)."""
        self._ok(self._post("/safeRestart"), "restart")

    # -- credentials -----------------------------------------------------------------------------------------
    def has_credential(self, credential_id: str) -> bool:
        response = self._get(f"{_CREDENTIALS}/credential/{quote(credential_id, safe='')}/api/json")
        if response.status_code == 404:
            return False
        self._json(response, f"read credential {credential_id}")
        return True

    def put_credential(self, credential_id: str, config: bytes, secrets: list[str]) -> bool:
        """Create the credential, or update it in place; True when it was created. `secrets` are masked in
        errors."""
        self._secrets += secrets
        if self.has_credential(credential_id):
            path = f"{_CREDENTIALS}/credential/{quote(credential_id, safe='')}/config.xml"
            self._ok(self._post(path, xml=config), f"update credential {credential_id}")
            return False
        self._ok(self._post(f"{_CREDENTIALS}/createCredentials", xml=config), f"create credential {credential_id}")
        return True

    def delete_credential(self, credential_id: str) -> None:
        response = self._post(f"{_CREDENTIALS}/credential/{quote(credential_id, safe='')}/doDelete")
        if response.status_code != 404:
            self._ok(response, f"delete credential {credential_id}")
