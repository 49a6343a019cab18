"""What a `dtm` process pays to reach Prefect: dtm's local server against Prefect's ephemeral mode.

    python benchmarks/embedded_startup.py [--repeat 3]

Every step is a fresh `dtm` process on a copy of examples/, with DTM_HOME and PREFECT_HOME in a temporary
directory and PREFECT_API_URL unset, as for a new user:

  1. the first `dtm apply -f quickstart.yaml -y`, which starts dtm's local server (migrations included);
  2. `dtm apply` again after `dtm destroy`, the server warm (median of --repeat runs);
  3. `dtm plan` with the server warm (plan never starts Prefect; median of --repeat runs);
  4. for comparison, the same apply with DTM_EMBEDDED_SERVER=0 (Prefect starts a server inside the
     process): on a fresh PREFECT_HOME, then warm (median).

Targets: first apply <= 30 s, warm plan <= 3 s. The server this script started is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FIRST_APPLY_TARGET = 30.0
WARM_PLAN_TARGET = 3.0


def dtm_command() -> list[str]:
    """The installed `dtm` script of this interpreter's environment, as a user would run it."""
    script = Path(sys.executable).with_name("dtm")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from devstream.cli.main import main; main()"]


class Bench:
    """Runs dtm in a sandbox: its own DTM_HOME, PREFECT_HOME and copy of the examples."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "examples" / "quickstart.yaml"
        shutil.copytree(EXAMPLES, root / "examples",
                        ignore=shutil.ignore_patterns("build", "*.state", "*.state.*", "*.lock"))
        drop = {"PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH", "DTM_EMBEDDED_SERVER"}
        self.env = {k: v for k, v in os.environ.items() if k not in drop}
        self.env.update(DTM_HOME=str(root / "dtm-home"), PREFECT_HOME=str(root / "prefect-home"),
                        PREFECT_SERVER_ANALYTICS_ENABLED="false")

    def dtm(self, *args: str, ephemeral: bool = False, check: bool = True) -> tuple[float, str]:
        """Run one dtm command; its wall time and stdout."""
        env = (self.env | {"DTM_EMBEDDED_SERVER": "0"}) if ephemeral else self.env
        t0 = time.perf_counter()
        proc = subprocess.run([*dtm_command(), *args], env=env, cwd=self.root, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        if check and proc.returncode != 0:
            raise SystemExit(f"`dtm {' '.join(args)}` exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return wall, proc.stdout

    def apply(self, ephemeral: bool = False) -> float:
        return self.dtm("apply", "-f", str(self.config), "-y", ephemeral=ephemeral)[0]

    def destroy(self) -> None:
        self.dtm("destroy", "-f", str(self.config), "-y")

    def server_status(self) -> dict[str, object]:
        return dict(json.loads(self.dtm("server", "status", "--json", check=False)[1]))


def line(label: str, seconds: float, target: float | None = None) -> str:
    ratio = f"   {seconds / target:.2f} x target ({target:.0f} s)" if target else ""
    return f"  {label:<54} {seconds:6.2f} s{ratio}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each warm step; the median is reported")
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="dtm-bench-embedded-"))
    bench = Bench(root)
    if "status" not in bench.dtm("server", "--help", check=False)[1]:
        print("`dtm server` is missing: wire devstream/prefect_boundary/server.py into the CLI first", file=sys.stderr)
        return 2
    try:
        first = bench.apply()
        status = bench.server_status()
        if not status.get("healthy"):
            raise SystemExit(f"the first apply did not leave dtm's local server running: {status}")
        warm_applies, plans = [], []
        for _ in range(args.repeat):
            bench.destroy()
            warm_applies.append(bench.apply())
            plans.append(bench.dtm("plan", "-f", str(bench.config))[0])
        bench.destroy()

        # Prefect's ephemeral mode: a fresh PREFECT_HOME first (its migrations), then warm.
        eph_first = bench.apply(ephemeral=True)
        eph_warm = []
        for _ in range(args.repeat):
            bench.destroy()
            eph_warm.append(bench.apply(ephemeral=True))
        bench.destroy()
    finally:
        bench.dtm("server", "stop", check=False)

    warm, plan, eph = statistics.median(warm_applies), statistics.median(plans), statistics.median(eph_warm)
    print(f"dtm apply/plan of examples/quickstart.yaml (4 tools), fresh processes, {args.repeat} warm runs each")
    print(line("1. first apply, starting dtm's local server", first, FIRST_APPLY_TARGET))
    print(line("2. apply, local server warm (median)", warm))
    print(line("3. plan, local server warm (median)", plan, WARM_PLAN_TARGET))
    print(line("4a. apply, DTM_EMBEDDED_SERVER=0, fresh PREFECT_HOME", eph_first))
    print(line("4b. apply, DTM_EMBEDDED_SERVER=0, warm (median)", eph))
    print(f"  warm apply: {eph / warm:.1f}x faster than Prefect's ephemeral mode "
          f"({eph - warm:.1f} s saved per apply); first apply: {first:.1f} s against {eph_first:.1f} s")
    ok = first <= FIRST_APPLY_TARGET and plan <= WARM_PLAN_TARGET
    print("targets met" if ok else "TARGETS MISSED")
    shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
