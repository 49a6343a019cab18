"""Reading a large state from the `prefect` state backend (one Prefect artifact per record).

    python benchmarks/state_load.py [--n 5000] [--repeat 3] [--workers 8] [--server real|embedded]

Writes N noop-like records (a few options, outputs and dependencies each) into a PrefectStateStore of a
fresh state name, from a thread pool (the write rate is reported: it is set-up, not the figure), then times
`read()` of the whole state, the median of --repeat reads, and the HTTP requests and bytes one read takes.
Target: a read of 5,000 records in a few seconds (<= 5 s).

--server real (default) starts a dedicated `prefect server start` (SQLite, temporary PREFECT_HOME) and stops
it after; --server embedded uses what `dtm` would: PREFECT_API_URL if set, else dtm's local server (in a
temporary DTM_HOME unless DTM_HOME is set). On a server that outlives the benchmark the records stay there.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from devstream.prefect_boundary.state_store import PAGE_SIZE, PrefectStateStore
from devstream.state import StateRecord

sys.path.insert(0, str(Path(__file__).parent))
from _servers import SERVERS, Server, run_on_server  # noqa: E402

READ_TARGET = 5.0


class Traffic:
    """Requests and bytes through one httpx client, counted by its event hooks while `on`."""

    def __init__(self, client: httpx.Client) -> None:
        self.on = False
        self.reset()
        client.event_hooks["request"].append(self._request)
        client.event_hooks["response"].append(self._response)

    def reset(self) -> None:
        self.requests = self.sent = self.received = self.wire = 0

    def _request(self, request: httpx.Request) -> None:
        if self.on:
            self.requests += 1
            self.sent += len(request.content)

    def _response(self, response: httpx.Response) -> None:
        if self.on:
            response.read()  # the store reads it next anyway; cached on the response
            self.received += len(response.content)
            self.wire += response.num_bytes_downloaded


def make_record(i: int) -> StateRecord:
    """A record like the noop plugin leaves: options as applied, outputs in resourceStatus, 0-3 dependencies."""
    iid = f"t{i:05d}"
    outputs = {"id": iid, "url": f"https://example.test/resources/{iid}", "region": "eu-west-1"}
    options = {"latency_ms": 100, "outputs": outputs, "triggers": {"revision": i % 7, "owner": "team-a"},
               "fail_on": [], "transient_failures": 0}
    deps = [f"noop.t{j:05d}" for j in range(max(0, i - 3), i) if (i * 31 + j) % 3 == 0] if i else []
    return StateRecord(name="noop", instanceID=iid, dependsOn=deps, options=options,
                       resourceStatus={"outputs": outputs, "triggers": options["triggers"]})


def bench(args: argparse.Namespace, server: Server) -> int:
    if server.url is None:
        print("the prefect state backend needs a server URL; DTM_EMBEDDED_SERVER=0 leaves none", file=sys.stderr)
        return 2
    state_name = f"dtm-bench-load-{uuid.uuid4().hex[:8]}"
    store = PrefectStateStore(state_name, api_url=server.url)
    traffic = Traffic(store.api.client)
    records = [make_record(i) for i in range(args.n)]
    try:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            list(pool.map(store.put, records))
        write_s = time.perf_counter() - t0

        reads, read_traffic = [], []
        for _ in range(args.repeat):
            traffic.reset()
            traffic.on = True
            t0 = time.perf_counter()
            got = store.read()
            reads.append(time.perf_counter() - t0)
            traffic.on = False
            read_traffic.append((traffic.requests, traffic.sent, traffic.received, traffic.wire))
            if len(got) != args.n:
                raise SystemExit(f"read() returned {len(got)} records, {args.n} were written")
    finally:
        store.close()

    read_s = statistics.median(reads)
    requests, sent, received, wire = read_traffic[-1]  # every read sends the same requests
    print(f"state_load: N={args.n} records, prefect state backend, state {state_name}")
    print(f"  server: {server.description}")
    print(f"  server start-up (not counted)     {server.startup_s:7.2f} s")
    print(f"  write, {args.workers} threads (set-up)        {write_s:7.2f} s  ({args.n / write_s:,.0f} records/s, "
          f"{store.bytes_written / args.n:,.0f} B per record)")
    print(f"  read(), median of {len(reads)}              {read_s:7.2f} s  ({args.n / read_s:,.0f} records/s; "
          f"runs: {', '.join(f'{r:.2f}' for r in reads)})")
    print(f"  one read: {requests} HTTP requests (pages of {PAGE_SIZE}), {sent / 1024:,.1f} KiB sent, "
          f"{received / 1024:,.0f} KiB received ({wire / 1024:,.0f} KiB on the wire), "
          f"{read_s / requests * 1000:.0f} ms per request")
    print(f"  read / target ({READ_TARGET:.0f} s)                 {read_s / READ_TARGET:5.2f} x  "
          f"({'met' if read_s <= READ_TARGET else 'MISSED'})")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3, help="reads; the median is reported")
    ap.add_argument("--workers", type=int, default=8, help="threads writing the records")
    ap.add_argument("--server", choices=SERVERS, default="real",
                    help="real: a dedicated `prefect server start`; embedded: dtm's default")
    args = ap.parse_args()
    # Before anything imports prefect: it reads PREFECT_API_URL once.
    return run_on_server(args.server, lambda server: bench(args, server))


if __name__ == "__main__":
    raise SystemExit(main())
