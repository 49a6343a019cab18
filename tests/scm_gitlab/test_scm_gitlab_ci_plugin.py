"""The gitlab-ci plugin against the stand-in: create, read, drift, update, delete, and its options. A tool moved
to another project, branch or GitLab: test_scm_gitlab_ci_moves.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from gitlab_ci_samples import RENDERED, TOKEN, options
from gitlab_standin import GitLabStandIn
from pydantic import ValidationError

from devstream.errors import PermanentError, TransientError
from devstream.plugin.base import PluginContext
from devstream.plugin.registry import default_registry
from devstream.plugins.gitlab_ci import GitLabCIOptions, GitLabCIPlugin
from devstream.plugins.scm.base import git_blob_sha

PLUGIN = GitLabCIPlugin()


def test_it_is_registered_under_its_name() -> None:
    assert isinstance(default_registry().get("gitlab-ci"), GitLabCIPlugin)


def test_create_commits_the_rendered_file_sets_the_variables_and_read_agrees(
        gitlab: GitLabStandIn, ctx: PluginContext, project: str) -> None:
    opts = options()

    status = PLUGIN.create(opts, ctx)

    assert gitlab.file(project, ".gitlab-ci.yml", "master") == RENDERED
    assert gitlab.project(project).commits == 2  # the initial one and ours
    sha = git_blob_sha(RENDERED)
    names = ["DEPLOY_TOKEN", "IMAGE_REPO_PASSWORD", "IMAGE_REPO_USER", "PIN"]
    assert status == {"gitlab": "https://gitlab.com", "project": "acme/web", "branch": "master",
                      "files": {".gitlab-ci.yml": sha}, "rendered": {".gitlab-ci.yml": sha},
                      "variables": names, "outputs": {"ciFile": ".gitlab-ci.yml"}}
    values = {n: gitlab.variable(project, n) for n in names}
    assert {n: v["value"] for n, v in values.items() if v} == {
        "DEPLOY_TOKEN": "deploy-token-abcdef", "IMAGE_REPO_PASSWORD": "Registry-Pass-123",
        "IMAGE_REPO_USER": "robot", "PIN": "1234"}
    assert {n: v["masked"] for n, v in values.items() if v} == {
        "DEPLOY_TOKEN": True, "IMAGE_REPO_PASSWORD": True, "IMAGE_REPO_USER": False, "PIN": False}
    assert {v["description"] for v in values.values() if v} == {"Managed by dtm (gitlab-ci.web)."}
    assert PLUGIN.read(opts, ctx) == status
    assert PLUGIN.output_keys(opts) == set(status["outputs"])


def test_an_empty_project_gets_its_branch_from_the_first_commit(gitlab: GitLabStandIn, ctx: PluginContext) -> None:
    gitlab.add_project("acme/web")

    status = PLUGIN.create(options(), ctx)

    assert gitlab.project("acme/web").default_branch == "master"
    assert PLUGIN.read(options(), ctx) == status


def test_a_hand_edit_is_drift_and_update_puts_the_file_back(gitlab: GitLabStandIn, ctx: PluginContext,
                                                            project: str) -> None:
    opts = options()
    created = PLUGIN.create(opts, ctx)

    gitlab.edit(project, ".gitlab-ci.yml", b"stages: [yolo]\n", "master")
    drifted = PLUGIN.read(opts, ctx)

    assert drifted is not None and drifted != created
    assert drifted["files"] == {".gitlab-ci.yml": git_blob_sha(b"stages: [yolo]\n")}
    assert drifted["rendered"] == created["rendered"]

    assert PLUGIN.update(opts, ctx) == created
    assert gitlab.file(project, ".gitlab-ci.yml", "master") == RENDERED
    assert PLUGIN.read(opts, ctx) == created


def test_a_deleted_file_or_variable_is_drift(gitlab: GitLabStandIn, ctx: PluginContext, project: str) -> None:
    opts = options()
    created = PLUGIN.create(opts, ctx)

    gitlab.edit(project, ".gitlab-ci.yml", None, "master")
    gitlab.project(project).variables = [v for v in gitlab.project(project).variables if v["key"] != "PIN"]

    drifted = PLUGIN.read(opts, ctx)
    assert drifted is not None
    assert drifted["files"] == {}
    assert drifted["variables"] == ["DEPLOY_TOKEN", "IMAGE_REPO_PASSWORD", "IMAGE_REPO_USER"]
    assert PLUGIN.update(opts, ctx) == created
    assert PLUGIN.read(opts, ctx) == created


def test_an_edited_template_file_shows_as_a_change(gitlab: GitLabStandIn, ctx: PluginContext, project: str,
                                                   tmp_path: Path) -> None:
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / ".gitlab-ci.yml").write_text("test: {script: [make]}\n")
    opts = options(configContents=None, configLocation="ci/.gitlab-ci.yml")
    created = PLUGIN.create(opts, ctx)

    (tmp_path / "ci" / ".gitlab-ci.yml").write_text("test: {script: [make check]}\n")
    changed = PLUGIN.read(opts, ctx)

    assert changed is not None and changed["files"] == created["files"]
    assert changed["rendered"] == {".gitlab-ci.yml": git_blob_sha(b"test: {script: [make check]}\n")}
    PLUGIN.update(opts, ctx)
    assert gitlab.file(project, ".gitlab-ci.yml", "master") == b"test: {script: [make check]}\n"


def test_a_template_that_cannot_be_had_at_read_time_compares_the_project_only(
        ctx: PluginContext, project: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "ci.yml").write_text("test: {script: [make]}\n")
    opts = options(configContents=None, configLocation="ci.yml")
    created = PLUGIN.create(opts, ctx)
    (tmp_path / "ci.yml").unlink()

    assert PLUGIN.read(opts, ctx) == created
    assert "cannot render the CI file to compare" in caplog.text


def test_update_with_the_same_options_makes_no_commit(gitlab: GitLabStandIn, ctx: PluginContext,
                                                      project: str) -> None:
    PLUGIN.create(options(), ctx)
    commits = gitlab.project(project).commits

    PLUGIN.update(options(), ctx)

    assert gitlab.project(project).commits == commits


def test_a_variable_dropped_from_the_config_is_removed_and_others_are_left_alone(
        gitlab: GitLabStandIn, ctx: PluginContext, project: str) -> None:
    gitlab.project(project).variables.append({"key": "HAND_MADE", "value": "x", "environment_scope": "*",
                                              "masked": False, "protected": False, "description": None})
    PLUGIN.create(options(), ctx)

    status = PLUGIN.update(options(variables={"DEPLOY_TOKEN": "deploy-token-abcdef"}), ctx)

    assert status["variables"] == ["DEPLOY_TOKEN", "IMAGE_REPO_PASSWORD", "IMAGE_REPO_USER"]
    assert sorted(v["key"] for v in gitlab.project(project).variables) == [
        "DEPLOY_TOKEN", "HAND_MADE", "IMAGE_REPO_PASSWORD", "IMAGE_REPO_USER"]


def test_delete_removes_the_file_in_one_commit_and_our_variables(gitlab: GitLabStandIn, ctx: PluginContext,
                                                                 project: str) -> None:
    gitlab.project(project).variables.append({"key": "HAND_MADE", "value": "x", "environment_scope": "*",
                                              "masked": False, "protected": False, "description": None})
    PLUGIN.create(options(), ctx)
    commits = gitlab.project(project).commits

    PLUGIN.delete(options(), ctx)

    assert gitlab.file(project, ".gitlab-ci.yml", "master") is None
    assert gitlab.file(project, "main.go", "master") == b"package main\n"
    assert gitlab.project(project).commits == commits + 1
    assert [v["key"] for v in gitlab.project(project).variables] == ["HAND_MADE"]
    assert PLUGIN.read(options(), ctx) is None  # neither the file nor a variable is left: the resource is gone

    PLUGIN.delete(options(), ctx)  # twice: nothing left to do, no commit, no error
    assert gitlab.project(project).commits == commits + 1


def test_a_ci_file_from_a_source_of_another_name_replaces_the_one_file(gitlab: GitLabStandIn, ctx: PluginContext,
                                                                       project: str) -> None:
    PLUGIN.create(options(), ctx)

    PLUGIN.update(options(configContents={"pipeline.yml": "a: 1\n"}), ctx)

    # Whatever the source is called, the project holds one CI file, so nothing is left behind.
    assert gitlab.project(project).branches["master"].files == {"main.go": b"package main\n",
                                                                ".gitlab-ci.yml": b"a: 1\n"}


def test_delete_removes_the_variables_earlier_applies_set_even_when_the_options_dropped_them(
        gitlab: GitLabStandIn, ctx: PluginContext, project: str) -> None:
    gitlab.project(project).variables.append({"key": "HAND_MADE", "value": "x", "environment_scope": "*",
                                              "masked": False, "protected": False, "description": None})
    PLUGIN.create(options(), ctx)

    # The config lost its variables and imageRepo without an apply; then the tool is deleted.
    PLUGIN.delete(options(variables={}, imageRepo=None), ctx)

    assert [v["key"] for v in gitlab.project(project).variables] == ["HAND_MADE"]


def test_a_deleted_project_reads_as_none_and_delete_is_fine(gitlab: GitLabStandIn, ctx: PluginContext,
                                                            project: str) -> None:
    PLUGIN.create(options(), ctx)
    del gitlab.projects[project]

    assert PLUGIN.read(options(), ctx) is None
    PLUGIN.delete(options(), ctx)


def test_create_on_a_missing_project_says_to_create_the_project(ctx: PluginContext) -> None:
    with pytest.raises(PermanentError, match="acme/web: the project does not exist"):
        PLUGIN.create(options(), ctx)


def test_of_several_files_the_one_named_gitlab_ci_is_committed(gitlab: GitLabStandIn, ctx: PluginContext,
                                                               project: str) -> None:
    opts = options(configContents={"README.md": "# ci\n", ".gitlab-ci.yml": "a: 1\n", "x/.gitlab-ci.yml": "b\n"})

    PLUGIN.create(opts, ctx)

    assert gitlab.file(project, ".gitlab-ci.yml", "master") == b"a: 1\n"
    assert gitlab.file(project, "README.md", "master") is None


def test_a_single_file_of_another_name_is_committed_as_gitlab_ci(gitlab: GitLabStandIn, ctx: PluginContext,
                                                                 project: str) -> None:
    PLUGIN.create(options(configContents={"pipeline.yml": "a: 1\n"}), ctx)

    assert gitlab.file(project, ".gitlab-ci.yml", "master") == b"a: 1\n"


def test_several_files_without_a_gitlab_ci_file_are_refused(ctx: PluginContext, project: str) -> None:
    with pytest.raises(PermanentError, match="none is named .gitlab-ci.yml"):
        PLUGIN.create(options(configContents={"a.yml": "a", "b.yml": "b"}), ctx)


def test_secrets_are_not_rendered_into_the_file(gitlab: GitLabStandIn, ctx: PluginContext, project: str) -> None:
    opts = options(configContents={".gitlab-ci.yml": "pw: [[ imageRepo.password ]]\n"})

    with pytest.raises(PermanentError, match="cannot render"):
        PLUGIN.create(opts, ctx)
    assert gitlab.file(project, ".gitlab-ci.yml", "master") is None


def test_devstreams_step_options_become_variables(gitlab: GitLabStandIn, ctx: PluginContext, project: str) -> None:
    opts = options(
        variables={}, imageRepo=None, configContents={".gitlab-ci.yml": "sonar: $[[ SonarqubeSecretKey ]]\n"},
        sonarqube={"name": "sonar", "url": "https://sonar.example.com", "token": "sonar-token-1234"},
        dingTalk={"name": "bot", "webhook": "https://oapi.dingtalk.com/robot/send?access_token=ding-token-5678",
                  "securityType": "SECRET", "securityValue": "SECdingsecret99"},
        language={"name": "golang", "version": "1.22"}, test={"enable": True},
    )

    status = PLUGIN.create(opts, ctx)

    assert status["variables"] == ["DINGTALK_SECURITY_TOKEN", "DINGTALK_SECURITY_VALUE", "SONAR_SECRET_TOKEN"]
    token = gitlab.variable(project, "DINGTALK_SECURITY_TOKEN")
    assert token is not None and token["value"] == "ding-token-5678"
    assert gitlab.file(project, ".gitlab-ci.yml", "master") == b"sonar: $SONAR_SECRET_TOKEN\n"


def test_a_runner_is_installed_on_kubernetes_so_an_unreachable_cluster_is_a_transient_failure(
        ctx: PluginContext, project: str, gitlab: GitLabStandIn, kube_binaries: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """runner.enable installs the GitLab Runner chart with helm (tests/helm covers it on a cluster); with no cluster
    answering, the change fails as retryable, before the project's registration token is reset."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "down",
        "clusters": [{"name": "down", "cluster": {"server": "http://127.0.0.1:9"}}],
        "users": [{"name": "down", "user": {"token": "t"}}],
        "contexts": [{"name": "down", "context": {"cluster": "down", "user": "down"}}]}))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("DTM_HELM", str(kube_binaries.helm))
    monkeypatch.setenv("DTM_HELM_HOME", str(tmp_path / "helm"))
    raw = options().model_dump(mode="python")
    raw["scm"]["token"] = TOKEN
    raw["pipeline"] = {"configContents": {".gitlab-ci.yml": "a: 1\n"}, "runner": {"enable": True}}
    opts = GitLabCIOptions.model_validate(raw)
    token = gitlab.project(project).runners_token

    with pytest.raises(TransientError, match="connection refused"):
        PLUGIN.create(opts, ctx)

    assert gitlab.project(project).runners_token == token
    assert PLUGIN.systems(raw) == {"gitlab", "kubernetes"}


# -- options --------------------------------------------------------------------------------------------------

def raw_options(**pipeline: Any) -> dict[str, Any]:
    return {"scm": {"scmType": "gitlab", "org": "acme", "name": "web"}, "pipeline": pipeline}


def test_a_github_repository_is_refused_at_load_time() -> None:
    raw = raw_options(configContents={"a": "b"})
    raw["scm"]["scmType"] = "github"
    with pytest.raises(ValidationError, match="gitlab-ci works on GitLab projects only"):
        GitLabCIOptions.model_validate(raw)


def test_exactly_one_ci_file_source_and_devstreams_template_when_none_is_given() -> None:
    with pytest.raises(ValidationError, match="exactly one of configLocation"):
        GitLabCIOptions.model_validate(raw_options(configLocation="ci.yml", configContents={"a": "b"}))
    assert GitLabCIOptions.model_validate(raw_options()).pipeline.configLocation == (
        "https://raw.githubusercontent.com/devstream-io/dtm-pipeline-templates/main/gitlab-ci/.gitlab-ci.yml")


def test_inline_contents_win_over_the_template_url_apps_fill_in() -> None:
    default = "https://raw.githubusercontent.com/devstream-io/dtm-pipeline-templates/main/gitlab-ci/.gitlab-ci.yml"
    opts = GitLabCIOptions.model_validate(raw_options(configLocation=default, configContents={"a": "b"}))
    assert opts.pipeline.configLocation is None


def test_bad_variable_names_and_unknown_keys_fail_at_load_time() -> None:
    with pytest.raises(ValidationError, match="letters, digits and _"):
        GitLabCIOptions.model_validate(raw_options(configContents={"a": "b"}, variables={"MY-VAR": "x"}))
    with pytest.raises(ValidationError, match="configLocaton"):
        GitLabCIOptions.model_validate(raw_options(configContents={"a": "b"}, configLocaton="x"))


def test_devstreams_app_shaped_options_validate() -> None:
    # What apps expansion generates for a gitlab-ci pipeline (runner lifted to the top level, too).
    raw = {
        "pipeline": {"configLocation": "https://example.com/.gitlab-ci.yml",
                     "language": {"name": "python", "framework": "flask"},
                     "imageRepo": {"url": "http://harbor.example.com:80", "user": "admin", "password": "x"},
                     "runner": {"enable": True}},
        "scm": {"owner": "alice", "name": "web", "branch": "master", "scmType": "gitlab",
                "url": "https://git.example.internal/alice/web.git", "baseURL": "https://git.example.internal",
                "token": "t"},
        "runner": {"enable": True},
    }
    opts = GitLabCIOptions.model_validate(raw)
    assert opts.pipeline.imageRepo is not None and opts.pipeline.imageRepo.password is not None
    assert opts.pipeline.imageRepo.password.get_secret_value() == "x"


def test_every_option_field_is_described() -> None:
    from pydantic import BaseModel

    def fields(model: type[BaseModel]) -> list[tuple[str, str | None]]:
        return [(f"{model.__name__}.{name}", info.description) for name, info in model.model_fields.items()]

    from devstream.plugins.gitlab_ci import plugin as module

    models: list[type[BaseModel]] = [module.GitLabCIOptions, module.PipelineOptions, module.ImageRepoOptions,
                                     module.SonarQubeOptions, module.DingTalkOptions, module.RunnerOptions,
                                     module.LanguageOptions]
    undescribed = [name for model in models for name, text in fields(model) if not text or not text.endswith(".")]
    assert undescribed == []
