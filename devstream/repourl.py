"""Repository URL rules: the one place that reads a repository's URL and tells its system, host and API.

The config (apps, devstream/config/apps.py) and the plugins (plugins/scm/, repo-scaffolding, github-actions,
argocdapp...) both read repositories from what a user wrote, in DevStream v0.12's shapes: a `url` alone
(https, ssh `git@host:path`, or a bare `host/path`), or `owner`/`org` and `name` with `scmType` and, for
GitHub Enterprise or a self-hosted GitLab, `apiURL`/`baseURL`. The rules live here so that both read a
repository the same way:

- a URL naming github is GitHub, any other GitLab (DevStream's rule); a local path or file:// URL is plain
  `git`, and so is any remote given with `scmType: git`;
- github.com's API is api.github.com, GitHub Enterprise's `<root>/api/v3`, GitLab's `<root>/api/v4`, and
  the web root of a server is read back from either (`web_root`), so a token goes only to its own host.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from devstream.errors import PermanentError, RepoURLError

__all__ = ["GITHUB_API", "GITHUB_ENTERPRISE_API_SUFFIX", "GITLAB_API_SUFFIX", "GITLAB_COM", "SCP_LIKE",
           "github_api_root", "gitlab_api_root", "is_local_url", "name_from_url", "normalise_repo", "repo_from_url",
           "same_origin", "token_user", "url_parts", "url_segments", "web_root"]

GITHUB_API = "https://api.github.com"
GITLAB_COM = "https://gitlab.com"
GITLAB_API_SUFFIX = "/api/v4"
GITHUB_ENTERPRISE_API_SUFFIX = "/api/v3"
SCP_LIKE = re.compile(r"[^/]*:")
"""A URL's start that makes it a URL or scp-like ssh (`host:path`, `git@host:path`) rather than a path."""
_SSH_URL = re.compile(r"[\w.-]+@([^:/]+):(.+)")
_REPO_ORDER = ("owner", "org", "name", "branch", "scmType", "url", "apiURL", "baseURL", "token", "sshPrivateKey")


def url_parts(url: str) -> tuple[str, str, str]:
    """(scheme, host[:port], path) of an https, ssh (`git@host:path`) or bare `host/path` repository URL.

    The scheme is http or https (the web address of the host an ssh URL names is taken to be https); the
    host carries no user info."""
    ssh = _SSH_URL.fullmatch(url.strip())
    if ssh:
        return "https", ssh.group(1), ssh.group(2)
    split = urlsplit(url.strip() if "://" in url else f"https://{url.strip()}")
    scheme = split.scheme if split.scheme in ("http", "https") else "https"
    host = split.hostname or ""
    return scheme, f"{host}:{split.port}" if split.port else host, split.path


def url_segments(url: str) -> list[str]:
    """The non-empty segments of a repository URL's path: `[namespace..., name(.git)]`."""
    return [s for s in url_parts(url)[2].strip("/").split("/") if s]


def name_from_url(url: str) -> str:
    """A repository's name as its remote URL ends (`.../web.git`, `host:web.git` -> `web`); the URL when it
    has no such end."""
    tail = unquote(url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1])
    return tail.removesuffix(".git") or url


def is_local_url(url: str) -> bool:
    """Whether a repository `url` is a local path or a file:// URL rather than a network remote."""
    if url.startswith("file:") or url.startswith(("/", "./", "../", "~")) or url in (".", ".."):
        return True
    if "://" in url or SCP_LIKE.match(url):
        return False
    first = url.split("/", 1)[0]
    return "." not in first and first != "localhost"  # `templates/web` is a folder; `gitlab.io/a/b` a host


def token_user(host: str) -> str:
    """The user name git sends with a token over https to `host`: GitHub's `x-access-token`, GitLab's (any other
    host's, by DevStream's rule) `oauth2`."""
    return "x-access-token" if "github" in host else "oauth2"


def same_origin(url: str, server: str) -> bool:
    """Whether an http(s) `url` has the scheme, host and port of `server` (other remotes carry no token)."""
    there, here = urlsplit(url), urlsplit(server)
    if there.scheme not in ("http", "https"):
        return True  # ssh and friends: the token is only ever sent over http(s)
    return (there.scheme, there.hostname, there.port) == (here.scheme, here.hostname, here.port)


def repo_from_url(url: str, api_url: str | None) -> tuple[str, str, str, str | None]:
    """(scmType, owner, name, baseURL) read from a repository URL (https, ssh or host/path), by DevStream's
    rule: a URL naming github is GitHub, any other GitLab. baseURL is None for github.com.

    Raises RepoURLError (with `.field`) when the URL names no repository.
    """
    scheme, host, _ = url_parts(url)
    segments = url_segments(url)
    if not host or len(segments) < 2:
        raise RepoURLError("url", f"cannot read owner and name from url {url!r}; write it like "
                                  f"https://github.com/OWNER/NAME or git@gitlab.com:GROUP/NAME.git")
    scm = "github" if "github" in url else "gitlab"
    base = None
    if scm == "gitlab":
        api = urlsplit(api_url) if api_url else None
        base = f"{api.scheme}://{api.netloc}" if api and api.netloc else f"{scheme}://{host}"
    elif host.lower() not in ("github.com", "www.github.com") and not api_url:
        base = f"{scheme}://{host}"  # GitHub Enterprise: its API is at <base>/api/v3
    return scm, "/".join(segments[:-1]), segments[-1].removesuffix(".git"), base


def web_root(scm_type: str, base_url: str | None, api_url: str | None) -> str:
    """The web (and git over https) address of the GitHub or GitLab server a repository's options name:
    `baseURL`, else read from `apiURL` (GitHub Enterprise's `<root>/api/v3`, GitLab's `<root>/api/v4`,
    `https://api.<host>`; any other shape stands for its own scheme, host and port), else github.com or
    gitlab.com. A token given with those options is sent there and nowhere else."""
    if base_url and base_url.strip():
        return base_url.strip().rstrip("/")
    if api_url and api_url.strip():
        split = urlsplit(api_url.strip())
        netloc = split.netloc.rpartition("@")[2]
        path = split.path.rstrip("/")
        suffix = GITHUB_ENTERPRISE_API_SUFFIX if scm_type == "github" else GITLAB_API_SUFFIX
        if path.endswith(suffix):
            return f"{split.scheme}://{netloc}{path.removesuffix(suffix)}"
        if scm_type == "gitlab":
            return f"{split.scheme}://{netloc}{path}"  # GitLab's clients add /api/v4 to a bare root
        if not path and netloc.lower().startswith("api."):
            return f"{split.scheme}://{netloc[4:]}"  # api.github.com, api.<tenant>.ghe.com
        return f"{split.scheme}://{netloc}"
    return "https://github.com" if scm_type == "github" else GITLAB_COM


def github_api_root(api_url: str | None, base_url: str | None) -> str:
    """GitHub's REST API root: `apiURL` as given, `<baseURL>/api/v3` for GitHub Enterprise, else
    api.github.com."""
    if api_url:
        return api_url.rstrip("/")
    if base_url:
        return base_url.rstrip("/") + GITHUB_ENTERPRISE_API_SUFFIX
    return GITHUB_API


def gitlab_api_root(api_url: str | None, base_url: str | None, url: str | None) -> str:
    """GitLab's REST API root, always ending in `/api/v4`: `apiURL` when given, else `<baseURL>/api/v4`, else
    the host of a non-gitlab.com `url`, and only when none of these is given gitlab.com's. An address
    without the `/api/v4` suffix gets it, as GitLab's own clients do.

    Raises:
        PermanentError: the address is not an http(s) URL.
    """
    if api_url:
        root, field = api_url, "apiURL"
    elif base_url:
        root, field = base_url, "baseURL"
    elif url and url_parts(url)[1] not in ("", "gitlab.com", "www.gitlab.com"):
        scheme, host, _ = url_parts(url)
        root, field = f"{scheme}://{host}", "url"
    else:
        root, field = GITLAB_COM, ""
    root = root.strip().rstrip("/")
    split = urlsplit(root)
    if split.scheme not in ("http", "https") or not split.netloc:
        raise PermanentError(f"scm.{field} {root!r} is not an http(s) address; write it like "
                             f"https://gitlab.example.com")
    return root if root.endswith(GITLAB_API_SUFFIX) else root + GITLAB_API_SUFFIX


def _git_repo(r: dict[str, Any], default_name: str | None, template: bool) -> dict[str, Any]:
    """A `scmType: git` RepoInfo: `url` is required and kept as written; `name` (and, for a network remote,
    `owner`) are read from it when not given; branch `main` unless it is a template (whose remote HEAD
    decides)."""
    if "url" not in r:
        raise RepoURLError("url", "`url` is required with scmType git: a file://, ssh:// or https:// git remote, "
                                  "or a local path relative to the config's folder")
    url = str(r["url"])
    r["scmType"] = "git"
    ssh = _SSH_URL.fullmatch(url)
    path = ssh.group(2) if ssh else urlsplit(url).path if "://" in url else url
    segments = [s for s in path.strip("/").split("/") if s not in ("", ".", "..")]
    if segments:
        r.setdefault("name", segments[-1].removesuffix(".git"))
    if not is_local_url(url) and len(segments) > 1 and "owner" not in r and "org" not in r:
        r["owner"] = "/".join(segments[:-1])
    if default_name:
        r.setdefault("name", default_name)
    if "owner" in r and "org" in r:
        raise RepoURLError("org", "give either `owner` (a user) or `org` (an organisation), not both")
    if not template:
        r.setdefault("branch", "main")
    return {k: r[k] for k in _REPO_ORDER if k in r}


def normalise_repo(repo: Mapping[str, Any], *, default_name: str | None = None,
                   template: bool = False) -> dict[str, Any]:
    """A RepoInfo with DevStream's defaults filled in: owner/name/scmType from `url`, `name` from the app,
    branch `main` (GitHub) or `master` (GitLab), and the clone `url`.

    `scmType: git` (given, or implied by a local-path `url`) keeps the `url` as written; `template` says
    the repo is a repoTemplate, which gets no default branch when it is plain git.

    Raises RepoURLError (with `.field`) when the repository cannot be told.
    """
    r = {k: v for k, v in repo.items() if v is not None and v != ""}
    scm_type = str(r.get("scmType", "")).lower()
    if scm_type == "git" or (not scm_type and "url" in r and is_local_url(str(r["url"]))):
        return _git_repo(r, default_name, template)
    if "url" in r:
        scm, owner, name, base = repo_from_url(r["url"], r.get("apiURL"))
        r.setdefault("scmType", scm)
        if "owner" not in r and "org" not in r:
            r["owner"] = owner
        r.setdefault("name", name)
        if base:
            r.setdefault("baseURL", base)
        if "://" not in r["url"] and "@" not in r["url"]:
            r["url"] = f"https://{r['url']}"
    if default_name:
        r.setdefault("name", default_name)
    if "scmType" not in r:
        raise RepoURLError("scmType", "`scmType` is required (github or gitlab, or git with a plain git `url`), "
                                      "or give the repo's `url`")
    r["scmType"] = str(r["scmType"]).lower()
    if r["scmType"] not in ("github", "gitlab"):
        raise RepoURLError("scmType", f"scmType {r['scmType']!r} is not supported; use github or gitlab, or git "
                                      f"with the remote's `url`")
    if "owner" in r and "org" in r:
        raise RepoURLError("org", "give either `owner` (a user) or `org` (an organisation), not both")
    if "owner" not in r and "org" not in r:
        raise RepoURLError("owner", "`owner` or `org` is required (who owns the repo), or give the repo's `url`")
    if "name" not in r:
        raise RepoURLError("name", "`name` is required (the repository's name), or give the repo's `url`")
    github = r["scmType"] == "github"
    r.setdefault("branch", "main" if github else "master")
    owner = r.get("org") or r["owner"]
    if "url" not in r:
        host = web_root(r["scmType"], r.get("baseURL"), r.get("apiURL"))
        r["url"] = f"{host}/{owner}/{r['name']}" + ("" if github else ".git")
    return {k: r[k] for k in _REPO_ORDER if k in r}
