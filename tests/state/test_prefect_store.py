"""The `prefect` state backend: records as Prefect artifacts, on the session's real test server.

The story: a record put is a new version of its own artifact key; a delete adds a tombstone version, so
history stays while the record disappears from `read()`; states never see each other's records, even when
their names slug alike; an apply writes one record per change (bytes grow with N, not N^2); a large state
reads back page by page in well under a second per thousand records. Then the edges: no server configured,
a server that cannot be reached, a server that refuses (never quoting the API key), and `open_store`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstream.config.models import Config, StateConfig
from devstream.errors import StateError
from devstream.plugin.http import http_client
from devstream.prefect_boundary.state_store import (
    ARTIFACT_TYPE,
    PrefectStateStore,
    artifact_key,
    state_prefix,
    summary_table,
)
from devstream.state import StateRecord, open_store, record_doc
from devstream.state.base import ChangeNote, FlowRunRef

pytestmark = pytest.mark.usefixtures("prefect_server")


def unique(name: str) -> str:
    """A state name no other test (or earlier run against the same server) uses."""
    return f"{name}-{uuid.uuid4().hex[:6]}"


def record(name: str, instance: str = "default", **options: Any) -> StateRecord:
    return StateRecord(
        name=name,
        instanceID=instance,
        dependsOn=["base.default"] if name != "base" else [],
        options=options or {"owner": "devstream"},
        resourceStatus={"outputs": {"url": f"https://example.invalid/{name}/{instance}"}},
    )


class RequestLog:
    """An httpx request hook that remembers each request's method, path and body size."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, int]] = []

    def __call__(self, request: httpx.Request) -> None:
        self.requests.append((request.method, request.url.path, len(request.content)))

    def bodies(self, method: str, path_end: str) -> list[int]:
        return [size for m, p, size in self.requests if m == method and p.endswith(path_end)]


def counted_store(state: str, **kwargs: Any) -> tuple[PrefectStateStore, RequestLog]:
    log = RequestLog()
    client = http_client(event_hooks={"request": [log]})
    return PrefectStateStore(state, client=client, **kwargs), log


def versions(store: PrefectStateStore, state_key: str) -> list[dict[str, Any]]:
    """Every version of one record's artifact, newest first, read straight from the REST API."""
    response = store.api.call(
        "POST", "/artifacts/filter", retry=True, what="read a record's versions",
        json={"artifacts": {"key": {"any_": [store.artifact_key(state_key)]}}, "sort": "CREATED_DESC"},
    )
    return response.json()


# -- round trip -------------------------------------------------------------------------------------------


def test_a_record_put_reads_back_exactly_and_a_deleted_one_is_gone() -> None:
    store = PrefectStateStore(unique("round-trip"))
    assert store.read() == {}

    repo = record("repo", token="sha256:ab12")
    store.put(record("base"))
    store.put(repo)
    assert store.read() == {"base_default": record("base"), "repo_default": repo}

    store.delete("repo_default")
    assert store.read() == {"base_default": record("base")}
    store.delete("repo_default")  # forgetting twice, or a record never saved, is not an error
    store.delete("never_saved")
    assert store.read() == {"base_default": record("base")}


def test_each_record_is_an_artifact_of_its_own_that_names_its_state_and_key() -> None:
    store = PrefectStateStore(unique("Team Prod"))
    store.put(record("repo"))
    [latest] = versions(store, "repo_default")
    assert latest["key"] == store.artifact_key("repo_default")
    assert latest["key"].startswith(state_prefix(store.state_name))
    assert latest["type"] == ARTIFACT_TYPE
    assert "repo_default" in latest["description"]
    # Not attached to any run, so the server's clean-up of old flow runs never removes state.
    assert latest["flow_run_id"] is None and latest["task_run_id"] is None
    # Markdown for the UI, ending in the envelope dtm reads back, with the state and key inside, so reading
    # never parses artifact keys.
    assert latest["data"].startswith("# `repo.default`\n")
    assert record_doc.parse(latest["data"]) == {
        "format": 1,
        "state": store.state_name,
        "key": "repo_default",
        "seq": 1,  # the state's first version: newer versions of a record win by their sequence numbers
        "record": record("repo").model_dump(mode="json"),
    }
    # flush() has nothing to do: the put above is already on the server.
    store.flush()
    assert store.description == f"prefect artifacts of state {store.state_name} at {store.api.safe_url}"


def test_a_delete_is_a_tombstone_version_so_history_stays() -> None:
    store = PrefectStateStore(unique("history"))
    store.put(record("repo", owner="v1"))
    store.put(record("repo", owner="v2"))
    store.delete("repo_default")

    newest, second, first = (record_doc.parse(v["data"]) or {} for v in versions(store, "repo_default"))
    assert newest["deleted"] is True and newest["key"] == "repo_default"
    assert newest["record"] == {"name": "repo", "instanceID": "default"}  # its page still says what it was
    assert second["record"]["options"] == {"owner": "v2"}
    assert first["record"]["options"] == {"owner": "v1"}
    assert "repo_default" not in store.read()

    # Putting it again after a delete brings it back as a fourth version.
    store.put(record("repo", owner="v3"))
    assert store.read()["repo_default"].options == {"owner": "v3"}
    assert len(versions(store, "repo_default")) == 4


def test_a_change_note_names_the_action_and_the_flow_run_that_made_it() -> None:
    store = PrefectStateStore(unique("noted"))
    run = FlowRunRef(id="0b8f6a3e-0000-4000-8000-000000000001", name="crimson-fox",
                     url="http://127.0.0.1:4200/runs/flow-run/0b8f6a3e-0000-4000-8000-000000000001")
    store.put(record("repo"), ChangeNote("update", run))
    store.delete("repo_default", ChangeNote("delete"))

    deleted, updated = versions(store, "repo_default")
    change = (record_doc.parse(updated["data"]) or {})["change"]
    assert change["action"] == "update" and change["flowRun"] == {"id": run.id, "name": "crimson-fox", "url": run.url}
    assert "| last change | update at " in updated["data"]
    assert f"by flow run [crimson-fox]({run.url})" in updated["data"]
    assert updated["description"].endswith("`repo.default`, updated")
    assert deleted["description"].endswith("`repo.default`, deleted")
    assert "| status | deleted" in deleted["data"] and "outside a flow run" in deleted["data"]


def test_records_written_before_they_were_markdown_still_read_and_delete() -> None:
    store = PrefectStateStore(unique("legacy"))
    old = {"format": 1, "state": store.state_name, "key": "repo_default",
           "record": record("repo").model_dump(mode="json")}
    store.api.call("POST", "/artifacts/", what="write a legacy record",
                   json={"key": store.artifact_key("repo_default"), "type": "dtm-state", "data": old})
    assert store.read() == {"repo_default": record("repo")}
    store.delete("repo_default")
    assert store.read() == {}
    assert (record_doc.parse(versions(store, "repo_default")[0]["data"]) or {})["deleted"] is True


# -- isolation --------------------------------------------------------------------------------------------


def test_states_never_see_each_others_records_even_when_their_names_slug_alike() -> None:
    tag = uuid.uuid4().hex[:6]
    # The first three slug to the same text; the fourth's slug starts with theirs.
    names = [f"My App {tag}", f"my-app-{tag}", f"my_app_{tag}", f"my-app-{tag}-2"]
    stores = [PrefectStateStore(n) for n in names]
    assert len({s.prefix for s in stores}) == 4
    assert len({s.lock_name for s in stores}) == 4
    for s in stores:
        s.put(record("repo", owner=s.state_name))
        s.put(record(f"only-in-{s.state_name.replace(' ', '-')}"))

    for s in stores:
        seen = s.read()
        assert seen["repo_default"].options == {"owner": s.state_name}
        assert len(seen) == 2, f"{s.state_name} sees {sorted(seen)}"


def test_keys_are_valid_artifact_keys_and_unique_after_slugging() -> None:
    keys = {artifact_key("demo", k) for k in ("repo_a", "repo-a", "Repo_A", "repo_a ")}
    assert len(keys) == 4
    long_key = artifact_key("x" * 300, "y" * 300)
    for key in [*keys, long_key]:
        assert key == key.lower() and set(key) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    assert len(long_key) < 130


# -- bytes per apply --------------------------------------------------------------------------------------


def apply_bytes(n: int) -> tuple[int, list[int]]:
    """Write n records as an apply of n changes does, one put each; the bytes sent and each body's size."""
    store, log = counted_store(unique(f"bytes-{n}"))
    store.read()  # an apply reads the state before it changes anything
    log.requests.clear()
    for i in range(n):
        store.put(record("tool", f"i{i:04d}"))
    bodies = log.bodies("POST", "/artifacts/")
    assert len(log.requests) == n  # one request per put, nothing else
    assert store.bytes_written == sum(bodies)
    return sum(bodies), bodies


def test_each_put_sends_one_record_so_bytes_grow_linearly_with_the_number_of_changes() -> None:
    small, small_bodies = apply_bytes(50)
    large, large_bodies = apply_bytes(200)
    ratio = large / small
    print(f"\nrequest bytes: N=50 {small} B, N=200 {large} B, ratio {ratio:.2f} (ideal 4.00)")
    assert max(large_bodies) < 2048  # one small record (its page and its JSON), never the whole state
    assert max(large_bodies) - min(small_bodies) < 64  # the 200th write is as small as the first
    assert 3.6 < ratio < 4.4


# -- reading a large state --------------------------------------------------------------------------------


def put_many(store: PrefectStateStore, n: int) -> None:
    # The apply flow writes records from many threads; so do we, which also exercises thread safety.
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: store.put(record("tool", f"i{i:05d}")), range(n)))


def test_a_state_of_a_thousand_records_reads_back_page_by_page() -> None:
    store, log = counted_store(unique("large"))
    started = time.perf_counter()
    put_many(store, 1000)
    wrote = time.perf_counter() - started
    artifacts = len(log.bodies("POST", "/artifacts/"))  # each write makes a new key: own or a batch's

    log.requests.clear()
    started = time.perf_counter()
    records = store.read()
    took = time.perf_counter() - started
    print(f"\n1000 records: written in {wrote:.1f}s (8 threads, {artifacts} writes), read in {took:.2f}s")

    assert len(records) == 1000
    assert list(records) == sorted(records)
    assert records["tool_i00999"] == record("tool", "i00999")
    # Records saved meanwhile share an artifact (a batch), so the state is fewer artifacts than records;
    # they come 200 a page, then a short (or empty) one.
    assert len(log.bodies("POST", "/artifacts/latest/filter")) == artifacts // 200 + 1
    assert took < 60  # a sanity bound only; the figure above is what matters


def test_pages_of_any_size_add_up_and_an_oversized_page_shrinks_to_the_servers_limit() -> None:
    name = unique("pages")
    writer = PrefectStateStore(name)
    for i in range(23):
        writer.put(record("tool", f"i{i:02d}"))

    small, log = counted_store(name, page_size=5)
    assert len(small.read()) == 23
    assert len(log.bodies("POST", "/artifacts/latest/filter")) == 5

    # The server refuses pages above PREFECT_SERVER_API_DEFAULT_LIMIT (200) with a 422 naming it.
    large, log = counted_store(name, page_size=5000)
    assert len(large.read()) == 23
    assert len(log.bodies("POST", "/artifacts/latest/filter")) == 2


# -- a summary for the run's table artifact -----------------------------------------------------------------


def test_summary_table_has_one_text_row_per_record_in_key_order_with_each_outputs_value() -> None:
    long = record("long")
    long.resourceStatus["outputs"] = {"notes": "line one\nline two " + "x" * 100, "replicas": 3}
    rows = summary_table({"repo_default": record("repo"), "base_default": record("base"), "long_default": long})
    assert rows == [
        {"tool": "base.default", "plugin": "base", "dependsOn": "", "outputs": "url = https://example.invalid/base/default"},
        {"tool": "long.default", "plugin": "long", "dependsOn": "base.default",
         "outputs": f"notes = line one line two {'x' * 62}…; replicas = 3"},
        {"tool": "repo.default", "plugin": "repo", "dependsOn": "base.default",
         "outputs": "url = https://example.invalid/repo/default"},
    ]
    assert summary_table([]) == []


# -- when the server is missing, unreachable or refuses -------------------------------------------------------


def test_without_prefect_api_url_the_error_says_how_to_point_dtm_at_a_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with pytest.raises(StateError, match=r"needs a Prefect server.*export PREFECT_API_URL=http://127.0.0.1:4200/api"):
        PrefectStateStore("demo")


def test_an_unreachable_server_is_named_with_what_to_check() -> None:
    store = PrefectStateStore("demo", api_url="http://127.0.0.1:9/api", client=http_client(attempts=1, timeout=5))
    with pytest.raises(StateError, match=r"cannot reach the Prefect server at http://127.0.0.1:9/api to read"):
        store.read()
    with pytest.raises(StateError, match="check that the server is running"):
        store.put(record("repo"))


def test_a_url_without_its_api_path_is_pointed_out() -> None:
    root = PrefectStateStore("demo").api.url.removesuffix("/api")
    with pytest.raises(StateError, match=r"has no API route to read state demo: 40\d.*ending in /api"):
        PrefectStateStore("demo", api_url=root).read()


def refusing_server(status: int) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        # A careless server (or proxy) that echoes the credentials it was sent.
        return httpx.Response(status, json={"detail": f"no: {request.headers.get('authorization')}"})

    return handler


@pytest.mark.parametrize("status", [401, 422])
def test_a_refusal_quotes_the_servers_detail_but_never_the_api_key(
    monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    monkeypatch.setenv("PREFECT_API_KEY", "pnu_sekrit_key_42")
    client = http_client(transport=httpx.MockTransport(refusing_server(status)), attempts=1)
    store = PrefectStateStore("demo", api_url="http://prefect.invalid/api", client=client)
    with pytest.raises(StateError) as caught:
        store.put(record("repo"))
    message = str(caught.value)
    assert f"{status} no: Bearer ***" in message
    assert "sekrit" not in message
    assert ("PREFECT_API_KEY" in message) == (status == 401)


def test_server_errors_are_retried_before_they_become_a_state_error() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(503, json={"detail": "database is locked"}) if len(calls) < 3 else httpx.Response(
            200, json=[]
        )

    client = http_client(transport=httpx.MockTransport(handler), attempts=1)
    store = PrefectStateStore("demo", api_url="http://prefect.invalid/api", client=client)
    store.api._sleep = lambda _seconds: None  # no real waiting in this test
    assert store.read() == {}
    assert len(calls) == 3


# -- open_store --------------------------------------------------------------------------------------------


def config(tmp_path: Path, **options: Any) -> Config:
    return Config(
        path=tmp_path / "config.yaml",
        workdir=tmp_path,
        name="demo",
        state=StateConfig(backend="prefect", options=options),
        vars={},
        tools=[],
    )


def test_open_store_names_the_prefect_state_after_the_config_or_its_name_option(tmp_path: Path) -> None:
    store = open_store(config(tmp_path))
    assert isinstance(store, PrefectStateStore)
    assert store.state_name == "demo"
    named = open_store(config(tmp_path, name="team-prod"))
    assert isinstance(named, PrefectStateStore)
    assert named.state_name == "team-prod"
    assert named.state_lock.unlock_hint == f"dtm force-unlock -f {tmp_path / 'config.yaml'}"


def test_open_store_names_options_the_prefect_backend_does_not_know(tmp_path: Path) -> None:
    with pytest.raises(StateError, match=r"unknown option\(s\) stateFile, url for state backend `prefect`"):
        open_store(config(tmp_path, stateFile="x.state", url="http://x"))
