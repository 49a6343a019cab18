"""Apps: one block per application, expanded into tools the way DevStream v0.12 did.

An app with a `repoTemplate` gets a `repo-scaffolding` tool; each `ci`/`cd` entry becomes a pipeline tool,
either directly (`type: github-actions`) or through a pipelineTemplate (`type: template`). The plugins these
generate are not needed here: `validate_plugins=False`, or `expand_apps` on plain data.
"""

from __future__ import annotations

import pytest

from devstream.config import expand_apps
from devstream.config.models import Location
from devstream.errors import ConfigError

CONFIG = """
vars:
  registry: docker.io/global
  language: cobol
  tag: latest
tools:
- {name: greeter, instanceID: base, options: {path: base}}
apps:
- name: shop
  spec: {language: python, framework: django}
  repo: {owner: acme, scmType: github}
  repoTemplate:
    url: https://github.com/devstream-io/dtm-repo-scaffolding-python-django
    vars: {imageRepo: acme/shop}
  ci:
  - type: template
    templateName: build-and-push
    vars: {registry: ghcr.io/acme}
    options:
      docker: {push: false}
      branch: develop
  cd:
  - type: argocdapp
pipelineTemplates:
- name: build-and-push
  type: github-actions
  options:
    branch: main
    image: "[[ registry ]]/[[ appName ]]:[[ tag ]]"
    lang: "[[ language ]]-[[ framework ]]"
    docker: {push: true, cache: true}
"""

SHOP_REPO = {"owner": "acme", "name": "shop", "branch": "main", "scmType": "github",
             "url": "https://github.com/acme/shop"}


def test_an_app_expands_into_repo_scaffolding_and_pipeline_tools(write, load):
    path = write("c.yaml", CONFIG)

    config = load(path, validate_plugins=False)
    tools = {t.key: t for t in config.tools}

    assert list(tools) == ["greeter.base", "repo-scaffolding.shop", "github-actions.shop", "argocdapp.shop"]

    scaffolding = tools["repo-scaffolding.shop"]
    assert scaffolding.dependsOn == ["greeter.base"]  # every app tool waits for the top-level tools
    assert scaffolding.options == {
        "destinationRepo": SHOP_REPO,  # repo.name defaults to the app's name, branch to main on GitHub
        "sourceRepo": {"owner": "devstream-io", "name": "dtm-repo-scaffolding-python-django", "branch": "main",
                       "scmType": "github",
                       "url": "https://github.com/devstream-io/dtm-repo-scaffolding-python-django"},
        "vars": {"imageRepo": "acme/shop"},  # DevStream dropped these; they are passed through
    }

    ci = tools["github-actions.shop"]
    assert ci.dependsOn == ["repo-scaffolding.shop", "greeter.base"]
    assert ci.options == {
        "pipeline": {
            "branch": "develop",  # the entry's options win over the template's...
            "docker": {"push": False, "cache": True},  # ...merged deeply
            # vars: the entry's (registry) > the app's (appName, language) > the global ones (tag)
            "image": "ghcr.io/acme/shop:latest",
            "lang": "python-django",
            "configLocation": "https://raw.githubusercontent.com/devstream-io/dtm-pipeline-templates/main/"
                              "github-actions/workflows/main.yml",
            "language": {"name": "python", "framework": "django"},
        },
        "scm": SHOP_REPO,
    }

    cd = tools["argocdapp.shop"]
    # CD waits for CI: both commit to the repository, and a destroy takes the Application away first.
    assert cd.dependsOn == ["repo-scaffolding.shop", "github-actions.shop", "greeter.base"]
    assert cd.options == {
        "app": {"name": "shop", "namespace": "argocd"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
        "source": {"valuefile": "values.yaml", "path": "helm/shop", "repoURL": "https://github.com/acme/shop",
                   "repoBranch": "main", "scmType": "github"},
    }

    # Errors about a generated tool point at its app.
    assert config.locations["github-actions.shop"] == Location(str(path), 8, "apps[0]")


def test_expand_apps_takes_plain_data():
    tools = expand_apps(
        [{
            "name": "web",
            "spec": {"language": "go", "framework": "gin"},
            "repo": {"url": "https://gitlab.example.com/team/web-app.git"},
            "ci": [{"type": "gitlab-ci", "options": {"runner": {"enable": True},
                                                     "imageRepo": {"user": "team", "password": "s3cret"}}}],
            "cd": [{"type": "argocdapp", "options": {"destination": {"namespace": "web"}}}],
        }],
        after=["greeter.base"],
    )

    repo = {"owner": "team", "name": "web-app", "branch": "master", "scmType": "gitlab",
            "url": "https://gitlab.example.com/team/web-app.git", "baseURL": "https://gitlab.example.com"}
    gitlab, argocd = tools
    assert (gitlab.key, gitlab.dependsOn) == ("gitlab-ci.web", ["greeter.base"])  # no repoTemplate: no scaffolding
    assert gitlab.options["scm"] == repo  # owner, name and GitLab read from the url; master is GitLab's branch
    assert gitlab.options["runner"] == {"enable": True}  # gitlab-ci also wants `runner` at the top
    assert argocd.options["destination"] == {"server": "https://kubernetes.default.svc", "namespace": "web"}
    assert argocd.options["imageRepo"] == {"user": "team"}  # what CI builds, CD deploys (not the CI's password)
    assert argocd.dependsOn == ["gitlab-ci.web", "greeter.base"]


def test_a_cd_template_expands_into_an_argocdapp_with_the_apps_defaults():
    tools = expand_apps(
        [{"name": "api", "spec": {"language": "python", "framework": "flask"},
          "repo": {"owner": "acme", "scmType": "github", "apiURL": "https://ghe.example.com/api/v3",
                   "token": "ghp_x"},
          "ci": [{"type": "github-actions", "options": {"imageRepo": {"user": "acme", "url": "ghcr.io"}}}],
          "cd": [{"type": "template", "templateName": "deploy", "vars": {"stage": "staging"}}]}],
        [{"name": "deploy", "type": "argocdapp",
          "options": {"destination": {"namespace": "[[ appName ]]-[[ stage ]]"}, "cascade": "background"}}],
    )

    ci, cd = tools
    assert (cd.key, cd.dependsOn) == ("argocdapp.api", ["github-actions.api"])
    assert cd.options == {
        "app": {"name": "api", "namespace": "argocd"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "api-staging"},
        "source": {"valuefile": "values.yaml", "path": "helm/api", "repoURL": "https://ghe.example.com/acme/api",
                   "repoBranch": "main", "token": "ghp_x", "scmType": "github",
                   "apiURL": "https://ghe.example.com/api/v3"},
        "imageRepo": {"user": "acme", "url": "ghcr.io"},
        "cascade": "background",
    }


def test_a_missing_pipeline_template_lists_the_defined_ones(write, problem):
    path = write("c.yaml", CONFIG.replace("templateName: build-and-push", "templateName: build"))

    issue = problem(path, validate_plugins=False)

    assert (issue.file, issue.line, issue.field) == (str(path), 16, "apps[0].ci[0].templateName")
    assert "'build' is not defined (defined: build-and-push)" in issue.message


def test_type_template_needs_a_template_name(write, problem):
    path = write("c.yaml", CONFIG.replace("    templateName: build-and-push\n", ""))

    issue = problem(path, validate_plugins=False)

    assert (issue.file, issue.line, issue.field) == (str(path), 15, "apps[0].ci[0]")
    assert "`templateName` is required" in issue.message


def test_a_pipeline_template_defined_twice(write, problem):
    path = write("c.yaml", CONFIG + "- {name: build-and-push, type: gitlab-ci}\n")

    issue = problem(path, validate_plugins=False)

    assert (issue.file, issue.line, issue.field) == (str(path), 31, "pipelineTemplates[1].name")
    assert f"{path}:24" in issue.message


def test_a_missing_var_in_a_template_points_at_the_template_and_names_the_app(write, problem):
    path = write("c.yaml", CONFIG.replace("[[ tag ]]", "[[ version ]]"))

    issue = problem(path, validate_plugins=False)

    assert (issue.file, issue.line, issue.field) == (str(path), 28, "pipelineTemplates[0].options.image")
    assert "'version' is not defined" in issue.message
    assert f"app 'shop' at {path}:15" in issue.message


def test_a_pipeline_var_named_env_is_refused_naming_the_reserved_name(write, problem):
    path = write("c.yaml", CONFIG.replace("vars: {registry: ghcr.io/acme}",
                                          "vars: {registry: ghcr.io/acme, env: prod}"))

    issue = problem(path, validate_plugins=False)

    assert (issue.file, issue.line, issue.field) == (str(path), 17, "apps[0].ci[0].vars.env")
    assert "`env` is a reserved name" in issue.message


def test_app_mistakes_are_reported_with_their_lines(write, problems):
    path = write("c.yaml", """
        apps:
        - name: Shop_App
          spec: {language: python}
          repo: {owner: acme, name: shop, type: github}
          ci:
          - type: argocdapp
        """)

    issues = problems(path, validate_plugins=False)

    assert [(i.line, i.field) for i in issues] == [(3, "apps[0].spec.framework"), (4, "apps[0].repo.type")]
    assert "required field 'framework'" in issues[0].message
    assert "`scmType`" in issues[1].message  # DevStream's docs wrote `type`; the key is scmType


def test_bad_app_names_and_pipeline_types(write, problems):
    path = write("c.yaml", """
        apps:
        - name: Shop_App
          spec: {language: python, framework: flask}
          repo: {owner: acme, scmType: github}
          ci:
          - type: argocdapp
        """)

    issues = problems(path, validate_plugins=False)

    assert [(i.line, i.field) for i in issues] == [(2, "apps[0].name"), (6, "apps[0].ci[0].type")]
    assert "RFC 1123" in issues[0].message
    assert "ci type 'argocdapp' is not supported" in issues[1].message


def test_a_repo_that_cannot_be_told_is_an_error():
    with pytest.raises(ConfigError) as error:
        expand_apps([{"name": "x", "spec": {"language": "go", "framework": "gin"}, "repo": {"owner": "me"}}])

    [issue] = error.value.issues
    assert issue.field == "apps[0].repo.scmType"
    assert "github or gitlab" in issue.message


def test_generated_tools_have_their_options_checked_at_the_app(write, registry, problems):
    from options_only import OptionsOnlyPlugin

    class Scaffold(OptionsOnlyPlugin):
        name = "repo-scaffolding"  # Options: the strict empty default model, so every option is unknown

    registry.register(Scaffold)
    path = write("c.yaml", """
        apps:
        - name: shop
          spec: {language: python, framework: django}
          repo: {owner: acme, scmType: github}
          repoTemplate: {owner: acme, name: template, scmType: github}
        """)

    issues = problems(path)

    assert [(i.file, i.line, i.field) for i in issues] == [(str(path), 2, "apps[0]")] * 3
    assert "repo-scaffolding.shop (generated from this app): options.destinationRepo:" in issues[0].message
    assert "has no option 'destinationRepo'" in issues[0].message


def test_a_github_enterprise_url_gives_the_repo_its_server():
    (ci,) = expand_apps([{
        "name": "web", "spec": {"language": "go", "framework": "gin"},
        "repo": {"url": "https://github.example.com/team/web.git"},
        "ci": [{"type": "github-actions", "options": {"configLocation": "ci"}}],
    }])
    assert ci.options["scm"] == {"owner": "team", "name": "web", "branch": "main", "scmType": "github",
                                 "url": "https://github.example.com/team/web.git",
                                 "baseURL": "https://github.example.com"}  # its API: <baseURL>/api/v3


@pytest.mark.parametrize(("server", "url"), [
    ({"apiURL": "https://ghe.example.com/api/v3"}, "https://ghe.example.com/acme/template"),
    ({"baseURL": "https://ghe.example.com"}, "https://ghe.example.com/acme/template"),
    ({"apiURL": "https://api.acme.ghe.com"}, "https://acme.ghe.com/acme/template"),
    ({}, "https://github.com/acme/template"),
])
def test_a_github_template_named_by_owner_and_name_is_on_the_server_its_options_name(server, url):
    # Its token goes with the clone URL: an Enterprise template must never be looked for on github.com.
    scaffold, *_ = expand_apps([{
        "name": "web", "spec": {"language": "go", "framework": "gin"},
        "repo": {"owner": "acme", "scmType": "github", **server},
        "repoTemplate": {"owner": "acme", "name": "template", "scmType": "github", **server},
    }])
    assert scaffold.options["sourceRepo"]["url"] == url
