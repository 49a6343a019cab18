"""DevStream v0.12.1's own flags, as its users typed them, through the installed `dtm`:
`show config -t/--template`, `list plugins --filter`, `show status -a/--all`, `completion SHELL`.
(`destroy --force` is in test_saved_plans.py, beside the other deletes.) Completion runs the console script
in a subprocess, as a shell does; the rest call dtm's real entry point in this process.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from dtm_cli import run_main, run_script


@pytest.fixture
def dtm(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """`dtm(*args, cwd=FOLDER, env=...)` in this process, as a CompletedProcess."""

    def call(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run_main(monkeypatch, capsys, *args, cwd=cwd, env=env)

    return call


@pytest.mark.parametrize(("template", "tools"), [
    ("quickstart", ["repo-scaffolding.golang-github", "github-actions.default"]),
    ("gitops", ["repo-scaffolding.myapp", "github-actions.flask", "helm-installer.argocd", "argocdapp.default"]),
    ("apps", ["helm-installer.argocd", "repo-scaffolding.myapp1", "github-actions.myapp1", "argocdapp.myapp1",
              "repo-scaffolding.myapp2", "github-actions.myapp2", "argocdapp.myapp2"]),
])
def test_each_template_config_validates_as_printed(dtm, template: str, tools: list[str], tmp_path: Path) -> None:
    shown = dtm("show", "config", "--template", template, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert dtm("show", "config", "-t", template, cwd=tmp_path).stdout == shown.stdout
    (tmp_path / "config.yaml").write_text(shown.stdout)

    checked = dtm("validate", "--json", cwd=tmp_path,
                  env={"GITHUB_TOKEN": "ghp_sample", "IMAGE_REPO_PASSWORD": "sample"})

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert sorted(t["key"] for t in json.loads(checked.stdout)["tools"]) == sorted(tools)


def test_an_unknown_template_names_the_ones_there_are(dtm, tmp_path: Path) -> None:
    result = dtm("show", "config", "-t", "gitlab", cwd=tmp_path)
    assert result.returncode == 1
    assert "no template config named 'gitlab'" in result.stderr and "quickstart, gitops, apps" in result.stderr


def test_list_plugins_filter_is_the_regex_flag(dtm, tmp_path: Path) -> None:
    by_filter = dtm("list", "plugins", "--filter", "^git", cwd=tmp_path)
    assert by_filter.returncode == 0
    assert "github-actions" in by_filter.stdout and "gitlab-ci" in by_filter.stdout
    assert "noop" not in by_filter.stdout and "repo-scaffolding" not in by_filter.stdout
    assert dtm("list", "plugins", "-r", "^git", cwd=tmp_path).stdout == by_filter.stdout

    broken = dtm("list", "plugins", "--filter", "(", cwd=tmp_path)
    assert broken.returncode == 1 and "is not a regular expression" in broken.stderr


def test_show_status_all_shows_every_resource(dtm, tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"config": {"state": {"backend": "local"}}, "tools": [
        {"name": "noop", "instanceID": "one"}, {"name": "noop", "instanceID": "two"}]}))
    # A state as a previous apply left it (noop's resource is its record, so the reads find both in sync).
    (tmp_path / "devstream.state").write_text(yaml.safe_dump({
        f"noop_{i}": {"name": "noop", "instanceID": i, "dependsOn": [], "options": {},
                      "resourceStatus": {"outputs": {}, "triggers": {}}} for i in ("one", "two")}))

    every = dtm("show", "status", "--all", "--json", cwd=tmp_path)
    assert every.returncode == 0, every.stderr
    assert [r["key"] for r in json.loads(every.stdout)] == ["noop.one", "noop.two"]
    assert dtm("show", "status", "-a", "--json", cwd=tmp_path).stdout == every.stdout

    both = dtm("show", "status", "-a", "-i", "one", cwd=tmp_path)
    assert both.returncode == 2 and "--all shows every resource" in both.stderr


def test_completion_prints_each_shells_script_and_the_bash_one_completes(dtm, tmp_path: Path) -> None:
    for shell in ("zsh", "fish", "powershell"):
        result = dtm("completion", shell, cwd=tmp_path)
        assert result.returncode == 0 and "_DTM_COMPLETE" in result.stdout, (shell, result.stderr)
    unknown = dtm("completion", "tcsh", cwd=tmp_path)
    assert unknown.returncode == 2 and "tcsh" in unknown.stderr

    script = run_script("completion", "bash", cwd=tmp_path).stdout
    assert "complete -o default -F _dtm_completion dtm" in script
    # What the script asks dtm when a user types `dtm show <TAB>`.
    asked = run_script(cwd=tmp_path, env={"_DTM_COMPLETE": "complete_bash", "COMP_WORDS": "dtm show ",
                                          "COMP_CWORD": "2"})
    assert sorted(asked.stdout.split()) == ["config", "status"]
