"""Properties over random dependency graphs, each checked with real flow runs.

For any DAG: apply then plan is empty; no change starts before its dependencies finished; destroy leaves
an empty state and deletes dependents first.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from probe import CALLS, ProbePlugin

from devstream.cli import run
from devstream.engine import Workspace

pytestmark = pytest.mark.usefixtures("prefect_server")


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    """Up to 8 tools; each may depend on any earlier one, so the graph is acyclic by construction."""
    n = draw(st.integers(min_value=1, max_value=8))
    names = [f"t{i}" for i in range(n)]
    return {name: sorted(draw(st.sets(st.sampled_from(names[:i]), max_size=3))) if i else []
            for i, name in enumerate(names)}


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(dag=dags(), use_references=st.booleans())
def test_apply_plan_destroy_over_random_dags(dag: dict[str, list[str]], use_references: bool) -> None:
    folder = Path(tempfile.mkdtemp(prefix="dtm-prop-"))
    try:
        tools = []
        for name, deps in dag.items():
            options: dict = {"outputs": {"id": name}, "latency_ms": 5}
            if use_references and deps:
                # Depend through output references instead of dependsOn.
                options["value"] = [f"${{{{ probe.{d}.outputs.id }}}}" for d in deps]
                tools.append({"name": "probe", "instanceID": name, "options": options})
            else:
                tools.append({"name": "probe", "instanceID": name, "dependsOn": [f"probe.{d}" for d in deps],
                              "options": options})
        config = folder / "dag.yaml"
        config.write_text(yaml.safe_dump({"tools": tools}))
        CALLS.clear()
        ProbePlugin.exists.clear()

        assert run.apply(config_path=config, yes=True) == 0
        ended = {c.key: c.end for c in CALLS}
        for c in CALLS:
            for d in dag[c.key.split(".")[1]]:
                assert c.start >= ended[f"probe.{d}"], f"{c.key} started before probe.{d} ended"

        assert Workspace.open(config).current_plan().empty

        CALLS.clear()
        assert run.destroy(config_path=config, yes=True) == 0
        assert Workspace.open(config).records() == {}
        ended = {c.key: c.end for c in CALLS}
        for c in CALLS:
            for dependent, deps in dag.items():
                if c.key.split(".")[1] in deps:
                    assert c.start >= ended[f"probe.{dependent}"], f"{c.key} deleted before {dependent}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
