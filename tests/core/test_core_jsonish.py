"""Comparing options and statuses as JSON: `diff_paths` names the fields that differ.

The planner uses it to say *why* a tool changes ("options changed: a.b", "drifted: status.x"). Values are
compared the way JSON would carry them, and nil counts the same as empty, as DevStream did.
"""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from devstream.jsonish import diff_paths, normalize


def test_equal_values_have_no_differences():
    value = {"a": {"b": [1, {"c": "d"}]}, "e": None}

    assert diff_paths(value, value) == []


def test_a_difference_deep_in_maps_is_named_by_its_dotted_path():
    before = {"repo": {"owner": "me", "visibility": {"private": True}}, "name": "app"}
    after = {"repo": {"owner": "me", "visibility": {"private": False}}, "name": "app2"}

    assert diff_paths(before, after) == ["repo.visibility.private", "name"]


def test_added_and_removed_keys_are_differences_too():
    # Keys of `before` first, then the keys only `after` has.
    assert diff_paths({"gone": 1, "same": 2}, {"same": 2, "new": 3}) == ["gone", "new"]


def test_a_difference_inside_a_list_is_named_by_its_index():
    before = {"steps": [{"name": "build"}, {"name": "test"}], "tags": [1, 2, 3]}
    after = {"steps": [{"name": "build"}, {"name": "lint"}], "tags": [1, 5, 3]}

    assert diff_paths(before, after) == ["steps[1].name", "tags[1]"]


def test_lists_of_different_lengths_differ_as_a_whole():
    assert diff_paths({"tags": [1, 2]}, {"tags": [1, 2, 3]}) == ["tags"]


def test_a_difference_at_the_top_is_named_all():
    assert diff_paths([1], [1, 2]) == ["(all)"]
    assert diff_paths("a", "b") == ["(all)"]


def test_a_change_of_type_is_a_difference():
    assert diff_paths({"a": {"b": 1}}, {"a": [1]}) == ["a"]
    assert diff_paths({"a": "1"}, {"a": 1}) == ["a"]


@pytest.mark.parametrize(("before", "after"), [
    (None, {}),
    ({}, []),
    ("", None),
    ([], ""),
    ({"labels": None}, {"labels": {}}),
    ({"labels": []}, {}),                     # a missing key is nil
    ({"a": {"b": None}}, {"a": {}}),
])
def test_nil_and_empty_are_equal(before: object, after: object):
    assert diff_paths(before, after) == []
    assert diff_paths(after, before) == []


@pytest.mark.parametrize("falsy", [0, False, 0.0])
def test_zero_and_false_are_values_not_nil(falsy: object):
    assert diff_paths({"a": None}, {"a": falsy}) == ["a"]
    assert diff_paths({}, {"a": falsy}) == ["a"]


def test_normalize_makes_values_look_as_json_carries_them():
    assert normalize({"t": (1, 2), 3: "int key", "p": PurePosixPath("/x")}) == {"t": [1, 2], "3": "int key",
                                                                                  "p": "/x"}


def test_after_normalising_a_tuple_and_a_list_do_not_differ():
    assert diff_paths(normalize({"t": (1, 2)}), normalize({"t": [1, 2]})) == []


@pytest.mark.parametrize(("before", "after"), [(True, 1), (False, 0), (1, True)])
def test_a_boolean_and_a_number_are_different_json_values(before: object, after: object):
    assert diff_paths({"a": before}, {"a": after}) == ["a"]
