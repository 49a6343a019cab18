"""The whole `dtm apply -y` command, as a user runs it (a process of its own), against its last change.

    python benchmarks/command_wall.py [--n 1000] [--latency-ms 0] [--parallelism 50] [--repeat 3]
                                      [--server embedded|real|postgres]

Applies N `noop` tools (local state) in a fresh `dtm` process and splits its wall time by the state journal,
which the local backend appends one line to the moment each change ends (and removes when it compacts):

- start -> first change's record: import, server health check, config, plan, flow start;
- first -> last change's record: the changes;
- last change's record -> the command's exit (target <= 2 s): flow end, artifacts, compaction, Prefect's
  queues drained at exit. The state file's write (compaction) is marked inside it.

The server (see benchmarks/_servers.py) is started before and not counted; each run gets a fresh config.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _dag import write_config  # noqa: E402
from _servers import SERVERS, Server, run_on_server  # noqa: E402


class JournalWatch:
    """Polls the state journal's modification time: the first and the last record written."""

    def __init__(self, journal: Path, every: float = 0.005):
        self.journal, self.every = journal, every
        self.first: float | None = None
        self.last: float | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> JournalWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._done.is_set():
            try:
                mtime = self.journal.stat().st_mtime
            except FileNotFoundError:
                mtime = None
            if mtime is not None:  # the first seen is within one poll of the first record's write
                self.first = mtime if self.first is None else self.first
                self.last = mtime if self.last is None else max(self.last, mtime)
            time.sleep(self.every)


def one_apply(folder: Path, n: int, latency_ms: int, parallelism: int, seed: int) -> dict[str, float]:
    config = write_config(folder, n, 5, latency_ms, seed=seed)
    state = folder / "bench.state"
    journal = state.with_name(state.name + ".journal")
    dtm = Path(sys.executable).with_name("dtm")
    argv = [str(dtm), "apply", "-y", "-f", str(config), "--parallelism", str(parallelism)]
    with JournalWatch(journal) as watch:
        started = time.time()
        done = subprocess.run(argv, cwd=folder, capture_output=True, text=True)
        ended = time.time()
    if done.returncode != 0:
        raise SystemExit(f"dtm apply exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    if watch.first is None or watch.last is None:
        raise SystemExit("the state journal was never seen: did the apply change anything?")
    compacted = state.stat().st_mtime
    return {"wall": ended - started, "to_first": watch.first - started, "changes": watch.last - watch.first,
            "after_last": ended - watch.last, "compacted_after_last": compacted - watch.last}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--parallelism", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--settle", type=float, default=120.0,
                    help="before each run, wait until the server has recorded the last run (its processes idle), "
                         "at most this many seconds")
    ap.add_argument("--server", choices=SERVERS, default="embedded")
    args = ap.parse_args()
    return run_on_server(args.server, lambda server: bench(args, server))


def bench(args: argparse.Namespace, server: Server) -> int:
    runs: list[dict[str, float]] = []
    for rep in range(args.repeat):
        server.settle(args.settle)
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(one_apply(Path(tmp), args.n, args.latency_ms, args.parallelism, seed=7 + rep))

    def med(key: str) -> str:
        values = [r[key] for r in runs]
        return f"{statistics.median(values):6.2f} s  (runs: {', '.join(f'{v:.2f}' for v in values)})"

    after = statistics.median(r["after_last"] for r in runs)
    print(f"command_wall: `dtm apply -y` of N={args.n} noop tools, latency {args.latency_ms} ms, parallelism "
          f"{args.parallelism}, local state, {args.repeat} run(s), a fresh process each")
    print(f"  server: {server.description} (start-up {server.startup_s:.1f} s, not counted)")
    print(f"  command wall, median                                  {med('wall')}")
    print(f"  start -> first change's record (import, server check, config, plan, flow start)  {med('to_first')}")
    print(f"  first -> last change's record (the changes)           {med('changes')}")
    print(f"  last change's record -> exit, median                  {med('after_last')}  "
          f"(target <= 2 s: {'met' if after <= 2 else 'MISSED'})")
    print(f"    of which until the state file was compacted         {med('compacted_after_last')}")
    print(f"  DTM_HOME={os.environ.get('DTM_HOME', '~/.dtm')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
