"""Where an in-process `dtm apply` spends its wall time, measured by timing dtm's own functions (not Prefect's).

    with apply_phases() as phases:
        run.apply(config_path=config, yes=True, parallelism=50)
    for line in phases.report(wall, changes=500):
        print(line)

Each phase is one of dtm's functions, wrapped for the duration (a benchmark's own instrumentation: nothing
of a dependency is touched). Phases that run on the main thread add up to the apply's wall; per-change ones
run on the task threads, concurrently, and are given as a sum and a mean per call.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Phase:
    label: str
    per_change: bool
    calls: int = 0
    total: float = 0.0
    first: float | None = None
    last: float | None = None


@dataclass
class Phases:
    phases: dict[str, Phase] = field(default_factory=dict)
    guard: threading.Lock = field(default_factory=threading.Lock)

    def add(self, label: str, per_change: bool, started: float, ended: float) -> None:
        with self.guard:
            phase = self.phases.setdefault(label, Phase(label, per_change))
            phase.calls += 1
            phase.total += ended - started
            phase.first = started if phase.first is None else min(phase.first, started)
            phase.last = ended if phase.last is None else max(phase.last, ended)

    def wrap(self, owner: Any, name: str, label: str, per_change: bool, stack: contextlib.ExitStack) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.add(label, per_change, t0, time.perf_counter())

        setattr(owner, name, timed)
        stack.callback(setattr, owner, name, original)

    def report(self, wall: float, changes: int) -> list[str]:
        lines = []
        main = [p for p in self.phases.values() if not p.per_change]
        for p in main:
            lines.append(f"    {p.label:<54} {p.total:6.2f} s  {100 * p.total / wall:4.0f}% of the wall")
        changes_phase = self.phases.get("changes")
        if changes_phase is not None and changes_phase.first is not None:
            outside = wall - sum(p.total for p in main if p.label in TOP_LEVEL)
            lines.append(f"    {'the rest (lock, flow start and end, Prefect):':<54} {outside:6.2f} s")
        for p in self.phases.values():
            if p.per_change and p.calls:
                lines.append(f"    per change: {p.label:<42} {1000 * p.total / p.calls:6.2f} ms mean over "
                             f"{p.calls} calls (threads overlap)")
        return lines

    def reset(self) -> None:
        with self.guard:
            self.phases.clear()


# Main-thread phases that do not nest in one another (their sum is subtracted from the wall).
TOP_LEVEL = ("open the config", "plan (state read, live reads)", "print the plan", "flow run", "state compaction",
             "take the state's lock", "give the state's lock back")


@contextlib.contextmanager
def apply_phases() -> Iterator[Phases]:
    """Time dtm's phases of an apply while the block runs."""
    from devstream.cli import render
    from devstream.cli import run as cli_run
    from devstream.engine import Workspace
    from devstream.executor import ChangeExecutor
    from devstream.flows import execute
    from devstream.flows import run as flows_run
    from devstream.state_view import StateView

    phases = Phases()
    wraps: list[tuple[Any, str, str, bool]] = [
        (cli_run, "open_workspace", "open the config", False),
        (Workspace, "current_plan", "plan (state read, live reads)", False),
        (render, "print_plan", "print the plan", False),
        (flows_run, "run_confirmed", "flow run", False),
        (flows_run, "_run", "flow body (lock held)", False),
        (flows_run, "note_this_run", "note the run as the lock's holder", False),
        (flows_run, "bury_predecessor", "mark a killed predecessor Crashed", False),
        (flows_run, "run_plan", "changes", False),
        (flows_run, "publish_plan", "artifact: plan", False),
        (flows_run, "publish_results", "artifact: results", False),
        (flows_run, "publish_state", "artifact: state table", False),
        (execute, "end_not_run", "end the changes not run", False),
        (ChangeExecutor, "run_change", "dtm's change (plugin call + record)", True),
        (StateView, "save", "state record write", True),
    ]
    with contextlib.ExitStack() as stack:
        for owner, name, label, per_change in wraps:
            if hasattr(owner, name):
                phases.wrap(owner, name, label, per_change, stack)
        _wrap_state_phases(phases, stack)
        yield phases


def _wrap_state_phases(phases: Phases, stack: contextlib.ExitStack) -> None:
    """The state's lock, taken and given back, and the stores' compaction at the end of the run."""
    from devstream.prefect_boundary.lease import LeaseLock
    from devstream.prefect_boundary.state_store import PrefectStateStore
    from devstream.state.local import LocalStateStore

    phases.wrap(LocalStateStore, "flush", "state compaction", False, stack)
    phases.wrap(PrefectStateStore, "_compact_if_due", "state compaction (in the lock's release)", False, stack)
    phases.wrap(LeaseLock, "_take", "take the state's lock", False, stack)
    phases.wrap(LeaseLock, "_give_back", "give the state's lock back", False, stack)
