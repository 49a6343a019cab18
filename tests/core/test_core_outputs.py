"""Output references: `${{ name.instanceID.outputs.key }}`.

One tool uses what another produced by writing a reference anywhere in its options. dtm finds them (to
draw the implicit edges of the graph) and, just before a change runs, resolves them from the outputs in
state. An output that cannot be found is an error, never a silent skip.
"""

from __future__ import annotations

import copy

import pytest

from devstream.errors import UnresolvedReferenceError
from devstream.outputs import Reference, find_references, resolve

# -- finding references -----------------------------------------------------------------------------------


def test_references_are_found_in_nested_maps_and_lists_with_their_paths():
    options = {
        "owner": "me",
        "repo": {"url": "${{ repo.app.outputs.url }}"},
        "env": [
            "plain",
            {"value": "${{ db.main.outputs.host }}:${{ db.main.outputs.port }}"},  # two in one string
        ],
    }

    refs = find_references(options, "options")

    assert refs == [
        Reference("repo", "app", "url", "options.repo.url"),
        Reference("db", "main", "host", "options.env[1].value"),
        Reference("db", "main", "port", "options.env[1].value"),
    ]
    assert [r.tool_key for r in refs] == ["repo.app", "db.main", "db.main"]


def test_without_a_base_path_paths_start_at_the_top_key():
    assert [r.path for r in find_references({"a": ["${{ x.y.outputs.z }}"]})] == ["a[0]"]


def test_an_instance_id_may_contain_dots():
    (found,) = find_references({"path": "${{ file.my.app.outputs.path }}"})

    assert (found.name, found.instance_id, found.key) == ("file", "my.app", "path")
    assert found.tool_key == "file.my.app"


def test_the_key_may_be_a_dotted_path_into_nested_outputs():
    (found,) = find_references({"host": "${{ db.main.outputs.conn.host }}"})

    assert (found.tool_key, found.key) == ("db.main", "conn.host")


def test_spaces_inside_the_braces_are_optional_and_the_printed_form_is_canonical():
    (found,) = find_references({"u": "${{repo.app.outputs.url}}"})

    assert str(found) == "${{ repo.app.outputs.url }}"


@pytest.mark.parametrize("text", [
    "no reference here",
    "${{ repo.app.url }}",            # no `.outputs.`
    "${ repo.app.outputs.url }",      # single brace
    "[[ repo.app.outputs.url ]]",     # a config template, not a reference
    "${{ repo.App.outputs.url }}",    # instanceIDs are lower case
])
def test_things_that_are_not_references(text: str):
    assert find_references({"x": text}) == []


def test_non_string_values_are_skipped():
    assert find_references({"n": 1, "b": True, "none": None, "t": ("${{ a.b.outputs.c }}",)}) == [
        Reference("a", "b", "c", "t[0]")
    ]


# -- resolving references ---------------------------------------------------------------------------------

OUTPUTS = {
    "repo.app": {"url": "https://git.example/app", "branches": ["main", "dev"], "stars": 3,
                 "meta": {"private": True}},
    "db.main": {"conn": {"host": "db.local", "port": 5432}},
    "file.my.app": {"path": "/tmp/app"},
}


@pytest.mark.parametrize(("reference", "expected"), [
    ("${{ repo.app.outputs.branches }}", ["main", "dev"]),
    ("${{ repo.app.outputs.stars }}", 3),
    ("${{ repo.app.outputs.meta }}", {"private": True}),
    ("${{ repo.app.outputs.url }}", "https://git.example/app"),
])
def test_a_value_that_is_exactly_one_reference_keeps_the_output_type(reference: str, expected: object):
    assert resolve({"v": reference}, OUTPUTS) == {"v": expected}


def test_a_reference_inside_text_is_replaced_by_text():
    resolved = resolve({
        "clone": "git clone ${{ repo.app.outputs.url }} --depth 1",
        "summary": "branches=${{ repo.app.outputs.branches }} stars=${{ repo.app.outputs.stars }}",
        "meta": " ${{ repo.app.outputs.meta }}",  # a leading space makes it embedded, not whole
    }, OUTPUTS)

    assert resolved == {
        "clone": "git clone https://git.example/app --depth 1",
        "summary": 'branches=["main", "dev"] stars=3',  # non-strings become JSON text
        "meta": ' {"private": true}',
    }


def test_a_dotted_key_reaches_into_nested_outputs():
    assert resolve({"dsn": "${{ db.main.outputs.conn.host }}:${{ db.main.outputs.conn.port }}"}, OUTPUTS) == {
        "dsn": "db.local:5432"
    }
    assert resolve({"port": "${{ db.main.outputs.conn.port }}"}, OUTPUTS) == {"port": 5432}


def test_an_instance_id_with_dots_resolves():
    assert resolve({"p": "${{ file.my.app.outputs.path }}"}, OUTPUTS) == {"p": "/tmp/app"}


def test_references_resolve_in_lists_and_tuples_and_the_input_is_left_alone():
    options = {"steps": [{"url": "${{ repo.app.outputs.url }}"}, "echo"], "pair": ("${{ repo.app.outputs.stars }}", 1)}
    before = copy.deepcopy(options)

    resolved = resolve(options, OUTPUTS)

    assert resolved == {"steps": [{"url": "https://git.example/app"}, "echo"], "pair": [3, 1]}
    assert options == before


def test_values_without_references_pass_through():
    options = {"n": 1, "b": False, "none": None, "s": "text", "l": [1, "two"]}

    assert resolve(options, OUTPUTS) == options


def test_a_tool_with_no_outputs_is_an_error_naming_the_reference_and_where_it_stands():
    with pytest.raises(UnresolvedReferenceError) as caught:
        resolve({"env": [{"url": "${{ ci.app.outputs.url }}"}]}, OUTPUTS)

    message = str(caught.value)
    assert message.startswith("env[0].url: cannot resolve ${{ ci.app.outputs.url }}")
    assert "ci.app has no outputs (it has not been applied)" in message
    assert caught.value.ref.tool_key == "ci.app"


def test_a_missing_output_key_is_an_error_listing_the_outputs_there_are():
    with pytest.raises(UnresolvedReferenceError) as caught:
        resolve({"u": "${{ repo.app.outputs.ur }}"}, OUTPUTS)

    assert "repo.app has no output 'ur' (outputs: branches, meta, stars, url)" in str(caught.value)


def test_a_missing_nested_key_is_an_error_too():
    with pytest.raises(UnresolvedReferenceError, match=r"db\.main has no output 'conn\.user' \(outputs: conn\)"):
        resolve({"u": "${{ db.main.outputs.conn.user }}"}, OUTPUTS)


def test_a_dotted_key_through_a_non_map_is_an_error():
    with pytest.raises(UnresolvedReferenceError):
        resolve({"u": "${{ repo.app.outputs.url.host }}"}, OUTPUTS)


def test_a_tool_applied_without_outputs_says_it_has_none():
    with pytest.raises(UnresolvedReferenceError, match=r"\(outputs: none\)"):
        resolve({"u": "${{ noop.x.outputs.url }}"}, {"noop.x": {}})


def test_one_unresolvable_reference_in_a_string_fails_the_whole_string():
    with pytest.raises(UnresolvedReferenceError, match="nope"):
        resolve({"u": "${{ repo.app.outputs.url }} ${{ repo.app.outputs.nope }}"}, OUTPUTS)


def test_ci_expressions_of_the_same_shape_are_not_references():
    # A workflow file written through options keeps GitHub's own `${{ steps.x.outputs.y }}` as text.
    workflow = {"run": "echo ${{ steps.build.outputs.digest }} ${{ needs.test.outputs.ok }} ${{ jobs.a.outputs.b }}"}
    assert find_references(workflow) == []
    assert resolve(workflow, {}) == workflow
