"""Run a Plan inside a flow: one task per change, each waiting for the changes it depends on."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, cast
from uuid import UUID

import httpx
from prefect import Task
from prefect.client.orchestration import SyncPrefectClient
from prefect.exceptions import ObjectNotFound
from prefect.futures import PrefectConcurrentFuture, PrefectFuture, wait
from prefect.runtime import flow_run
from prefect.states import Cancelled
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from devstream.config.models import ToolSpec
from devstream.engine import Workspace
from devstream.errors import PermanentError
from devstream.executor import ChangeOutcome
from devstream.live import ReadOutcome, ReadRunner, read_live_status
from devstream.plan import Change, Plan
from devstream.retry import RetryPolicy
from devstream.state import StateRecord
from devstream.state.base import FlowRunRef
from devstream.summary import ChangeResult, RunSummary
from devstream.tasks.change import apply_change
from devstream.tasks.read import read_resource

log = logging.getLogger("devstream")


class TaskVariants:
    """One copy of a task per plugin and set of external systems, tagged `dtm-plugin-<name>` and
    `dtm-system-<system>` (so Prefect tag concurrency limits can throttle one plugin, or every plugin's calls
    to one system such as GitHub). Copies are cached: `with_options` per change cost ~1 ms each."""

    def __init__(self, **options: Any):
        self.options = options
        self._cache: dict[tuple[str, str, frozenset[str]], Task[Any, Any]] = {}
        self.without_limits: set[frozenset[str]] = set()  # tag sets Prefect was told have no limit

    def __call__(self, task: Task[Any, Any], plugin: str, systems: frozenset[str] = frozenset()) -> Task[Any, Any]:
        key = (task.name, plugin, systems)
        if key not in self._cache:
            tags = [f"dtm-plugin-{plugin}", *(f"dtm-system-{s}" for s in sorted(systems))]
            self._cache[key] = task.with_options(tags=tags, **self.options)
            if _skip_tag_limit_lookups(tags):
                self.without_limits.add(frozenset(tags))
        return self._cache[key]


def _skip_tag_limit_lookups(tags: Iterable[str]) -> bool:
    """Tell Prefect up front when none of a task's tags has a concurrency limit; True when it was told."""
    return bool(_tell_prefect_no_limits([frozenset(tags)]))


def _tell_prefect_no_limits(tag_sets: Iterable[frozenset[str]]) -> set[frozenset[str]]:
    """Tell Prefect which of `tag_sets` have no concurrency limit on any of their tags; those sets.

    Every tagged task asks the server for its tags' limits, one set of tags at a time (Prefect queues them),
    caching a "no limit" answer for 5 s only. A run of 500 changes outlives that, and on a busy server the
    queued lookups then cost more than the changes themselves (38 s of a 49 s apply). Here each distinct tag
    is looked up once, with one client, for all the sets and their tasks (`telling_prefect_no_limits`
    repeats it while a run lasts); a set with a limited tag is left out, and Prefect enforces the limit.

    Prefect has no public way to say "these tags have no limit", so this is the one place dtm writes to a
    private Prefect attribute (its "no limits" cache). tests/engine/test_tag_limit_lookups.py fails when a
    Prefect upgrade renames the cache or stops reading it, so the shortcut is never lost silently.
    """
    sets = {frozenset(tags) for tags in tag_sets}
    try:
        from prefect.client.orchestration import get_client
        from prefect.concurrency import services

        with get_client(sync_client=True) as client:
            limited = {tag for tag in set().union(*sets) if _has_limit(client, tag)}
        told = {tags for tags in sets if not tags & limited}
        with services._cache_lock:
            for tags in told:
                services._no_limits_cache[frozenset(f"tag:{tag}" for tag in tags)] = True
        return told
    except Exception as exc:  # a private cache Prefect may rename: never worth failing a run over
        log.debug("could not tell Prefect that tag sets %s have no concurrency limit: %r", sorted(map(sorted, sets)),
                  exc)
        return set()


def _has_limit(client: SyncPrefectClient, tag: str) -> bool:
    """Whether the server has a concurrency limit on `tag` (the global limit Prefect reads for a task's tag)."""
    try:
        client.read_global_concurrency_limit_by_name(f"tag:{tag}")
    except ObjectNotFound:
        return False
    return True


@contextmanager
def telling_prefect_no_limits(variants: TaskVariants, every: float = 2.0) -> Iterator[None]:
    """While the block runs, look up every `every` seconds (Prefect forgets after 5) whether the tag sets
    `variants` found without a limit still have none, and tell Prefect so: one lookup per distinct tag and
    period instead of one per task; a limit created meanwhile is enforced from the next period on."""
    done = threading.Event()

    def tell() -> None:
        while not done.wait(every):
            asked = set(variants.without_limits)
            for tags in asked - _tell_prefect_no_limits(asked):
                variants.without_limits.discard(tags)

    teller = threading.Thread(target=tell, name="dtm-no-tag-limits", daemon=True)
    teller.start()
    try:
        yield
    finally:
        done.set()  # a lookup under way ends on its own: the run does not wait for it


_read_variants: dict[RetryPolicy, TaskVariants] = {}


def _submit_read(runner: ThreadPoolTaskRunner[Any], ws: Workspace, variants: TaskVariants, tool: ToolSpec,
                 options: dict[str, Any]) -> PrefectFuture[Any]:
    """Submit the read task of one tool, tagged by its plugin and systems, retried as the workspace's policy
    says (as reads outside a flow are)."""
    return runner.submit(variants(read_resource, tool.name, ws.executor.systems(tool)),
                         {"workspace": quote(ws), "tool": tool, "options": quote(options)})


def _read_outcome(future: PrefectFuture[Any]) -> ReadOutcome:
    future.wait()
    if future.state.is_completed():
        return cast("ReadOutcome", future.result())
    exc = future.result(raise_on_failure=False)
    return exc if isinstance(exc, BaseException) else PermanentError(future.state.message or "the read did not finish")


def task_reads(ws: Workspace, parallelism: int = 10) -> ReadRunner:
    """The read path's runner inside a flow (see devstream/live.py): each read a Prefect task, at most
    `parallelism` at a time on a runner of our own, so a deployment run can choose its parallelism too."""
    def run(targets: Sequence[tuple[ToolSpec, dict[str, Any]]]) -> list[ReadOutcome]:
        variants = _read_variants.setdefault(ws.retry, TaskVariants(**ws.retry.task_options()))
        runner: ThreadPoolTaskRunner[Any]
        with telling_prefect_no_limits(variants), ThreadPoolTaskRunner(max_workers=max(1, parallelism)) as runner:
            futures = [_submit_read(runner, ws, variants, tool, options) for tool, options in targets]
            return [_read_outcome(future) for future in futures]

    return run


def refresh(ws: Workspace, records: dict[str, StateRecord], parallelism: int = 10) -> dict[str, Any]:
    """Read, as concurrent tasks, the live status of every tool the planner needs."""
    return read_live_status(ws, records, task_reads(ws, parallelism)).live


def end_not_run(not_run: Mapping[UUID, tuple[str, str]], patience: float = 30.0) -> None:
    """Give each task run Prefect left NotReady (Pending, drawn as a bar that never ends in the UI) a final
    Cancelled state saying why it did not run.

    Task runs reach the server as events, recorded a little later; the server keeps a run's newest state and
    ignores older events. So each run (`not_run`: id -> its name and why it did not run) is first waited for
    (at most `patience` seconds in all) until the server has recorded its NotReady state and its name: set
    earlier, Cancelled would shut out those events. Never worth failing the run over: the results are known.
    """
    if not not_run:
        return
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + patience
    try:
        with get_client(sync_client=True) as client:
            for task_run_id, (name, message) in not_run.items():
                while not _recorded_not_ready(client, task_run_id, name):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"task run {task_run_id} was not recorded within {patience:.0f} s")
                    time.sleep(0.2)
                client.set_task_run_state(task_run_id, Cancelled(message=message), force=True)
    except Exception as exc:
        log.warning("could not mark the changes that did not run as Cancelled in Prefect: %s", exc)


def _recorded_not_ready(client: SyncPrefectClient, task_run_id: UUID, name: str) -> bool:
    try:
        task_run = client.read_task_run(task_run_id)
    except ObjectNotFound:
        return False
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code == 404:
            return False
        raise
    return task_run.name == name and task_run.state is not None and task_run.state.name == "NotReady"


@contextmanager
def _records_name_this_run(ws: Workspace) -> Iterator[None]:
    """While changes run, each state record written names this flow run (its page in the UI)."""
    run_id = flow_run.get_id()
    this = FlowRunRef(id=str(run_id), name=flow_run.get_name(), url=flow_run.get_flow_run_ui_url()) if run_id else None
    previous, ws.view.flow_run = ws.view.flow_run, this
    try:
        yield
    finally:
        ws.view.flow_run = previous


def _wait_unless_stopped(runner: ThreadPoolTaskRunner[Any], futures: list[PrefectConcurrentFuture[Any]],
                         stop: threading.Event | None) -> bool:
    """Wait for every change; True when `stop` was set before they all ended. Then no change starts any more:
    those queued or waiting for a dependency are cancelled, those in flight finish (and write their records).
    """
    if stop is None:
        wait(list[PrefectFuture[Any]](futures))
        return False
    for future in futures:  # one at a time, with a timeout: Prefect's wait(timeout=) adds a callback per call
        while not future.wrapped_future.done():
            if stop.is_set():
                runner.cancel_all()  # Prefect's own: queued tasks never start, waiting ones end before their call
                return True
            future.wait(timeout=_STOP_POLL_S)
    return False


_STOP_POLL_S = 0.25


def run_plan(ws: Workspace, plan: Plan, *, parallelism: int = 10, retries: int | None = None,
             retry_delay: float | None = None, stop: threading.Event | None = None) -> RunSummary:
    """Submit every change with `wait_for` its dependencies; a failure stops only its own dependents.

    Changes are retried as the workspace's policy says; `retries` and `retry_delay` override it. Setting
    `stop` (the CLI does on Ctrl-C) starts no further change and ends the summary `interrupted`.
    """
    futures: dict[str, PrefectConcurrentFuture[ChangeOutcome]] = {}
    outcomes: dict[str, ChangeOutcome] = {}  # each completed change's, put there by its task
    started = time.monotonic()
    policy = RetryPolicy(retries=ws.retry.retries if retries is None else retries,
                         delay=ws.retry.delay if retry_delay is None else retry_delay)
    variant = TaskVariants(**policy.task_options())
    runner: ThreadPoolTaskRunner[Any]
    with (_records_name_this_run(ws), telling_prefect_no_limits(variant),
          ThreadPoolTaskRunner(max_workers=max(1, parallelism)) as runner):
        for change in plan.changes:
            if stop is not None and stop.is_set():
                break
            # Ordering only: a finished dependency's outputs are read from the workspace's records, which
            # its task updated before it completed. (Passing futures as arguments would make Prefect fetch
            # each upstream result through its event loop: 40% of the per-task cost at 500 tools.)
            upstream = [futures[k] for k in change.waits_for if k in futures]
            futures[change.key] = runner.submit(variant(apply_change, change.name, ws.executor.systems(change)),
                                                {"workspace": quote(ws), "change": quote(change),
                                                 "outcomes": quote(outcomes)}, wait_for=upstream)
        interrupted = _wait_unless_stopped(runner, list(futures.values()), stop)

    results: dict[str, ChangeResult] = {}
    not_run: dict[UUID, tuple[str, str]] = {}
    for change in plan.changes:
        results[change.key] = _result(change, futures.get(change.key), outcomes, results, interrupted, not_run)
    end_not_run(not_run)
    return RunSummary(operation=plan.operation, results=list(results.values()),
                      seconds=round(time.monotonic() - started, 3), interrupted=interrupted)


def _result(change: Change, future: PrefectConcurrentFuture[ChangeOutcome] | None, outcomes: dict[str, ChangeOutcome],
            earlier: dict[str, ChangeResult], interrupted: bool, not_run: dict[UUID, tuple[str, str]]) -> ChangeResult:
    """What one change's task did. Never asks the server about a task that never ran (cancelled in the queue).
    A task Prefect left NotReady is added to `not_run`, to be ended Cancelled."""
    result = ChangeResult(key=change.key, action=change.action.value, result="skipped")
    ran = future is not None and not future.wrapped_future.cancelled()
    state = None
    if future is not None and ran and future.wrapped_future.exception() is None:
        future.wait()
        state = future.state
    # The task's own word first (see apply_change); else future.result(), not state.result(): the latter is
    # a coroutine inside an async flow.
    if future is not None and state is not None and state.is_completed():
        outcome: ChangeOutcome = outcomes.get(change.key) or future.result()
        result.result = "succeeded" if outcome.changed else "unchanged"
        result.message, result.seconds = outcome.note, outcome.seconds
    elif interrupted and (state is None or not state.is_failed()):
        # Stopped before its call (cancelled in the queue or while waiting for a dependency): it never ran.
        result.message = "not run: interrupted"
    elif future is not None and ran and (state is None or state.is_failed() or state.is_crashed()):
        exc = future.result(raise_on_failure=False) if state is not None else future.wrapped_future.exception()
        result.result = "failed"
        result.message = str(exc) if isinstance(exc, BaseException) else (state.message if state else "") or ""
        result.traceback = getattr(exc, "traceback_text", None)
    else:
        # Prefect never ran it: a change it depends on did not complete (the task is left NotReady).
        why = [f"{k} {'failed' if earlier[k].result == 'failed' else 'was not run'}"
               for k in change.waits_for if k in earlier and earlier[k].result in ("failed", "skipped")]
        result.message = f"not run: {', '.join(why) or 'a change it depends on did not complete'}"
        if future is not None:
            not_run[future.task_run_id] = (change.title, result.message)
    return result
