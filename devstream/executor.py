"""One plugin call at a time: a live read, or a change and the state write that must follow it.

The executor builds each call's `PluginContext` (with the HTTP client factory it was given, so a test hands
plugins a client that reaches its stand-in), turns whatever a plugin raised into dtm's errors with no
secret in them, writes the record of a change the moment it succeeded, and tells the run's progress how
each change ended. Nothing here imports prefect: the flows wrap these calls in tasks.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

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
from devstream.outputs import resolve
from devstream.plan import Action, Change
from devstream.plugin.base import PluginContext
from devstream.progress import RunProgress
from devstream.retry import is_transient
from devstream.secrets import redact, scrub, secret_paths, without_fingerprints
from devstream.state import StateRecord
from devstream.state_view import StateView
from devstream.tool_options import ToolOptions, implicit_deps

__all__ = ["ChangeExecutor", "ChangeOutcome", "ClientFactory"]

log = logging.getLogger("devstream")

ClientFactory = Callable[..., httpx.Client]
"""Builds the httpx client a plugin asks its context for (default: `devstream.plugin.http.http_client`)."""


@dataclass
class ChangeOutcome:
    """What one change did: its outputs (for dependents) and whether it changed anything."""

    key: str
    action: str
    outputs: dict[str, Any] = field(default_factory=dict)
    changed: bool = True
    note: str = ""
    seconds: float | None = None


class ChangeExecutor:
    """Runs the plugin calls of one config's tools against one state view."""

    def __init__(self, config: Config, view: StateView, options: ToolOptions, progress: RunProgress,
                 client_factory: ClientFactory | None = None) -> None:
        self.config = config
        self.view = view
        self.options = options
        self.progress = progress
        self.client_factory = client_factory
        # Changes inside run_change now; once `stopped` says why, no new change starts (see stop_changes).
        self._in_flight: set[str] = set()
        self._in_flight_changed = threading.Condition()
        self.stopped: str | None = None

    def context(self, tool_name: str, instance_id: str, action: str, logger: logging.Logger | None = None,
                attempt: int = 1, record: StateRecord | None = None) -> PluginContext:
        prior = copy.deepcopy(record.resourceStatus) if record is not None else None  # the plugin may mutate it
        return PluginContext(name=tool_name, instance_id=instance_id, workdir=self.config.workdir,
                             logger=logger or log, action=action, attempt=attempt, prior=prior,
                             client_factory=self.client_factory)

    def systems(self, item: Change | ToolSpec) -> frozenset[str]:
        """The external systems a change's (or tool's) plugin calls (see Plugin.systems)."""
        tool = self.config.by_key.get(item.key)
        if tool is not None:
            options = tool.options
        else:  # a tool that left the config: only its record knows its options
            rec = self.view.known_record(item.state_key)
            options = rec.options if rec is not None else {}
        return self.options.systems(item.name, options)

    # -- reads -----------------------------------------------------------------------------------------
    def read_live(self, tool: ToolSpec, options: dict[str, Any], logger: logging.Logger | None = None
                  ) -> dict[str, Any] | None:
        """The tool's live status (normalised), or None when the resource does not exist."""
        model = self.options.model(tool.name, options, tool.key)
        ctx = self.context(tool.name, tool.instanceID, "read", logger, record=self.view.record(tool.state_key))
        with _translated(tool.key, "read", model):
            status = self.options.plugin(tool.name).read(model, ctx)
        return None if status is None else normalize(status)

    # -- changes ---------------------------------------------------------------------------------------
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

    def run_change(self, change: Change, logger: logging.Logger | None = None, attempt: int = 1) -> ChangeOutcome:
        """Make one change real, then write its state record (or forget it, for a delete); the run's progress
        is told how it ended (each failed attempt included).

        Outputs of dependencies come from the records, which each finished change updated.
        """
        started = time.monotonic()
        try:
            with self._under_way(change.key):
                outcome = self._run_change(change, logger, attempt)
        except Exception:
            self.progress.change_ended(change.key, "failed")
            raise
        outcome.seconds = round(time.monotonic() - started, 3)
        self.progress.change_ended(change.key, "succeeded" if outcome.changed else "unchanged")
        return outcome

    def _run_change(self, change: Change, logger: logging.Logger | None, attempt: int) -> ChangeOutcome:
        if change.action is Action.DELETE:
            return self._delete(change, logger, attempt)
        tool = self.config.by_key[change.key]
        implicit = implicit_deps(tool)
        rec = self.view.record(tool.state_key)
        try:
            resolved = resolve(tool.options, self.view.outputs(implicit), "options")
        except UnresolvedReferenceError as exc:
            raise PermanentError(f"{change.key}: {exc}") from None
        model = self.options.model(tool.name, resolved, tool.key)
        stored = normalize(redact(resolved, model))
        if change.only_if_inputs_change and rec is not None and not diff_paths(normalize(rec.options), stored):
            return ChangeOutcome(change.key, change.action.value, rec.outputs, changed=False,
                                 note="inputs unchanged")
        plugin = self.options.plugin(tool.name)
        ctx = self.context(tool.name, tool.instanceID, change.action.value, logger, attempt, rec)
        with _translated(change.key, change.action.value, model):
            call = plugin.create if change.action is Action.CREATE else plugin.update
            status = normalize(call(model, ctx) or {})
        record = StateRecord(name=tool.name, instanceID=tool.instanceID,
                             dependsOn=sorted(set(tool.dependsOn) | set(implicit)),
                             options=stored, resourceStatus=status)
        self.view.save(record, change.action.value)
        return ChangeOutcome(change.key, change.action.value, record.outputs)

    def import_tool(self, tool: ToolSpec, resource_id: str, *, owned: bool = False,
                    logger: logging.Logger | None = None) -> StateRecord:
        """Adopt the existing resource `resource_id` as `tool` (`dtm import`): the plugin reads it, and its record
        is written as if dtm had created it, with the config's options. Hold the state's lock around it."""
        if (rec := self.view.record(tool.state_key)) is not None:
            raise DtmError(f"{tool.key} is in the state already; `dtm state rm {tool.key}` first to import it anew")
        plugin = self.options.plugin(tool.name)
        if not plugin.import_id:
            raise ImportNotSupportedError(f"{tool.key}: the {tool.name} plugin cannot import an existing resource; "
                                          f"`dtm apply` creates it (adopting what exists where the plugin can)")
        implicit = implicit_deps(tool)
        try:
            resolved = resolve(tool.options, self.view.outputs(implicit), "options")
        except UnresolvedReferenceError as exc:
            raise DtmError(f"{tool.key}: {exc}; import (or apply) the tools it references first") from None
        model = self.options.model(tool.name, resolved, tool.key)
        ctx = self.context(tool.name, tool.instanceID, "import", logger, record=rec)
        ctx.owned = owned
        with _translated(tool.key, "import", model):
            status = plugin.import_resource(resource_id, model, ctx)
        if status is None:
            raise PermanentError(f"{tool.key}: nothing to import: {resource_id} does not exist "
                                 f"(the {tool.name} plugin's ID is {plugin.import_id})")
        record = StateRecord(name=tool.name, instanceID=tool.instanceID,
                             dependsOn=sorted(set(tool.dependsOn) | set(implicit)),
                             options=normalize(redact(resolved, model)), resourceStatus=normalize(status))
        self.view.save(record, "import")
        return record

    def _delete(self, change: Change, logger: logging.Logger | None, attempt: int) -> ChangeOutcome:
        tool = self.config.by_key.get(change.key)
        rec = self.view.record(change.state_key)
        options: dict[str, Any] | None = None
        if tool is not None:
            try:
                options = resolve(tool.options, self.view.outputs(implicit_deps(tool)), "options")
            except UnresolvedReferenceError:
                options = None if rec is not None else tool.options
        if options is None:
            model = self._stored_model(change, rec, logger)
        else:
            model = self.options.model(change.name, options, change.key)
        ctx = self.context(change.name, change.instanceID, "delete", logger, attempt, rec)
        with _translated(change.key, "delete", model):
            self.options.plugin(change.name).delete(model, ctx)
        self.view.forget(change.state_key)
        return ChangeOutcome(change.key, "delete")

    def _stored_model(self, change: Change, rec: StateRecord | None, logger: logging.Logger | None) -> BaseModel:
        """The options of a delete that only the record knows: its secrets are fingerprints, so they are left
        out where the plugin can do without (it then looks where it would for an unset one)."""
        stored = rec.options if rec is not None else {}
        options, dropped = without_fingerprints(stored)
        try:
            model = self.options.plugin(change.name).Options.model_validate(options)
        except ValidationError:
            return self.options.model(change.name, stored, change.key)  # a required secret: the fingerprint stands in
        if dropped:
            (logger or log).warning("%s: deleted with the options dtm recorded, which keep no secret: %s left unset, "
                                    "so the plugin takes them from its environment (e.g. GITHUB_TOKEN, GITLAB_TOKEN)",
                                    change.key, ", ".join(dropped))
        return model


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
