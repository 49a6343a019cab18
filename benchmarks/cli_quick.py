"""The quick commands, in fresh `dtm` processes: `dtm --help`, and `dtm plan` of the quickstart, warm.

    python benchmarks/cli_quick.py [--repeat 5] [--server embedded|real|postgres]

The quickstart (examples/, copied to a temporary folder) is applied once first, so that the plan reads a
state and live status as a user's second command does; the server is started before and not counted.
Targets: `dtm --help` <= 0.35 s, warm `dtm plan` <= 1 s (medians).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _servers import SERVERS, Server, run_on_server  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DTM = str(Path(sys.executable).with_name("dtm"))


def timed(argv: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}")
    return wall


def bench(args: argparse.Namespace, server: Server) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "examples"
        shutil.copytree(EXAMPLES, root)
        timed([DTM, "apply", "-y", "-f", "quickstart.yaml"], root)
        helps = [timed([DTM, "--help"], root) for _ in range(args.repeat)]
        plans = [timed([DTM, "plan", "-f", "quickstart.yaml"], root) for _ in range(args.repeat)]
        timed([DTM, "destroy", "-y", "-f", "quickstart.yaml"], root)
    help_s, plan_s = statistics.median(helps), statistics.median(plans)
    print(f"cli_quick: fresh dtm processes, median of {args.repeat}")
    print(f"  server: {server.description} (start-up {server.startup_s:.1f} s, not counted)")
    print(f"  dtm --help                          {help_s:5.2f} s  (runs: {', '.join(f'{v:.2f}' for v in helps)}; "
          f"target <= 0.35 s: {'met' if help_s <= 0.35 else 'MISSED'})")
    print(f"  dtm plan of the quickstart, warm    {plan_s:5.2f} s  (runs: {', '.join(f'{v:.2f}' for v in plans)}; "
          f"target <= 1 s: {'met' if plan_s <= 1 else 'MISSED'})")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--server", choices=SERVERS, default="embedded")
    args = ap.parse_args()
    return run_on_server(args.server, lambda server: bench(args, server))


if __name__ == "__main__":
    raise SystemExit(main())
