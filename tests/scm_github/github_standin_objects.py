"""The GitHub stand-in's records: repositories, secrets, hooks, recorded and injected requests, its git object
store (real blob, tree and commit SHAs), and the error answer its routes raise. github_standin.py is the
stand-in."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

API_VERSION = "2022-11-28"
_STAMP = "1700000000 +0000"
_WHEN = "2024-01-01T00:00:00Z"
_SECRET_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_T = TypeVar("_T")
_CONTENT_LIMIT = 1_000_000  # the contents API leaves out the content of bigger files
# The repository webhook events GitHub accepts (its webhook event names), and its wildcard.
HOOK_EVENTS = frozenset({
    "*", "branch_protection_rule", "check_run", "check_suite", "code_scanning_alert", "commit_comment", "create",
    "delete", "dependabot_alert", "deploy_key", "deployment", "deployment_protection_rule", "deployment_review",
    "deployment_status", "discussion", "discussion_comment", "fork", "gollum", "issue_comment", "issues", "label",
    "member", "merge_group", "meta", "milestone", "package", "page_build", "ping", "project", "project_card",
    "project_column", "public", "pull_request", "pull_request_review", "pull_request_review_comment",
    "pull_request_review_thread", "push", "registry_package", "release", "repository", "repository_dispatch",
    "repository_import", "repository_ruleset", "repository_vulnerability_alert", "secret_scanning_alert",
    "secret_scanning_alert_location", "security_and_analysis", "star", "status", "watch", "workflow_job",
    "workflow_run",
})


@dataclass
class Recorded:
    """One request as the stand-in received it."""

    method: str
    url: httpx.URL
    path: str  # relative to the API root, still percent-encoded
    headers: httpx.Headers
    body: bytes
    response: httpx.Response | None = None  # the stand-in's answer


@dataclass
class Injected:
    """An answer given instead of the real one, `times` times, to requests that match."""

    method: str
    pattern: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: Any
    times: int


@dataclass
class Secret:
    encrypted: str
    created_at: str
    updated_at: str


@dataclass
class Hook:
    """A repository webhook; `config` holds the secret itself (the API shows `********`)."""

    id: int
    events: list[str]
    active: bool
    config: dict[str, Any]


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    private: bool
    description: str
    default_branch: str = "main"
    refs: dict[str, str] = field(default_factory=dict)  # "refs/heads/main" -> commit SHA
    secrets: dict[str, Secret] = field(default_factory=dict)
    hooks: dict[int, Hook] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def empty(self) -> bool:
        return not self.refs


def _error(message: str, **extra: Any) -> dict[str, Any]:
    """An error body as GitHub's are (its `basic-error` and `validation-error` schemas): `message` and
    `documentation_url` always, `errors` for a validation error."""
    return {"message": message, "documentation_url": "https://docs.github.com/rest", **extra}


class _Answer(Exception):
    """Raised by a route to answer at once with an error."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = _error(message, **extra)


def _tree_order(entry: tuple[str, str, str]) -> bytes:
    mode, name, _ = entry
    return (name + "/").encode() if mode == "40000" else name.encode()


class GitObjects:
    """Git's object database: blobs, trees and commits keyed by their real SHA-1."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.trees: dict[str, list[tuple[str, str, str]]] = {}  # sha -> [(mode, name, sha)] in git order
        self.commits: dict[str, dict[str, Any]] = {}

    @staticmethod
    def _sha(kind: str, body: bytes) -> str:
        return hashlib.sha1(f"{kind} {len(body)}\0".encode() + body).hexdigest()

    def blob(self, data: bytes) -> str:
        sha = self._sha("blob", data)
        self.blobs[sha] = data
        return sha

    def tree(self, flat: dict[str, tuple[str, str]]) -> str:
        """Write the nested trees of `path -> (mode, sha)`; return the root tree's SHA."""
        here: dict[str, tuple[str, str]] = {}
        below: dict[str, dict[str, tuple[str, str]]] = {}
        for path, entry in flat.items():
            head, sep, rest = path.partition("/")
            if sep:
                below.setdefault(head, {})[rest] = entry
            else:
                here[head] = entry
        entries = [(mode, name, sha) for name, (mode, sha) in here.items()]
        entries += [("40000", name, self.tree(sub)) for name, sub in below.items()]
        entries.sort(key=_tree_order)
        body = b"".join(f"{mode} {name}".encode() + b"\0" + bytes.fromhex(sha) for mode, name, sha in entries)
        sha = self._sha("tree", body)
        self.trees[sha] = entries
        return sha

    def flatten(self, tree: str, prefix: str = "") -> dict[str, tuple[str, str]]:
        """`path -> (mode, sha)` of every file under the tree."""
        out: dict[str, tuple[str, str]] = {}
        for mode, name, sha in self.trees[tree]:
            if mode == "40000":
                out.update(self.flatten(sha, f"{prefix}{name}/"))
            else:
                out[f"{prefix}{name}"] = (mode, sha)
        return out

    def commit(self, tree: str, parents: list[str], message: str) -> str:
        who = f"dtm stand-in <standin@example.invalid> {_STAMP}"
        text = f"tree {tree}\n" + "".join(f"parent {p}\n" for p in parents)
        text += f"author {who}\ncommitter {who}\n\n{message}"
        sha = self._sha("commit", text.encode())
        self.commits[sha] = {"tree": tree, "parents": list(parents), "message": message}
        return sha

    def ancestors(self, commit: str) -> set[str]:
        seen: set[str] = set()
        todo = [commit]
        while todo:
            sha = todo.pop()
            if sha not in seen:
                seen.add(sha)
                todo.extend(self.commits[sha]["parents"])
        return seen


Route = Callable[..., httpx.Response]


