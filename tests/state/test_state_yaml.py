"""The local state file is written by dtm's own YAML writer for plain records (devstream/state/state_yaml.py),
and by PyYAML for the rest: either way the bytes are exactly what PyYAML's dumper writes in DevStream's
style, which every earlier state file was written with."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from devstream.state import state_yaml
from devstream.state.state_yaml import _pyyaml, render_records

# Names as tools have them, and the text that must be quoted or read back as something else.
words = st.one_of(st.from_regex(r"[A-Za-z_][A-Za-z0-9_./-]{0,12}", fullmatch=True),
                  st.sampled_from(["true", "null", "yes", "on", "No", "1.5", "0x1f", "12:30", "~", "", " x", "a: b",
                                   "- x", "#x", "é", "a\nb", "-", ".5", "1e3", "Off", "y", "inf", ".inf"]),
                  st.text(max_size=6))
scalars = st.one_of(words, st.integers(-10**6, 10**6), st.booleans(), st.none(), st.floats(allow_nan=False))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(words, inner, max_size=3)), max_leaves=12)
records = st.dictionaries(st.from_regex(r"[a-z]{1,8}_[a-z0-9]{1,8}", fullmatch=True),
                          st.fixed_dictionaries({"name": words, "instanceID": words,
                                                 "dependsOn": st.lists(words, max_size=3),
                                                 "options": st.dictionaries(words, values, max_size=4),
                                                 "resourceStatus": st.dictionaries(words, values, max_size=4)}),
                          min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(records)
def test_the_state_file_is_byte_for_byte_what_pyyaml_writes(doc):
    assert render_records(doc) == _pyyaml(doc)


def test_a_typical_record_reads_back_and_indents_lists_under_their_key(monkeypatch):
    doc = {"repo_default": {"name": "repo", "instanceID": "default", "dependsOn": ["noop.a", "noop.b"],
                            "options": {"owner": "octo", "steps": [{"name": "build", "run": "make"}], "n": 3},
                            "resourceStatus": {"outputs": {"url": "example.com/x"}, "ok": True,
                                               "empty": {}, "none": []}}}
    expected = _pyyaml(doc)

    def not_pyyaml(doc: object) -> str:
        raise AssertionError("a plain record went to PyYAML")

    monkeypatch.setattr(state_yaml, "_pyyaml", not_pyyaml)
    text = render_records(doc)
    assert text == expected
    assert "  dependsOn:\n    - noop.a\n    - noop.b\n" in text
    assert "    steps:\n      - name: build\n        run: make\n" in text
    assert yaml.safe_load(text) == doc
