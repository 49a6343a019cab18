"""ci-generic's options: the CI system, where its files come from, the webhooks that trigger it and the
repository they go to. Webhooks are checked here, at load time, against what the repository's SCM can hold."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from devstream.plugin.base import PluginOptions
from devstream.plugin.http import safe_url
from devstream.plugins.scm.base import WEBHOOK_EVENTS, RepoSpec, Webhook

__all__ = ["CIConfig", "CIGenericOptions", "CIType"]

CIType = Literal["github", "gitlab", "jenkins", "generic"]
_GITLAB_EVENTS = ", ".join(e for e, m in WEBHOOK_EVENTS.items() if m.gitlab)


class CIConfig(BaseModel):
    """Which CI system, where its files come from, their variables, and the webhooks that trigger it."""

    model_config = ConfigDict(extra="forbid")

    type: CIType = Field(
        description="github (.github/workflows/), gitlab (.gitlab-ci.yml), jenkins (Jenkinsfile) or generic "
                    "(every file at its own path).",
    )
    configLocation: str | None = Field(
        default=None,
        description="A local file or folder (relative to the config's folder), an http(s) URL, or "
                    "git::<url>//<folder>?ref=<branch>.",
    )
    configContents: dict[str, str] | None = Field(
        default=None, description="The files inline: file name -> content; instead of configLocation.",
    )
    vars: dict[str, Any] = Field(default_factory=dict, description="Variables for the files' [[ ]] templates.")
    webhooks: list[Webhook] = Field(
        default_factory=list,
        description="Repository webhooks that trigger a CI system outside the SCM (Jenkins, Drone, Buildkite, "
                    "Tekton...), each with url, events (GitHub's names, default [push]), secret, active and "
                    "insecure_ssl. They sit under `ci` because, like the files, they are how this CI system is "
                    "wired to the repository. GitHub and GitLab only; one per URL; a URL without user info, query "
                    "or fragment (options are kept in state: a delivery token goes in `secret`).",
    )

    @model_validator(mode="after")
    def _one_source(self) -> CIConfig:
        # Both given: DevStream took the contents, and so does dtm (saying so when the files are read).
        if not self.configLocation and not self.configContents:
            raise ValueError("give one of configLocation and configContents")
        return self


class CIGenericOptions(PluginOptions):
    """The CI files and the repository they go to."""

    ci: CIConfig = Field(description="The CI system, its files and the webhooks that trigger it.")
    projectRepo: RepoSpec | None = Field(default=None, description="The repository the CI files are pushed to.")
    scm: RepoSpec | None = Field(default=None, description="DevStream's name for projectRepo; give one of the two.")

    @model_validator(mode="after")
    def _one_repo(self) -> CIGenericOptions:
        if (self.projectRepo is None) == (self.scm is None):
            raise ValueError("give the repository as projectRepo (or scm, as DevStream named it), once")
        return self

    @model_validator(mode="after")
    def _webhooks(self) -> CIGenericOptions:
        """Webhooks the repository's system can hold: checked here, with its scmType known, so that a bad one
        fails at load time, every problem at its own field."""
        repo = self.projectRepo or self.scm
        if repo is not None and self.ci.webhooks:
            _refuse(_webhook_problems(self.ci.webhooks, repo.scmType))
        return self

    @property
    def repo(self) -> RepoSpec:
        repo = self.projectRepo or self.scm
        assert repo is not None
        return repo


_Problem = tuple[tuple[str | int, ...], str]  # (where in the options, what is wrong)


def _webhook_problems(hooks: list[Webhook], scm_type: str) -> list[_Problem]:
    if scm_type == "git":
        return [(("ci", "webhooks"), "scmType git has no webhooks: put them on a github or gitlab repository (dtm "
                                     "manages their webhooks), or set up delivery in your git server yourself "
                                     "(e.g. a post-receive hook)")]
    problems: list[_Problem] = []
    seen: dict[str, int] = {}
    for i, hook in enumerate(hooks):
        where = ("ci", "webhooks", i)
        shown = safe_url(hook.url)  # never the URL itself: it may hold the credentials refused here
        if "@" in urlsplit(hook.url).netloc or "?" in hook.url or "#" in hook.url:
            problems.append(((*where, "url"), f"the url of webhook {shown} carries credentials (user info, a "
                                              f"?query or a #fragment), which dtm would keep in clear in its state "
                                              f"with the options; give a URL without them and authenticate "
                                              f"deliveries with `secret` (GitHub signs each delivery with it, "
                                              f"GitLab sends it as X-Gitlab-Token)"))
        elif shown in seen:
            problems.append(((*where, "url"), f"webhook {shown} is also ci.webhooks[{seen[shown]}]: a repository "
                                              f"keeps one webhook per URL, so give each URL once (with all its "
                                              f"events)"))
        seen.setdefault(shown, i)
        for event in hook.events:
            mapping = WEBHOOK_EVENTS.get(event)
            if scm_type == "github" and mapping is not None and mapping.github is None:
                problems.append(((*where, "events"), f"GitHub webhooks have no {event!r} event; {mapping.instead}"))
            elif scm_type == "gitlab" and (mapping is None or mapping.gitlab is None):
                problems.append(((*where, "events"), f"GitLab webhooks have no {event!r} event; they can deliver "
                                                     f"{_GITLAB_EVENTS}"))
        if scm_type == "gitlab" and not hook.active:
            problems.append(((*where, "active"), "GitLab cannot pause a project webhook: leave `active` true, or "
                                                 "remove the webhook from the options"))
    return problems


def _refuse(problems: list[_Problem]) -> None:
    """Raise the problems as validation errors at their own fields, so the config's error names the field."""
    if problems:
        raise ValidationError.from_exception_data("CIGenericOptions", [
            InitErrorDetails(type=PydanticCustomError("ci_webhook", "{reason}", {"reason": reason}), loc=loc,
                             input=None)  # no input: the error must not quote a URL or secret back
            for loc, reason in problems])
