"""A `Workspace`: one config with its plugins and its state, as the CLI, the flows and plugins' tests get it.

It puts together the parts that do the work, each in its own module:

- `view` (devstream/state_view.py): the records, cached and kept in step with each write; sealing of
  records that hold secrets in clear or in DevStream's form;
- `options` (devstream/tool_options.py): a tool's options validated, or in the form state keeps them;
- `executor` (devstream/executor.py): one plugin call at a time, a change's record written the moment it
  succeeded, plugins' HTTP clients built by the `client_factory` given here;
- `progress` (devstream/progress.py): how each change ended, told to listeners (the CLI's progress bar);
- live status is read through devstream/live.py, the one read path.

Nothing here imports prefect: the flows wrap the executor's calls in tasks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstream.config import load_config
from devstream.config.models import Config
from devstream.executor import ChangeExecutor, ClientFactory
from devstream.live import read_live_status, threaded_reads
from devstream.plan import Plan, plan_apply
from devstream.plugin.registry import PluginRegistry, default_registry
from devstream.progress import RunProgress
from devstream.retry import RetryPolicy
from devstream.state import StateRecord, StateStore, open_store
from devstream.state_view import StateView
from devstream.tool_options import ToolOptions

__all__ = ["Workspace"]


@dataclass
class Workspace:
    """A config with its plugins and its state store."""

    config: Config
    store: StateStore
    registry: PluginRegistry = field(default_factory=default_registry)
    # How transient failures are retried, in flows (task options) and outside them (reads): one budget.
    retry: RetryPolicy = field(default_factory=RetryPolicy.from_env)
    # What builds plugins' httpx clients (None: dtm's retrying `http_client`); tests pass one to a stand-in.
    client_factory: ClientFactory | None = field(default=None, repr=False)
    options: ToolOptions = field(init=False, repr=False)
    view: StateView = field(init=False, repr=False)
    progress: RunProgress = field(init=False, repr=False)
    executor: ChangeExecutor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.options = ToolOptions(self.registry)
        self.view = StateView(self.store, self.options)
        self.progress = RunProgress()
        self.executor = ChangeExecutor(self.config, self.view, self.options, self.progress, self.client_factory)

    @classmethod
    def open(cls, path: str | Path, registry: PluginRegistry | None = None,
             client_factory: ClientFactory | None = None) -> Workspace:
        """A new workspace of the config at `path`. (A flow the CLI starts is handed the CLI's own workspace
        instead: see flows/run.py run_confirmed.)"""
        registry = registry or default_registry()
        config = load_config(path, registry=registry)
        return cls(config=config, store=open_store(config), registry=registry, client_factory=client_factory)

    def records(self, reload: bool = False) -> dict[str, StateRecord]:
        return self.view.records(reload)

    def stored_form(self, name: str, resolved: dict[str, Any]) -> dict[str, Any]:
        """Options as state keeps them: references resolved, secrets fingerprinted."""
        return self.options.stored_form(name, resolved)

    def seal_records(self) -> list[str]:
        """Write the records held with secrets in clear, or in DevStream's form, in dtm's (see StateView)."""
        return self.view.seal_records()

    def refresh(self, records: Mapping[str, StateRecord], parallelism: int = 10) -> dict[str, Any]:
        """The live status of every tool the planner needs, read on threads (no flow), retried by `retry`."""
        return read_live_status(self, records, threaded_reads(self, parallelism)).live

    def plan(self, records: Mapping[str, StateRecord], live: Mapping[str, Any]) -> Plan:
        return plan_apply(self.config, self.view.adopt_live(records, live), live, self.stored_form)

    def current_plan(self, parallelism: int = 10) -> Plan:
        """What apply would do now: the records, the live status of the tools that need a read, the plan."""
        records = self.records()
        return self.plan(records, self.refresh(records, parallelism))
