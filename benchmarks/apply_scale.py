"""Apply N `noop` tools in a random DAG of depth D, each call taking L ms, P at a time.

    python benchmarks/apply_scale.py [--n 500] [--depth 5] [--latency-ms 100] [--parallelism 50]
                                     [--server embedded|real|postgres] [--backend local|prefect|local,prefect]

Prints the wall time of the apply (the whole in-process `dtm apply -y`: config, plan, one Prefect flow run,
compaction) beside Prefect's floor, the same DAG of bare tasks that only sleep, run in each repeat just
before the apply (targets: apply / floor <= 1.25; with --backend local,prefect, prefect / local <= 1.5); a
no-op re-apply (plan only: live reads, no flow); where the last apply's wall went (dtm's own phases, timed);
the ideal max(D x L, ceil(N/P) x L) and the speed-up over DevStream's sequential model (N x L); and the
peak memory.

--server embedded (default) runs where `dtm apply` would: PREFECT_API_URL if set, else dtm's local server
(started in a temporary DTM_HOME unless DTM_HOME is set, and stopped at the end if this script started it).
--server real starts a dedicated `prefect server start` (SQLite, temporary PREFECT_HOME) and stops it after.
--server postgres runs the same on a throwaway PostgreSQL cluster (tests/e2e/postgres.py; PostgreSQL's
binaries are needed). Server start-up is measured apart. --backend prefect keeps the state as Prefect
artifacts on that server (a fresh state name per run; on a server that outlives the benchmark, they stay).
"""

from __future__ import annotations

import argparse
import io
import math
import resource
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from _dag import layered_dag, write_config  # noqa: E402
from _phases import apply_phases  # noqa: E402
from _servers import SERVERS, Server, run_on_server  # noqa: E402


def prefect_floor(n: int, depth: int, parallelism: int, latency: float, tagged: bool = False) -> float:
    """Wall time of a bare Prefect flow with the same task graph: what any one-task-per-change design pays.

    `tagged`: each task carries the tag dtm gives a noop change (`dtm-plugin-noop`), and Prefect is told the
    tag has no concurrency limit the way dtm tells it during a run. Prefect then still passes every tagged
    task through its concurrency-slot acquisition (two thread hops and a queue per tag set, ~1-2 ms each on
    an idle machine, more under GIL contention), which the bare floor does not pay: that difference is what
    dtm's documented tags cost, apart from dtm's own work.
    """
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.futures import wait
    from prefect.task_runners import ThreadPoolTaskRunner

    from devstream.cli.prefect_setup import cli_run_settings
    from devstream.flows.execute import TaskVariants, telling_prefect_no_limits

    deps = layered_dag(n, depth)

    @task(task_run_name="{name}", cache_policy=NO_CACHE, persist_result=False)
    def sleeper(name: str) -> None:
        time.sleep(latency)

    variants = TaskVariants()
    task_ = variants(sleeper, "noop") if tagged else sleeper

    @flow(name="dtm-bench-prefect-floor-tagged" if tagged else "dtm-bench-prefect-floor")
    def floor() -> None:
        futures = {}
        with ThreadPoolTaskRunner(max_workers=parallelism) as runner, telling_prefect_no_limits(variants):
            for node, ds in deps.items():
                futures[node] = runner.submit(task_, {"name": node}, wait_for=[futures[x] for x in ds])
            wait(list(futures.values()))

    # Under the Prefect settings dtm's CLI runs its flows with: without them a sync flow joins its heartbeat
    # thread at its end, which wakes once a second, so the floor would end on the next whole second after
    # its last task (up to 1 s later; measured 0.58-0.99 s on flows of 1 to 100 tasks) where dtm's does not.
    with cli_run_settings():
        t0 = time.perf_counter()
        floor()
        return time.perf_counter() - t0


def use_backend(config: Path, backend: str, state_name: str) -> None:
    """Switch the benchmark config's state to `backend` (`write_config` writes a local state file)."""
    if backend == "local":
        return
    data = yaml.safe_load(config.read_text())
    data["config"]["state"] = {"backend": backend, "options": {"name": state_name}}
    config.write_text(yaml.safe_dump(data, sort_keys=False))


# Lock trouble of the prefect backend on a busy SQLite server, counted and worked around so that the walls
# are still measured (and reported, since `dtm apply` itself fails on them):
# - dtm takes the lock with one POST that it does not repeat on a 5xx, and a server still recording the last
#   run's task events answers it 503 (database is locked) now and then: retried after 1 s;
# - releasing it can fail the same way (or the connection is reset), which leaves the slot taken until the
#   lease expires, so the next apply of this very process finds the state locked: force-unlocked.
LOCK_BUSY = "take the state's lock: 503"


@dataclass
class LockTrouble:
    busy: int = 0  # lock refused with a 503
    stale: int = 0  # lock still held by this process's previous apply


def timed_apply(config: Path, parallelism: int, trouble: LockTrouble) -> float:
    """Wall time of one successful `dtm apply -y` (the last attempt, after any lock trouble)."""
    from devstream.cli import inspect, run
    from devstream.errors import StateError, StateLockedError

    for _attempt in range(6):
        t0 = time.perf_counter()
        try:
            code = run.apply(config_path=config, yes=True, parallelism=parallelism)
        except StateLockedError:
            # Each run's state is this process's alone: the holder is this process's previous apply.
            trouble.stale += 1
            inspect.force_unlock(config_path=config)
            continue
        except StateError as exc:
            if LOCK_BUSY not in str(exc):
                raise
            trouble.busy += 1
            time.sleep(1.0)
            continue
        wall = time.perf_counter() - t0
        assert code == 0, f"apply exited {code}"
        return wall
    raise SystemExit("apply kept failing to take the state's lock")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--depth", type=int, default=5)
    ap.add_argument("--latency-ms", type=int, default=100)
    ap.add_argument("--parallelism", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3, help="runs; the median is reported")
    ap.add_argument("--settle", type=float, default=120.0,
                    help="before each measured run, wait until the server has recorded the last run's task "
                         "events (its processes idle), at most this many seconds")
    ap.add_argument("--server", choices=SERVERS, default="embedded",
                    help="embedded: dtm's default (PREFECT_API_URL, else dtm's local server); "
                         "real: a dedicated `prefect server start`; postgres: the same on a throwaway PostgreSQL")
    ap.add_argument("--backend", default="local",
                    help="state backend(s), comma-separated: local (a state file), prefect (artifacts on the "
                         "same server); with both, each repeat applies with each and the ratio is printed")
    args = ap.parse_args()
    args.backends = [b.strip() for b in args.backend.split(",") if b.strip()]
    if not args.backends or set(args.backends) - {"local", "prefect"}:
        ap.error("--backend: local, prefect, or local,prefect")
    # Before anything imports prefect: it reads PREFECT_API_URL once.
    return run_on_server(args.server, lambda server: bench(args, server))


def _runs(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def bench(args: argparse.Namespace, server: Server) -> int:
    from devstream.cli import render
    from devstream.cli.prefect_setup import quiet_console_logs

    quiet_console_logs()  # as `dtm apply` does: no INFO line per task run on the terminal
    render.console.file = io.StringIO()  # the plan of 500 tools is not the point here
    n, d, lat, p = args.n, args.depth, args.latency_ms / 1000, args.parallelism
    t0 = time.perf_counter()
    from prefect import flow

    @flow(name="dtm-bench-warm-up")
    def warm_up() -> None:
        return None

    warm_up()
    warm_up_s = time.perf_counter() - t0
    run_id = uuid.uuid4().hex[:8]

    floors: list[float] = []
    tagged_floors: list[float] = []
    applies: dict[str, list[float]] = {b: [] for b in args.backends}
    reapplies: dict[str, list[float]] = {b: [] for b in args.backends}
    ratios: dict[str, list[float]] = {b: [] for b in args.backends}
    phase_lines: dict[str, list[str]] = {}
    trouble = LockTrouble()
    settled: list[float] = []
    for rep in range(args.repeat):
        # Prefect's floor and each apply one after the other in every repeat, so that each ratio compares
        # runs made under the same load (the machine may be shared), each started on an idle server.
        settled.append(server.settle(args.settle))
        floors.append(prefect_floor(n, d, p, lat))
        settled.append(server.settle(args.settle))
        tagged_floors.append(prefect_floor(n, d, p, lat, tagged=True))
        for backend in args.backends:
            settled.append(server.settle(args.settle))
            with tempfile.TemporaryDirectory() as tmp:
                config = write_config(Path(tmp), n, d, args.latency_ms, seed=7 + rep)
                use_backend(config, backend, f"dtm-bench-apply-{run_id}-{rep}")
                with apply_phases() as phases:
                    wall = timed_apply(config, p, trouble)
                applies[backend].append(wall)
                ratios[backend].append(wall / floors[-1])
                if rep == args.repeat - 1:
                    phase_lines[backend] = phases.report(wall, n)
                reapplies[backend].append(timed_apply(config, p, trouble))
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=5)  # send the runs' logs while the server is still up

    floor = statistics.median(floors)
    ideal = max(d * lat, math.ceil(n / p) * lat)
    sequential = n * lat
    target = 2 * ideal + 1.5
    print(f"apply_scale: N={n} depth={d} latency={args.latency_ms} ms parallelism={p} "
          f"state backend(s)={','.join(args.backends)} repeats={args.repeat}")
    print(f"  server: {server.description}")
    print(f"  server start-up (not counted)            {server.startup_s:7.2f} s")
    print(f"  import prefect + first flow (not counted) {warm_up_s:6.2f} s")
    print(f"  waits for the server to go idle before each run (not counted), longest {max(settled):.1f} s, "
          f"total {sum(settled):.1f} s{'' if server.pids else ' (no server process to watch: fixed waits)'}")
    print(f"  Prefect's floor (the same DAG of tasks that only sleep L, one flow), median  {floor:.2f} s  "
          f"(runs: {_runs(floors)})")
    tagged_floor = statistics.median(tagged_floors)
    print(f"  the same with dtm's task tags (`dtm-plugin-noop`, no limit), median  {tagged_floor:.2f} s  "
          f"(runs: {_runs(tagged_floors)}): Prefect's tag concurrency path costs "
          f"{statistics.median(t / f for t, f in zip(tagged_floors, floors, strict=True)):.2f} x the bare floor")
    for backend in args.backends:
        apply_wall, noop_wall = statistics.median(applies[backend]), statistics.median(reapplies[backend])
        ratio = statistics.median(ratios[backend])
        print(f"  [{backend} state] apply wall, median       {apply_wall:7.2f} s  (runs: {_runs(applies[backend])})")
        print(f"  [{backend} state] apply / Prefect's floor, median of each repeat's ratio  {ratio:.2f} x  "
              f"(runs: {_runs(ratios[backend])}; target <= 1.25: {'met' if ratio <= 1.25 else 'MISSED'})")
        own = statistics.median(a / t for a, t in zip(applies[backend], tagged_floors, strict=True))
        print(f"  [{backend} state] apply / the tagged floor (dtm's own cost), median  {own:.2f} x")
        print(f"  [{backend} state] no-op re-apply wall, median {noop_wall:7.2f} s  "
              f"(runs: {_runs(reapplies[backend])})")
        print(f"  [{backend} state] apply / ideal {apply_wall / ideal:.2f} x (ideal max(D*L, ceil(N/P)*L) = "
              f"{ideal:.2f} s, target wall <= {target:.2f} s: {'met' if apply_wall <= target else 'MISSED'}); "
              f"speed-up over sequential N*L={sequential:.1f} s {sequential / apply_wall:.1f} x (target >= 10x: "
              f"{'met' if sequential / apply_wall >= 10 else 'MISSED'})")
        print(f"  [{backend} state] where the last apply's wall went (dtm's own functions, timed):")
        for line in phase_lines.get(backend, []):
            print(line)
    if len(args.backends) > 1 and "prefect" in applies and "local" in applies:
        pairs = [a / b for a, b in zip(applies["prefect"], applies["local"], strict=True)]
        ratio = statistics.median(pairs)
        print(f"  prefect state / local state apply, median of each repeat's ratio  {ratio:.2f} x  "
              f"(runs: {_runs(pairs)}; target <= 1.5: {'met' if ratio <= 1.5 else 'MISSED'})")
    if "prefect" in args.backends:
        print(f"  lock trouble in {2 * len(applies['prefect'])} prefect-state applies (not in the walls above): "
              f"taking it refused with 503 {trouble.busy} time(s) (retried after 1 s), left held by the previous "
              f"apply {trouble.stale} time(s) (force-unlocked)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak memory of this process (floor and applies, resident)  {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
