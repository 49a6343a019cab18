"""What an apply costs the `s3` state backend: bytes and requests per change, against moto's S3 server.

    python benchmarks/s3_state.py [--n 100 400 1600] [--workers 8]

For each N, in a fresh bucket of a moto server started on 127.0.0.1 (moto[server], in the test extras): take
the lock, write N noop-like records from --workers threads (as the apply flow's tasks do), release (which
compacts the journal into DevStream's state object once). Prints the bytes and requests the store sent, the
wall time, the bytes DevStream v0.12.1 would have sent for the same apply (the whole state object PUT after
every change: sum of the state's size after each), and the ratio of the two; then the time of a `read()`
of the compacted state, and of one with all N changes still in the journal (a run that died before compacting).
Ideal: bytes per change constant as N grows (O(N) per apply); DevStream's grew with N (O(N^2)).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from devstream.state import StateRecord, document
from devstream.state.s3 import S3StateStore


def make_record(i: int) -> StateRecord:
    iid = f"t{i:05d}"
    outputs = {"id": iid, "url": f"https://example.test/resources/{iid}", "region": "eu-west-1"}
    return StateRecord(name="noop", instanceID=iid, options={"latency_ms": 100, "outputs": outputs},
                       resourceStatus={"outputs": outputs})


def start_moto() -> tuple[subprocess.Popen[Any], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(f"{endpoint}/moto-api/", timeout=2)
            return proc, endpoint
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("moto's server did not start")


def devstream_bytes(records: list[StateRecord]) -> int:
    """DevStream PUT the whole state object after each change: the sum of its size after each. A block mapping
    renders as its entries one after another, so the size after k changes is the sum of the first k entries'."""
    total = size = 0
    for rec in records:
        size += len(document.render({rec.state_key: rec}))
        total += size
    return total


def bench(endpoint: str, n: int, workers: int) -> None:
    bucket = f"bench-{uuid.uuid4().hex[:10]}"
    store = S3StateStore(bucket=bucket, region="us-east-1", key="devstream.state", endpoint=endpoint)
    store.s3.create_bucket(Bucket=bucket)
    calls = {"n": 0}

    def count(**_: Any) -> None:
        calls["n"] += 1

    store.s3.meta.events.register("after-call.s3", count)
    records = [make_record(i) for i in range(n)]
    t0 = time.perf_counter()
    with store.lock("benchmark"), ThreadPoolExecutor(workers) as pool:
        list(pool.map(store.put, records))
    wall = time.perf_counter() - t0
    theirs = devstream_bytes(records)
    print(f"N={n:5d}: {store.bytes_written:10,d} bytes ({store.bytes_written / n:6.0f} per change), "
          f"{calls['n']:5d} requests, {wall:6.2f} s; DevStream's whole-object PUTs: {theirs:13,d} bytes "
          f"({theirs / n:8.0f} per change), {theirs / store.bytes_written:6.1f}x ours")
    t0 = time.perf_counter()
    assert len(S3StateStore(bucket=bucket, region="us-east-1", key="devstream.state", endpoint=endpoint).read()) == n
    compacted = time.perf_counter() - t0
    crashed = S3StateStore(bucket=bucket, region="us-east-1", key="journal.state", endpoint=endpoint)
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(crashed.put, records))
    t0 = time.perf_counter()
    assert len(S3StateStore(bucket=bucket, region="us-east-1", key="journal.state", endpoint=endpoint).read()) == n
    print(f"         read(): {compacted:5.2f} s compacted, {time.perf_counter() - t0:5.2f} s from a journal of {n}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[100, 400, 1600])
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    proc, endpoint = start_moto()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the server
    try:
        for n in args.n:
            bench(endpoint, n, args.workers)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
