"""Opt-in: the `s3` state backend against a real S3 service (AWS, or an S3-compatible server such as MinIO).

Runs only when `DTM_LIVE_S3_BUCKET` names an existing bucket (`DTM_LIVE_S3_REGION`, default us-east-1;
`DTM_LIVE_S3_ENDPOINT` for an S3-compatible server). Credentials are the AWS ones of the environment
(AWS_ACCESS_KEY_ID..., AWS_PROFILE). It writes under a fresh key `dtm-live-<random>/devstream.state` and
removes everything it wrote: records through the journal and a compaction, the lock refused to a second
holder (the server must honour conditional writes), force-unlock.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from devstream.state import StateRecord
from devstream.state.s3 import S3StateStore

BUCKET = os.environ.get("DTM_LIVE_S3_BUCKET", "")
pytestmark = pytest.mark.skipif(not BUCKET, reason="live S3 test: set DTM_LIVE_S3_BUCKET (an existing bucket)")


SECOND_RUN = """
import os, sys
from devstream.errors import StateLockedError
from devstream.state.s3 import S3StateStore

store = S3StateStore(bucket=os.environ["DTM_LIVE_S3_BUCKET"], region=os.environ.get("DTM_LIVE_S3_REGION", "us-east-1"),
                     key=sys.argv[1], endpoint=os.environ.get("DTM_LIVE_S3_ENDPOINT") or None)
try:
    with store.lock("dtm apply"):
        print("taken")
except StateLockedError:
    print("refused")
"""


def open_live(key: str) -> S3StateStore:
    return S3StateStore(bucket=BUCKET, region=os.environ.get("DTM_LIVE_S3_REGION", "us-east-1"), key=key,
                        endpoint=os.environ.get("DTM_LIVE_S3_ENDPOINT") or None)


def test_records_and_the_lock_on_a_real_s3_service() -> None:
    key = f"dtm-live-{uuid.uuid4().hex[:10]}/devstream.state"
    store = open_live(key)
    try:
        with store.lock("dtm apply"):
            store.put(StateRecord(name="noop", instanceID="a", resourceStatus={"outputs": {"n": 1}}))
            store.put(StateRecord(name="noop", instanceID="b"))
            store.delete("noop_b")
            # Another process asking for the lock is refused, naming this one.
            other = subprocess.run([sys.executable, "-c", SECOND_RUN, key], capture_output=True, text=True,
                                   timeout=120)
            assert other.stdout.strip() == "refused", other.stdout + other.stderr
        assert list(open_live(key).read()) == ["noop_a"]
        with store.lock("dtm apply"):
            assert store.force_unlock() is not None
    finally:
        listed = store.s3.list_objects_v2(Bucket=BUCKET, Prefix=key)
        for item in listed.get("Contents", ()):
            store.s3.delete_object(Bucket=BUCKET, Key=item["Key"])
