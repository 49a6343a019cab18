"""The GitLab stand-in's records (namespaces, projects, commits), its error answer and GitLab's hook flags;
gitlab_standin.py is the stand-in."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx

_MASKABLE = re.compile(r"[A-Za-z0-9+/=_@:.~-]{8,}")
_KEY = re.compile(r"[A-Za-z0-9_]{1,255}")
# A project hook's event flags, and whether GitLab sets each when a create leaves it out.
HOOK_FLAGS = {"push_events": True, "tag_push_events": False, "merge_requests_events": False, "issues_events": False,
              "confidential_issues_events": False, "note_events": False, "confidential_note_events": False,
              "job_events": False, "pipeline_events": False, "wiki_page_events": False, "deployment_events": False,
              "releases_events": False, "repository_update_events": False}


@dataclass
class Namespace:
    id: int
    full_path: str
    kind: str  # "user" or "group"

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.full_path.rpartition("/")[2], "path": self.full_path.rpartition("/")[2],
                "kind": self.kind, "full_path": self.full_path}


@dataclass
class Commit:
    sha: str
    files: dict[str, bytes]
    message: str
    parents: list[str] = field(default_factory=list)


@dataclass
class Project:
    id: int
    path: str  # namespace/name
    namespace: Namespace
    visibility: str = "private"
    description: str = ""
    default_branch: str = "main"  # what GitLab reports even for an empty project (the instance default)
    branches: dict[str, Commit] = field(default_factory=dict)
    variables: list[dict[str, Any]] = field(default_factory=list)
    marked_for_deletion: bool = False
    commits: int = 0
    hooks: list[dict[str, Any]] = field(default_factory=list)  # as stored: with the `token`
    # every commit by SHA, those no branch reaches any more (after a force-push) included, as git keeps them
    history: dict[str, Commit] = field(default_factory=dict)
    runners_token: str = "GR1348941standin-initial"
    shared_runners_enabled: bool = True

    @property
    def empty(self) -> bool:
        return not self.branches


def _error(status: int, message: Any) -> httpx.Response:
    return httpx.Response(status, json={"message": message})


@dataclass
class _Refusal:
    method: str
    path: re.Pattern[str]
    status: int
    message: Any
    times: int | None  # how many more to refuse; None: every one
