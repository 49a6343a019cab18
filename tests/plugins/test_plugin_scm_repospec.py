"""A repository given by its URL alone, as DevStream's RepoInfo allowed: tools written by hand read it the way
apps do (devstream.repourl's rules), so `scm: {url: https://github.com/octo/web}` is enough."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from devstream.plugins.github_actions import GitHubActionsOptions
from devstream.plugins.scm.base import RepoSpec


def where(url: str, **given: str) -> dict[str, str]:
    return RepoSpec.model_validate({"url": url, **given}).model_dump(exclude_none=True, exclude={"url"})


@pytest.mark.parametrize(("url", "expected"), [
    ("https://github.com/octo/web", {"scmType": "github", "owner": "octo", "name": "web"}),
    ("git@github.com:octo/web.git", {"scmType": "github", "owner": "octo", "name": "web"}),
    ("https://github.example.com/octo/web.git",  # GitHub Enterprise: its API is at <baseURL>/api/v3
     {"scmType": "github", "owner": "octo", "name": "web", "baseURL": "https://github.example.com"}),
    ("https://git.example.com/platform/backend/web.git",  # DevStream's rule: not github, so GitLab
     {"scmType": "gitlab", "owner": "platform/backend", "name": "web", "baseURL": "https://git.example.com"}),
    ("file:///srv/git/web.git", {"scmType": "git"}),
    ("./build/repos/web.git", {"scmType": "git"}),
])
def test_the_type_owner_and_name_are_read_from_the_url(url: str, expected: dict[str, str]) -> None:
    assert where(url) == expected


def test_an_ssh_url_of_a_self_hosted_gitlab_gives_its_web_address_not_an_ssh_one() -> None:
    # The API is reached over https at the host the ssh remote names (it once became ssh://git@gitlab.example.com,
    # which the GitLab client then refused as "not an http(s) address").
    assert where("ssh://git@gitlab.example.com/team/web.git") == {
        "scmType": "gitlab", "owner": "team", "name": "web", "baseURL": "https://gitlab.example.com"}


def test_what_is_given_wins_over_what_the_url_says() -> None:
    assert where("https://github.com/octo/web", org="acme", name="shop") == {
        "scmType": "github", "org": "acme", "name": "shop"}
    assert where("https://git.example.com/x.git", scmType="git") == {"scmType": "git"}
    assert where("https://gitlab.example.com/g/web", scmType="gitlab", owner="g", name="web",
                 baseURL="https://gitlab.example.com/") == {
        "scmType": "gitlab", "owner": "g", "name": "web", "baseURL": "https://gitlab.example.com/"}


def test_a_url_that_names_no_repository_is_refused_with_the_shape_to_use() -> None:
    with pytest.raises(ValidationError, match="cannot read owner and name from url 'https://github.com/octo'"):
        RepoSpec.model_validate({"url": "https://github.com/octo"})


def test_a_github_actions_tool_needs_only_the_repository_url() -> None:
    options = GitHubActionsOptions.model_validate({
        "scm": {"url": "https://github.com/octo/web"}, "pipeline": {"configContents": {"ci.yml": "on: push\n"}}})
    assert options.scm.full_name == "octo/web"


def test_a_tool_names_the_system_it_calls_so_its_task_runs_can_be_throttled_together() -> None:
    from devstream.plugin.registry import default_registry

    plugins = default_registry()
    github, gitlab, git = ({"url": "https://github.com/octo/web"}, {"scmType": "gitlab", "org": "g", "name": "w"},
                           {"scmType": "git", "url": "./build/web.git"})
    assert plugins.get("repo-scaffolding").systems({"destinationRepo": github}) == {"github"}
    assert plugins.get("repo-scaffolding").systems({"destinationRepo": git}) == set()  # plain git: no API
    assert plugins.get("ci-generic").systems({"projectRepo": gitlab}) == {"gitlab"}
    assert plugins.get("ci-generic").systems({"scm": {**gitlab, "org": "${{ noop.g.outputs.group }}"}}) == {"gitlab"}
    assert plugins.get("github-actions").systems({}) == {"github"}
    assert plugins.get("gitlab-ci").systems({}) == {"gitlab"}
    assert plugins.get("file").systems({"path": "x"}) == set()
