"""The local state store: DevStream's YAML file, written through a journal.

Each record write appends one line to `<state>.journal`; `flush()` folds the journal into the YAML file.
These tests walk through that life cycle, the crashes it must survive, and the format it must keep.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
import yaml

from devstream.errors import StateError
from devstream.state import LocalStateStore, StateRecord


def record(name: str, instance: str = "default", **outputs: object) -> StateRecord:
    """A record as the apply flow would write it after a successful Create."""
    return StateRecord(
        name=name,
        instanceID=instance,
        dependsOn=[],
        options={"owner": "acme", "repo": f"{name}-{instance}"},
        resourceStatus={"outputs": dict(outputs)},
    )


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    return tmp_path / "devstream.state"


@pytest.fixture
def store(state_file: Path) -> LocalStateStore:
    return LocalStateStore(state_file)


# -- the basic life cycle --------------------------------------------------------------------------------


def test_put_read_delete_round_trip(store: LocalStateStore) -> None:
    assert store.read() == {}

    store.put(record("repo-scaffolding", "golang", repo="acme/app"))
    store.put(record("github-actions", "golang"))
    state = store.read()
    assert list(state) == ["repo-scaffolding_golang", "github-actions_golang"]
    assert state["repo-scaffolding_golang"].outputs == {"repo": "acme/app"}

    # Putting the same key again replaces the record.
    store.put(record("repo-scaffolding", "golang", repo="acme/other"))
    assert store.read()["repo-scaffolding_golang"].outputs == {"repo": "acme/other"}

    store.delete("github-actions_golang")
    store.delete("never-existed_x")  # forgetting a missing record is fine
    assert list(store.read()) == ["repo-scaffolding_golang"]


def test_description_names_the_absolute_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert LocalStateStore(Path("my.state")).description == f"local file {tmp_path / 'my.state'}"


def test_a_write_goes_to_the_journal_not_the_state_file(store: LocalStateStore) -> None:
    store.put(record("noop"))
    assert not store.path.exists()
    lines = store.journal_path.read_text().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith('{"op":"put","key":"noop_default","record":{"name":"noop"')


def test_a_new_store_object_replays_the_journal_after_a_crash(state_file: Path) -> None:
    # A run writes three records and dies before it could flush.
    crashed = LocalStateStore(state_file)
    crashed.put(record("a"))
    crashed.put(record("b"))
    crashed.put(record("c"))
    crashed.delete("b_default")
    del crashed

    # The next run sees everything the crashed run had written.
    assert list(LocalStateStore(state_file).read()) == ["a_default", "c_default"]


# -- crashes and damage -------------------------------------------------------------------------------------


def test_a_torn_last_journal_line_is_ignored_with_a_warning(
    store: LocalStateStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.put(record("a"))
    # The process died in the middle of its second append.
    with store.journal_path.open("ab") as f:
        f.write(b'{"op":"put","key":"b_default","rec')

    with caplog.at_level(logging.WARNING, logger="devstream.state"):
        assert list(store.read()) == ["a_default"]
    assert "torn last line 2" in caplog.text

    # The next write does not glue itself onto the torn line: both records survive.
    store.put(record("c"))
    assert list(LocalStateStore(store.path).read()) == ["a_default", "c_default"]


def test_a_corrupt_line_in_the_middle_of_the_journal_is_an_error(store: LocalStateStore) -> None:
    store.put(record("a"))
    with store.journal_path.open("ab") as f:
        f.write(b"this is not json\n")
    store.put(record("b"))

    with pytest.raises(StateError) as err:
        store.read()
    assert str(store.journal_path) in str(err.value)
    assert "line 2" in str(err.value)


def test_a_state_file_that_is_not_yaml_is_an_error_naming_file_and_line(state_file: Path) -> None:
    state_file.write_text("noop_default:\n  name: noop\n  instanceID: [unclosed\n")
    with pytest.raises(StateError) as err:
        LocalStateStore(state_file).read()
    message = str(err.value)
    assert f"state file {state_file} is corrupt at line" in message
    assert "do not edit it by hand; restore it from backup" in message


def test_a_state_file_that_is_not_a_mapping_of_records_is_an_error(state_file: Path) -> None:
    state_file.write_text("- just\n- a list\n")
    with pytest.raises(StateError, match="corrupt at line 1"):
        LocalStateStore(state_file).read()

    # A record without its instanceID: the error points at that record's key.
    state_file.write_text("a_default:\n  name: a\n  instanceID: default\nb_default:\n  name: b\n")
    with pytest.raises(StateError, match=r"corrupt at line 4: record b_default: instanceID"):
        LocalStateStore(state_file).read()


# -- the file format ----------------------------------------------------------------------------------------


def test_flush_compacts_to_devstream_yaml_and_removes_the_journal(store: LocalStateStore) -> None:
    store.put(
        StateRecord(
            name="repo-scaffolding",
            instanceID="golang",
            dependsOn=["trello.default"],
            options={"destinationRepo": {"owner": "acme", "repo": "démo"}, "vars": {"tags": ["a", "b"]}},
            resourceStatus={"outputs": {"repo": "acme/démo"}},
        )
    )
    store.put(record("trello"))
    store.delete("trello_default")
    store.flush()

    assert not store.journal_path.exists()
    # Insertion order, indent 2, sequences indented under their key (as Go's yaml.v3 writes them),
    # unicode kept as is.
    assert store.path.read_text(encoding="utf-8") == (
        "repo-scaffolding_golang:\n"
        "  name: repo-scaffolding\n"
        "  instanceID: golang\n"
        "  dependsOn:\n"
        "    - trello.default\n"
        "  options:\n"
        "    destinationRepo:\n"
        "      owner: acme\n"
        "      repo: démo\n"
        "    vars:\n"
        "      tags:\n"
        "        - a\n"
        "        - b\n"
        "  resourceStatus:\n"
        "    outputs:\n"
        "      repo: acme/démo\n"
    )
    assert list(LocalStateStore(store.path).read()) == ["repo-scaffolding_golang"]


def test_an_empty_state_is_an_empty_file(store: LocalStateStore) -> None:
    store.put(record("a"))
    store.delete("a_default")
    store.flush()
    assert store.path.read_bytes() == b""
    assert store.read() == {}


def test_flush_with_nothing_written_does_not_touch_the_file(store: LocalStateStore) -> None:
    store.flush()
    assert not store.path.exists()
    assert store.bytes_written == 0


def test_reads_a_state_file_written_by_devstream_v012(state_file: Path) -> None:
    # What DevStream v0.12 wrote (Go yaml.v3, indent 2, keys sorted), by hand.
    state_file.write_text(
        "argocdapp_default:\n"
        "  name: argocdapp\n"
        "  instanceID: default\n"
        "  dependsOn:\n"
        "    - helm-installer.argocd\n"
        "  options:\n"
        "    app:\n"
        "      name: hello\n"
        "      namespace: argocd\n"
        "    instanceID: default\n"
        "  resourceStatus:\n"
        "    outputs: {}\n"
        "helm-installer_argocd:\n"
        "  name: helm-installer\n"
        "  instanceID: argocd\n"
        "  dependsOn: []\n"
        "  options:\n"
        "    chart:\n"
        "      chartName: argo/argo-cd\n"
        '      timeout: "10m"\n'
        "      wait: true\n"
        "    instanceID: argocd\n"
        "  resourceStatus:\n"
        "    outputs:\n"
        "      url: http://argocd.example\n"
        "    workflows: |\n"
        "      name: ci\n"
        "      on: push\n",
        encoding="utf-8",
    )

    store = LocalStateStore(state_file)
    state = store.read()
    assert list(state) == ["argocdapp_default", "helm-installer_argocd"]
    app = state["argocdapp_default"]
    assert app.key == "argocdapp.default"
    assert app.dependsOn == ["helm-installer.argocd"]
    assert app.options["app"] == {"name": "hello", "namespace": "argocd"}
    helm = state["helm-installer_argocd"]
    assert helm.outputs == {"url": "http://argocd.example"}
    assert helm.resourceStatus["workflows"] == "name: ci\non: push\n"

    # Writing one more record and compacting keeps DevStream's records as they were.
    store.put(record("noop"))
    store.flush()
    data = yaml.safe_load(state_file.read_text(encoding="utf-8"))
    assert list(data) == ["argocdapp_default", "helm-installer_argocd", "noop_default"]
    assert data["helm-installer_argocd"]["options"]["chart"]["wait"] is True
    assert LocalStateStore(state_file).read() == {**state, "noop_default": record("noop")}


# -- cost and concurrency -----------------------------------------------------------------------------------


def _bytes_for_an_apply_of(n: int, folder: Path) -> int:
    """Bytes written by an apply of n tools: n record writes, then the one compaction at the end."""
    store = LocalStateStore(folder / f"n{n}" / "devstream.state")
    for i in range(n):
        store.put(record("noop", f"tool{i:04d}", out=f"value-{i}"))
    store.flush()
    return store.bytes_written


def test_bytes_written_grow_linearly_with_the_number_of_tools(tmp_path: Path) -> None:
    small = _bytes_for_an_apply_of(100, tmp_path)
    large = _bytes_for_an_apply_of(400, tmp_path)
    # Four times the tools: about four times the bytes. Rewriting the whole file per write would be ~16x.
    assert large / small < 5


def test_concurrent_puts_from_16_threads_lose_nothing(store: LocalStateStore) -> None:
    start = threading.Barrier(16)

    def writer(t: int) -> None:
        start.wait()
        for i in range(25):
            store.put(record(f"tool{t}", f"i{i}", n=i))

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()

    state = LocalStateStore(store.path).read()
    assert len(state) == 16 * 25
    assert state["tool7_i24"].outputs == {"n": 24}
    store.flush()
    assert len(LocalStateStore(store.path).read()) == 16 * 25


def test_changes_that_finish_together_share_one_disk_flush(store: LocalStateStore, monkeypatch) -> None:
    # An apply runs dozens of changes at once; each record write is durable when it returns, but writes that
    # arrive while a flush is under way go to disk together, with the next flush.
    import os

    flushes: list[int] = []
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        flushes.append(fd)
        time.sleep(0.05)  # a disk that takes its time, so that the other writers queue up meanwhile
        real_fsync(fd)

    monkeypatch.setattr("devstream.state.local.os.fsync", slow_fsync)
    start = threading.Barrier(20)

    def writer(t: int) -> None:
        start.wait()
        store.put(record("tool", f"t{t:02d}"))

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(20)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()

    assert len(LocalStateStore(store.path).read()) == 20
    assert len(flushes) < 20 / 2  # one flush per group, not per record
    assert len(store.journal_path.read_bytes().splitlines()) == 20


def test_a_failed_shared_write_fails_every_change_in_it(store: LocalStateStore, monkeypatch) -> None:
    # A full disk: each change whose record was in the failed write learns it (its task fails and retries).
    import errno
    import os

    def full_disk(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("devstream.state.local.os.write", full_disk)
    errors: list[str] = []
    start = threading.Barrier(8)

    def writer(t: int) -> None:
        start.wait()
        try:
            store.put(record("tool", f"t{t}"))
        except StateError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()

    assert len(errors) == 8 and all("No space left on device" in e for e in errors)
    assert LocalStateStore(store.path).read() == {}
