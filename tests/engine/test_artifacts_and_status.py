"""What a run leaves for people to look at: artifacts in Prefect, and `dtm show status`."""

from __future__ import annotations

import json

import pytest
from engine_builders import tool

from devstream.cli import inspect, run

pytestmark = pytest.mark.usefixtures("prefect_server")


def latest_artifact(key: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=[key])), limit=1)
    return found[0] if found else None


def test_a_run_publishes_its_plan_and_its_results(write_config):
    config = write_config([tool("noop", "one"), tool("probe", "two", fail_on=["create"])])
    assert run.apply(config_path=config, yes=True) == 1

    plan = latest_artifact("dtm-plan-dtm")
    assert plan is not None and plan.type == "markdown"
    assert "| create | `noop.one` | not in state |" in plan.data

    results = latest_artifact("dtm-apply-dtm")
    assert results is not None and results.type == "table"
    rows = json.loads(results.data) if isinstance(results.data, str) else results.data
    assert {(r["tool"], r["result"]) for r in rows} == {("noop.one", "succeeded"), ("probe.two", "failed")}


def test_show_status_reads_each_resource_and_names_what_drifted(write_config, tmp_path, capsys):
    config = write_config([tool("file", "motd", path="motd.txt", content="welcome\n"), tool("noop", "x")])
    assert run.apply(config_path=config, yes=True) == 0
    (tmp_path / "motd.txt").write_text("hacked\n")
    capsys.readouterr()

    assert inspect.show_status(config_path=config, json_out=True) == 0
    rows = {r["key"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["file.motd"]["drifted"] is True and "sha256" in rows["file.motd"]["driftedFields"]
    assert rows["noop.x"]["drifted"] is False

    assert inspect.show_status(config_path=config, plugin="noop", json_out=True) == 0
    assert [r["key"] for r in json.loads(capsys.readouterr().out)] == ["noop.x"]
