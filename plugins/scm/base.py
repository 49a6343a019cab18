"""What every SCM client offers the plugins: repositories, files, secrets and webhooks.

A file's identity is its git blob SHA-1 (`git hash-object`): GitHub's contents API and GitLab's files API
both report it, and plain git computes it, so a plugin's Read can compare what it wrote with what the
server holds, whichever system that is.

A client holds what it needs to talk to its system: GitHub's and GitLab's an HTTP connection pool, git's a
scratch folder under the system's temporary folder. Its owner releases them when done, on every path, errors
included: `with scm_client(spec, ctx) as client: ...` (or `close()`, which may be called more than once).

A webhook is identified by its URL: putting one for a URL that already has a hook updates that hook in
place. Its events are named as GitHub names them (`push`, `pull_request`, ...); `WEBHOOK_EVENTS` is the one
table saying what each name is on GitHub and on GitLab, and a client refuses, naming it, an event its system
cannot deliver. A webhook's secret is write-only: no system returns it, and dtm never logs or quotes it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, NamedTuple, Protocol, Self
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from devstream.errors import PermanentError
from devstream.plugin.http import safe_url
from devstream.repourl import is_local_url, repo_from_url
from devstream.secrets import scrub

__all__ = ["FULL_SHA", "WEBHOOK_EVENTS", "EventMapping", "FileInfo", "RepoInfo", "RepoSpec", "ScmClient", "Webhook",
           "WebhookInfo", "api_systems", "file_mode", "git_blob_sha", "github_repository", "mask", "next_page_url",
           "one_hook_per_url", "under", "url_secrets"]

_EVENT_NAME = re.compile(r"[a-z][a-z0-9_]*|\*")
FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
"""A full commit SHA (SHA-1, or SHA-256)."""
_FILE_MODES = ("100644", "100755")


def _without_credentials(url: str) -> str:
    """A webhook URL fit to show: no user info, query or fragment, where delivery tokens tend to live."""
    split = urlsplit(url)
    host = split.netloc.rpartition("@")[2]
    return urlunsplit((split.scheme, host, split.path, "", ""))


def git_blob_sha(content: bytes) -> str:
    """The SHA-1 git gives a file's content (`git hash-object`)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def under(path: str, folder: str) -> bool:
    """Whether `path` is the folder `folder` (slashes around it ignored) or inside it; every path is under ""."""
    folder = folder.strip("/")
    return not folder or path == folder or path.startswith(folder + "/")


def file_mode(existing: str | None) -> str:
    """The git mode to write a file with: the mode it has (`existing`) when it is a regular file's, executable
    or not, else `100644`."""
    return existing if existing in _FILE_MODES else "100644"


def mask(text: str, secrets: Sequence[str]) -> str:
    """`text` with every non-empty value of `secrets` replaced by `***`, the longest first: credentials dtm
    holds itself, so a value shorter than 4 characters is masked too."""
    return scrub(text, secrets, min_length=1)


def url_secrets(url: str) -> list[str]:
    """`[url]` when it carries what `safe_url` leaves out (user info, a query such as `?token=`), else `[]`:
    what an error about a webhook for it must mask."""
    return [url] if url != safe_url(url) else []


def next_page_url(link: str, api: str, where: str) -> str:
    """The absolute URL of a `Link: rel="next"` page, which the client is about to ask with its token.

    A link is followed only to the API's own origin: scheme, host and port all equal to the API base's (a
    relative link is resolved against the base). Anything else (`http://` where the API is https, another
    port, another host) could hand the token to someone else, or send it in clear.

    Raises:
        PermanentError: the link leads elsewhere; it is named without its query.
    """
    base = httpx.URL(api)
    url = base.join(link)
    if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
        raise PermanentError(f"{where}: the server's next-page link {safe_url(str(url))} is not on the API's own "
                             f"address ({base.scheme}://{base.netloc.decode('ascii')}); dtm does not send the token "
                             f"there, so it stopped: check the API address (apiURL/baseURL) and any proxy in front")
    return str(url)


def one_hook_per_url(same: Sequence[Mapping[str, Any]], where: str) -> Mapping[str, Any] | None:
    """The one hook among `same` (a system's hooks that deliver to one URL), None when there is none.

    Raises:
        PermanentError: more than one: dtm keeps one per URL and will not guess which.
    """
    if len(same) > 1:
        raise PermanentError(f"{where}: {len(same)} webhooks deliver to that URL (ids "
                             f"{', '.join(str(h.get('id')) for h in same)}); dtm keeps one per URL and will not "
                             f"guess which: delete the others")
    return same[0] if same else None


class RepoSpec(BaseModel):
    """Where a repository lives: DevStream's RepoInfo, plus `git` for any git remote.

    For `github` and `gitlab`, `owner` (a user) or `org` (an organisation or group) and `name` locate it;
    `apiURL`/`baseURL` point at GitHub Enterprise or a self-hosted GitLab. For `git`, `url` is the remote
    (file://, a local path, ssh or https): a local one is created when missing, a network one must exist.
    """

    model_config = ConfigDict(extra="forbid")

    scmType: Literal["github", "gitlab", "git"] = Field(description="Which kind of system hosts the repository.")
    owner: str | None = Field(default=None, description="The user that owns the repository.")
    org: str | None = Field(default=None, description="The organisation (GitHub) or group (GitLab) that owns it.")
    name: str | None = Field(default=None, description="The repository's name.")
    branch: str | None = Field(default=None, description="The branch to write to (default: main, master on GitLab).")
    url: str | None = Field(default=None, description="The repository's URL (required for `git`).")
    baseURL: str | None = Field(default=None, description="The web address of a self-hosted GitLab.")
    apiURL: str | None = Field(default=None, description="The API address of GitHub Enterprise or GitLab.")
    token: SecretStr | None = Field(default=None, description="An access token; stored only as a fingerprint.")
    sshPrivateKey: SecretStr | None = Field(
        default=None, description="A private key for the ssh remotes of `git`; stored only as a fingerprint.")
    visibility: Literal["public", "private", "internal"] | None = Field(
        default=None, description="Who may see a repository dtm creates: public (DevStream's default), private, or "
                                  "internal (an organisation's members on GitHub Enterprise, signed-in users on "
                                  "GitLab). A repository that exists already is left as it is.")

    @model_validator(mode="after")
    def _one_namespace(self) -> Self:
        if self.owner and self.org:
            raise ValueError("give `owner` (a user) or `org` (an organisation or group), not both (DevStream "
                             "refused both too: git org and owner can't be configured at the same time)")
        if self.visibility == "internal" and self.scmType == "github" and not (
                self.org and (self.apiURL or self.baseURL)):
            # api.github.com's own description allows public and private only; GitHub Enterprise Server adds it.
            raise ValueError("visibility internal is for an organisation's repository on GitHub Enterprise (give "
                             "`org` and its apiURL or baseURL); on github.com choose public or private")
        return self

    @model_validator(mode="before")
    @classmethod
    def _from_url(cls, data: Any) -> Any:
        """A repository given by `url`, as DevStream's RepoInfo allowed (and apps do): a local path or file://
        URL is `git`; otherwise the type (a URL naming github is GitHub, any other GitLab), owner and name are
        read from it when not given, and the host of a GitHub Enterprise or self-hosted GitLab is its baseURL."""
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            return data
        kind, url = data.get("scmType"), data["url"].strip()
        if kind == "git" or (not kind and is_local_url(url)):
            return {**data, "scmType": "git"}
        if kind and data.get("name") and (data.get("owner") or data.get("org")):
            return data
        scm, owner, name, base = repo_from_url(url, data.get("apiURL"))
        out = {**data, "scmType": kind or scm, "name": data.get("name") or name}
        if not (data.get("owner") or data.get("org")):
            out["owner"] = owner
        if base and not (data.get("baseURL") or data.get("apiURL")):
            out["baseURL"] = base
        return out

    @property
    def namespace(self) -> str:
        return self.org or self.owner or ""

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def default_branch(self) -> str:
        return self.branch or ("master" if self.scmType == "gitlab" else "main")


def github_repository(scm: RepoSpec, refusal: str) -> RepoSpec:
    """`scm`, for a plugin that works on GitHub only: scmType github, else ValueError with `refusal` (why, and
    what to use instead; `{kind}` stands for the type given); and a name with an owner or org."""
    if scm.scmType != "github":
        raise ValueError(refusal.format(kind=repr(scm.scmType)))
    if not scm.name or not scm.namespace:
        raise ValueError("the repository needs `name` and `owner` (a user) or `org` (an organisation)")
    return scm


def api_systems(*repos: Any) -> set[str]:
    """The systems with an API (github, gitlab) that repository options, as written, point at: what a plugin's
    `systems` answers, so that a Prefect concurrency limit on `dtm-system-github` throttles it."""
    found: set[str] = set()
    for repo in repos:
        if not isinstance(repo, Mapping):
            continue
        kind: Any
        try:
            kind = RepoSpec.model_validate(dict(repo)).scmType
        except ValueError:  # not valid yet (a reference still to resolve): the type as written, if any
            kind = repo.get("scmType")
        if kind in ("github", "gitlab"):
            found.add(str(kind))
    return found


class RepoInfo(BaseModel):
    """What a client knows of an existing repository."""

    full_name: str
    default_branch: str
    clone_url: str
    html_url: str
    id: str | None = None


class FileInfo(BaseModel):
    path: str
    sha: str  # git blob SHA-1 of the content on the branch
    content: bytes | None = None


class EventMapping(NamedTuple):
    """What one dtm webhook event is on each system; None where the system has no such event."""

    github: str | None  # the GitHub event
    gitlab: str | None  # the GitLab hook's `*_events` flag
    instead: str = ""  # for the system that lacks it: what to use instead


WEBHOOK_EVENTS: dict[str, EventMapping] = {
    # dtm event: (GitHub event, GitLab flag, what to use where there is none)
    "push": EventMapping("push", "push_events"),  # GitHub's push also fires for tags; GitLab's only for branches
    "tag_push": EventMapping(None, "tag_push_events", "GitHub's push event covers tag pushes too: use push"),
    "pull_request": EventMapping("pull_request", "merge_requests_events"),
    "issues": EventMapping("issues", "issues_events"),
    "release": EventMapping("release", "releases_events"),
    "deployment_status": EventMapping("deployment_status", "deployment_events"),
    "gollum": EventMapping("gollum", "wiki_page_events"),  # wiki pages
    "pipeline": EventMapping(None, "pipeline_events", "GitHub's closest is workflow_run"),
    "job": EventMapping(None, "job_events", "GitHub's closest is workflow_job"),
}
"""The webhook events dtm knows on both systems, by the name a config uses (GitHub's, where GitHub has it).

GitHub takes any of its own event names besides these (`create`, `workflow_run`, `*`, ...), which are passed
to it as they are; GitLab takes only the names with a flag here. Comment events are left out on purpose:
GitLab's one `note_events` flag does not match any one of GitHub's comment events.
"""


class Webhook(BaseModel):
    """A webhook as a config asks for it: where deliveries go, for which events, signed with which secret.

    `secret` is GitHub's HMAC key (`X-Hub-Signature-256`) or GitLab's `X-Gitlab-Token`; none means the hook
    has none (an existing one is removed). Deliveries are JSON on both systems.
    """

    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="Where the system POSTs deliveries (http or https).")
    events: list[str] = Field(default_factory=lambda: ["push"], min_length=1,
                              description="The events to deliver, by GitHub's names (see WEBHOOK_EVENTS).")
    secret: SecretStr | None = Field(default=None, description="Signs (GitHub) or authenticates (GitLab) each "
                                                               "delivery; never read back, logged or quoted.")
    active: bool = Field(default=True, description="Whether deliveries are sent; only GitHub can pause a hook.")
    insecure_ssl: bool = Field(default=False, description="Deliver without verifying the receiver's TLS "
                                                          "certificate; avoid.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        split = urlsplit(url.strip())
        if split.scheme not in ("http", "https") or not split.hostname:
            raise ValueError("a webhook's url must be an http(s) address with a host, like https://ci.example.com/hook")
        return url.strip()

    @field_validator("events")
    @classmethod
    def _event_names(cls, events: list[str]) -> list[str]:
        bad = [e for e in events if not _EVENT_NAME.fullmatch(e)]
        if bad:
            raise ValueError(f"webhook events are lower-case names such as push or pull_request, not {bad}")
        return sorted(set(events))  # a set of events: order and repeats mean nothing to either system

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # a URL may carry a delivery token (?token=...): a printed or logged model shows it without
        for name, value in super().__repr_args__():
            yield name, _without_credentials(value) if name == "url" else value


class WebhookInfo(BaseModel):
    """A webhook as the system reports it. It never holds the secret, only whether one is set."""

    id: str
    url: str
    events: list[str]  # dtm event names, sorted
    active: bool = True
    insecure_ssl: bool = False
    content_type: str = "json"  # the deliveries' format: GitHub's json or form; GitLab's are always JSON
    has_secret: bool | None = None  # None: the system does not tell (GitLab)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, _without_credentials(value) if name == "url" else value

    def matches(self, hook: Webhook) -> bool:
        """Whether what the system reports is what `hook` asks for (as far as it can tell: a secret's value
        never comes back, so only its presence is compared, where the system reports that)."""
        return (self.url == hook.url and self.events == hook.events and self.active == hook.active
                and self.insecure_ssl == hook.insecure_ssl and self.content_type == "json"
                and (self.has_secret is None or self.has_secret == (hook.secret is not None)))


class ScmClient(Protocol):
    """One repository on one system. Every method is idempotent where the system allows it.

    A client is a context manager: leaving the `with` block, however it is left, closes it.
    """

    spec: RepoSpec

    def __enter__(self) -> Self:
        ...

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Close the client; an exception leaving the block goes on as it is."""
        ...

    def close(self) -> None:
        """Release what the client holds (HTTP connections, scratch folders). Closing twice is harmless."""
        ...

    def describe_repo(self) -> RepoInfo | None:
        """The repository, or None when it does not exist."""
        ...

    def create_repo(self, *, private: bool = True, description: str = "") -> RepoInfo:
        """Create the (empty) repository; for a `git` network remote, which dtm cannot create, check it exists."""
        ...

    def delete_repo(self) -> None:
        """Delete the repository; one already gone is success."""
        ...

    def get_file(self, path: str, branch: str | None = None) -> FileInfo | None:
        """A file on the branch (default: the spec's), or None."""
        ...

    def list_files(self, prefix: str = "", branch: str | None = None) -> dict[str, str]:
        """Path -> blob SHA of every file under `prefix` on the branch ({} for an empty repository)."""
        ...

    def push_files(self, files: dict[str, bytes], message: str, branch: str | None = None,
                   delete: list[str] | None = None) -> str:
        """Write (and delete) files in ONE commit on the branch, creating the branch if needed; returns the
        commit SHA. Files whose content is already there are left alone; nothing to do returns the head."""
        ...

    def commit_on_branch(self, sha: str, branch: str | None = None) -> bool:
        """Whether the commit is on the branch (default: the spec's): the branch's head or an ancestor of it.

        False, not an error, for a SHA the repository does not know, a commit that history rewriting (a
        force-push, a branch reset) took off the branch, a missing branch and a missing repository.
        """
        ...

    def list_secrets(self) -> list[str]:
        """Names of the repository's CI secrets (GitHub Actions secrets, GitLab CI/CD variables)."""
        ...

    def put_secret(self, name: str, value: str) -> None:
        ...

    def delete_secret(self, name: str) -> None:
        """Remove a secret; one already gone is success."""
        ...

    def list_webhooks(self) -> list[WebhookInfo]:
        """The repository's webhooks ([] when the repository does not exist)."""
        ...

    def put_webhook(self, hook: Webhook) -> WebhookInfo:
        """Make the webhook for `hook.url` exactly `hook`: created when missing, else updated in place (same
        id, never a second hook for the URL). An event the system cannot deliver is a `PermanentError`."""
        ...

    def delete_webhook(self, url: str) -> None:
        """Remove the webhook for `url`; none there is success."""
        ...
