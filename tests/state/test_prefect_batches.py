"""Records saved together: the `prefect` backend's group commit, batches, sequence numbers and compaction.

The story: while one write is on its way to the server, the puts that arrive wait and then share the next
write (a batch artifact), each returning only once its record is durable; a put alone still writes its
record's own key, and a record whose page is its own key keeps it current even when saved with others.
Which version of a record is the newest is decided by sequence numbers, wherever it lives; a failed group
write fails every caller in it and leaves nothing `read()` would take. At the end of a run, many batches are
compacted into few, and a compaction interrupted at any step leaves the same records readable.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from devstream.errors import StateError
from devstream.plugin.http import http_client
from devstream.prefect_boundary.state_store import ARTIFACT_TYPE, PrefectStateStore
from devstream.state import StateRecord, record_doc

pytestmark = pytest.mark.usefixtures("prefect_server")


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}"


def record(name: str, instance: str = "default", **options: Any) -> StateRecord:
    return StateRecord(name=name, instanceID=instance, options=options or {"owner": "devstream"},
                       resourceStatus={"outputs": {"url": f"https://example.invalid/{name}/{instance}"}})


class Writes:
    """An httpx request hook that remembers each artifact write: method, path and the artifact key."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path.endswith("/artifacts/"):
            self.seen.append(("POST", json.loads(request.content)["key"]))
        elif request.method == "DELETE" and "/artifacts/" in request.url.path:
            self.seen.append(("DELETE", request.url.path.rsplit("/", 1)[1]))

    def posts(self) -> list[str]:
        """The keys written, each once (a request the busy server answered 503 is sent again)."""
        return list(dict.fromkeys(key for method, key in self.seen if method == "POST"))


def watched_store(state: str, transport: httpx.BaseTransport | None = None, **kwargs: Any
                  ) -> tuple[PrefectStateStore, Writes]:
    writes = Writes()
    client = http_client(event_hooks={"request": [writes]}, transport=transport, attempts=1)
    return PrefectStateStore(state, client=client, **kwargs), writes


def saved_together(store: PrefectStateStore, *calls: Callable[[], None]) -> list[BaseException | None]:
    """Run puts and deletes in threads while the store's writer is held, so they all share its next write;
    what each raised (None when it succeeded)."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        with store.group_commit.exclusive():
            futures = [pool.submit(call) for call in calls]
            deadline = time.monotonic() + 30
            while store.group_commit.waiting < len(calls) and time.monotonic() < deadline:
                time.sleep(0.01)
        return [future.exception() for future in futures]


def latest_artifacts(store: PrefectStateStore) -> dict[str, Any]:
    """The state's artifact keys and their newest versions, straight from the REST API."""
    response = store.api.call("POST", "/artifacts/latest/filter", retry=True, what="read the artifacts",
                              json={"artifacts": {"key": {"like_": store.prefix}}, "limit": 200})
    return {item["key"]: item for item in response.json()}


def post_envelope(store: PrefectStateStore, key: str, envelope: dict[str, Any]) -> None:
    render = record_doc.render_batch if envelope.get("format") == 2 else record_doc.render
    store.api.call("POST", "/artifacts/", what="write an artifact",
                   json={"key": key, "type": ARTIFACT_TYPE, "data": render(envelope)})


# -- group commit ---------------------------------------------------------------------------------------------


def test_concurrent_puts_share_few_writes_and_every_record_reads_back() -> None:
    store, writes = watched_store(unique("together"))
    store.read()
    records = [record("tool", f"i{i:03d}", n=i) for i in range(120)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(store.put, records))

    posts = writes.posts()
    print(f"\n120 puts from 16 threads: {len(posts)} artifact writes")
    assert len(posts) < 60  # a write per group of waiting puts, not one per record
    assert any("-batch-" in key for key in posts)
    assert PrefectStateStore(store.state_name).read() == {r.state_key: r for r in records}


def test_a_lone_put_writes_its_own_key_and_a_record_with_its_own_page_keeps_it_current() -> None:
    store, writes = watched_store(unique("own-page"))
    store.read()
    store.put(record("repo", owner="v1"))
    assert writes.posts() == [store.artifact_key("repo_default")]

    writes.seen.clear()
    assert saved_together(store, lambda: store.put(record("repo", owner="v2")),
                          lambda: store.put(record("app")), lambda: store.put(record("web"))) == [None] * 3
    own, *batches = sorted(writes.posts(), key=lambda key: "-batch-" in key)
    assert own == store.artifact_key("repo_default") and len(batches) == 1
    batch = record_doc.parse(latest_artifacts(store)[batches[0]]["data"]) or {}
    assert batch["format"] == 2 and sorted(e["key"] for e in batch["entries"]) == ["app_default", "web_default"]
    assert PrefectStateStore(store.state_name).read()["repo_default"].options == {"owner": "v2"}


def test_a_delete_in_a_group_needs_no_request_of_its_own_and_hides_the_record() -> None:
    store, writes = watched_store(unique("delete"))
    store.read()
    assert saved_together(store, lambda: store.put(record("repo")), lambda: store.put(record("app"))) == [None] * 2
    writes.seen.clear()
    assert saved_together(store, lambda: store.delete("repo_default"), lambda: store.put(record("web"))) == [None] * 2
    [batch_key] = writes.posts()
    [tombstone] = [e for e in (record_doc.parse(latest_artifacts(store)[batch_key]["data"]) or {})["entries"]
                   if e.get("deleted")]
    assert tombstone["record"] == {"name": "repo", "instanceID": "default"}  # known from the store's own write
    assert sorted(PrefectStateStore(store.state_name).read()) == ["app_default", "web_default"]


# -- sequence numbers decide ------------------------------------------------------------------------------


def test_the_version_with_the_highest_sequence_number_wins_wherever_it_lives() -> None:
    store = PrefectStateStore(unique("seq"))
    state = store.state_name
    repo, app, web = (record(n).model_dump(mode="json") for n in ("repo", "app", "web"))
    # repo: live on its own key at 3, a tombstone in a batch at 5; app: live in a batch at 4, a tombstone on
    # its own key at 2; web: written before sequence numbers (0) on its own key, a tombstone in a batch at 1.
    post_envelope(store, store.artifact_key("repo_default"),
                  {"format": 1, "state": state, "key": "repo_default", "seq": 3, "record": repo})
    post_envelope(store, store.artifact_key("app_default"),
                  {"format": 1, "state": state, "key": "app_default", "seq": 2, "deleted": True})
    post_envelope(store, store.artifact_key("web_default"), {"format": 1, "state": state, "key": "web_default",
                                                              "record": web})
    post_envelope(store, f"{store.prefix}batch-5-test", {"format": 2, "state": state, "seq": 5, "entries": [
        {"key": "web_default", "seq": 1, "deleted": True},
        {"key": "app_default", "seq": 4, "record": app},
        {"key": "repo_default", "seq": 5, "deleted": True}]})
    assert store.read() == {"app_default": record("app")}

    # The next version of any of them is numbered above all it has seen, so it wins in turn.
    store.put(record("repo", owner="back"))
    store.delete("app_default")
    assert PrefectStateStore(state).read() == {"repo_default": record("repo", owner="back")}


# -- a failed group write ---------------------------------------------------------------------------------


class RefuseBatches(httpx.BaseTransport):
    """The real server behind a proxy that refuses batch writes while `refusing` is set."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.refusing = True

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.refusing and request.method == "POST" and b"-batch-" in request.content[:300]:
            return httpx.Response(422, json={"detail": "refused by the test"})
        return self.inner.handle_request(request)


def test_a_failed_group_write_fails_every_caller_and_leaves_nothing_behind() -> None:
    proxy = RefuseBatches()
    store, _writes = watched_store(unique("failed"), transport=proxy)
    store.read()
    outcome = saved_together(store, *(lambda n=n: store.put(record(n)) for n in ("repo", "app", "web")))
    assert all(isinstance(error, StateError) and "refused by the test" in str(error) for error in outcome)
    assert PrefectStateStore(store.state_name).read() == {}

    # Each change's task is retried, as Prefect retries it: now the write goes through.
    proxy.refusing = False
    assert saved_together(store, *(lambda n=n: store.put(record(n)) for n in ("repo", "app", "web"))) == [None] * 3
    assert sorted(PrefectStateStore(store.state_name).read()) == ["app_default", "repo_default", "web_default"]


# -- compaction ---------------------------------------------------------------------------------------------


def many_batches(store: PrefectStateStore) -> dict[str, StateRecord]:
    """Five batches (with an overwrite and two deletes) and a record on its own key; the records to expect."""
    def put(name: str, **options: Any) -> Callable[[], None]:
        return lambda: store.put(record(name, **options))

    store.read()
    store.put(record("own"))
    for calls in ([put("a"), put("b"), put("c")], [put("a", owner="v2"), put("d")],
                  [lambda: store.delete("b_default"), put("e")], [put("c", owner="v2"), put("f")],
                  [lambda: store.delete("e_default"), put("g")]):
        assert saved_together(store, *calls) == [None] * len(calls)
    expected = {r.state_key: r for r in (record("own"), record("a", owner="v2"), record("c", owner="v2"),
                                         record("d"), record("f"), record("g"))}
    assert store.read() == expected
    return expected


def batch_keys(store: PrefectStateStore) -> list[str]:
    return sorted(key for key in latest_artifacts(store) if "-batch-" in key)


def test_many_batches_are_compacted_when_the_lock_is_released() -> None:
    store, writes = watched_store(unique("compact"), batch_records=3, compact_above=2)
    with store.lock("dtm apply"):
        expected = many_batches(store)
        old = batch_keys(store)
        assert len(old) == 5
        listed = latest_artifacts(store)
        by_seq = sorted(old, key=lambda key: int(key.split("-batch-")[1].split("-")[0]))
        oldest_first = [listed[key]["latest_id"] for key in by_seq]
        writes.seen.clear()
    # 5 live batched records in fresh batches of at most 3, then the 5 old batches deleted, oldest first (a
    # request the busy server answered 503 is sent again: counted once).
    assert [method for method, _ in dict.fromkeys(writes.seen)] == ["POST"] * 2 + ["DELETE"] * 5
    assert [what for method, what in dict.fromkeys(writes.seen) if method == "DELETE"] == oldest_first
    new = batch_keys(store)
    assert len(new) == 2 and not set(new) & set(old)  # a batch's only version deleted: gone from the listing
    assert PrefectStateStore(store.state_name).read() == expected
    with store.lock("dtm apply"):
        pass  # few batches now: nothing to do
    assert batch_keys(store) == new


def test_batches_full_of_live_records_are_left_alone() -> None:
    store, writes = watched_store(unique("dense"), batch_records=3, compact_above=2)
    with store.lock("dtm apply"):
        store.read()
        for i in range(4):
            assert saved_together(store, *(lambda n=n: store.put(record(n)) for n in (f"a{i}", f"b{i}"))) == [None] * 2
        before = batch_keys(store)
        writes.seen.clear()
    # Rewriting them would only make fewer, larger artifacts, at the cost of a write and a delete for each.
    assert len(before) == 4 and batch_keys(store) == before and writes.seen == []


class Interrupted(httpx.BaseTransport):
    """The real server behind a proxy that refuses every artifact write after the first `allowed` once armed,
    as if the run had died there."""

    def __init__(self, allowed: int) -> None:
        self.inner = httpx.HTTPTransport()
        self.allowed = allowed
        self.armed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        writes = (request.method == "POST" and request.url.path.endswith("/artifacts/")) or request.method == "DELETE"
        if self.armed and writes and "/artifacts/" in request.url.path:
            if self.allowed <= 0:
                return httpx.Response(418, json={"detail": "the run died here"})
            self.allowed -= 1
        return self.inner.handle_request(request)


@pytest.fixture
def quiet_compaction(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.WARNING, logger="devstream.state"):
        yield caplog


@pytest.mark.parametrize("step", range(7))  # 2 new batches, then 5 deletes
def test_a_compaction_interrupted_at_any_step_leaves_the_same_records(
    step: int, quiet_compaction: pytest.LogCaptureFixture
) -> None:
    proxy = Interrupted(allowed=step)
    store, _writes = watched_store(unique(f"crash-{step}"), transport=proxy, batch_records=3, compact_above=2)
    with store.lock("dtm apply"):
        expected = many_batches(store)
        proxy.armed = True
    assert "could not compact state" in quiet_compaction.text
    assert PrefectStateStore(store.state_name).read() == expected
    # The next run compacts again when the batches are still many (more than twice the 2 needed).
    healthy = PrefectStateStore(store.state_name, batch_records=3, compact_above=2)
    with healthy.lock("dtm apply"):
        assert healthy.read() == expected
    assert len(batch_keys(healthy)) <= 4 and PrefectStateStore(store.state_name).read() == expected
