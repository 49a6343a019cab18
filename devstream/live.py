"""Live status: the one read path of a plan's refresh, the drift check and `dtm status`.

`read_live_status` decides what to read and how each result is taken; a `ReadRunner` only runs the reads.
Two runners exist: `threaded_reads` here (plain threads, each read retried by the workspace's
`RetryPolicy`), for the CLI's plans and `dtm status`, which run no flow; and the flows' Prefect tasks
(flows/execute.py `task_reads`), retried by Prefect with the same policy.

- A plan reads only the tools in state whose options did not change (a changed tool is updated whatever its
  status); a failed read fails the plan (with the first failure, in config order).
- A check (drift, `dtm status`) reads every tool in both config and state whose references resolve; a failed
  read does not stop the others: it is kept as its message, secrets scrubbed, so the check can still say
  everything else it learned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devstream.config.models import ToolSpec
from devstream.drift import drift_targets
from devstream.plan import read_targets
from devstream.secrets import scrub, secret_paths
from devstream.state import StateRecord

if TYPE_CHECKING:
    from devstream.engine import Workspace

__all__ = ["LiveStatus", "ReadOutcome", "ReadRunner", "read_live_status", "threaded_reads"]

ReadTarget = tuple[ToolSpec, dict[str, Any]]
ReadOutcome = dict[str, Any] | None | BaseException
"""A read's status (None: the resource does not exist), or what it failed with."""
ReadRunner = Callable[[Sequence[ReadTarget]], list[ReadOutcome]]
"""Runs the reads of (tool, resolved options), concurrently as it sees fit; one outcome per read, in order."""


@dataclass
class LiveStatus:
    """What a read of live status learned, by state key: statuses, and the messages of reads that failed."""

    live: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def read_live_status(ws: Workspace, records: Mapping[str, StateRecord], run: ReadRunner, *, check: bool = False,
                     only: Collection[str] | None = None) -> LiveStatus:
    """Read what a plan needs (or, with `check`, everything a check can read) with `run`.

    `only` narrows the reads to those state keys. Without `check`, the first failed read is raised.
    """
    targets = drift_targets(ws.config, records) if check else read_targets(ws.config, records, ws.stored_form)
    if only is not None:
        targets = [(tool, options) for tool, options in targets if tool.state_key in only]
    result = LiveStatus()
    if not targets:
        return result
    for (tool, options), outcome in zip(targets, run(targets), strict=True):
        if not isinstance(outcome, BaseException):
            result.live[tool.state_key] = outcome
        elif not check:
            raise outcome
        else:
            result.errors[tool.state_key] = _scrubbed(ws, tool, options, str(outcome) or type(outcome).__name__)
    return result


def threaded_reads(ws: Workspace, parallelism: int = 10, logger: logging.Logger | None = None) -> ReadRunner:
    """Reads on a plain thread pool (at most `parallelism` at a time), each retried on transient failures by
    the workspace's policy, as Prefect retries the flows' read tasks."""
    def read(tool: ToolSpec, options: dict[str, Any]) -> dict[str, Any] | None:
        return ws.retry.call(ws.executor.read_live, tool, options, logger, what=f"read {tool.key}", logger=logger)

    def run(targets: Sequence[ReadTarget]) -> list[ReadOutcome]:
        with ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="dtm-read") as pool:
            futures = [pool.submit(read, tool, options) for tool, options in targets]
            return [future.exception() or future.result() for future in futures]

    return run


def _scrubbed(ws: Workspace, tool: ToolSpec, options: dict[str, Any], text: str) -> str:
    # Plugin errors arrive scrubbed already (ChangeExecutor.read_live); anything else that went wrong around
    # the read (Prefect, a crash) has not been through that, so scrub again with the tool's own secrets.
    try:
        secrets = secret_paths(ws.options.model(tool.name, options, tool.key)).values()
    except Exception:  # options that no longer validate hold no secret we could find either
        return text
    return scrub(text, secrets)
