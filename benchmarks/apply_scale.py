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
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _dag import write_config  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--depth", type=int, default=5)
    ap.add_argument("--latency-ms", type=int, default=100)
    ap.add_argument("--parallelism", type=int, default=50)
    args = ap.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

    from devstream.cli import render, run

    render.console.file = io.StringIO()  # the plan of 500 tools is not the point here
    n, d, lat, p = args.n, args.depth, args.latency_ms / 1000, args.parallelism
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), n, d, args.latency_ms)

        t0 = time.perf_counter()
        from prefect import flow

        @flow(name="dtm-bench-warm-up")
        def warm_up() -> None:
            return None

        warm_up()
        startup = time.perf_counter() - t0

        t0 = time.perf_counter()
        code = run.apply(config_path=config, yes=True, parallelism=args.parallelism)
        apply_wall = time.perf_counter() - t0
        assert code == 0, f"apply exited {code}"

        t0 = time.perf_counter()
        code = run.apply(config_path=config, yes=True, parallelism=args.parallelism)
        noop_wall = time.perf_counter() - t0
        assert code == 0, f"re-apply exited {code}"

    ideal = max(d * lat, math.ceil(n / p) * lat)
    sequential = n * lat
    target = 2 * ideal + 1.5
    print(f"apply_scale: N={n} depth={d} latency={args.latency_ms} ms parallelism={p}")
    print(f"  prefect start-up (embedded, not counted) {startup:7.2f} s")
    print(f"  apply wall                               {apply_wall:7.2f} s")
    print(f"  no-op re-apply wall                      {noop_wall:7.2f} s")
    print(f"  ideal max(D*L, ceil(N/P)*L)              {ideal:7.2f} s")
    print(f"  apply / ideal                            {apply_wall / ideal:7.2f} x  (target wall <= {target:.2f} s: "
          f"{'met' if apply_wall <= target else 'MISSED'})")
    print(f"  re-apply / ideal                         {noop_wall / ideal:7.2f} x")
    print(f"  speed-up over sequential N*L={sequential:.1f} s  {sequential / apply_wall:7.1f} x  (target >= 10x: "
          f"{'met' if sequential / apply_wall >= 10 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
