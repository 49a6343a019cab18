"""Apps on plain git: `scmType: git` with a git `url`, and a repoTemplate that is a local folder."""

from __future__ import annotations

import pytest

from devstream.config import expand_apps
from devstream.errors import ConfigError
from devstream.repourl import normalise_repo


def test_an_app_on_a_git_remote_expands_into_scaffolding_and_ci_generic() -> None:
    tools = expand_apps(
        [{
            "name": "shop",
            "spec": {"language": "python", "framework": "flask"},
            "repo": {"scmType": "git", "url": "file:///srv/git/shop.git"},
            "repoTemplate": {"url": "./templates/flask", "vars": {"port": 8080}},
            "ci": [{"type": "template", "templateName": "wf", "vars": {"py": "py312"}}],
        }],
        [{"name": "wf", "type": "ci-generic",
          "options": {"ci": {"type": "github", "configLocation": "ci/[[ framework ]].yml",
                             "vars": {"app": "[[ appName ]]", "py": "[[ py ]]"}}}}],
    )

    repo = {"name": "shop", "branch": "main", "scmType": "git", "url": "file:///srv/git/shop.git"}
    scaffolding, ci = tools
    assert scaffolding.key == "repo-scaffolding.shop"
    assert scaffolding.options == {
        "destinationRepo": repo,
        # a local folder means plain git; a template gets no default branch (its HEAD decides)
        "sourceRepo": {"name": "flask", "scmType": "git", "url": "./templates/flask"},
        "vars": {"port": 8080},
    }
    assert (ci.key, ci.dependsOn) == ("ci-generic.shop", ["repo-scaffolding.shop"])
    assert ci.options == {
        "projectRepo": repo,
        "ci": {"type": "github", "configLocation": "ci/flask.yml", "vars": {"app": "shop", "py": "py312"}},
    }


@pytest.mark.parametrize(("given", "expected"), [
    ({"scmType": "git", "url": "ssh://git@git.example.com/team/api.git"},
     {"owner": "team", "name": "api", "branch": "main", "scmType": "git",
      "url": "ssh://git@git.example.com/team/api.git"}),
    ({"scmType": "GIT", "url": "git@git.example.com:team/sub/api.git", "branch": "dev"},
     {"owner": "team/sub", "name": "api", "branch": "dev", "scmType": "git",
      "url": "git@git.example.com:team/sub/api.git"}),
    ({"scmType": "git", "url": "https://git.example.com/api.git", "name": "renamed"},
     {"name": "renamed", "branch": "main", "scmType": "git", "url": "https://git.example.com/api.git"}),
    ({"url": "../repos/api.git"}, {"name": "api", "branch": "main", "scmType": "git", "url": "../repos/api.git"}),
    ({"url": "repos/api"}, {"name": "api", "branch": "main", "scmType": "git", "url": "repos/api"}),
    # a host name in the first part of a schemeless url still means GitHub/GitLab, as in DevStream
    ({"url": "github.com/acme/api"},
     {"owner": "acme", "name": "api", "branch": "main", "scmType": "github", "url": "https://github.com/acme/api"}),
])
def test_git_repos_are_normalised(given: dict[str, str], expected: dict[str, str]) -> None:
    assert normalise_repo(given, default_name="app") == expected


def test_a_git_repo_needs_its_url() -> None:
    with pytest.raises(ConfigError) as error:
        expand_apps([{"name": "x", "spec": {"language": "go", "framework": "gin"}, "repo": {"scmType": "git"}}])

    [issue] = error.value.issues
    assert issue.field == "apps[0].repo.url"
    assert "`url` is required with scmType git" in issue.message


def test_an_unknown_scm_type_names_git_too() -> None:
    with pytest.raises(ConfigError) as error:
        expand_apps([{"name": "x", "spec": {"language": "go", "framework": "gin"},
                      "repo": {"scmType": "bitbucket", "owner": "me"}}])

    assert "use github or gitlab, or git with the remote's `url`" in error.value.issues[0].message
