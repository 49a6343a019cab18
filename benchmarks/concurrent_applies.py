"""R concurrent `dtm apply` runs of N `noop` tools each, on separate configs and local states, one server.

    python benchmarks/concurrent_applies.py [--runs 20] [--tools 100] [--server embedded|real]

Each run is the installed `dtm` in a process of its own, as R users or CI jobs sharing one Prefect server
would start it. A busy SQLite server answers 503 (database busy) for a while; before issue 9 item 6, 2 of
10 such runs exited 3 on a 503 for a task's concurrency slot. Prints how many runs succeeded (the target
is all), their exit codes if not, the wall time of the whole batch, each run's time (median, max), and the
ratio of the batch's wall time to R runs one after another at the median run's time.
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

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _servers import SERVERS, Server, run_on_server  # noqa: E402

DTM = str(Path(sys.executable).parent / "dtm")


def write_configs(folder: Path, runs: int, tools: int) -> list[Path]:
    paths = []
    for r in range(runs):
        state = folder / f"run{r}.state"
        doc = {"config": {"state": {"backend": "local", "options": {"stateFile": str(state)}}},
               "tools": [{"name": "noop", "instanceID": f"t{i}"} for i in range(tools)]}
        path = folder / f"run{r}.yaml"
        path.write_text(yaml.safe_dump(doc))
        paths.append(path)
    return paths


def concurrent_applies(configs: list[Path], env: dict[str, str], timeout: float = 1800
                       ) -> list[tuple[int, float, str]]:
    """Start `dtm apply -y` of every config at once; each run's exit code, seconds and stderr's last lines."""
    started = time.perf_counter()
    results: list[tuple[int, float, str]] = [(-1, 0.0, "")] * len(configs)

    def run(i: int, config: Path) -> None:
        done = subprocess.run([DTM, "apply", "-f", str(config), "-y"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, timeout=timeout)
        results[i] = (done.returncode, time.perf_counter() - started, "\n".join(done.stderr.splitlines()[-3:]))

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(configs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def bench(server: Server, runs: int, tools: int) -> int:
    folder = Path(tempfile.mkdtemp(prefix="dtm-bench-concurrent-"))
    configs = write_configs(folder, runs, tools)
    env = {**os.environ, "DTM_HOME": os.environ.get("DTM_HOME", "")}
    if server.url:
        env["PREFECT_API_URL"] = server.url
    print(f"concurrent applies: {runs} runs x {tools} noop tools, local states; {server.description}")
    t0 = time.perf_counter()
    results = concurrent_applies(configs, env)
    wall = time.perf_counter() - t0
    codes = [code for code, _s, _e in results]
    seconds = [s for _c, s, _e in results]
    ok = codes.count(0)
    median = statistics.median(seconds)
    print(f"  succeeded: {ok} of {runs} (target: all)")
    for i, (code, _s, err) in enumerate(results):
        if code != 0:
            print(f"  run {i} exited {code}: {err}")
    print(f"  batch wall time: {wall:.1f} s; per run: median {median:.1f} s, max {max(seconds):.1f} s")
    print(f"  ratio of the batch to {runs} runs in a row at the median: {wall / (runs * median):.2f}")
    return 0 if ok == runs else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--tools", type=int, default=100)
    parser.add_argument("--server", choices=SERVERS, default="embedded")
    args = parser.parse_args()
    return run_on_server(args.server, lambda server: bench(server, args.runs, args.tools))


if __name__ == "__main__":
    sys.exit(main())
