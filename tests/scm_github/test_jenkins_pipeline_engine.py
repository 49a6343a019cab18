"""jenkins-pipeline through the engine: `dtm apply`, `plan`, `drift` and `destroy` (the CLI's functions, real
Prefect flow runs, local state) on a tool and on an app whose CI is a jenkins-pipeline, against the Jenkins and
GitHub stand-ins."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml
from github_standin import GitHubStandIn
from github_testkit import TOKEN
from hosts import Hosts
from jenkins_standin import JenkinsStandIn

from devstream.cli import drift, run
from devstream.engine import Workspace
from devstream.executor import ClientFactory

pytestmark = pytest.mark.usefixtures("prefect_server")

PASSWORD = "jenkins-engine-token-2c4e"
JENKINS = "http://jenkins.example.com:8080"


@pytest.fixture
def jenkins(standin: GitHubStandIn, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> JenkinsStandIn:
    jenkins = JenkinsStandIn(url=JENKINS, password=PASSWORD)
    standin.add_repo("octo/shop", files={"README.md": b"# shop\n"})
    monkeypatch.setenv("GITHUB_TOKEN_FOR_DTM", TOKEN)
    monkeypatch.setenv("JENKINS_PASSWORD_FOR_DTM", PASSWORD)
    (tmp_path / "Jenkinsfile").write_text("pipeline { agent any; stages { stage('[[ AppName ]]') { steps { "
                                          "sh 'make' } } } }\n")
    return jenkins


@pytest.fixture
def engine_clients(standin: GitHubStandIn, jenkins: JenkinsStandIn) -> ClientFactory:
    """The engine's client factory: GitHub's and Jenkins' stand-ins behind one transport."""
    return Hosts({"api.github.com": standin.handler, jenkins.url.host: jenkins.handler}).client_factory()


def write(path: Path, doc: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump({"config": {"state": {"backend": "local"}}, **doc}, sort_keys=False))
    return path


def jenkins_task_runs(since: datetime) -> list[dict[str, object]]:
    with httpx.Client(base_url=os.environ["PREFECT_API_URL"], timeout=30) as api:
        found = api.post("/task_runs/filter", json={"task_runs": {"start_time": {"after_": since.isoformat()},
                                                                  "tags": {"all_": ["dtm-system-jenkins"]}}})
        found.raise_for_status()
        return list(found.json())


def test_apply_plan_drift_and_destroy(
        jenkins: JenkinsStandIn, engine_clients: ClientFactory, standin: GitHubStandIn, tmp_path: Path) -> None:
    started = datetime.now(UTC)
    config = write(tmp_path / "dtm.yaml", {"tools": [{"name": "jenkins-pipeline", "instanceID": "default", "options": {
        "jenkins": {"url": JENKINS, "user": "admin", "password": '[[ env "JENKINS_PASSWORD_FOR_DTM" ]]'},
        "scm": {"scmType": "github", "owner": "octo", "name": "shop", "token": '[[ env "GITHUB_TOKEN_FOR_DTM" ]]'},
        "pipeline": {"jobName": "jobs/test-job", "configLocation": "Jenkinsfile"}}}]})

    assert run.apply(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert "jobs/test-job" in jenkins.items and "Jenkinsfile" in standin.files("octo/shop")
    state = (tmp_path / "devstream.state").read_text()
    assert PASSWORD not in state and TOKEN not in state
    assert Workspace.open(config, client_factory=engine_clients).current_plan().empty
    assert drift.drift(config_path=config, client_factory=engine_clients) == 0
    assert {"create jenkins-pipeline.default"} <= {str(r["name"]) for r in jenkins_task_runs(started)}

    # The job edited in Jenkins' UI: drift, and apply rewrites it in place.
    job = jenkins.items["jobs/test-job"]
    job.builds = [1]
    job.config = job.config.replace(b"<disabled>false</disabled>", b"<disabled>true</disabled>")
    assert drift.drift(config_path=config, client_factory=engine_clients) == 2
    (change,) = Workspace.open(config, client_factory=engine_clients).current_plan().changes
    assert change.action == "update" and "job.configHash" in change.reason
    assert run.apply(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert b"<disabled>false</disabled>" in jenkins.items["jobs/test-job"].config
    assert jenkins.items["jobs/test-job"].builds == [1]
    assert Workspace.open(config, client_factory=engine_clients).current_plan().empty

    assert run.destroy(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert jenkins.items == {} and jenkins.credentials == {}
    assert "Jenkinsfile" not in standin.files("octo/shop") and standin.repo("octo/shop").hooks == {}


def test_an_app_with_a_jenkins_pipeline_ci(
        jenkins: JenkinsStandIn, engine_clients: ClientFactory, standin: GitHubStandIn, tmp_path: Path) -> None:
    """`apps` with `ci: [{type: jenkins-pipeline}]`, as DevStream's GitLab + Jenkins + Harbor use case wrote it
    (here on GitHub, and without the image registry, which needs Kubernetes): the job is named after the app."""
    config = write(tmp_path / "dtm.yaml", {
        "apps": [{"name": "shop", "spec": {"language": "java", "framework": "springboot"},
                  "repo": {"scmType": "github", "owner": "octo", "token": '[[ env "GITHUB_TOKEN_FOR_DTM" ]]'},
                  "ci": [{"type": "template", "templateName": "ci-pipeline"}]}],
        "pipelineTemplates": [{"name": "ci-pipeline", "type": "jenkins-pipeline", "options": {
            "branch": "main", "configLocation": "Jenkinsfile",
            "jenkins": {"url": JENKINS, "user": "admin", "enableRestart": True,
                        "password": '[[ env "JENKINS_PASSWORD_FOR_DTM" ]]'}}}],
    })
    assert run.apply(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert jenkins.items["shop"].kind == "job"
    assert b"stage('shop')" in standin.files("octo/shop")["Jenkinsfile"]
    assert Workspace.open(config, client_factory=engine_clients).current_plan().empty
    assert run.destroy(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert jenkins.items == {}
