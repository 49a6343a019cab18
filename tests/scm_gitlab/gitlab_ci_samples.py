"""gitlab-ci options of the GitLab tests: a CI template with DevStream's step variables, and what it renders to."""

from __future__ import annotations

from typing import Any

from devstream.plugins.gitlab_ci import GitLabCIOptions

TOKEN = "glpat-standin-0123456789"
TEMPLATE = """\
stages: [test, build]
test:
  image: [[ image ]]
  script: [make test]
build:
  script:
    - docker login -u "$[[ ImageRepoUser ]]" -p "$[[ ImageRepoSecret ]]" [[ imageRepo.url ]]
    - docker build -t [[ imageRepo.url ]]/[[ AppName ]]:$CI_COMMIT_SHORT_SHA .
"""
RENDERED = b"""\
stages: [test, build]
test:
  image: golang:1.22
  script: [make test]
build:
  script:
    - docker login -u "$IMAGE_REPO_USER" -p "$IMAGE_REPO_PASSWORD" registry.example.com
    - docker build -t registry.example.com/web:$CI_COMMIT_SHORT_SHA .
"""


def options(**pipeline: Any) -> GitLabCIOptions:
    fields: dict[str, Any] = {
        "configContents": {".gitlab-ci.yml": TEMPLATE},
        "vars": {"image": "golang:1.22"},
        "imageRepo": {"url": "registry.example.com", "user": "robot", "password": "Registry-Pass-123"},
        "variables": {"DEPLOY_TOKEN": "deploy-token-abcdef", "PIN": "1234"},
    }
    raw = {"scm": {"scmType": "gitlab", "org": "acme", "name": "web", "branch": "master", "token": TOKEN},
           "pipeline": fields | pipeline}
    return GitLabCIOptions.model_validate(raw)
