"""Apply N `noop` tools in a random DAG of depth D, each call taking L ms, P at a time.

    python benchmarks/apply_scale.py [--n 500] [--depth 5] [--latency-ms 100] [--parallelism 50]

Prints the wall time of the apply (one Prefect flow run) and of a no-op re-apply (plan only: live reads,
no flow), the ideal max(D x L, ceil(N/P) x L), the ratio to it, and the speed-up over DevStream's sequential
model (N x L). Target: apply wall <= 2 x ideal + 1.5 s, and >= 10x faster than sequential.
Runs on the embedded default (Prefect's local server), whose start-up is measured apart.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _dag import layered_dag, write_config  # noqa: E402


def prefect_floor(n: int, depth: int, parallelism: int, latency: float) -> float:
    """Wall time of a bare Prefect flow with the same task graph: what any one-task-per-change design pays."""
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.futures import wait
    from prefect.task_runners import ThreadPoolTaskRunner

    deps = layered_dag(n, depth)

    @task(task_run_name="{name}", cache_policy=NO_CACHE, persist_result=False)
    def sleeper(name: str) -> None:
        time.sleep(latency)

    @flow(name="dtm-bench-prefect-floor")
    def floor() -> None:
        futures = {}
        with ThreadPoolTaskRunner(max_workers=parallelism) as runner:
            for node, ds in deps.items():
                futures[node] = runner.submit(sleeper, {"name": node}, wait_for=[futures[x] for x in ds])
            wait(list(futures.values()))

    t0 = time.perf_counter()
    floor()
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--depth", type=int, default=5)
    ap.add_argument("--latency-ms", type=int, default=100)
    ap.add_argument("--parallelism", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3, help="runs; the median is reported")
    ap.add_argument("--settle", type=float, default=25.0,
                    help="seconds between runs, for the server to record the last run's task events")
    args = ap.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

    from devstream.cli import render, run

    render.console.file = io.StringIO()  # the plan of 500 tools is not the point here
    n, d, lat, p = args.n, args.depth, args.latency_ms / 1000, args.parallelism
    t0 = time.perf_counter()
    from prefect import flow

    @flow(name="dtm-bench-warm-up")
    def warm_up() -> None:
        return None

    warm_up()
    startup = time.perf_counter() - t0

    applies, reapplies = [], []
    for rep in range(args.repeat):
        if rep:
            # Let the server record the previous run's task events first: on 2 cores its backlog would
            # otherwise compete with this run for the CPU.
            time.sleep(args.settle)
        with tempfile.TemporaryDirectory() as tmp:
            config = write_config(Path(tmp), n, d, args.latency_ms, seed=7 + rep)
            t0 = time.perf_counter()
            code = run.apply(config_path=config, yes=True, parallelism=p)
            applies.append(time.perf_counter() - t0)
            assert code == 0, f"apply exited {code}"
            t0 = time.perf_counter()
            code = run.apply(config_path=config, yes=True, parallelism=p)
            reapplies.append(time.perf_counter() - t0)
            assert code == 0, f"re-apply exited {code}"
    apply_wall, noop_wall = statistics.median(applies), statistics.median(reapplies)
    time.sleep(args.settle)
    floor = prefect_floor(n, d, p, lat)

    ideal = max(d * lat, math.ceil(n / p) * lat)
    sequential = n * lat
    target = 2 * ideal + 1.5
    print(f"apply_scale: N={n} depth={d} latency={args.latency_ms} ms parallelism={p}")
    print(f"  prefect start-up (embedded, not counted) {startup:7.2f} s")
    print(f"  apply wall, median of {len(applies)}                  {apply_wall:7.2f} s  "
          f"(runs: {', '.join(f'{a:.2f}' for a in applies)})")
    print(f"  no-op re-apply wall, median              {noop_wall:7.2f} s  "
          f"(runs: {', '.join(f'{a:.2f}' for a in reapplies)})")
    print(f"  ideal max(D*L, ceil(N/P)*L)              {ideal:7.2f} s")
    print(f"  Prefect's floor: the same DAG of tasks that only sleep L, in one flow  {floor:.2f} s "
          f"(apply / floor {apply_wall / floor:.2f} x)")
    print(f"  apply / ideal                            {apply_wall / ideal:7.2f} x  (target wall <= {target:.2f} s: "
          f"{'met' if apply_wall <= target else 'MISSED'})")
    print(f"  re-apply / ideal                         {noop_wall / ideal:7.2f} x")
    print(f"  speed-up over sequential N*L={sequential:.1f} s  {sequential / apply_wall:7.1f} x  (target >= 10x: "
          f"{'met' if sequential / apply_wall >= 10 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
