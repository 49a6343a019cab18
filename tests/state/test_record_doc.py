"""A state record's page in the Prefect UI (markdown) and the envelope dtm reads back from its end."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from devstream.state import record_doc

ENVELOPE: dict[str, Any] = {
    "format": 1, "state": "demo", "key": "file_readme",
    "record": {"name": "file", "instanceID": "readme", "dependsOn": ["noop.registry"],
               "options": {"path": "README.md", "token": "<secret sha256:0123456789abcdef>"},
               "resourceStatus": {"outputs": {"sha256": "9f86d081", "path": "/srv/README.md"}, "size": 12}},
    "change": {"action": "update", "at": "2026-12-03T09:40:12+00:00",
               "flowRun": {"id": "7c1", "name": "crimson-fox", "url": "http://127.0.0.1:4200/runs/flow-run/7c1"}},
}


def test_a_record_reads_at_a_glance_and_its_envelope_comes_back_whole():
    page = record_doc.render(ENVELOPE)

    assert page.startswith("# `file.readme`\n")
    for row in ("| plugin | `file` |", "| status | applied |", "| depends on | `noop.registry` |",
                "| last change | update at 2026-12-03 09:40:12 UTC by flow run "
                "[crimson-fox](http://127.0.0.1:4200/runs/flow-run/7c1) |",
                "## Outputs", "| `path` | `/srv/README.md` |", "| `sha256` | `9f86d081` |",
                "| `size` | `12` |", "| `token` | `<secret sha256:0123456789abcdef>` |"):
        assert row in page, row
    assert page.index("## Outputs") < page.index("## Record") and record_doc.parse(page) == ENVELOPE


def test_a_tombstone_says_the_tool_is_gone():
    page = record_doc.render({"format": 1, "state": "demo", "key": "file_readme", "deleted": True,
                              "record": {"name": "file", "instanceID": "readme"}})
    assert "| status | deleted: no longer in the state |" in page and "## Outputs" not in page
    assert "| last change | not recorded |" in page


def test_what_is_not_a_record_parses_to_nothing():
    assert record_doc.parse("# a plan\n\nNo changes.") is None
    assert record_doc.parse("```json\n[1, 2]\n```") is None
    assert record_doc.parse(record_doc.render(ENVELOPE)[:-8]) is None  # cut off


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)


@settings(max_examples=150, deadline=None)
@given(outputs=st.dictionaries(st.text(min_size=1, max_size=12), values, max_size=5))
@example(outputs={"| ": ""})  # an escaped pipe right before the cell's end: still one cell
def test_no_output_value_can_break_the_page_or_the_record(outputs: dict[str, Any]):
    envelope = json.loads(json.dumps({**ENVELOPE, "record": {**ENVELOPE["record"],
                                                              "resourceStatus": {"outputs": outputs}}}))
    page = record_doc.render(envelope)

    assert record_doc.parse(page) == envelope
    section = page.split("## Outputs\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.split("\n") if line.startswith("| `") or line.startswith("| ``")]
    assert len(rows) == len(outputs)  # one row per output, whatever its value holds (pipes, newlines, ticks)
    # GitHub's tables split a row on every pipe not escaped by a backslash: two cells, so four pieces.
    assert all(len(re.split(r"(?<!\\)\|", line)) == 4 for line in rows)


def test_records_saved_together_share_a_page_that_lists_them_and_ends_in_their_envelope():
    sneaky = {"name": "file", "instanceID": "x|y`z\n# Heading [link](http://evil.invalid)"}
    envelope = {"format": 2, "state": "demo", "seq": 42, "entries": [
        {**ENVELOPE, "seq": 41, "format": None},
        {"key": "file_gone", "seq": 42, "deleted": True, "deletedAt": "2026-12-03T09:41:00+00:00", "record": sneaky},
    ]}
    page = record_doc.render_batch(envelope)

    assert page.startswith("# dtm state `demo`: 2 records saved together\n")
    assert "| `file.readme` | `file` | `updated` | [crimson-fox](http://127.0.0.1:4200/runs/flow-run/7c1) |" in page
    # A value cannot break out of its cell or its code span: pipes escaped, longer fences, one line.
    [gone_row] = [line for line in page.splitlines() if "`deleted`" in line]
    assert gone_row.startswith("| ``file.x\\|y`z # Heading [link](http://evil.invalid)`` | `file` | `deleted` | - |")
    assert "\n# Heading" not in page
    assert record_doc.parse(page) == envelope
