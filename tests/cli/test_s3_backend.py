"""`backend: s3` through the installed `dtm`, against a real S3 protocol server (moto's server mode on 127.0.0.1).

A DevStream user's config names bucket, region and key as DevStream's did; `endpoint` points dtm at the local
server. Credentials come from the environment, the AWS way (see the s3_env fixture).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from s3_server import S3Server

from devstream.secrets import fingerprint

pytestmark = pytest.mark.usefixtures("s3_env")
runs_flows = pytest.mark.usefixtures("prefect_server")

DTM = str(Path(sys.executable).parent / "dtm")
KEY = "team/devstream.state"
TOKEN = "ghp_s3BackendTestToken000000000001"


def dtm(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DTM, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def write_config(folder: Path, s3_server: S3Server, bucket: str, tools: list[dict[str, Any]]) -> Path:
    config = folder / "config.yaml"
    state = {"backend": "s3", "options": {"bucket": bucket, "region": "us-east-1", "key": KEY,
                                          "endpoint": s3_server.endpoint}}
    config.write_text(yaml.safe_dump({"config": {"state": state}, "tools": tools}, sort_keys=False))
    return config


def noops(count: int, latency_ms: int = 0) -> list[dict[str, Any]]:
    return [{"name": "noop", "instanceID": f"t{i}", "options": {"latency_ms": latency_ms}} for i in range(count)]


def state_of(s3_server: S3Server, bucket: str) -> dict[str, Any]:
    return yaml.safe_load(s3_server.body(bucket, KEY)) or {}


@runs_flows
def test_apply_plan_and_destroy_keep_devstreams_state_object_with_secrets_fingerprinted(
        tmp_path: Path, s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    subprocess.run(["git", "init", "--bare", "--quiet", "--initial-branch=main", str(tmp_path / "app.git")],
                   check=True)
    ci = {"name": "ci-generic", "instanceID": "app", "options": {
        "ci": {"type": "generic", "configContents": {"ci.yml": "name: build\n"}},
        "projectRepo": {"scmType": "git", "url": "app.git", "name": "app", "token": TOKEN}}}
    config = write_config(tmp_path, s3_server, bucket, [ci, *noops(2)])

    applied = dtm("apply", "-f", str(config), "-y")
    assert applied.returncode == 0, applied.stdout + applied.stderr

    # One object in DevStream's format at `key`: the journal was compacted into it, the lock removed.
    assert s3_server.keys(bucket) == [KEY]
    body = s3_server.body(bucket, KEY).decode()
    assert sorted(yaml.safe_load(body)) == ["ci-generic_app", "noop_t0", "noop_t1"]
    assert TOKEN not in body and fingerprint(TOKEN) in body

    # The object as DevStream v0.12.1 would have left it (instanceID injected into options, the token in clear):
    # the next apply changes no tool, and rewrites the records in dtm's form, the token fingerprinted.
    records = yaml.safe_load(body)
    for rec in records.values():
        rec["options"]["instanceID"] = rec["instanceID"]
    records["ci-generic_app"]["options"]["projectRepo"]["token"] = TOKEN
    s3_server.client().put_object(Bucket=bucket, Key=KEY, Body=yaml.safe_dump(records, indent=2).encode())
    migrated = dtm("apply", "-f", str(config), "-y", "--json")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert json.loads(migrated.stdout)["plan"]["changes"] == []
    body = s3_server.body(bucket, KEY).decode()
    assert TOKEN not in body and fingerprint(TOKEN) in body
    assert not [key for key, rec in yaml.safe_load(body).items() if "instanceID" in rec["options"]]

    planned = dtm("plan", "-f", str(config))
    assert planned.returncode == 0 and "No changes." in planned.stdout, planned.stdout + planned.stderr

    destroyed = dtm("destroy", "-f", str(config), "-y")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert s3_server.keys(bucket) == [KEY] and state_of(s3_server, bucket) == {}


@runs_flows
def test_two_applies_at_once_take_turns_and_the_second_finds_nothing_to_do(
        tmp_path: Path, s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    config = write_config(tmp_path, s3_server, bucket, noops(4, latency_ms=500))
    argv = [DTM, "apply", "-f", str(config), "-y", "--json", "--lock-timeout", "300"]
    runs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             stdin=subprocess.DEVNULL) for _ in range(2)]
    results = [run.communicate(timeout=300) for run in runs]

    assert [run.returncode for run in runs] == [0, 0], results
    # Had both planned before either wrote, both would have created all four. Under the lock, one did.
    created = sorted(sum(1 for c in json.loads(out)["plan"]["changes"] if c["action"] == "create")
                     for out, _ in results)
    assert created == [0, 4]
    assert sorted(state_of(s3_server, bucket)) == [f"noop_t{i}" for i in range(4)]
    assert s3_server.keys(bucket) == [KEY]


@runs_flows
def test_a_sigkilled_apply_is_taken_over_by_the_next_one_with_nothing_lost(
        tmp_path: Path, s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    config = write_config(tmp_path, s3_server, bucket, noops(4, latency_ms=1500))
    killed = subprocess.Popen([DTM, "apply", "-f", str(config), "-y", "--parallelism", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not any(".journal/" in k for k in s3_server.keys(bucket)):  # its first change is in state
        assert killed.poll() is None and time.monotonic() < deadline, "the apply never got going"
        time.sleep(0.2)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert f"{KEY}.lock" in s3_server.keys(bucket)  # nobody released it

    again = dtm("apply", "-f", str(config), "-y", "--json")

    assert again.returncode == 0, again.stdout + again.stderr
    # What the killed run finished stays done: only the rest is created now.
    assert sum(1 for c in json.loads(again.stdout)["plan"]["changes"] if c["action"] == "create") < 4
    assert sorted(state_of(s3_server, bucket)) == [f"noop_t{i}" for i in range(4)]
    assert s3_server.keys(bucket) == [KEY]


@runs_flows
def test_a_lock_held_elsewhere_refuses_apply_until_force_unlock(tmp_path: Path, s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    config = write_config(tmp_path, s3_server, bucket, noops(1))
    holder = {"host": "build-agent-7", "pid": 4242, "command": "dtm apply", "since": "2026-01-01T00:00:00+00:00",
              "id": "theirs", "lease_seconds": 3600}
    s3_server.client().put_object(Bucket=bucket, Key=f"{KEY}.lock", Body=json.dumps(holder).encode())

    refused = dtm("apply", "-f", str(config), "-y")
    assert refused.returncode != 0
    said = " ".join(refused.stderr.split())
    assert f"state s3://{bucket}/{KEY} at {s3_server.endpoint} is locked by `dtm apply` (pid 4242 on host " \
           "build-agent-7)" in said
    assert f"run `dtm force-unlock -f {config}`" in said
    assert s3_server.keys(bucket) == [f"{KEY}.lock"]  # nothing written

    unlocked = dtm("force-unlock", "-f", str(config))
    assert unlocked.returncode == 0, unlocked.stderr
    assert "pid 4242 on host build-agent-7" in " ".join(unlocked.stdout.split())

    applied = dtm("apply", "-f", str(config), "-y")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert list(state_of(s3_server, bucket)) == ["noop_t0"]


def test_validate_checks_devstreams_three_options_and_a_missing_bucket_is_named_at_its_line(
        tmp_path: Path, s3_server: S3Server) -> None:
    config = write_config(tmp_path, s3_server, "no-such-bucket", noops(1))
    assert dtm("validate", "-f", str(config)).returncode == 0

    planned = dtm("plan", "-f", str(config))
    assert planned.returncode == 1
    line = config.read_text().splitlines().index("      bucket: no-such-bucket") + 1
    said = " ".join(planned.stderr.split())
    assert f"{config}:{line}: config.state.options.bucket: cannot read the state" in said
    assert "the bucket 'no-such-bucket' does not exist" in said

    config.write_text(config.read_text().replace(f"      key: {KEY}\n", ""))
    invalid = dtm("validate", "-f", str(config))
    assert invalid.returncode == 1
    assert "config.state.options.key: state option 'key' of backend `s3` is required" in \
           " ".join(invalid.stderr.split())
