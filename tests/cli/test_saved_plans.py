"""Saved plans and exclusions, through the installed `dtm`: `dtm plan -o PLANFILE` then `dtm apply PLANFILE`
makes exactly the changes reviewed, or refuses when the config or the state moved since; `--exclude KEY`
leaves a tool out of plan, apply, delete and destroy, with whatever needs it, and says so.

Tools are noop ones (their resource is dtm's record) in a local state file; apply runs on the test
Prefect server. One apply runs the console script in a subprocess; the others call dtm's real entry point
in this process (the same code, without a Prefect import per command).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from dtm_cli import run_main, run_script

pytestmark = pytest.mark.usefixtures("prefect_server")

TOKEN = "ghp_savedPlanTokenNeverInClear0001"




@pytest.fixture
def dtm(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """`dtm(*args, cwd=FOLDER, env=...)` in this process, as a CompletedProcess."""

    def call(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run_main(monkeypatch, capsys, *args, cwd=cwd, env=env)

    return call


def write_config(folder: Path, *tools: dict) -> Path:
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump({"config": {"state": {"backend": "local"}}, "tools": list(tools)},
                                   sort_keys=False))
    return path


def noop(instance: str, *depends: str, **triggers: str) -> dict:
    return {"name": "noop", "instanceID": instance, "dependsOn": list(depends), "options": {"triggers": triggers}}


def in_state(folder: Path) -> set[str]:
    state = folder / "devstream.state"
    return set(yaml.safe_load(state.read_text()) or {}) if state.exists() else set()


def test_apply_planfile_makes_exactly_the_saved_plan_and_refuses_a_stale_one(dtm, tmp_path: Path) -> None:
    config = write_config(tmp_path, noop("base"), noop("web", "noop.base"), noop("docs"))

    # Two plans of the same empty state; the first leaves `docs` out.
    made = dtm("plan", "-f", str(config), "--exclude", "noop.docs", "-o", "first.plan", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "Saved the plan to first.plan" in made.stderr
    assert dtm("plan", "-f", str(config), "-o", "second.plan", cwd=tmp_path).returncode == 0

    # Applying a file needs neither -f (the plan names its config) nor -y (the plan was the review).
    applied = run_script("apply", "first.plan", "--json", cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert sorted(r["key"] for r in json.loads(applied.stdout)["results"]) == ["noop.base", "noop.web"]
    assert in_state(tmp_path) == {"noop_base", "noop_web"}  # exactly the plan: docs still waits

    # The second plan was made before the first was applied: its world is gone.
    stale = dtm("apply", "second.plan", cwd=tmp_path)
    assert stale.returncode == 1
    assert "the state" in stale.stderr and "changed since this plan was made" in stale.stderr
    assert "dtm plan -f" in stale.stderr  # what to do instead
    assert in_state(tmp_path) == {"noop_base", "noop_web"}

    # A plan made now, then a config edited before it is applied: refused too, nothing written.
    assert dtm("plan", "-f", str(config), "-o", "third.plan", cwd=tmp_path).returncode == 0
    write_config(tmp_path, noop("base"), noop("web", "noop.base"), noop("docs", v="2"))
    edited = dtm("apply", "third.plan", cwd=tmp_path)
    assert edited.returncode == 1 and "the config" in edited.stderr and "changed since" in edited.stderr
    assert in_state(tmp_path) == {"noop_base", "noop_web"}

    # A plan file changed by hand is not the plan that was reviewed.
    assert dtm("plan", "-f", str(config), "-o", "fourth.plan", cwd=tmp_path).returncode == 0
    data = json.loads((tmp_path / "fourth.plan").read_text())
    data["plan"]["changes"][0]["key"] = "noop.base"
    (tmp_path / "fourth.plan").write_text(json.dumps(data))
    tampered = dtm("apply", "fourth.plan", cwd=tmp_path)
    assert tampered.returncode == 1 and "changed after `dtm plan -o` wrote it" in tampered.stderr

    not_a_plan = dtm("apply", "config.yaml", "-f", str(config), cwd=tmp_path)
    assert not_a_plan.returncode == 1 and "not a plan saved by `dtm plan -o`" in not_a_plan.stderr


def test_a_saved_plan_holds_no_secret_in_clear(dtm, tmp_path: Path) -> None:
    config = write_config(tmp_path, {"name": "github-actions", "instanceID": "ci", "options": {
        "scm": {"owner": "octo", "name": "app", "scmType": "github", "token": "[[ env GITHUB_TOKEN ]]"},
        "pipeline": {"configLocation": "https://example.com/workflow.yml"}}})

    made = dtm("plan", "-f", str(config), "-o", "ci.plan", cwd=tmp_path, env={"GITHUB_TOKEN": TOKEN})

    assert made.returncode == 0, made.stderr
    text = (tmp_path / "ci.plan").read_text()
    assert "github-actions.ci" in text and "<secret sha256:" in text
    assert TOKEN not in text
    assert (tmp_path / "ci.plan").stat().st_mode & 0o077 == 0  # the owner's only


def test_exclude_leaves_out_dependents_and_says_so_on_plan_apply_delete_and_destroy(dtm, tmp_path: Path) -> None:
    config = write_config(tmp_path, noop("db"), noop("api", "noop.db"), noop("ui", "noop.api"), noop("docs"))

    planned = dtm("plan", "-f", str(config), "--exclude", "noop.api", "--json", cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert [c["key"] for c in json.loads(planned.stdout)["changes"]] == ["noop.db", "noop.docs"]
    assert "noop.api (--exclude)" in planned.stderr
    assert "noop.ui (depends on noop.api, which is excluded)" in planned.stderr

    unknown = dtm("plan", "-f", str(config), "--exclude", "noop.nope", cwd=tmp_path)
    assert unknown.returncode == 1 and "--exclude noop.nope: no such tool" in unknown.stderr

    applied = dtm("apply", "-f", str(config), "-y", "--exclude", "noop.api", "--exclude", "noop.docs", cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert "noop.ui (depends on noop.api" in applied.stderr
    assert in_state(tmp_path) == {"noop_db"}
    assert dtm("apply", "-f", str(config), "-y", cwd=tmp_path).returncode == 0
    assert in_state(tmp_path) == {"noop_db", "noop_api", "noop_ui", "noop_docs"}

    # Deleting without api keeps what api depends on (db); ui, which depends on api, may go.
    deleted = dtm("delete", "-f", str(config), "-y", "--exclude", "noop.api", cwd=tmp_path)
    assert deleted.returncode == 0, deleted.stderr
    assert "noop.db (noop.api depends on it and stays)" in deleted.stderr
    assert in_state(tmp_path) == {"noop_db", "noop_api"}

    # destroy --force also deletes what the config has and the state does not (docs is gone already).
    destroyed = dtm("destroy", "-f", str(config), "-y", "--force", "--json", cwd=tmp_path)
    assert destroyed.returncode == 0, destroyed.stderr
    keys = [c["key"] for c in json.loads(destroyed.stdout)["plan"]["changes"]]
    assert sorted(keys) == ["noop.api", "noop.db", "noop.docs", "noop.ui"]
    assert keys.index("noop.api") < keys.index("noop.db")  # dependents first
    assert in_state(tmp_path) == set()
