"""The conformance suite (devstream.testing) run against the plugins whose system is this machine: noop
(dtm's state itself) and file (a temporary folder)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstream.plugin import PluginContext
from devstream.plugins.file import FilePlugin
from devstream.plugins.noop import NoopPlugin
from devstream.testing import Harness, PluginConformance


class TestNoopConformance(PluginConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> Iterator[Harness]:
        NoopPlugin.reset_counters()
        options: dict[str, Any] = {"outputs": {"url": "https://example.com"}, "triggers": {"v": 1}}
        ctx = PluginContext(name="noop", instance_id="conformance", workdir=tmp_path)
        yield Harness(plugin=NoopPlugin(), options=options, context=ctx, import_id="conformance", failures={
            "transient": lambda: ({**options, "transient_failures": 1}, ctx),
            "permanent": lambda: ({**options, "fail_on": ["create"]}, ctx),
        })
        NoopPlugin.reset_counters()


class TestFileConformance(PluginConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> Harness:
        options = {"path": "out/hello.txt", "content": "hello\n", "mode": "0640"}
        ctx = PluginContext(name="file", instance_id="conformance", workdir=tmp_path)
        (tmp_path / "a-file").write_text("a file, where the permanent failure wants a folder")

        def folder() -> dict[str, bytes]:
            return {str(p.relative_to(tmp_path)): p.read_bytes() + oct(p.stat().st_mode).encode()
                    for p in tmp_path.rglob("*") if p.is_file()}

        # A local file system has no failure that passes when retried: no transient failure to provoke.
        return Harness(plugin=FilePlugin(), options=options, context=ctx, snapshot=folder,
                       import_id="out/hello.txt", failures={
                           "permanent": lambda: ({**options, "path": os.path.join("a-file", "hello.txt")}, ctx)})
