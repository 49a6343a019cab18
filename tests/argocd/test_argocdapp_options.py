"""argocdapp's options are DevStream's: its documented configs validate unchanged through `dtm validate`, the
Application they describe is DevStream's manifest, and bad input is refused at load time, naming the file,
the line and the field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from devstream.plugins.argocdapp import ArgocdAppOptions, ArgocdAppPlugin
from devstream.plugins.argocdapp.application import manifest

DTM = str(Path(sys.executable).with_name("dtm"))

# DevStream v0.12.1's examples/gitops.yaml, as written there.
GITOPS = """
config:
  state:
    backend: local
    options:
      stateFile: devstream.state
vars:
  githubUser: GITHUB_USER
  dockerUser: DOCKERHUB_USER
  app: helloworld

tools:
- name: repo-scaffolding
  instanceID: myapp
  options:
    destinationRepo:
      owner: [[ githubUser ]]
      name: [[ app ]]
      branch: main
      scmType: github
      token: [[ env GITHUB_TOKEN ]]
    sourceRepo:
      org: devstream-io
      name: dtm-repo-scaffolding-python-flask
      scmType: github
- name: github-actions
  instanceID: flask
  dependsOn: [ repo-scaffolding.myapp ]
  options:
    scm:
      owner: [[ githubUser ]]
      name:  [[ app ]]
      scmType: github
      token: [[ env GITHUB_TOKEN ]]
    pipeline:
      configLocation: https://raw.githubusercontent.com/devstream-io/dtm-pipeline-templates/main/github-actions/workflows/main.yml
      language:
        name: python
        framework: flask
      imageRepo:
        user: [[ dockerUser ]]
        password: [[ env IMAGE_REPO_PASSWORD ]]
- name: helm-installer
  instanceID: argocd
- name: argocdapp
  instanceID: default
  dependsOn: [ "helm-installer.argocd", "github-actions.flask" ]
  options:
    app:
      name: [[ app ]]
      namespace: argocd
    destination:
      server: https://kubernetes.default.svc
      namespace: default
    source:
      valuefile: values.yaml
      path: helm/[[ app ]]
      repoURL: ${{repo-scaffolding.myapp.outputs.repoURL}}
      token: [[ env GITHUB_TOKEN ]]
    imageRepo:
      user: [[ dockerUser ]]
"""

# DevStream v0.12.1's examples/apps.yaml: two apps with `cd: argocdapp`.
APPS = """
vars:
  GITHUB_USER: YOUR_GITHUB_USER
  DOCKERHUB_USER: YOUR_DOCKERHUB_USER

tools:
- name: helm-installer
  instanceID: argocd

apps:
- name: myapp1
  spec:
    language: python
    framework: django
  repo:
    url: github.com/[[ GITHUB_USER ]]/myapp1
    token: [[ env GITHUB_TOKEN ]]
  repoTemplate:
    url: github.com/devstream-io/dtm-repo-scaffolding-python-flask
  ci:
  - type: github-actions
    options:
      imageRepo:
        user: [[ DOCKERHUB_USER ]]
        password: [[ env IMAGE_REPO_PASSWORD ]]
  cd:
  - type: argocdapp
- name: myapp2
  spec:
    language: golang
    framework: gin
  repo:
    url: github.com/[[ GITHUB_USER ]]/myapp2
    token: [[ env GITHUB_TOKEN ]]
  repoTemplate:
    url: github.com/devstream-io/dtm-repo-scaffolding-golang-gin
  ci:
  - type: github-actions
    options:
      imageRepo:
        user: [[ DOCKERHUB_USER ]]
        password: [[ env IMAGE_REPO_PASSWORD ]]
  cd:
  - type: argocdapp
"""

# The options of `dtm show config -p argocdapp` (internal/pkg/show/config/plugins/argocdapp.yaml, its placeholder
# dependsOn left out) and of docs/plugins/argocdapp.md, whose imageRepo spells the tag `tag`.
DOCUMENTED = """
tools:
- name: argocdapp
  instanceID: default
  options:
    app:
      name: hello
      namespace: argocd
    destination:
      server: https://kubernetes.default.svc
      namespace: default
    source:
      valuefile: values.yaml
      path: charts/go-hello-http
      repoURL: YOUR_CHART_REPO_URL
      repoBranch: YOUR_CHART_REPO_BRANCH
    imageRepo:
      url: IMAGE_REPO_ADDRESS
      user: IMAGE_REPO_OWNER
      initalTag: IMAGE_REPO_TAG
- name: argocdapp
  instanceID: docs
  options:
    app:
      name: hello
      namespace: argocd
    destination:
      server: https://kubernetes.default.svc
      namespace: default
    source:
      valuefile: values.yaml
      path: charts/go-hello-http
      repoURL: https://github.com/devstream-io/testrepo.git
    imageRepo:
      url: http://test.barbor.com/library
      user: test_owner
      tag: "1.0.0"
"""


def dtm(*args: object) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "GITHUB_TOKEN": "ghp_x", "IMAGE_REPO_PASSWORD": "pw", "COLUMNS": "200"}
    return subprocess.run([DTM, *map(str, args)], capture_output=True, text=True, timeout=120, env=env)


def test_devstreams_configs_validate_unchanged(tmp_path: Path) -> None:
    for name, text in (("gitops.yaml", GITOPS), ("apps.yaml", APPS), ("documented.yaml", DOCUMENTED)):
        config = tmp_path / name
        config.write_text(text)
        done = dtm("validate", "-f", config)
        assert done.returncode == 0, f"{name}: {done.stdout}{done.stderr}"
        assert "The config is valid" in done.stdout


def test_the_application_is_devstreams_manifest() -> None:
    options = ArgocdAppOptions.model_validate({
        "app": {"name": "hello"},
        "source": {"path": "charts/go-hello-http", "repoURL": "https://github.com/devstream-io/testrepo.git"},
        "imageRepo": {"user": "test_owner", "tag": "1.0.0"}})

    assert options.imageRepo is not None and options.imageRepo.initalTag == "1.0.0"  # `tag` is initalTag
    assert manifest(options) == {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "hello", "namespace": "argocd", "labels": {"app.kubernetes.io/managed-by": "dtm"},
                     "finalizers": ["resources-finalizer.argocd.argoproj.io"]},
        "spec": {
            "project": "default",
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
            "source": {"repoURL": "https://github.com/devstream-io/testrepo.git", "path": "charts/go-hello-http",
                       "targetRevision": "HEAD", "helm": {"valueFiles": ["values.yaml"]}},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
    }
    # cascade decides the finalizer: background is Argo CD's background one, none puts none.
    background = options.model_copy(update={"cascade": "background"})
    assert manifest(background)["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io/background"]
    assert "finalizers" not in manifest(options.model_copy(update={"cascade": "none"}))["metadata"]


def test_the_plugin_calls_kubernetes_and_the_charts_system() -> None:
    plugin = ArgocdAppPlugin()
    github = {"source": {"repoURL": "https://github.com/acme/shop", "path": "helm/shop"}}
    assert plugin.systems(github) == {"kubernetes", "github"}
    unresolved = {"source": {"repoURL": "${{ repo-scaffolding.shop.outputs.repoURL }}", "scmType": "gitlab"}}
    assert plugin.systems(unresolved) == {"kubernetes", "gitlab"}


def test_bad_options_are_refused_at_load_naming_file_line_and_field(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("tools:\n- name: argocdapp\n  instanceID: shop\n  options:\n    app:\n      name: Shop_App\n"
                      "    source:\n      repoURL: https://github.com/acme/shop\n      path: ../outside\n"
                      "    cascade: sometimes\n")

    done = dtm("validate", "-f", config)

    assert done.returncode == 1
    message = " ".join(done.stderr.split())
    assert f"{config}:6" in message and "app.name" in message and "RFC 1123" in message
    assert f"{config}:9" in message and "source.path" in message
    assert f"{config}:10" in message and "cascade" in message
