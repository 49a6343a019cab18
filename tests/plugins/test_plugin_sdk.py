"""The plugin SDK as a plugin author meets it: one import, and a class missing a method refused when dtm
loads it (at `dtm validate`), not when a change first calls it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import devstream.plugin as sdk
from devstream.errors import PluginLoadError
from devstream.plugin.registry import PluginRegistry


def test_the_sdk_exports_what_a_plugin_needs_and_nothing_of_dtm_s_insides():
    assert set(sdk.__all__) == {"Field", "PermanentError", "Plugin", "PluginContext", "PluginError", "PluginOptions",
                                "RateLimitError", "ResourceStatus", "SecretStr", "TransientError", "http_client",
                                "raise_for_status"}
    assert all(hasattr(sdk, name) for name in sdk.__all__)


def test_each_hook_says_what_it_receives_and_returns():
    for hook in ("create", "read", "update", "delete"):
        doc = getattr(sdk.Plugin, hook).__doc__
        assert "ctx.prior" in doc and "Returns" in doc, hook


def test_a_plugin_class_missing_methods_is_refused_when_registered():
    class HalfDone(sdk.Plugin):
        name = "half-done"

        def create(self, options, ctx):
            return {}

    with pytest.raises(PluginLoadError, match="does not implement delete, read, update"):
        PluginRegistry(use_entry_points=False).register(HalfDone)


def test_an_installed_plugin_missing_a_method_fails_dtm_validate_naming_it(tmp_path: Path):
    """A plugin installed (an entry point of a distribution on sys.path) without `read`: the config that uses
    it fails at validate time, with the file and line of the tool and the missing method."""
    site = tmp_path / "site"
    (site / "halfdone").mkdir(parents=True)
    (site / "halfdone" / "__init__.py").write_text(textwrap.dedent("""
        from devstream.plugin import Plugin, PluginOptions

        class HalfDone(Plugin[PluginOptions]):
            name = "half-done"
            description = "forgot read"
            def create(self, options, ctx): return {}
            def update(self, options, ctx): return {}
            def delete(self, options, ctx): return None
        """))
    dist_info = site / "halfdone-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: halfdone\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[devstream.plugins]\nhalf-done = halfdone:HalfDone\n")
    config = tmp_path / "dtm.yaml"
    config.write_text("tools:\n- name: half-done\n  instanceID: x\n")
    dtm = Path(sys.executable).with_name("dtm")
    env = {**os.environ, "PYTHONPATH": str(site)}

    done = subprocess.run([str(dtm), "validate", "-f", str(config)], capture_output=True, text=True, env=env)

    assert done.returncode == 1, done.stdout + done.stderr
    message = " ".join(done.stderr.split())
    assert f"{config}:2" in message
    assert "plugin 'half-done' (halfdone:HalfDone) does not implement read" in message
