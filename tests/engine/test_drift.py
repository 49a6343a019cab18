"""The drift check: real flow runs against the session's Prefect server, local state on disk.

Each test applies a small config with the CLI's own function, changes something behind dtm's back (or in
the config), and looks at the report, the artifacts, the events on the server and the exit codes.
"""

from __future__ import annotations

import importlib.util
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest
import yaml
from engine_builders import tool
from pydantic import Field, SecretStr

from devstream.cli import run
from devstream.cli.drift import drift
from devstream.drift import DriftKind, DriftReport, remediation_plan
from devstream.errors import DriftCheckFailed, StateLockedError
from devstream.flows import drift as drift_flow
from devstream.plan import Action, Change, Plan
from devstream.plugin import Plugin, PluginContext
from devstream.plugin.base import PluginOptions
from devstream.plugin.registry import default_registry

pytestmark = pytest.mark.usefixtures("prefect_server")

ROOT = Path(__file__).resolve().parents[2]
SECRET = "tok-5up3r-s3cr3t-v4lue"


# -- helpers ----------------------------------------------------------------------------------------------

def latest_artifact(key: str) -> Any:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=[key])), limit=1)
    return found[0] if found else None


def drift_events(config: Path, since: datetime, want: int, timeout: float = 15.0) -> list[Any]:
    """The `dtm.drift.detected` events of this config since `since`, polled until `want` arrived.

    Events are written by the server's persister in batches (every 5 s by default), so they take a moment.
    The config path tells this test's events from other tests' (they share state names such as `dtm`).
    """
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter

    deadline = time.monotonic() + timeout
    while True:
        # A new filter each time: `until` defaults to the moment the filter is made.
        query = EventFilter(event=EventNameFilter(name=[drift_flow.DRIFT_EVENT]),
                            occurred=EventOccurredFilter.model_validate({"since": since - timedelta(seconds=1)}))
        with get_client(sync_client=True) as client:
            page = client.read_events(filter=query, limit=50)  # the API's maximum page
        mine = [e for e in page.events if e.payload.get("config") == str(config)]
        if len(mine) >= want or time.monotonic() > deadline:
            return mine
        time.sleep(0.5)


def json_report(config: Path, capsys: pytest.CaptureFixture[str], **kwargs: Any) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = drift(config_path=config, json_out=True, **kwargs)
    return code, json.loads(capsys.readouterr().out)


def kinds(report: dict[str, Any]) -> dict[str, str]:
    return {r["key"]: r["kind"] for r in report["resources"]}


@pytest.fixture
def emitted(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every event the drift flow emits, still sent to the server."""
    sent: list[dict[str, Any]] = []
    real: Callable[..., Any] = drift_flow.emit_event

    def spy(event: str, **kwargs: Any) -> Any:
        sent.append({"event": event, **kwargs})
        return real(event, **kwargs)

    monkeypatch.setattr(drift_flow, "emit_event", spy)
    return sent


def motd_config(write_config: Callable[..., Path], content: str = "welcome\n", *extra: dict[str, Any]) -> Path:
    return write_config([tool("file", "motd", path="motd.txt", content=content), tool("noop", "x"), *extra])


class TouchyOptions(PluginOptions):
    token: SecretStr = Field(description="A secret that must never show in a report.")


class TouchyPlugin(Plugin[TouchyOptions]):
    """Reads fail, once told to, with an error that quotes the secret."""

    name: ClassVar[str] = "touchy"
    Options: ClassVar[type[TouchyOptions]] = TouchyOptions
    broken: ClassVar[bool] = False

    def create(self, options: TouchyOptions, ctx: PluginContext) -> dict[str, Any]:
        return {"ok": True}

    def read(self, options: TouchyOptions, ctx: PluginContext) -> dict[str, Any] | None:
        if TouchyPlugin.broken:
            raise RuntimeError(f"401 for token {options.token.get_secret_value()}")
        return {"ok": True}

    def update(self, options: TouchyOptions, ctx: PluginContext) -> dict[str, Any]:
        return {"ok": True}

    def delete(self, options: TouchyOptions, ctx: PluginContext) -> None:
        return None


@pytest.fixture
def touchy() -> type[TouchyPlugin]:
    default_registry().register(TouchyPlugin)
    TouchyPlugin.broken = False
    return TouchyPlugin


def automation_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("automation_drift", ROOT / "deployments" / "automation_drift.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the checks -------------------------------------------------------------------------------------------

def test_in_sync_exits_0_and_announces_nothing(write_config, capsys, emitted):
    config = motd_config(write_config)
    assert run.apply(config_path=config, yes=True) == 0

    code, report = json_report(config, capsys)
    assert code == 0
    assert kinds(report) == {"file.motd": "in_sync", "noop.x": "in_sync"}
    assert report["in_sync"] is True and report["drifted"] == []
    assert emitted == []

    capsys.readouterr()
    assert drift(config_path=config) == 0
    assert "No drift" in capsys.readouterr().out


def test_a_hand_edit_is_drift_published_as_artifacts_and_announced(write_config, tmp_path, emitted):
    config = motd_config(write_config)
    assert run.apply(config_path=config, yes=True) == 0
    (tmp_path / "motd.txt").write_text("hacked\n")
    since = datetime.now(UTC)

    # Finding drift is the check doing its job: the run is Completed, not Failed.
    state = drift_flow.drift_check(config=str(config), return_state=True)
    assert state.is_completed(), state.message
    report: DriftReport = state.result()
    by_key = {r.key: r for r in report.resources}
    assert by_key["file.motd"].kind is DriftKind.DRIFTED and "sha256" in by_key["file.motd"].fields
    assert by_key["noop.x"].kind is DriftKind.IN_SYNC
    assert report.drifted_keys() == ["file.motd"] and report.exit_code() == 2

    markdown = latest_artifact("dtm-drift-dtm")
    assert markdown is not None and markdown.type == "markdown"
    assert "| `file.motd` | drifted |" in markdown.data and "`sha256`" in markdown.data
    table = latest_artifact("dtm-drift-table-dtm")
    assert table is not None and table.type == "table"
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert {(r["tool"], r["status"]) for r in rows} == {("file.motd", "drifted"), ("noop.x", "in_sync")}

    assert [e["event"] for e in emitted] == ["dtm.drift.detected"]
    events = drift_events(config, since, want=1)
    assert len(events) == 1
    event = events[0]
    assert event.resource.id == "dtm.dtm.file.motd"
    assert event.resource["prefect.resource.name"] == "file.motd" and event.resource["dtm.state"] == "dtm"
    assert event.payload["kind"] == "drifted" and event.payload["config"] == str(config)
    assert "sha256" in event.payload["fields"]


def test_a_deleted_file_is_missing(write_config, tmp_path, capsys):
    config = motd_config(write_config)
    assert run.apply(config_path=config, yes=True) == 0
    (tmp_path / "motd.txt").unlink()
    since = datetime.now(UTC)

    code, report = json_report(config, capsys)
    assert code == 2
    assert kinds(report) == {"file.motd": "missing", "noop.x": "in_sync"}
    assert report["drifted"] == ["file.motd"]
    events = drift_events(config, since, want=1)
    assert [(e.resource.id, e.payload["kind"], e.payload["fields"]) for e in events] == [
        ("dtm.dtm.file.motd", "missing", [])]


def test_a_config_edit_is_config_changed_not_drift(write_config, capsys, emitted):
    config = motd_config(write_config, "welcome\n", tool("noop", "gone"))
    assert run.apply(config_path=config, yes=True) == 0
    motd_config(write_config, "welcome back\n")  # content edited, noop.gone removed from the config

    code, report = json_report(config, capsys)
    assert code == 2
    assert kinds(report) == {"file.motd": "config_changed", "noop.x": "in_sync", "noop.gone": "not_in_config"}
    motd = next(r for r in report["resources"] if r["key"] == "file.motd")
    assert motd["fields"] == ["content"]
    # The world did not move: nothing to announce, nothing a remediation would touch.
    assert report["drifted"] == [] and emitted == []


def test_remediate_puts_back_exactly_what_drifted(write_config, tmp_path, capsys):
    config = motd_config(write_config, "welcome\n", tool("noop", "gone"))
    assert run.apply(config_path=config, yes=True) == 0
    motd_config(write_config)  # noop.gone leaves the config: the remediation must not delete it
    (tmp_path / "motd.txt").write_text("hacked\n")

    code, report = json_report(config, capsys, remediate=True)
    assert code == 2  # drift was found; the report lists what was put back
    assert report["remediate"] is True and report["remediated"] == ["file.motd"]
    motd = next(r for r in report["resources"] if r["key"] == "file.motd")
    assert motd["kind"] == "drifted" and motd["remediation"] == "succeeded"
    assert (tmp_path / "motd.txt").read_text() == "welcome\n"
    state = yaml.safe_load((tmp_path / "devstream.state").read_text())
    assert "noop_gone" in state

    code, report = json_report(config, capsys)
    assert code == 2 and kinds(report) == {"file.motd": "in_sync", "noop.x": "in_sync", "noop.gone": "not_in_config"}
    motd_config(write_config)
    assert run.apply(config_path=config, yes=True) == 0  # now the delete happens, because apply was asked
    assert drift(config_path=config) == 0


def test_only_a_remediating_check_needs_the_state_lock(write_config, tmp_path, capsys):
    config = motd_config(write_config)
    assert run.apply(config_path=config, yes=True) == 0
    (tmp_path / "motd.txt").write_text("hacked\n")
    # Another host's run holds the state (a foreign lock file: this process's own lock is re-entrant).
    (tmp_path / "devstream.state.lock").write_text(
        '{"host": "another-host", "pid": 1, "command": "dtm apply", "since": "2026-01-01T00:00:00Z", "id": "x"}')

    code, report = json_report(config, capsys)  # looking never waits for an apply
    assert code == 2 and report["drifted"] == ["file.motd"]
    with pytest.raises(StateLockedError, match="another-host"):
        drift(config_path=config, remediate=True)
    assert (tmp_path / "motd.txt").read_text() == "hacked\n"


def test_a_failed_read_fails_the_run_and_keeps_the_secret_out(write_config, capsys, touchy):
    config = write_config([tool("touchy", "api", token=SECRET), tool("noop", "x")])
    assert run.apply(config_path=config, yes=True) == 0
    touchy.broken = True

    state = drift_flow.drift_check(config=str(config), return_state=True)
    assert state.is_failed()
    failure = state.result(raise_on_failure=False)
    assert isinstance(failure, DriftCheckFailed)
    by_key = {r.key: r for r in failure.report.resources}
    assert by_key["touchy.api"].kind is DriftKind.ERROR and by_key["noop.x"].kind is DriftKind.IN_SYNC
    assert "401 for token ***" in by_key["touchy.api"].message

    code, report = json_report(config, capsys)
    assert code == 1 and kinds(report)["touchy.api"] == "error"
    assert SECRET not in json.dumps(report)
    assert SECRET not in latest_artifact("dtm-drift-dtm").data


def test_json_output_shape(write_config, tmp_path, capsys):
    config = motd_config(write_config)
    assert run.apply(config_path=config, yes=True) == 0
    (tmp_path / "motd.txt").write_text("hacked\n")

    code, report = json_report(config, capsys)
    assert code == report["exit_code"] == 2
    assert set(report) == {"format_version", "config", "config_name", "state", "checked_at", "flow_run_id",
                           "flow_run_url", "in_sync", "exit_code", "counts", "drifted", "remediate", "remediated",
                           "resources"}
    assert report["format_version"] == "1" and report["config"] == str(config) and report["config_name"] == "dtm"
    assert report["flow_run_id"] and report["flow_run_url"].endswith(f"/runs/flow-run/{report['flow_run_id']}")
    assert report["counts"] == {"in_sync": 1, "drifted": 1, "missing": 0, "config_changed": 0,
                                "not_in_config": 0, "error": 0}
    for r in report["resources"]:
        assert set(r) == {"key", "name", "instanceID", "kind", "fields", "message", "remediation",
                          "remediation_message"}
    datetime.fromisoformat(report["checked_at"])


def test_remediation_plan_keeps_only_the_drifted_changes():
    def change(key: str, action: Action, waits: list[str]) -> Change:
        name, instance = key.split(".")
        return Change(key=key, name=name, instanceID=instance, action=action, reason="", waits_for=waits)

    plan = Plan(changes=[change("noop.gone", Action.DELETE, []),
                         change("noop.base", Action.UPDATE, ["noop.gone"]),
                         change("file.a", Action.UPDATE, ["noop.base", "noop.gone"]),
                         change("file.b", Action.CREATE, ["file.a", "noop.gone"])])
    picked = remediation_plan(plan, ["file.a", "file.b"])
    assert [(c.key, c.waits_for) for c in picked.changes] == [("file.a", []), ("file.b", ["file.a"])]


def test_the_automation_runs_the_apply_deployment_with_the_drifted_config(write_config, tmp_path):
    """On the test server: its ReactiveTriggers and Actions services run in ephemeral servers too."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterDeploymentId
    from prefect.client.schemas.objects import StateType

    script = automation_script()
    tag = uuid.uuid4().hex[:8]
    with get_client(sync_client=True) as client:
        # A deployment record is all the action needs: the run it creates stays Scheduled (no worker here).
        flow_id = client.create_flow_from_name(f"dtm-test-target-{tag}")
        deployment_id = client.create_deployment(flow_id=flow_id, name="apply", parameters={"config": "unset"})
    name = f"dtm-test-remediate-{tag}"
    script.create_drift_automation(deployment_id, name=name)
    automation_id = script.create_drift_automation(deployment_id, name=name)  # again: replaced, not doubled
    try:
        with get_client(sync_client=True) as client:
            assert [a.id for a in client.read_automations_by_name(name)] == [automation_id]

        config = motd_config(write_config)
        assert run.apply(config_path=config, yes=True) == 0
        (tmp_path / "motd.txt").write_text("hacked\n")
        assert drift(config_path=config) == 2

        runs: list[Any] = []
        deadline = time.monotonic() + 20
        while not runs and time.monotonic() < deadline:
            time.sleep(0.5)
            with get_client(sync_client=True) as client:
                runs = [r for r in client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(any_=[deployment_id])))
                    if r.parameters.get("config") == str(config)]
        assert runs, "the automation did not start a run of the deployment within 20 s"
        assert runs[0].state is not None and runs[0].state.type is StateType.SCHEDULED
    finally:
        with get_client(sync_client=True) as client:
            client.delete_automation(automation_id)
