"""Apply, then destroy, N `noop` tools in one run each, through the installed `dtm`, on both state backends.

    python benchmarks/big_runs.py [--n 5000] [--parallelism 50] [--backend local prefect] [--server embedded|real]

What a user pays for a big toolchain: each figure is the wall time of the whole `dtm apply -y` / `dtm destroy
-y` command (start-up, plan, the flow run, artifacts, exit), its peak memory (max RSS of the dtm process),
and the size of the plan it ran (bytes of `dtm plan --json`) beside Prefect's 524,288-byte limit on flow-run
parameters, which plans over it used to hit (dtm now hands the plan to its flow in process). The tools
are independent, take no time, and hold one small output each; the ideal is 0 s.

--server embedded (default) runs where `dtm` would (PREFECT_API_URL if set, else dtm's local server in a
temporary DTM_HOME); --server real starts a dedicated `prefect server start`. --backend prefect keeps the state
as Prefect artifacts on that server (a fresh state name per run).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from _servers import SERVERS, Server, run_on_server  # noqa: E402

PREFECT_PARAMETER_LIMIT = 524_288
DTM = str(Path(sys.executable).parent / "dtm")


@dataclass
class Command:
    wall_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str
    code: int


def run_dtm(*args: str) -> Command:
    """One `dtm` command in a process of its own, with its wall time and its peak memory (wait4's rusage)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([DTM, *args], stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Command(wall, usage.ru_maxrss / 1024, out.read(), err.read(), proc.returncode)


def write_config(folder: Path, n: int, backend: str) -> Path:
    state = ({"backend": "local"} if backend == "local"
             else {"backend": "prefect", "options": {"name": f"dtm-bench-big-{uuid.uuid4().hex[:8]}"}})
    tools = [{"name": "noop", "instanceID": f"t{i:05d}", "options": {"outputs": {"id": f"t{i:05d}"}}}
             for i in range(n)]
    path = folder / "big.yaml"
    path.write_text(yaml.safe_dump({"config": {"state": state}, "tools": tools}, sort_keys=False))
    return path


def plan_bytes_of_destroy(config: Path) -> int:
    """Bytes of the destroy plan of the config's state, as JSON (`dtm plan` shows apply plans only)."""
    import json

    from devstream.engine import Workspace
    from devstream.plan import plan_destroy

    return len(json.dumps(plan_destroy(Workspace.open(config).records()).as_json()).encode())


def checked(cmd: Command, what: str) -> Command:
    if cmd.code != 0:
        raise SystemExit(f"{what} exited {cmd.code}:\n{cmd.stderr[-3000:]}")
    return cmd


def bench_backend(n: int, parallelism: int, backend: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), n, backend)
        par = ("--parallelism", str(parallelism))
        apply_plan = checked(run_dtm("plan", "-f", str(config), "--json", *par), "dtm plan")
        applied = checked(run_dtm("apply", "-f", str(config), "-y", *par), "dtm apply")
        assert f"{n} succeeded" in applied.stdout, applied.stdout[-500:]
        destroy_plan_bytes = plan_bytes_of_destroy(config)
        destroyed = checked(run_dtm("destroy", "-f", str(config), "-y", *par), "dtm destroy")
        assert f"{n} succeeded" in destroyed.stdout, destroyed.stdout[-500:]
    apply_bytes = len(apply_plan.stdout.encode())
    print(f"  backend {backend}:")
    print(f"    apply   {n} creates  wall {applied.wall_s:7.1f} s  ({1000 * applied.wall_s / n:5.1f} ms per change)  "
          f"peak RSS {applied.peak_rss_mb:6.0f} MB  plan {apply_bytes / 1024:6.0f} KB "
          f"({apply_bytes / PREFECT_PARAMETER_LIMIT:.1f}x Prefect's parameter limit)")
    print(f"    destroy {n} deletes  wall {destroyed.wall_s:7.1f} s  "
          f"({1000 * destroyed.wall_s / n:5.1f} ms per change)  peak RSS {destroyed.peak_rss_mb:6.0f} MB  "
          f"plan {destroy_plan_bytes / 1024:6.0f} KB "
          f"({destroy_plan_bytes / PREFECT_PARAMETER_LIMIT:.1f}x)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--parallelism", type=int, default=50)
    ap.add_argument("--backend", nargs="+", choices=("local", "prefect"), default=["local", "prefect"])
    ap.add_argument("--server", choices=SERVERS, default="embedded")
    args = ap.parse_args()

    def bench(server: Server) -> int:
        print(f"big_runs: N={args.n} independent noop tools, parallelism {args.parallelism}, one `dtm apply -y` "
              f"then one `dtm destroy -y` per backend (whole commands, through {DTM})")
        print(f"  server: {server.description}")
        for backend in args.backend:
            bench_backend(args.n, args.parallelism, backend)
        return 0

    return run_on_server(args.server, bench)


if __name__ == "__main__":
    raise SystemExit(main())
