"""The noop plugin: a resource that exists only in state, slow or flaky on demand."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from plugin_calls import recorded
from pydantic import ValidationError

from devstream.errors import PermanentError, TransientError
from devstream.plugin.base import PluginContext
from devstream.plugins.noop import NoopOptions, NoopPlugin


@pytest.fixture(autouse=True)
def fresh_counters() -> Iterator[None]:
    NoopPlugin.reset_counters()
    yield
    NoopPlugin.reset_counters()


def ctx_for(tmp_path: Path, instance_id: str = "a") -> PluginContext:
    return PluginContext(name="noop", instance_id=instance_id, workdir=tmp_path)


def test_lifecycle_create_read_update_delete(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path)
    options = NoopOptions(outputs={"url": "https://example.com"}, triggers={"version": 1})

    created = NoopPlugin().create(options, ctx)
    assert created == {"outputs": {"url": "https://example.com"}, "triggers": {"version": 1}}

    # A fresh plugin object stands for a fresh `dtm` process: read still matches, so there is no drift.
    assert NoopPlugin().read(options, recorded(ctx, created)) == created

    bumped = NoopOptions(outputs={"url": "https://example.com"}, triggers={"version": 2})
    updated = NoopPlugin().update(bumped, recorded(ctx, created))
    assert updated["triggers"] == {"version": 2}
    assert NoopPlugin().read(bumped, recorded(ctx, updated)) == updated

    assert NoopPlugin().delete(bumped, recorded(ctx, updated)) is None


def test_the_resource_is_the_record_so_without_one_read_finds_nothing(tmp_path: Path) -> None:
    """A tool never applied, or deleted (its record gone), does not exist: read returns None, as the
    conformance suite requires of every plugin."""
    options = NoopOptions(outputs={"url": "https://example.com"})
    ctx = ctx_for(tmp_path)

    assert NoopPlugin().read(options, ctx) is None
    created = NoopPlugin().create(options, ctx)
    assert NoopPlugin().read(options, recorded(ctx, created)) == created


def test_outputs_are_declared_in_advance_and_returned_as_copies(tmp_path: Path) -> None:
    options = NoopOptions(outputs={"repo": {"name": "app"}, "n": 3})
    assert NoopPlugin().output_keys(options) == {"repo", "n"}

    status = NoopPlugin().create(options, ctx_for(tmp_path))
    status["outputs"]["repo"]["name"] = "changed"
    assert options.outputs["repo"]["name"] == "app"


def test_latency_makes_every_call_take_at_least_that_long(tmp_path: Path) -> None:
    options = NoopOptions(latency_ms=30)
    start = time.monotonic()
    NoopPlugin().read(options, ctx_for(tmp_path))
    assert time.monotonic() - start >= 0.03


def test_fail_on_raises_a_permanent_error_for_those_actions_only(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path)
    options = NoopOptions(fail_on=["update", "delete"])

    NoopPlugin().create(options, ctx)
    with pytest.raises(PermanentError, match="noop.a: update failed on purpose"):
        NoopPlugin().update(options, ctx)
    with pytest.raises(PermanentError):
        NoopPlugin().delete(options, ctx)


def test_transient_failures_count_per_action_and_per_instance(tmp_path: Path) -> None:
    plugin = NoopPlugin()
    a, b = ctx_for(tmp_path, "a"), ctx_for(tmp_path, "b")
    options = NoopOptions(transient_failures=2, outputs={"k": "v"})

    for attempt in (1, 2):
        with pytest.raises(TransientError, match=f"transient failure {attempt} of 2"):
            plugin.create(options, a)
    assert plugin.create(options, a) == {"outputs": {"k": "v"}, "triggers": {}}

    # Another action, and another instance, have counters of their own.
    with pytest.raises(TransientError):
        plugin.read(options, a)
    with pytest.raises(TransientError):
        plugin.create(options, b)

    # The counters are process-wide (not per plugin object) until reset.
    with pytest.raises(TransientError):
        NoopPlugin().read(options, a)
    assert NoopPlugin().read(options, recorded(a, {"outputs": {"k": "v"}})) is not None
    NoopPlugin.reset_counters()
    with pytest.raises(TransientError):
        plugin.create(options, a)


def test_transient_failures_are_counted_exactly_under_concurrency(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path)
    options = NoopOptions(transient_failures=5)
    failures: list[int] = []

    def call() -> None:
        try:
            NoopPlugin().create(options, ctx)
        except TransientError:
            failures.append(1)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(failures) == 5


def test_options_are_strict_and_documented() -> None:
    with pytest.raises(ValidationError, match="extra"):
        NoopOptions.model_validate({"output": {}})
    with pytest.raises(ValidationError):
        NoopOptions.model_validate({"fail_on": ["explode"]})
    with pytest.raises(ValidationError):
        NoopOptions.model_validate({"latency_ms": -1})
    for name, field in NoopOptions.model_fields.items():
        assert field.description and field.description.endswith("."), name
