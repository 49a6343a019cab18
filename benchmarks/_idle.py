"""Waiting for a Prefect server to finish the last run's backlog before the next measured run.

A run leaves work behind: the server records its task runs' events (three or more per task run) after the
flow has ended, and on SQLite that takes tens of seconds after a run of thousands of tasks. A run started
meanwhile competes with it (503 "database is locked", Prefect's client backing off), so a fixed pause
between runs either wastes time or charges one run with the previous run's backlog, which made the
apply/floor ratio swing from 1.1x to 3.5x between repeats of one benchmark.

`wait_until_idle` watches the CPU time of the server's processes (with their children, and the database
server's when it is a separate one) and returns once they stayed nearly idle for a few seconds in a row.
Linux only (/proc), as the benchmarks are.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _process_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, CPU ticks used so far) for every process readable in /proc."""
    table: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        # The command name (field 2) may hold spaces and parentheses: split after its closing parenthesis.
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return table


def cpu_seconds(roots: Iterable[int]) -> float:
    """CPU seconds used so far by the processes `roots` and all their descendants still running."""
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    seen: set[int] = set()
    todo = [pid for pid in roots if pid in table]
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo.extend(children.get(pid, ()))
    return sum(table[pid][1] for pid in seen) / _TICKS


def wait_until_idle(roots: Iterable[int], *, most: float, busy_share: float = 0.1, window: float = 1.0,
                    quiet_windows: int = 3) -> float:
    """Wait until the processes `roots` (and descendants) used under `busy_share` of one CPU in each of
    `quiet_windows` consecutive windows of `window` seconds, or `most` seconds passed; the seconds waited.
    With no process to watch (Prefect's ephemeral server, or a server elsewhere), waits `most` seconds."""
    pids = list(roots)
    t0 = time.monotonic()
    if not pids:
        time.sleep(most)
        return most
    quiet = 0
    used = cpu_seconds(pids)
    while quiet < quiet_windows and time.monotonic() - t0 < most:
        time.sleep(window)
        now = cpu_seconds(pids)
        quiet = quiet + 1 if now - used < busy_share * window else 0
        used = now
    return time.monotonic() - t0
