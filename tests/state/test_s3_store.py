"""The `s3` state backend against a real S3 protocol server (moto's server mode on 127.0.0.1, see tests/s3_server.py).

The state object keeps DevStream's format; each change is one small journal object; the lock is an object taken
with a conditional write, held by one process at a time. Another process is played by a child Python process
that takes the lock, says "locked" and holds it until we write a line to its stdin.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from lock_holder import LockHolder
from s3_server import S3Server

from devstream.errors import StateError, StateLockedError
from devstream.state import StateRecord
from devstream.state.s3 import S3StateStore

pytestmark = pytest.mark.usefixtures("s3_env")

HOLDER_SCRIPT = """
import json, sys
from devstream.state.s3 import S3StateStore

where = json.loads(sys.argv[1])
store = S3StateStore(bucket=where["bucket"], region="us-east-1", key=where["key"], endpoint=where["endpoint"],
                     renew_every=where.get("renew_every"))
with store.lock("dtm apply"):
    store.put(__import__("devstream.state", fromlist=["StateRecord"]).StateRecord(name="noop", instanceID="held"))
    print("locked", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


class OtherRun(LockHolder):
    """A `dtm apply` in another process holding the lock of an s3 state."""

    script = HOLDER_SCRIPT


def record(name: str, instance: str = "default", **outputs: Any) -> StateRecord:
    return StateRecord(name=name, instanceID=instance, options={"n": 1}, resourceStatus={"outputs": outputs})


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    return s3_server.new_bucket()


def open_s3(s3_server: S3Server, bucket: str, key: str = "devstream.state", **kw: Any) -> S3StateStore:
    return S3StateStore(bucket=bucket, region="us-east-1", key=key, endpoint=s3_server.endpoint,
                        config_path=Path("/work/dtm.yaml"), **kw)


def other_run(s3_server: S3Server, bucket: str, **extra: Any) -> OtherRun:
    return OtherRun(json.dumps({"bucket": bucket, "key": "devstream.state", "endpoint": s3_server.endpoint, **extra}))


# -- the state object and its journal -----------------------------------------------------------------------


def test_records_written_are_read_back_and_compacted_into_devstreams_format(s3_server: S3Server, bucket: str) -> None:
    store = open_s3(s3_server, bucket)
    with store.lock("dtm apply"):
        store.put(record("repo", "app", url="https://example.com/app"))
        store.put(record("noop", "gone"))
        store.delete("noop_gone")
        # Each change is a journal object of its own; the state object is not rewritten per change.
        assert s3_server.keys(bucket) == ["devstream.state.journal/000000000001.json",
                                          "devstream.state.journal/000000000002.json",
                                          "devstream.state.journal/000000000003.json", "devstream.state.lock"]
        assert open_s3(s3_server, bucket).read() == {"repo_app": record("repo", "app", url="https://example.com/app")}

    # Leaving the lock compacts: DevStream's one YAML mapping at `key`, the journal and the lock gone.
    assert s3_server.keys(bucket) == ["devstream.state"]
    data = yaml.safe_load(s3_server.body(bucket, "devstream.state"))
    assert data == {"repo_app": record("repo", "app", url="https://example.com/app").model_dump(mode="json")}


def test_a_state_object_written_by_devstream_is_read_as_it_is(s3_server: S3Server, bucket: str) -> None:
    devstream_state = (
        "argocdapp_default:\n  name: argocdapp\n  instanceID: default\n  dependsOn:\n    - helm-installer.argocd\n"
        "  options:\n    instanceID: default\n  resourceStatus:\n    outputs: {}\n"
    )
    s3_server.client().put_object(Bucket=bucket, Key="team/devstream.state", Body=devstream_state.encode())

    state = open_s3(s3_server, bucket, key="team/devstream.state").read()

    assert list(state) == ["argocdapp_default"]
    assert state["argocdapp_default"].dependsOn == ["helm-installer.argocd"]


def test_a_run_that_died_before_compacting_loses_nothing(s3_server: S3Server, bucket: str) -> None:
    died = open_s3(s3_server, bucket)
    died.put(record("noop", "a"))
    died.put(record("noop", "b"))  # no flush: the run is gone

    later = open_s3(s3_server, bucket)
    assert sorted(later.read()) == ["noop_a", "noop_b"]
    later.put(record("noop", "c"))  # numbered after what is there, never over it
    later.flush()
    assert sorted(open_s3(s3_server, bucket).read()) == ["noop_a", "noop_b", "noop_c"]
    assert s3_server.keys(bucket) == ["devstream.state"]


def test_a_corrupt_state_object_is_named_with_its_line(s3_server: S3Server, bucket: str) -> None:
    s3_server.client().put_object(Bucket=bucket, Key="devstream.state", Body=b"noop_a:\n  name: [unclosed\n")

    with pytest.raises(StateError, match=rf"state object s3://{bucket}/devstream.state is corrupt at line \d"):
        open_s3(s3_server, bucket).read()


def _bytes_for_an_apply_of(n: int, s3_server: S3Server) -> int:
    store = open_s3(s3_server, s3_server.new_bucket())
    with store.lock("dtm apply"):
        for i in range(n):
            store.put(record("noop", f"tool{i:04d}", out=f"value-{i}"))
    return store.bytes_written


def test_bytes_written_grow_linearly_with_the_number_of_tools(s3_server: S3Server) -> None:
    small = _bytes_for_an_apply_of(10, s3_server)
    large = _bytes_for_an_apply_of(40, s3_server)
    # Four times the tools: about four times the bytes. Rewriting the whole object per write would be ~16x.
    assert 3 < large / small < 5


# -- the lock -----------------------------------------------------------------------------------------------


def test_a_second_run_is_refused_naming_the_holder_then_waits_for_it(s3_server: S3Server, bucket: str) -> None:
    holder = other_run(s3_server, bucket)
    try:
        store = open_s3(s3_server, bucket)
        with pytest.raises(StateLockedError) as err, store.lock("dtm apply"):
            pass
        message = str(err.value)
        assert f"s3://{bucket}/devstream.state" in message and "`dtm apply`" in message
        assert f"pid {holder.pid} on host {socket.gethostname()}" in message
        assert "dtm force-unlock -f /work/dtm.yaml" in message
    finally:
        holder.finish()
    # Released (and compacted): the next run takes it and sees what the holder wrote.
    with store.lock("dtm apply", timeout=5):
        assert list(store.read()) == ["noop_held"]


def test_a_holder_killed_with_sigkill_is_taken_over_by_the_next_run_on_its_host(
        s3_server: S3Server, bucket: str) -> None:
    holder = other_run(s3_server, bucket)
    holder.crash()
    store = open_s3(s3_server, bucket)

    with store.lock("dtm apply"):
        gone = store.taken_over()
        assert gone is not None and gone["pid"] == holder.pid
        assert list(store.read()) == ["noop_held"]  # its journal entry was kept
    assert s3_server.keys(bucket) == ["devstream.state"]


def _lock_of_another_host(s3_server: S3Server, bucket: str, lease_seconds: float) -> dict[str, Any]:
    holder = {"host": "build-agent-7", "pid": 4242, "command": "dtm apply", "since": "2026-01-01T00:00:00+00:00",
              "id": "theirs", "lease_seconds": lease_seconds}
    s3_server.client().put_object(Bucket=bucket, Key="devstream.state.lock", Body=json.dumps(holder).encode())
    return holder


def test_a_holder_on_another_host_keeps_the_lock_while_its_lease_runs(s3_server: S3Server, bucket: str) -> None:
    _lock_of_another_host(s3_server, bucket, lease_seconds=3600)
    with pytest.raises(StateLockedError, match="pid 4242 on host build-agent-7"), \
            open_s3(s3_server, bucket).lock("dtm apply"):
        pass


def test_a_holder_on_another_host_whose_lease_ran_out_is_taken_over(s3_server: S3Server, bucket: str) -> None:
    theirs = _lock_of_another_host(s3_server, bucket, lease_seconds=0.5)
    time.sleep(2.6)  # its lease, plus the second of margin the server's whole-second clock needs
    store = open_s3(s3_server, bucket)
    with store.lock("dtm apply"):
        assert store.taken_over() == theirs


def test_force_unlock_frees_the_lock_and_the_broken_holder_leaves_the_new_one_alone(
        s3_server: S3Server, bucket: str) -> None:
    holder = other_run(s3_server, bucket, renew_every=0.2)
    store = open_s3(s3_server, bucket)
    try:
        freed = store.force_unlock()
        assert freed is not None and freed["pid"] == holder.pid
        assert store.force_unlock() is None  # nothing left to free
        with store.lock("dtm apply"):
            holder.finish()  # its release finds the lock object is not its own any more
            lock = json.loads(s3_server.body(bucket, "devstream.state.lock"))
            assert lock["pid"] == os.getpid()
            assert list(store.read()) == ["noop_held"]  # and it did not compact over us
    finally:
        holder.finish()
    assert s3_server.keys(bucket) == ["devstream.state"]


def test_the_lock_is_reentrant_within_a_process(s3_server: S3Server, bucket: str) -> None:
    store = open_s3(s3_server, bucket)
    with store.lock("dtm apply"), open_s3(s3_server, bucket).lock("dtm apply flow"):
        assert "devstream.state.lock" in s3_server.keys(bucket)
    assert s3_server.keys(bucket) == []


# -- errors the user can act on -----------------------------------------------------------------------------


def test_a_missing_bucket_is_named(s3_server: S3Server) -> None:
    store = open_s3(s3_server, "no-such-bucket", locate=lambda o: f"dtm.yaml:7: config.state.options.{o}:")
    with pytest.raises(StateError) as err:
        store.read()
    assert str(err.value).startswith("dtm.yaml:7: config.state.options.bucket: cannot read the state")
    assert "the bucket 'no-such-bucket' does not exist" in str(err.value)


def test_no_credentials_at_all_says_where_aws_looks(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    store = open_s3(s3_server, "any-bucket", locate=lambda o: f"dtm.yaml:3: config.state.{o}:")
    with pytest.raises(StateError, match="dtm.yaml:3: config.state.backend: .*no AWS credentials found.*AWS_PROFILE"):
        store.read()


def test_an_unknown_profile_is_named(s3_server: S3Server) -> None:
    with pytest.raises(StateError, match="dtm.yaml:9: config.state.options.profile: the AWS profile 'ops'"):
        open_s3(s3_server, "any-bucket", profile="ops", locate=lambda o: f"dtm.yaml:9: config.state.options.{o}:")


def test_credentials_the_server_refuses_are_named_with_their_source() -> None:
    from processes import stop
    from s3_server import start_moto

    strict = start_moto({"INITIAL_NO_AUTH_ACTION_COUNT": "0"})  # moto checks every access key: ours is unknown
    try:
        store = S3StateStore(bucket="dtm-state", region="us-east-1", key="devstream.state", endpoint=strict.endpoint,
                             locate=lambda o: f"dtm.yaml:3: config.state.{o}:")
        with pytest.raises(StateError) as err:
            store.read()
    finally:
        stop(strict.proc)
    message = str(err.value)
    assert message.startswith("dtm.yaml:3: config.state.backend: cannot read the state")
    assert "refused dtm's AWS credentials (InvalidAccessKeyId" in message
    assert "the environment (AWS_ACCESS_KEY_ID)" in message


def test_a_server_that_ignores_conditional_writes_is_refused(s3_server: S3Server, bucket: str) -> None:
    store = open_s3(s3_server, bucket)

    def as_if_the_server_ignored_them(params: dict[str, Any], **_: Any) -> None:
        params.pop("IfMatch", None)
        params.pop("IfNoneMatch", None)

    store.s3.meta.events.register("provide-client-params.s3.PutObject", as_if_the_server_ignored_them)
    with pytest.raises(StateError, match="the S3 server ignores conditional writes"), store.lock("dtm apply"):
        pass
    assert s3_server.keys(bucket) == []  # no lock left behind
