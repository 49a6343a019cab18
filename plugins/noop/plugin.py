"""The noop plugin: a resource that lives only in dtm's state, for tests, benchmarks and the quickstart."""

from __future__ import annotations

import copy
import threading
import time
from typing import Any, ClassVar, Literal

from pydantic import Field

from devstream.errors import PermanentError, TransientError
from devstream.plugin.base import Plugin, PluginContext, PluginOptions, ResourceStatus

__all__ = ["NoopOptions", "NoopPlugin"]

Action = Literal["create", "read", "update", "delete"]


class NoopOptions(PluginOptions):
    """What a noop tool returns, and how slow or unreliable it pretends to be."""

    triggers: dict[str, Any] = Field(
        default_factory=dict,
        description="Any map; changing it changes the options, so the tool is updated.",
    )
    outputs: dict[str, Any] = Field(
        default_factory=dict,
        description="Returned as the tool's outputs, for other tools to reference.",
    )
    latency_ms: int = Field(default=0, ge=0, description="Every call sleeps this many milliseconds.")
    fail_on: list[Action] = Field(
        default_factory=list,
        description="Actions that raise a permanent error.",
    )
    transient_failures: int = Field(
        default=0,
        ge=0,
        description="The first this many calls of each action, per tool instance, raise a transient error.",
    )


class NoopPlugin(Plugin[NoopOptions]):
    """Touches nothing outside dtm.

    The resource is dtm's record of it: it exists while dtm holds a record (`ctx.prior`), so `read` returns
    None for a tool never created or already deleted. Its status is derived from the options alone, so
    `read` in a fresh process (after `apply` in another) returns exactly what create/update returned: no
    drift, and no state kept anywhere but dtm's.
    The transient-failure counters are the one exception: they are process-wide, which is all a test needs.
    """

    name: ClassVar[str] = "noop"
    Options: ClassVar[type[NoopOptions]] = NoopOptions
    description: ClassVar[str] = "A resource that exists only in state; for tests, benchmarks and demos."
    import_id: ClassVar[str] = "the tool's own instanceID (the resource is dtm's record of it)"

    _calls: ClassVar[dict[tuple[str, str], int]] = {}
    _calls_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def reset_counters(cls) -> None:
        """Forget how many calls each instance made, so `transient_failures` counts from zero again."""
        with cls._calls_lock:
            cls._calls.clear()

    def create(self, options: NoopOptions, ctx: PluginContext) -> ResourceStatus:
        self._call("create", options, ctx)
        return _status(options)

    def read(self, options: NoopOptions, ctx: PluginContext) -> ResourceStatus | None:
        self._call("read", options, ctx)
        return None if ctx.prior is None else _status(options)

    def update(self, options: NoopOptions, ctx: PluginContext) -> ResourceStatus:
        self._call("update", options, ctx)
        return _status(options)

    def delete(self, options: NoopOptions, ctx: PluginContext) -> None:
        self._call("delete", options, ctx)

    def import_resource(self, resource_id: str, options: NoopOptions, ctx: PluginContext) -> ResourceStatus | None:
        # The resource is the record itself, so the ID is the tool's own instanceID.
        if resource_id != ctx.instance_id:
            raise PermanentError(f"noop {ctx.key}: its resource lives only in dtm's state, so its import ID is its "
                                 f"instanceID {ctx.instance_id!r}, not {resource_id!r}")
        self._call("read", options, ctx)
        return _status(options)

    def output_keys(self, options: NoopOptions) -> set[str] | None:
        return set(options.outputs)

    def _call(self, action: Action, options: NoopOptions, ctx: PluginContext) -> None:
        """Pretend to do work: wait, then fail if the options ask for it."""
        if options.latency_ms:
            time.sleep(options.latency_ms / 1000)
        with self._calls_lock:
            n = self._calls.get((ctx.key, action), 0) + 1
            self._calls[(ctx.key, action)] = n
        if n <= options.transient_failures:
            raise TransientError(
                f"noop {ctx.key}: {action} failed on purpose (transient failure {n} of {options.transient_failures})"
            )
        if action in options.fail_on:
            raise PermanentError(f"noop {ctx.key}: {action} failed on purpose (fail_on: {action})")


def _status(options: NoopOptions) -> ResourceStatus:
    # Copies, so that whoever stores or edits the status cannot alter the options it came from.
    return {"outputs": copy.deepcopy(options.outputs), "triggers": copy.deepcopy(options.triggers)}
