"""`dtm show config -t NAME`: DevStream's template configs (quickstart, gitops, apps), in dtm's plugins.

They are DevStream v0.12.1's own samples, kept as its users know them, and each validates as printed (with
GITHUB_TOKEN and IMAGE_REPO_PASSWORD set).
"""

from __future__ import annotations

from devstream.errors import DtmError

__all__ = ["TEMPLATES", "template"]

_STATE = """\
config:
  state: # where dtm keeps what it made: local (this file), prefect (the default) or s3
    backend: local
    options:
      stateFile: devstream.state
"""

QUICKSTART = _STATE + """
vars:
  RepoOwner: YOUR_GITHUB_USERNAME_CASE_SENSITIVE
  ImageRepoUser: YOUR_DOCKER_USERNAME

tools:
- name: repo-scaffolding
  instanceID: golang-github
  options:
    destinationRepo:
      owner: [[ RepoOwner ]]
      name: go-webapp-devstream-demo
      branch: main
      scmType: github
      token: [[ env GITHUB_TOKEN ]]
    sourceRepo:
      org: devstream-io
      name: dtm-repo-scaffolding-golang-gin
      scmType: github
- name: github-actions
  instanceID: default
  dependsOn: ["repo-scaffolding.golang-github"]
  options:
    scm:
      owner: [[ RepoOwner ]]
      name: go-webapp-devstream-demo
      branch: main
      scmType: github
      token: [[ env GITHUB_TOKEN ]]
    pipeline:
      configLocation: https://raw.githubusercontent.com/devstream-io/dtm-pipeline-templates/main/github-actions/workflows/main.yml
      language:
        name: go
        framework: gin
      imageRepo:
        user: [[ ImageRepoUser ]]
        password: [[ env IMAGE_REPO_PASSWORD ]]
"""

GITOPS = _STATE + """
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
# Argo CD, installed by Helm into the cluster of your kubeconfig (instanceID argocd picks its chart).
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

APPS = _STATE + """
vars:
  GITHUB_USER: YOUR_GITHUB_USER
  DOCKERHUB_USER: YOUR_DOCKERHUB_USER

tools:
- name: helm-installer
  instanceID: argocd

# Each app: a repository scaffolded from a template, its CI pipeline, and its Argo CD application.
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

TEMPLATES: dict[str, str] = {"quickstart": QUICKSTART, "gitops": GITOPS, "apps": APPS}


def template(name: str) -> str:
    """The template config `name`; an unknown name is refused with the names there are."""
    try:
        return TEMPLATES[name]
    except KeyError:
        raise DtmError(f"no template config named {name!r}; the templates are {', '.join(TEMPLATES)} "
                       f"(dtm show config -t quickstart)") from None
