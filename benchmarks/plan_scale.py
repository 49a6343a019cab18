"""The core planner alone on 10,000 tools (no Prefect, no plugin calls).

    python benchmarks/plan_scale.py [--n 10000] [--depth 20]

Times three plans: an empty state (all creates), a state in sync (every tool compared, no changes), and a
state where every tenth tool's options changed. Also times loading the 10,000-tool config from YAML.
Target: each plan <= 2 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _dag import write_config  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--depth", type=int, default=20)
    args = ap.parse_args()

    from devstream.config import load_config
    from devstream.engine import Workspace
    from devstream.jsonish import normalize
    from devstream.plan import plan_apply
    from devstream.state import StateRecord
    from devstream.state.local import LocalStateStore

    with tempfile.TemporaryDirectory() as tmp:
        path = write_config(Path(tmp), args.n, args.depth, 0)
        t0 = time.perf_counter()
        config = load_config(path)
        load_s = time.perf_counter() - t0
        ws = Workspace(config=config, store=LocalStateStore(Path(tmp) / "bench.state"))

        def timed(records: dict, live: dict) -> tuple[float, int]:
            t = time.perf_counter()
            plan = plan_apply(config, records, live, ws.stored_form)
            return time.perf_counter() - t, len(plan.changes)

        empty_s, empty_n = timed({}, {})
        records = {t.state_key: StateRecord(name=t.name, instanceID=t.instanceID, dependsOn=t.dependsOn,
                                            options=normalize(t.options),
                                            resourceStatus={"outputs": t.options["outputs"], "triggers": {}})
                   for t in config.tools}
        live = {k: normalize(r.resourceStatus) for k, r in records.items()}
        sync_s, sync_n = timed(records, live)
        for i, t in enumerate(config.tools):
            if i % 10 == 0:
                records[t.state_key].options = {**records[t.state_key].options, "latency_ms": 1}
        some_s, some_n = timed(records, live)

    print(f"plan_scale: N={args.n} depth={args.depth}")
    print(f"  load config from YAML        {load_s:6.2f} s")
    for label, secs, changes in (("plan, empty state", empty_s, empty_n), ("plan, state in sync", sync_s, sync_n),
                                 ("plan, 10% options changed", some_s, some_n)):
        print(f"  {label:<28} {secs:6.2f} s  {changes:6d} changes  ({secs / 2.0:.2f} of the 2 s target: "
              f"{'met' if secs <= 2.0 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
