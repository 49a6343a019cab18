"""What a typo would otherwise turn into a literal value is an error with its line: a NaN or an infinity
(JSON has neither, so they were stored as null and planned as an update forever), a YAML tag dtm would drop,
a template left unclosed. Paths that are not config files say what they are."""

from __future__ import annotations

import os
import textwrap

from dtm_process import run_dtm


def write(tmp_path, text: str, name: str = "dtm.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_nan_and_infinity_are_refused_with_their_lines(tmp_path):
    config = write(tmp_path, """\
        config: {state: {backend: local}}
        tools:
        - name: noop
          instanceID: a
          options:
            triggers:
              ratio: .nan
              limit: -.Inf
              text: ".inf"
        """)
    done = run_dtm("validate", "-f", str(config))
    assert done.code == 1 and not done.crash_reports, done.err
    assert f"{config}:7: tools[0].options.triggers.ratio: '.nan' is not a number JSON can hold" in done.text
    assert f"{config}:8: tools[0].options.triggers.limit: '-.Inf' is not a number JSON can hold" in done.text
    assert "triggers.text" not in done.text  # quoted, it is text


def test_nan_from_a_variable_or_the_environment_is_refused_too(tmp_path):
    config = write(tmp_path, """\
        vars:
          big: 1.0e+308
        tools:
        - name: noop
          instanceID: a
          options:
            triggers:
              from_env: [[ env RATIO ]]
              from_math: [[ big * 10 ]]
              finite: [[ big ]]
        """)
    done = run_dtm("validate", "-f", str(config), env={"RATIO": ".nan"})
    assert done.code == 1 and not done.crash_reports, done.err
    assert f"{config}:8: tools[0].options.triggers.from_env: the template renders to a value with NaN or " \
           "infinity" in done.text
    assert f"{config}:9: tools[0].options.triggers.from_math: the template renders to a value with NaN" in done.text
    assert "triggers.finite" not in done.text
    assert run_dtm("validate", "-f", str(config), env={"RATIO": "nan"}).code == 1  # still from_math
    config.write_text(config.read_text().replace("big * 10", "big / 10"))
    assert run_dtm("validate", "-f", str(config), env={"RATIO": "nan"}).code == 0  # `nan` is text in YAML


def test_a_yaml_tag_is_refused_not_dropped(tmp_path):
    config = write(tmp_path, """\
        tools:
        - name: noop
          instanceID: a
          options:
            triggers: !!python/object:os.system {command: id}
            outputs: {when: !!timestamp 2024-01-01, raw: !!binary aGk=}
        """)
    done = run_dtm("validate", "-f", str(config))
    assert done.code == 1 and not done.crash_reports, done.err
    assert f"{config}:5: tools[0].options.triggers: the YAML tag !!python/object:os.system is not allowed" \
        in done.text
    assert f"{config}:6: tools[0].options.outputs.when: the YAML tag !!timestamp" in done.text
    assert f"{config}:6: tools[0].options.outputs.raw: the YAML tag !!binary" in done.text


def test_an_unclosed_template_is_an_error_at_its_line(tmp_path):
    config = write(tmp_path, """\
        vars:
          p: x
        tools:
        - name: noop
          instanceID: a
          options:
            triggers:
              ok: "[[ p ]]"
              typo: "v-[[ p"
              script: |
                echo one
                echo [% if p two
        """)
    done = run_dtm("validate", "-f", str(config))
    assert done.code == 1 and not done.crash_reports, done.err
    assert f"{config}:9: tools[0].options.triggers.typo: '[[' opens a template that is not closed by ']]'" \
        in done.text
    assert f"{config}:12: tools[0].options.triggers.script: '[%' opens a template that is not closed by '%]'" \
        in done.text
    assert "triggers.ok" not in done.text


def test_a_fifo_a_device_and_a_looping_link_say_what_they_are(tmp_path):
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)
    done = run_dtm("validate", "-f", str(fifo), timeout=30)  # never opened: reading a pipe would block
    assert done.code == 1 and "is a named pipe (FIFO), not a config file" in done.text
    done = run_dtm("validate", "-f", "/dev/null")
    assert done.code == 1 and "'/dev/null' is a character device, not a config file" in done.text
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    done = run_dtm("plan", "-f", str(loop))
    assert done.code == 1 and "is a symbolic link that loops" in done.text
    dangling = tmp_path / "gone.yaml"
    dangling.symlink_to(tmp_path / "nowhere.yaml")
    done = run_dtm("validate", "-f", str(dangling))
    assert done.code == 1 and "is a symbolic link to" in done.text and "which does not exist" in done.text
    for done in (run_dtm("validate", "-f", str(fifo)), run_dtm("validate", "-f", str(loop))):
        assert not done.crash_reports


def test_a_usage_error_is_not_reported_as_a_bug(tmp_path):
    done = run_dtm("apply", "--no-such-option")
    assert done.code == 2 and not done.crash_reports and "No such option: --no-such-option" in done.text
    done = run_dtm("plan", "-f", "x.yaml", "--parallelism", "0")
    assert done.code == 2 and not done.crash_reports and "--parallelism" in done.text


def test_a_misspelt_output_reference_is_an_error_at_its_line(tmp_path):
    config = write(tmp_path, """\
        config: {state: {backend: local}}
        tools:
        - name: noop
          instanceID: a
          options: {outputs: {x: 1}}
        - name: noop
          instanceID: b
          options:
            triggers:
              unbalanced: "${{ noop.a.outputs.x }"
              misspelt: "${{ noop.a.output.x }}"
              ci: "${{ github.sha }} and ${{ steps.build.outputs.digest }}"
              good: "${{ noop.a.outputs.x }}"
        """)
    done = run_dtm("validate", "-f", str(config))
    assert done.code == 1 and not done.crash_reports, done.err
    assert f"{config}:10: tools[1].options.triggers.unbalanced: '${{{{ noop.a.outputs.x }}' is not closed by " \
           "'}}'" in done.text
    assert f"{config}:11: tools[1].options.triggers.misspelt: '${{{{ noop.a.output.x }}}}' names tool 'noop.a' " \
           "but is not an output reference; write ${{ noop.a.outputs.<key> }}" in done.text
    assert "triggers.ci" not in done.text and "triggers.good" not in done.text


def test_force_unlock_names_the_holder_never_a_raw_record(tmp_path):
    config = write(tmp_path, "config: {state: {backend: local}}\ntools:\n- name: noop\n  instanceID: a\n")
    lock = tmp_path / "devstream.state.lock"
    lock.write_text("")  # a holder that crashed before writing who it was
    done = run_dtm("force-unlock", "-f", str(config))
    assert done.code == 0, done.err
    assert "held by a holder that left no record of itself" in done.text and "{}" not in done.text
    assert not lock.exists()
    lock.write_text('{"host": "build-7", "pid": 4242, "command": "dtm apply", "since": "2026-01-02T03:04:05+00:00"}')
    done = run_dtm("force-unlock", "-f", str(config))
    assert "held by `dtm apply` (pid 4242 on host build-7) since 2026-01-02T03:04:05+00:00" in done.text
    assert "{" not in done.text
