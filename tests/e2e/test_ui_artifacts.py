"""What a person sees in the Prefect UI after `dtm apply`, checked as a person would: in a real browser.

`dtm apply` runs on a `prefect server start` of the module's own (UI included), with the state on that
server as one artifact per resource. A headless chromium then opens the apply run's
Artifacts tab, follows the card of the state the run left to its page, and finds each tool's outputs there
with their values; then it opens one state record's page and finds it rendered as a page, not as JSON: a
table saying which plugin, that it is applied, its last change and the run that made it, and its outputs in
a table of their own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from browser import Browser, chromium
from e2e_server import Server

from devstream.prefect_boundary.state_store import PrefectStateStore

pytestmark = pytest.mark.e2e

DTM = str(Path(sys.executable).parent / "dtm")
URL = "registry.example/ui-demo"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    prefect = Server(tmp_path_factory.mktemp("prefect-ui"))
    prefect.env["PREFECT_UI_API_URL"] = prefect.url  # where the UI in the browser finds the API
    try:
        prefect.start(timeout=300)
        yield prefect
    finally:
        prefect.stop()


def test_the_apply_run_and_each_state_record_read_at_a_glance_in_the_prefect_ui(server: Server, tmp_path: Path):
    config = tmp_path / "ui-demo.yaml"
    config.write_text(yaml.safe_dump({"tools": [
        {"name": "noop", "instanceID": "registry", "options": {"outputs": {"url": URL, "replicas": 3}}},
        {"name": "noop", "instanceID": "deploy",
         "options": {"triggers": {"image": "${{ noop.registry.outputs.url }}"}}},
    ]}))
    done = subprocess.run([DTM, "apply", "-f", str(config), "-y"], env=server.env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    (apply_run,) = [r for r in server.api("POST", "/flow_runs/filter", {"flows": {"name": {"any_": ["dtm-apply"]}}})
                    if r["parameters"].get("config") == str(config)]
    record_key = PrefectStateStore("ui-demo", api_url=server.url).artifact_key("noop_registry")
    # The newest version of the record's key (`/artifacts/{key}/latest` answers with the key's own id).
    (record,) = server.api("POST", "/artifacts/filter", {"artifacts": {"key": {"any_": [record_key]}},
                                                         "sort": "CREATED_DESC", "limit": 1})
    ui = server.url.removesuffix("/api")

    browser = Browser(chromium())
    try:
        # The apply run's Artifacts tab: one card per artifact; the state the run left is one of them.
        browser.open(f"{ui}/runs/flow-run/{apply_run['id']}?tab=Artifacts")
        browser.wait_for("!!document.querySelector('li#artifacts')", what="the run's tabs")
        browser.evaluate("document.querySelector('li#artifacts').click()")
        state_card = browser.wait_for(
            "[...document.querySelectorAll('#artifacts-content a')]"
            ".filter(a => a.innerText.includes('dtm-state-table-ui-demo')).map(a => a.href)[0]",
            what="the card of the state the run left")
        browser.open(state_card)
        page = browser.wait_for(f"document.body.innerText.includes({json.dumps(URL)}) && document.body.innerText",
                                what="the outputs of the run's state")
        assert "noop.registry" in page and "noop.deploy" in page
        assert f"url = {URL}" in page and "replicas = 3" in page

        # One state record: a page of tables, rendered from markdown, not a paragraph of JSON.
        browser.open(f"{ui}/artifacts/artifact/{record['id']}")
        cells = browser.wait_for(
            "(() => { const rows = [...document.querySelectorAll('table tr')].map(r => [...r.querySelectorAll('td')]"
            ".map(c => c.innerText.trim())).filter(r => r.length === 2);"
            f" return rows.some(r => r[1] === {json.dumps(URL)}) && rows; }})()",
            what="the record's outputs in a table")
        facts = dict(cells)
        assert facts["plugin"] == "noop" and facts["status"] == "applied" and facts["tool"] == "noop.registry"
        assert facts["url"] == URL and facts["replicas"] == "3"
        assert facts["last change"].startswith("create at ")
        assert f"by flow run {apply_run['name']}" in facts["last change"]
        # dtm's JSON comes last, in a code block (highlighted as the page settles); no table is left as raw text.
        text = browser.wait_for("document.body.innerText.includes('resourceStatus') && document.body.innerText",
                                what="the record's JSON below its tables")
        assert "| url |" not in text and "|---|" not in text
    finally:
        browser.close()
