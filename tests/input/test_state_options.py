"""`config.state.options` are checked when the config loads, like every other field: `dtm validate` reports
an unknown option or a value of the wrong kind with file, line and field, and `dtm apply` stops there,
before any state is touched or any Prefect server started."""

from __future__ import annotations

import textwrap

from dtm_process import run_dtm


def write(tmp_path, state: str):
    path = tmp_path / "dtm.yaml"
    path.write_text("config:\n  state:\n" + textwrap.indent(textwrap.dedent(state), "    ")
                    + "tools:\n- name: noop\n  instanceID: a\n")
    return path


def test_local_state_options_are_validated_at_their_lines(tmp_path):
    config = write(tmp_path, """\
        backend: local
        options:
          stateFile: 123
          statefile: typo.state
          name: "  "
        """)
    done = run_dtm("validate", "-f", str(config))
    assert done.code == 1 and not done.crash_reports, done.err
    assert f"{config}:5: config.state.options.stateFile: state option 'stateFile' of backend `local` must be " \
           "text, not int" in done.text
    assert f"{config}:6: config.state.options.statefile: unknown option 'statefile' for state backend `local`; " \
           "it accepts: stateFile, name" in done.text
    assert f"{config}:7: config.state.options.name: state option 'name' of backend `local` must not be empty" \
        in done.text
    done = run_dtm("apply", "-y", "-f", str(config))
    assert done.code == 1 and "config.state.options.stateFile" in done.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dtm.yaml"]  # no state, no lock written


def test_prefect_state_options_fail_at_load_before_any_server_starts(tmp_path):
    home = tmp_path / "home"
    config = write(tmp_path, """\
        backend: prefect
        options:
          name: 5
          server: http://127.0.0.1:4200/api
        """)
    env = {"DTM_HOME": str(home), "PREFECT_API_URL": ""}
    done = run_dtm("validate", "-f", str(config), env=env)
    assert done.code == 1 and not done.crash_reports, done.err
    assert f"{config}:5: config.state.options.name: state option 'name' of backend `prefect` must be text, " \
           "not int" in done.text
    assert f"{config}:6: config.state.options.server: unknown option 'server' for state backend `prefect`; " \
           "it accepts: name" in done.text
    done = run_dtm("apply", "-y", "-f", str(config), env=env)
    assert done.code == 1 and "config.state.options.name" in done.text
    assert not home.exists() or not any(home.iterdir())  # dtm's local server was never started


def test_valid_state_options_pass(tmp_path):
    config = write(tmp_path, """\
        backend: local
        options: {stateFile: states/dev.state, name: dev}
        """)
    done = run_dtm("validate", "-f", str(config))
    assert done.code == 0, done.err
