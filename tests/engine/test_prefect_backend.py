"""The default backend: state kept as Prefect artifacts, one key per resource, on the session's server."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import yaml

from devstream.cli import run
from devstream.engine import Workspace
from devstream.prefect_boundary.state_store import PrefectStateStore

pytestmark = pytest.mark.usefixtures("prefect_server")


def config_without_a_state_section(tmp_path: Path) -> Path:
    # No `config:` at all: the state goes to the Prefect server, named after the config file.
    path = tmp_path / f"team-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump({"tools": [
        {"name": "noop", "instanceID": "registry", "options": {"outputs": {"url": "r.example/app"}}},
        {"name": "file", "instanceID": "readme", "options": {"path": "README.md", "content": "hi\n"}},
        {"name": "noop", "instanceID": "deploy", "options": {"triggers": {"img": "${{ noop.registry.outputs.url }}"}}},
    ]}))
    return path


def test_apply_plan_destroy_with_the_state_on_the_prefect_server(tmp_path):
    config = config_without_a_state_section(tmp_path)
    store = PrefectStateStore(config.stem)

    assert run.apply(config_path=config, yes=True) == 0
    records = store.read()
    assert set(records) == {"noop_registry", "file_readme", "noop_deploy"}
    assert records["noop_deploy"].options["triggers"] == {"img": "r.example/app"}
    assert not (tmp_path / "devstream.state").exists()  # nothing written beside the config

    ws = Workspace.open(config)
    assert ws.plan(ws.records(), ws.refresh(ws.records())).empty

    (tmp_path / "README.md").write_text("edited\n")
    ws = Workspace.open(config)
    (change,) = ws.plan(ws.records(), ws.refresh(ws.records())).changes
    assert change.key == "file.readme" and change.reason.startswith("drifted")

    assert run.destroy(config_path=config, yes=True) == 0
    assert store.read() == {}


def test_each_run_publishes_the_state_it_left(tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey

    config = config_without_a_state_section(tmp_path)
    assert run.apply(config_path=config, yes=True) == 0
    with get_client(sync_client=True) as client:
        (table,) = client.read_latest_artifacts(artifact_filter=ArtifactCollectionFilter(
            key=ArtifactCollectionFilterKey(any_=[f"dtm-state-table-{config.stem}"])), limit=1)
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert {r["tool"] for r in rows} == {"noop.registry", "file.readme", "noop.deploy"}
    assert table.flow_run_id is not None  # linked to the run, unlike the records themselves


def test_each_record_names_the_change_and_the_flow_run_that_wrote_it(tmp_path):
    from prefect.client.orchestration import get_client

    from devstream.state import record_doc

    config = config_without_a_state_section(tmp_path)
    store = PrefectStateStore(config.stem)
    assert run.apply(config_path=config, yes=True) == 0
    latest_path = f"/artifacts/{store.artifact_key('noop_registry')}/latest"
    latest = store.api.call("GET", latest_path, retry=True, what="read the record").json()
    envelope = record_doc.parse(latest["data"])
    assert envelope is not None and envelope["change"]["action"] == "create"
    flow_run = envelope["change"]["flowRun"]
    with get_client(sync_client=True) as client:
        made_by = client.read_flow_run(flow_run["id"])
    assert made_by.name == flow_run["name"] and flow_run["url"].endswith(f"/flow-run/{flow_run['id']}")
    assert "| `url` | `r.example/app` |" in latest["data"] and f"by flow run [{made_by.name}]" in latest["data"]
    assert latest["flow_run_id"] is None  # named, not attached: run clean-ups never take state with them
