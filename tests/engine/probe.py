"""`probe`: a test plugin that records when each call starts and ends, to check ordering."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from pydantic import Field, SecretStr

from devstream.errors import PermanentError
from devstream.plugin import Plugin, PluginContext
from devstream.plugin.base import PluginOptions


@dataclass
class Call:
    key: str
    action: str
    start: float
    end: float
    prior: dict[str, Any] | None = None  # the status the engine handed the plugin (ctx.prior)
    token: str | None = None  # the secret option as the plugin got it


CALLS: list[Call] = []
READS: list[tuple[str, dict[str, Any] | None]] = []  # (key, ctx.prior) of every read
_lock = threading.Lock()


class ProbeOptions(PluginOptions):
    latency_ms: int = Field(default=0, description="How long each call takes.")
    outputs: dict[str, Any] = Field(default_factory=dict, description="Returned as outputs.")
    value: Any = Field(default=None, description="Anything; references land here.")
    fail_on: list[str] = Field(default_factory=list, description="Actions that fail for good.")
    token: SecretStr | None = Field(default=None, description="A secret, to check it never reaches state.")


class ProbePlugin(Plugin[ProbeOptions]):
    name = "probe"
    Options = ProbeOptions
    description = "Records each call, for tests."
    exists: set[str] = set()

    def _call(self, options: ProbeOptions, ctx: PluginContext, action: str) -> None:
        start = time.monotonic()
        time.sleep(options.latency_ms / 1000)
        with _lock:
            token = options.token.get_secret_value() if options.token is not None else None
            CALLS.append(Call(ctx.key, action, start, time.monotonic(), ctx.prior, token))
        if action in options.fail_on:
            raise PermanentError(f"{ctx.key}: {action} refused (fail_on)")

    def _status(self, options: ProbeOptions) -> dict[str, Any]:
        return {"outputs": options.outputs, "value": options.value}

    def create(self, options: ProbeOptions, ctx: PluginContext) -> dict[str, Any]:
        self._call(options, ctx, "create")
        self.exists.add(ctx.key)
        return self._status(options)

    def read(self, options: ProbeOptions, ctx: PluginContext) -> dict[str, Any] | None:
        with _lock:
            READS.append((ctx.key, ctx.prior))
        return self._status(options) if ctx.key in self.exists else None

    def update(self, options: ProbeOptions, ctx: PluginContext) -> dict[str, Any]:
        self._call(options, ctx, "update")
        self.exists.add(ctx.key)
        return self._status(options)

    def delete(self, options: ProbeOptions, ctx: PluginContext) -> None:
        self._call(options, ctx, "delete")
        self.exists.discard(ctx.key)

    def output_keys(self, options: ProbeOptions) -> set[str] | None:
        return set(options.outputs)
