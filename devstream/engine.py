"""One tool at a time: the work that the flows' tasks (and the CLI's refresh) wrap.

A `Workspace` binds a loaded config to its plugins and its state store. Its methods do one plugin call
each (`read_live`, `run_change`) and, for a change, the state write that must follow it the moment it
succeeds. Nothing here imports prefect: the flows wrap these calls in tasks, and `refresh` runs reads on a
plain thread pool when no flow is running, retried by the workspace's `RetryPolicy` as Prefect retries the
flows' tasks (see devstream/retry.py).
"""

from __future__ import annotations

import copy
import logging
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from devstream.config import load_config
from devstream.config.models import Config, ToolSpec
from devstream.errors import (
    DtmError,
    ImportNotSupportedError,
    PermanentError,
    PluginError,
    TransientError,
    UnresolvedReferenceError,
)
from devstream.jsonish import diff_paths, normalize
from devstream.outputs import find_references, resolve
from devstream.plan import Action, Change, Plan, plan_apply, read_targets
from devstream.plugin.base import Plugin, PluginContext
from devstream.plugin.registry import PluginRegistry, default_registry
from devstream.retry import RetryPolicy, is_transient
from devstream.secrets import redact, redact_by_schema, scrub, secret_paths, without_fingerprints
from devstream.state import StateRecord, StateStore, open_store
from devstream.state.base import ChangeNote, FlowRunRef
from devstream.state.migrate import adopt_live_status, without_injected_instance_id

__all__ = ["ChangeOutcome", "RetryPolicy", "Workspace", "is_transient"]

log = logging.getLogger("devstream")


@dataclass
class ChangeOutcome:
    """What one change did: its outputs (for dependents) and whether it changed anything."""

    key: str
    action: str
    outputs: dict[str, Any] = field(default_factory=dict)
    changed: bool = True
    note: str = ""
    seconds: float | None = None


@dataclass
class Workspace:
    """A config with its plugins and its state store."""

    config: Config
    store: StateStore
    registry: PluginRegistry = field(default_factory=default_registry)
    # How transient failures are retried, in flows (task options) and outside them (refresh): one budget.
    retry: RetryPolicy = field(default_factory=RetryPolicy.from_env)
    # The records as this process knows them: read once, then kept in step with every write, so that a
    # change never re-reads the whole state (an apply stays O(N)).
    _records: dict[str, StateRecord] | None = field(default=None, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # The flow run making changes now (set by the flows): each record written names it.
    flow_run: FlowRunRef | None = field(default=None, repr=False)
    # Told (key, result) as each change ends; the CLI draws its progress bar from it.
    on_change_end: Callable[[str, str], None] | None = field(default=None, repr=False)
    # State keys of records the store holds with secrets in clear (DevStream v0.12 wrote tokens so); this
    # process sees them fingerprinted, and `seal_records` writes them so.
    unsealed: set[str] = field(default_factory=set, repr=False)
    # State keys of records DevStream v0.12.1 wrote (see devstream/state/migrate.py), and those records with
    # the status a plan read live, which `seal_records` writes in dtm's form.
    from_devstream: set[str] = field(default_factory=set, repr=False)
    _adopted: dict[str, StateRecord] = field(default_factory=dict, repr=False)
    # How each change of this process's runs ended ("succeeded", "unchanged", "failed"), by tool key.
    ended: dict[str, str] = field(default_factory=dict, repr=False)
    # Changes inside run_change now; once `stopped` says why, no new change starts (see stop_changes).
    _in_flight: set[str] = field(default_factory=set, repr=False)
    _in_flight_changed: threading.Condition = field(default_factory=threading.Condition, repr=False)
    stopped: str | None = field(default=None, repr=False)

    def notify(self, key: str, result: str) -> None:
        self.ended[key] = result
        if self.on_change_end is not None:
            self.on_change_end(key, result)

    def stop_changes(self, reason: str, wait: float) -> set[str]:
        """Let no change start from now on (they fail with `reason`); wait up to `wait` seconds for the
        changes under way to end, and return the keys of those still running then."""
        with self._in_flight_changed:
            self.stopped = reason
            self._in_flight_changed.wait_for(lambda: not self._in_flight, timeout=wait)
            return set(self._in_flight)

    @contextmanager
    def _under_way(self, key: str) -> Iterator[None]:
        with self._in_flight_changed:
            if self.stopped is not None:
                raise PermanentError(f"{key}: not run: {self.stopped}")
            self._in_flight.add(key)
        try:
            yield
        finally:
            with self._in_flight_changed:
                self._in_flight.discard(key)
                self._in_flight_changed.notify_all()

    def records(self, reload: bool = False) -> dict[str, StateRecord]:
        with self._guard:
            if reload:
                self._records = self._read_store()
            return dict(self._loaded())

    def _loaded(self) -> dict[str, StateRecord]:
        """The records, read from the store on first use. Call it holding `_guard`."""
        if self._records is None:
            self._records = self._read_store()
        return self._records

    def _read_store(self) -> dict[str, StateRecord]:
        """The store's records with every secret in their options fingerprinted, whoever wrote them: plans,
        status, artifacts and deletes never see a secret a record holds in clear. Such records are noted in
        `unsealed`. Call it holding `_guard`."""
        records: dict[str, StateRecord] = {}
        self.unsealed.clear()
        self.from_devstream.clear()
        self._adopted.clear()
        for key, rec in self.store.read().items():
            try:
                if (migrated := without_injected_instance_id(rec, self.plugin(rec.name).Options)) is not None:
                    rec = migrated
                    self.from_devstream.add(key)
                sealed = self.stored_form(rec.name, dict(rec.options))
            except Exception:  # a plugin that is not installed: its record is left as it is (and fails later)
                sealed = rec.options
            if normalize(sealed) != normalize(rec.options):
                self.unsealed.add(key)
                rec = rec.model_copy(update={"options": sealed})
            records[key] = rec
        return records

    def seal_records(self) -> list[str]:
        """Write the records that the store holds with secrets in clear, or in DevStream's form, again: secrets
        as fingerprints, DevStream's injected instanceID dropped, the status the last plan read live (no plugin
        call: the options are the same); returns their keys."""
        with self._guard:
            keys = sorted(self.unsealed | self.from_devstream)
            records = self._loaded()
            sealed = [self._adopted.get(k, records[k]) for k in keys if k in records]
        for record in sealed:
            self._save(record, "rewrite (migrated from DevStream)" if record.state_key in self.from_devstream
                       else "rewrite (secrets fingerprinted)")
            log.info("%s: state record rewritten in dtm's form (secrets as fingerprints)", record.key)
        with self._guard:
            self.unsealed.difference_update(keys)
            self.from_devstream.difference_update(keys)
            self._adopted.clear()
        return [r.key for r in sealed]

    def _record(self, state_key: str) -> StateRecord | None:
        with self._guard:
            return self._loaded().get(state_key)

    def _outputs(self, tool_keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The outputs of the tools named (those in state), without copying all records."""
        wanted = {key.replace(".", "_", 1) for key in tool_keys}
        with self._guard:
            records = self._loaded()
            return {rec.key: rec.outputs for k in wanted if (rec := records.get(k)) is not None}

    def _note(self, action: str) -> ChangeNote:
        return ChangeNote(action=action, flow_run=self.flow_run)

    def _save(self, record: StateRecord, action: str) -> None:
        self.store.put(record, self._note(action))
        with self._guard:
            if self._records is not None:
                self._records[record.state_key] = record

    def _forget(self, state_key: str) -> None:
        self.store.delete(state_key, self._note("delete"))
        with self._guard:
            if self._records is not None:
                self._records.pop(state_key, None)

    @classmethod
    def open(cls, path: str | Path, registry: PluginRegistry | None = None) -> Workspace:
        """A new workspace of the config at `path`. (A flow the CLI starts is handed the CLI's own workspace
        instead: see flows/run.py run_confirmed.)"""
        registry = registry or default_registry()
        config = load_config(path, registry=registry)
        return cls(config=config, store=open_store(config), registry=registry)

    # -- options -------------------------------------------------------------------------------------
    def plugin(self, name: str) -> Plugin:
        return self.registry.get(name)

    def model(self, name: str, options: Mapping[str, Any], key: str) -> BaseModel:
        try:
            return self.plugin(name).Options.model_validate(dict(options))
        except ValidationError as exc:
            # Only reachable when a resolved output does not fit the option (load time checked the rest).
            errors = "; ".join(f"options.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise PermanentError(f"{key}: options are not valid after resolving outputs: {errors}") from None

    def systems(self, item: Change | ToolSpec) -> frozenset[str]:
        """The external systems a change's (or tool's) plugin calls (see Plugin.systems); none when it cannot say."""
        tool = self.config.by_key.get(item.key)
        if tool is not None:
            options = tool.options
        else:  # a tool that left the config: only its record knows its options
            with self._guard:
                rec = (self._records or {}).get(item.state_key)
            options = rec.options if rec is not None else {}
        try:
            return frozenset(self.plugin(item.name).systems(options))
        except Exception:  # a tag is a convenience: never worth failing a run over
            return frozenset()

    def stored_form(self, name: str, resolved: dict[str, Any]) -> dict[str, Any]:
        """Options as state keeps them: references resolved, secrets fingerprinted."""
        options_model = self.plugin(name).Options
        try:
            model = options_model.model_validate(resolved)
        except ValidationError:
            # An unresolved reference does not validate yet: hide secrets by the model's field types.
            return redact_by_schema(resolved, options_model)
        return redact(resolved, model)

    def context(self, tool_name: str, instance_id: str, action: str, logger: logging.Logger | None = None,
                attempt: int = 1, record: StateRecord | None = None) -> PluginContext:
        prior = copy.deepcopy(record.resourceStatus) if record is not None else None  # the plugin may mutate it
        return PluginContext(name=tool_name, instance_id=instance_id, workdir=self.config.workdir,
                             logger=logger or log, action=action, attempt=attempt, prior=prior)

    # -- reads -----------------------------------------------------------------------------------------
    def read_live(self, tool: ToolSpec, options: dict[str, Any], logger: logging.Logger | None = None
                  ) -> dict[str, Any] | None:
        """The tool's live status (normalised), or None when the resource does not exist."""
        model = self.model(tool.name, options, tool.key)
        ctx = self.context(tool.name, tool.instanceID, "read", logger, record=self._record(tool.state_key))
        with self._translated(tool.key, "read", model):
            status = self.plugin(tool.name).read(model, ctx)
        return None if status is None else normalize(status)

    def read_live_retried(self, tool: ToolSpec, options: dict[str, Any], logger: logging.Logger | None = None
                          ) -> dict[str, Any] | None:
        """`read_live` outside a flow: transient failures retried by the workspace's policy, as the flows'
        read tasks are by Prefect."""
        return self.retry.call(self.read_live, tool, options, logger, what=f"read {tool.key}", logger=logger)

    def refresh(self, records: Mapping[str, StateRecord], parallelism: int = 10) -> dict[str, Any]:
        """Read every tool the planner needs, concurrently (at most `parallelism` at a time), each read
        retried on transient failures."""
        targets = read_targets(self.config, records, self.stored_form)
        if not targets:
            return {}
        with ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="dtm-read") as pool:
            futures = {t.state_key: pool.submit(self.read_live_retried, t, opts) for t, opts in targets}
            return {k: f.result() for k, f in futures.items()}

    def plan(self, records: Mapping[str, StateRecord], live: Mapping[str, Any]) -> Plan:
        if self.from_devstream:  # DevStream's statuses are not dtm's: the live one is the baseline
            adopted = adopt_live_status(records, live, self.from_devstream)
            with self._guard:
                self._adopted.update(adopted)
            records = {**records, **adopted}
        return plan_apply(self.config, records, live, self.stored_form)

    def current_plan(self, parallelism: int = 10) -> Plan:
        """What apply would do now: the records, the live status of the tools that need a read, the plan."""
        records = self.records()
        return self.plan(records, self.refresh(records, parallelism))

    # -- changes ---------------------------------------------------------------------------------------
    def run_change(self, change: Change, logger: logging.Logger | None = None, attempt: int = 1) -> ChangeOutcome:
        """Make one change real, then write its state record (or forget it, for a delete).

        Outputs of dependencies come from the records, which each finished change updated.
        """
        with self._under_way(change.key):
            return self._run_change(change, logger, attempt)

    def _run_change(self, change: Change, logger: logging.Logger | None, attempt: int) -> ChangeOutcome:
        if change.action is Action.DELETE:
            return self._delete(change, logger, attempt)
        tool = self.config.by_key[change.key]
        implicit = self._implicit_deps(tool)
        rec = self._record(tool.state_key)
        try:
            resolved = resolve(tool.options, self._outputs(implicit), "options")
        except UnresolvedReferenceError as exc:
            raise PermanentError(f"{change.key}: {exc}") from None
        model = self.model(tool.name, resolved, tool.key)
        stored = normalize(redact(resolved, model))
        if change.only_if_inputs_change and rec is not None and not diff_paths(normalize(rec.options), stored):
            return ChangeOutcome(change.key, change.action.value, rec.outputs, changed=False,
                                 note="inputs unchanged")
        plugin = self.plugin(tool.name)
        ctx = self.context(tool.name, tool.instanceID, change.action.value, logger, attempt, rec)
        with self._translated(change.key, change.action.value, model):
            call = plugin.create if change.action is Action.CREATE else plugin.update
            status = normalize(call(model, ctx) or {})
        record = StateRecord(name=tool.name, instanceID=tool.instanceID,
                             dependsOn=sorted(set(tool.dependsOn) | set(implicit)),
                             options=stored, resourceStatus=status)
        self._save(record, change.action.value)
        return ChangeOutcome(change.key, change.action.value, record.outputs)

    def import_tool(self, tool: ToolSpec, resource_id: str, *, owned: bool = False,
                    logger: logging.Logger | None = None) -> StateRecord:
        """Adopt the existing resource `resource_id` as `tool` (`dtm import`): the plugin reads it, and its record
        is written as if dtm had created it, with the config's options. Hold the state's lock around it."""
        if (rec := self._record(tool.state_key)) is not None:
            raise DtmError(f"{tool.key} is in the state already; `dtm state rm {tool.key}` first to import it anew")
        plugin = self.plugin(tool.name)
        if not plugin.import_id:
            raise ImportNotSupportedError(f"{tool.key}: the {tool.name} plugin cannot import an existing resource; "
                                          f"`dtm apply` creates it (adopting what exists where the plugin can)")
        implicit = self._implicit_deps(tool)
        try:
            resolved = resolve(tool.options, self._outputs(implicit), "options")
        except UnresolvedReferenceError as exc:
            raise DtmError(f"{tool.key}: {exc}; import (or apply) the tools it references first") from None
        model = self.model(tool.name, resolved, tool.key)
        ctx = self.context(tool.name, tool.instanceID, "import", logger, record=rec)
        ctx.owned = owned
        with self._translated(tool.key, "import", model):
            status = plugin.import_resource(resource_id, model, ctx)
        if status is None:
            raise PermanentError(f"{tool.key}: nothing to import: {resource_id} does not exist "
                                 f"(the {tool.name} plugin's ID is {plugin.import_id})")
        record = StateRecord(name=tool.name, instanceID=tool.instanceID,
                             dependsOn=sorted(set(tool.dependsOn) | set(implicit)),
                             options=normalize(redact(resolved, model)), resourceStatus=normalize(status))
        self._save(record, "import")
        return record

    @staticmethod
    def _implicit_deps(tool: ToolSpec) -> list[str]:
        return [r.tool_key for r in find_references(tool.options)]

    def _delete(self, change: Change, logger: logging.Logger | None, attempt: int) -> ChangeOutcome:
        tool = self.config.by_key.get(change.key)
        rec = self._record(change.state_key)
        options: dict[str, Any] | None = None
        if tool is not None:
            try:
                options = resolve(tool.options, self._outputs(self._implicit_deps(tool)), "options")
            except UnresolvedReferenceError:
                options = None if rec is not None else tool.options
        if options is None:
            model = self._stored_model(change, rec, logger)
        else:
            model = self.model(change.name, options, change.key)
        ctx = self.context(change.name, change.instanceID, "delete", logger, attempt, rec)
        with self._translated(change.key, "delete", model):
            self.plugin(change.name).delete(model, ctx)
        self._forget(change.state_key)
        return ChangeOutcome(change.key, "delete")

    def _stored_model(self, change: Change, rec: StateRecord | None, logger: logging.Logger | None) -> BaseModel:
        """The options of a delete that only the record knows: its secrets are fingerprints, so they are left
        out where the plugin can do without (it then looks where it would for an unset one)."""
        stored = rec.options if rec is not None else {}
        options, dropped = without_fingerprints(stored)
        try:
            model = self.plugin(change.name).Options.model_validate(options)
        except ValidationError:
            return self.model(change.name, stored, change.key)  # a required secret: the fingerprint stands in
        if dropped:
            (logger or log).warning("%s: deleted with the options dtm recorded, which keep no secret: %s left unset, "
                                    "so the plugin takes them from its environment (e.g. GITHUB_TOKEN, GITLAB_TOKEN)",
                                    change.key, ", ".join(dropped))
        return model

    @staticmethod
    @contextmanager
    def _translated(key: str, action: str, model: BaseModel) -> Iterator[None]:
        """Turn whatever a plugin raised into a PluginError whose message holds no secret.

        An exception dtm's errors do not cover (a plugin's bug, an SDK's error) keeps its type in the message
        (`KeyError: 'sha256'`, not `'sha256'`) and its traceback, secrets masked, for `dtm --debug`.
        """
        try:
            yield
        except Exception as exc:
            secrets = secret_paths(model).values()
            text = scrub(str(exc) or type(exc).__name__, secrets)
            if isinstance(exc, PluginError) and text == str(exc):
                raise
            if not isinstance(exc, DtmError):
                text = f"{type(exc).__name__}: {text}" if str(exc) else text
            kind = TransientError if is_transient(exc) else PermanentError
            error = kind(f"{key}: {action} failed: {text}")
            if not isinstance(exc, DtmError):
                error.traceback_text = scrub("".join(traceback.format_exception(exc)), secrets)
            raise error from None
