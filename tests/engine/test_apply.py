"""Applying a config end to end: a real Prefect flow run per apply, the local state on disk.

Each test writes a small config, runs the CLI's own functions (`devstream.cli.run`), and looks at what the
plugins did and what the state holds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from engine_builders import tool
from probe import CALLS, READS

from devstream.cli import run
from devstream.engine import Workspace
from devstream.errors import StateLockedError

pytestmark = pytest.mark.usefixtures("prefect_server")


def state_of(config: Path) -> dict:
    """The state file as YAML; no file yet means an empty state."""
    path = config.parent / "devstream.state"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}



def test_apply_creates_everything_then_nothing_changes(write_config):
    config = write_config([tool("noop", "a", outputs={"url": "x"}),
                           tool("noop", "b", ["noop.a"], triggers={"t": 1})])
    assert run.apply(config_path=config, yes=True) == 0
    state = state_of(config)
    assert set(state) == {"noop_a", "noop_b"}
    assert state["noop_a"]["resourceStatus"]["outputs"] == {"url": "x"}
    assert state["noop_b"]["dependsOn"] == ["noop.a"]
    # Idempotent: the second plan is empty, and apply says so without running anything.
    assert Workspace.open(config).current_plan().empty
    assert run.apply(config_path=config, yes=True) == 0


def test_no_change_starts_before_its_dependencies_finished(write_config):
    config = write_config([
        tool("probe", "base", latency_ms=150),
        tool("probe", "left", ["probe.base"], latency_ms=100),
        tool("probe", "right", ["probe.base"], latency_ms=100),
        tool("probe", "top", ["probe.left", "probe.right"]),
        tool("probe", "alone", latency_ms=150),
    ])
    assert run.apply(config_path=config, yes=True) == 0
    calls = {c.key: c for c in CALLS}
    assert calls["probe.left"].start >= calls["probe.base"].end
    assert calls["probe.right"].start >= calls["probe.base"].end
    assert calls["probe.top"].start >= max(calls["probe.left"].end, calls["probe.right"].end)
    # Independent branches overlap: `alone` ran while `base` did.
    assert calls["probe.alone"].start < calls["probe.base"].end
    # Siblings ran concurrently too.
    assert calls["probe.left"].start < calls["probe.right"].end and calls["probe.right"].start < calls["probe.left"].end


def test_outputs_flow_into_dependents_anywhere_in_their_options(write_config):
    config = write_config([
        tool("probe", "src", outputs={"url": "https://x.example", "ports": [80, 443]}),
        tool("probe", "use", value={
            "whole": "${{ probe.src.outputs.ports }}",
            "mixed": "${{ probe.src.outputs.url }}/a and ${{ probe.src.outputs.url }}/b",
            "in_list": ["first", "${{ probe.src.outputs.url }}"],
        }),
    ])
    assert run.apply(config_path=config, yes=True) == 0
    value = state_of(config)["probe_use"]["options"]["value"]
    assert value == {"whole": [80, 443], "mixed": "https://x.example/a and https://x.example/b",
                     "in_list": ["first", "https://x.example"]}
    # The reference made `use` depend on `src` although no dependsOn says so.
    calls = {c.key: c for c in CALLS}
    assert calls["probe.use"].start >= calls["probe.src"].end
    assert Workspace.open(config).current_plan().empty


def test_a_failure_stops_only_its_own_dependents(write_config):
    config = write_config([
        tool("probe", "broken", fail_on=["create"]),
        tool("probe", "child", ["probe.broken"]),
        tool("probe", "grandchild", ["probe.child"]),
        tool("probe", "independent", latency_ms=50),
        tool("probe", "after-independent", ["probe.independent"]),
    ])
    assert run.apply(config_path=config, yes=True) == 1
    state = state_of(config)
    assert set(state) == {"probe_independent", "probe_after-independent"}
    ran = {c.key for c in CALLS}
    assert "probe.child" not in ran and "probe.grandchild" not in ran
    # Fix the config: the next apply converges and creates only what is missing.
    config = write_config([
        tool("probe", "broken"),
        tool("probe", "child", ["probe.broken"]),
        tool("probe", "grandchild", ["probe.child"]),
        tool("probe", "independent", latency_ms=50),
        tool("probe", "after-independent", ["probe.independent"]),
    ])
    CALLS.clear()
    planned = Workspace.open(config).current_plan().changes
    assert [c.key for c in planned] == ["probe.broken", "probe.child", "probe.grandchild"]
    assert run.apply(config_path=config, yes=True) == 0
    assert len(state_of(config)) == 5


def test_transient_errors_are_retried_and_permanent_ones_are_not(write_config):
    config = write_config([
        tool("noop", "flaky", transient_failures=2, outputs={"ok": True}),
        tool("probe", "refused", fail_on=["create"]),
    ])
    assert run.apply(config_path=config, yes=True, retry_delay=0.01) == 1
    state = state_of(config)
    assert state["noop_flaky"]["resourceStatus"]["outputs"] == {"ok": True}  # third attempt succeeded
    assert [c.action for c in CALLS if c.key == "probe.refused"] == ["create"]  # tried once only


def test_transient_errors_give_up_after_the_retries(write_config):
    config = write_config([tool("noop", "hopeless", transient_failures=10)])
    assert run.apply(config_path=config, yes=True, retry_delay=0.01) == 1
    assert "noop_hopeless" not in state_of(config)


def test_options_change_is_an_update_naming_the_field(write_config):
    config = write_config([tool("noop", "a", triggers={"version": 1, "same": "x"})])
    assert run.apply(config_path=config, yes=True) == 0
    config = write_config([tool("noop", "a", triggers={"version": 2, "same": "x"})])
    (change,) = Workspace.open(config).current_plan().changes
    assert (change.action, change.reason) == ("update", "options changed: triggers.version")
    assert change.before["options"]["triggers"]["version"] == 1
    assert change.after["options"]["triggers"]["version"] == 2
    assert run.apply(config_path=config, yes=True) == 0
    assert state_of(config)["noop_a"]["options"]["triggers"]["version"] == 2


def test_types_do_not_cause_false_drift(write_config):
    # YAML gives ints, floats and nested lists; state stores JSON: comparing through JSON sees no change.
    config = write_config([tool("noop", "a", triggers={"n": 1, "f": 1.5, "l": [1, [2, 3]], "b": True, "z": None})])
    assert run.apply(config_path=config, yes=True) == 0
    assert Workspace.open(config).current_plan().empty


def test_a_hand_edit_is_drift_and_a_deletion_is_a_create(write_config, tmp_path):
    config = write_config([tool("file", "notes", path="out/notes.txt", content="hello\n")])
    assert run.apply(config_path=config, yes=True) == 0
    target = tmp_path / "out" / "notes.txt"
    assert target.read_text() == "hello\n"

    target.write_text("edited by hand\n")
    (change,) = Workspace.open(config).current_plan().changes
    assert change.action == "update" and change.reason.startswith("drifted: ") and "status.sha256" in change.reason
    assert run.apply(config_path=config, yes=True) == 0
    assert target.read_text() == "hello\n"

    target.unlink()
    (change,) = Workspace.open(config).current_plan().changes
    assert (change.action, change.reason) == ("create", "deleted outside dtm")
    assert run.apply(config_path=config, yes=True) == 0
    assert target.exists() and Workspace.open(config).current_plan().empty


def test_a_tool_removed_from_the_config_is_deleted(write_config):
    config = write_config([tool("probe", "keep"), tool("probe", "drop")])
    assert run.apply(config_path=config, yes=True) == 0
    config = write_config([tool("probe", "keep")])
    (change,) = Workspace.open(config).current_plan().changes
    assert (change.key, change.action, change.reason) == ("probe.drop", "delete", "not in config")
    assert run.apply(config_path=config, yes=True) == 0
    assert set(state_of(config)) == {"probe_keep"}


def test_destroy_deletes_dependents_first_and_empties_the_state(write_config):
    config = write_config([
        tool("probe", "db", latency_ms=20),
        tool("probe", "api", ["probe.db"], latency_ms=20),
        tool("probe", "web", ["probe.api"], latency_ms=20),
        tool("probe", "docs", latency_ms=20),
    ])
    assert run.apply(config_path=config, yes=True) == 0
    CALLS.clear()
    assert run.destroy(config_path=config, yes=True) == 0
    deleted = {c.key: c for c in CALLS if c.action == "delete"}
    assert set(deleted) == {"probe.db", "probe.api", "probe.web", "probe.docs"}
    assert deleted["probe.api"].start >= deleted["probe.web"].end
    assert deleted["probe.db"].start >= deleted["probe.api"].end
    assert state_of(config) == {}


def test_plugins_are_handed_the_status_dtm_recorded_for_their_tool(write_config):
    """Read, update and delete get `ctx.prior`, the status of the last create or update; create gets None."""
    config = write_config([tool("probe", "a", value=1)])
    assert run.apply(config_path=config, yes=True) == 0
    assert [(c.action, c.prior) for c in CALLS] == [("create", None)]
    config = write_config([tool("probe", "a", value=2)])
    assert run.apply(config_path=config, yes=True) == 0
    assert (CALLS[-1].action, CALLS[-1].prior) == ("update", {"outputs": {}, "value": 1})
    READS.clear()
    assert Workspace.open(config).current_plan().empty
    assert READS == [("probe.a", {"outputs": {}, "value": 2})]
    assert run.destroy(config_path=config, yes=True) == 0
    assert (CALLS[-1].action, CALLS[-1].prior) == ("delete", {"outputs": {}, "value": 2})


def test_delete_removes_the_configs_tools(write_config):
    config = write_config([tool("probe", "a"), tool("probe", "b", ["probe.a"])])
    assert run.apply(config_path=config, yes=True) == 0
    CALLS.clear()
    assert run.delete(config_path=config, yes=True) == 0
    assert [c.key for c in CALLS] == ["probe.b", "probe.a"]
    assert state_of(config) == {}


def test_target_applies_one_tool_and_what_it_needs(write_config):
    config = write_config([tool("probe", "a"), tool("probe", "b", ["probe.a"]), tool("probe", "c")])
    assert run.apply(config_path=config, yes=True, targets=["probe.b"]) == 0
    assert set(state_of(config)) == {"probe_a", "probe_b"}


def test_secrets_never_reach_the_state_but_a_new_secret_is_an_update(write_config, tmp_path):
    config = write_config([tool("probe", "vault", token="s3cr3t-token-value")])
    assert run.apply(config_path=config, yes=True) == 0
    text = (tmp_path / "devstream.state").read_text()
    assert "s3cr3t-token-value" not in text
    assert "<secret sha256:" in text
    assert Workspace.open(config).current_plan().empty
    config = write_config([tool("probe", "vault", token="rotated-token-value")])
    (change,) = Workspace.open(config).current_plan().changes
    assert (change.action, change.reason) == ("update", "options changed: token")
    assert "rotated-token-value" not in str(change.model_dump())


def test_a_tool_that_left_the_config_is_deleted_without_its_fingerprinted_secrets(write_config, caplog):
    """State keeps only a secret's fingerprint, which is no use as a token: the plugin gets the secret unset
    (and takes it from its environment, as the SCM plugins do with GITHUB_TOKEN), and the log says so."""
    config = write_config([tool("probe", "keep"), tool("probe", "vault", token="s3cr3t-token-value")])
    assert run.apply(config_path=config, yes=True) == 0
    config = write_config([tool("probe", "keep")])
    CALLS.clear()
    assert run.apply(config_path=config, yes=True) == 0
    (call,) = CALLS
    assert (call.key, call.action, call.token) == ("probe.vault", "delete", None)
    assert "probe.vault: deleted with the options dtm recorded, which keep no secret: token left unset" in caplog.text


def test_a_second_run_is_refused_while_the_state_is_locked(write_config):
    config = write_config([tool("noop", "a")])
    ws = Workspace.open(config)
    with ws.store.lock("dtm apply"):
        # Same process: the lock is re-entrant, so simulate another holder by force-writing a foreign lock.
        pass
    lock = config.parent / "devstream.state.lock"
    lock.write_text('{"host": "another-host", "pid": 1, "command": "dtm apply", "since": "2026-01-01T00:00:00Z",'
                    ' "id": "x"}')
    with pytest.raises(StateLockedError, match="another-host"):
        run.apply(config_path=config, yes=True)
    assert state_of(config) == {}


def test_lock_timeout_waits_for_the_other_run_to_finish(write_config):
    import subprocess
    import sys
    import time

    config = write_config([tool("noop", "a")])
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from devstream.state.local import LocalStateStore\n"
        f"store = LocalStateStore(__import__('pathlib').Path({str(config.parent / 'devstream.state')!r}))\n"
        "with store.lock('dtm apply (elsewhere)'):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(2)\n")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    started = time.monotonic()
    with pytest.raises(StateLockedError, match="elsewhere"):
        run.apply(config_path=config, yes=True)  # the default: fail at once, naming the holder
    assert run.apply(config_path=config, yes=True, lock_timeout=30) == 0
    assert time.monotonic() - started >= 1  # it really waited for the holder
    holder.wait(timeout=10)
    assert set(state_of(config)) == {"noop_a"}
