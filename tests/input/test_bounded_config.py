"""A small config cannot make dtm run for minutes or exhaust memory: what a config may expand to (its files,
its aliases, one value) is bounded, and the error names the limit and how to raise it."""

from __future__ import annotations

import textwrap

from dtm_process import run_dtm

# Nine levels of nine aliases: 1 KB of YAML that expands to 9^9 (387 million) strings.
BOMB = "vars:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"  l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(1, 9)
) + "tools:\n- name: noop\n  instanceID: a\n"


def write(tmp_path, text: str, name: str = "dtm.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_an_alias_bomb_is_refused_at_once_naming_the_limit(tmp_path):
    config = write(tmp_path, BOMB)
    assert len(BOMB) < 1024
    done = run_dtm("validate", "-f", str(config), timeout=60)
    assert done.code == 1 and not done.crash_reports, done.err
    assert f"{config}:1:" in done.text
    assert "exceeds the limit of 1,000,000 values (DTM_MAX_CONFIG_VALUES)" in done.text
    assert "export DTM_MAX_CONFIG_VALUES=" in done.text


def test_aliases_within_the_limit_still_work(tmp_path):
    config = write(tmp_path, """\
        vars:
          labels: &labels {team: platform, tier: "1"}
        tools:
        - name: noop
          instanceID: a
          options: {triggers: *labels}
        - name: noop
          instanceID: b
          options: {triggers: *labels}
        """)
    done = run_dtm("validate", "-f", str(config))
    assert done.code == 0, done.err


def test_aliases_that_repeat_a_long_text_are_bounded_by_its_size(tmp_path):
    text = "x" * 100_000
    config = write(tmp_path, f"vars:\n  t: &t {text}\n  all: [{', '.join(['*t'] * 200)}]\n"
                             "tools:\n- name: noop\n  instanceID: a\n")
    done = run_dtm("validate", "-f", str(config), env={"DTM_MAX_CONFIG_BYTES": "10000000"})
    assert done.code == 1 and not done.crash_reports, done.err
    assert "holds 20,1" in done.text  # 201 times the text, and the few names around it
    assert "characters of text, which exceeds the limit of 10,000,000 bytes (DTM_MAX_CONFIG_BYTES)" in done.text


def test_a_config_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    config = write(tmp_path, "tools:\n- name: noop\n  instanceID: a\n  options:\n    triggers: {x: "
                             + "y" * 5000 + "}\n")
    done = run_dtm("validate", "-f", str(config), env={"DTM_MAX_CONFIG_BYTES": "4096"})
    assert done.code == 1 and not done.crash_reports, done.err
    assert f"{config}: the config file exceeds the limit of 4,096 bytes (DTM_MAX_CONFIG_BYTES)" in done.text
    assert run_dtm("validate", "-f", str(config)).code == 0  # the default is far larger


def test_one_value_over_the_size_limit_is_refused_at_its_line(tmp_path):
    config = write(tmp_path, "tools:\n- name: noop\n  instanceID: a\n  options:\n    triggers: {x: "
                             + "y" * 2_000_000 + "}\n")
    done = run_dtm("validate", "-f", str(config), timeout=60)
    assert done.code == 1 and not done.crash_reports, done.err
    assert f"{config}:5: tools[0].options.triggers.x: this value (2,000,000 characters) exceeds the limit of " \
           "1,048,576 bytes (DTM_MAX_VALUE_BYTES)" in done.text
    assert run_dtm("validate", "-f", str(config), env={"DTM_MAX_VALUE_BYTES": "3000000"}).code == 0


def test_a_limit_that_is_not_a_number_is_named(tmp_path):
    config = write(tmp_path, "tools:\n- name: noop\n  instanceID: a\n")
    done = run_dtm("validate", "-f", str(config), env={"DTM_MAX_CONFIG_VALUES": "lots"})
    assert done.code == 1 and "DTM_MAX_CONFIG_VALUES='lots' is not a positive whole number" in done.text


def test_deep_nesting_is_named_as_such(tmp_path):
    config = write(tmp_path, "tools:\n- name: noop\n  instanceID: a\n  options:\n    triggers: {x: "
                             + "[" * 150 + "]" * 150 + "}\n")
    done = run_dtm("validate", "-f", str(config))
    assert done.code == 1 and not done.crash_reports, done.err
    assert "nest more than 100 levels deep" in done.text


def test_an_alias_inside_what_it_names_is_named_as_a_loop(tmp_path):
    config = write(tmp_path, """\
        vars:
          loop: &loop {again: *loop}
        tools:
        - name: noop
          instanceID: a
        """)
    done = run_dtm("validate", "-f", str(config))
    assert done.code == 1 and not done.crash_reports, done.err
    assert f"{config}:2: vars.loop.again: an alias (*name) refers to the map or list that contains it" in done.text


def test_a_template_that_renders_too_much_is_stopped_at_the_limit(tmp_path):
    """Loops in loops would build ten gigabytes of text; rendering stops as soon as one value passes the limit."""
    config = write(tmp_path, """\
        vars:
          n: 100000
        tools:
        - name: noop
          instanceID: a
          options:
            triggers:
              big: "[% for i in range(n) %][% for j in range(n) %]xxxxxxxxxx[% endfor %][% endfor %]"
        """)
    done = run_dtm("validate", "-f", str(config), timeout=60)
    assert done.code == 1 and not done.crash_reports, done.err
    assert f"{config}:8: tools[0].options.triggers.big: the template renders to a value that exceeds the limit " \
           "of 1,048,576 bytes (DTM_MAX_VALUE_BYTES)" in done.text
