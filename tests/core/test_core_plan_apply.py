"""The three-way plan of `dtm apply`: config x saved state x live status.

For each tool, in dependency order:
- not in state -> create;
- in state, but its options changed -> update, naming the fields;
- otherwise its live status decides: gone -> create, different -> update (drift), same -> nothing.
Every record in state with no tool in the config is deleted, dependents first, before anything else runs.

Everything here is pure: the live statuses are handed in, and `stored_form` (how state keeps options) is
a plain function.
"""

from __future__ import annotations

import json

import pytest
from core_builders import as_is, fingerprinting, record, state, tool

from devstream.graph import Graph
from devstream.plan import NOT_READ, Action, Plan, plan_apply
from devstream.secrets import fingerprint


def ref(key: str, output: str = "url") -> str:
    return f"${{{{ {key}.outputs.{output} }}}}"


def summary(plan: Plan) -> list[tuple[str, str, str]]:
    return [(c.action.value, c.key, c.reason) for c in plan.changes]


# -- one tool ---------------------------------------------------------------------------------------------


def test_a_tool_not_in_state_is_created(config):
    plan = plan_apply(config(tool("repo.app", owner="me")), {}, {}, as_is)

    (change,) = plan.changes
    assert (change.action, change.key, change.name, change.instanceID) == (Action.CREATE, "repo.app", "repo", "app")
    assert change.reason == "not in state"
    assert (change.before, change.after) == (None, {"options": {"owner": "me"}})
    assert change.waits_for == []
    assert change.state_key == "repo_app" and change.title == "create repo.app"


def test_changed_options_are_an_update_naming_the_changed_fields(config):
    stored = {"repo": {"owner": "me", "private": True}, "branch": "main"}
    wanted = {"repo": {"owner": "you", "private": True}, "branch": "main"}

    plan = plan_apply(config(tool("repo.app", **wanted)), state(record("repo.app", stored)), {}, as_is)

    (change,) = plan.changes
    assert (change.action, change.reason) == (Action.UPDATE, "options changed: repo.owner")
    assert change.before == {"options": stored}
    assert change.after == {"options": wanted}


def test_every_changed_field_is_named(config):
    plan = plan_apply(config(tool("repo.app", a=1, b=[1, 2], c="same")),
                      state(record("repo.app", {"a": 2, "b": [1, 3], "c": "same", "d": "gone"})), {}, as_is)

    assert summary(plan) == [("update", "repo.app", "options changed: a, b[1], d")]


def test_a_resource_deleted_outside_dtm_is_created_again(config):
    status = {"id": 7, "outputs": {"url": "u"}}

    plan = plan_apply(config(tool("repo.app", owner="me")), state(record("repo.app", {"owner": "me"}, status)),
                      {"repo_app": None}, as_is)

    (change,) = plan.changes
    assert (change.action, change.reason) == (Action.CREATE, "deleted outside dtm")
    assert change.before == {"resourceStatus": status}
    assert change.after is None


def test_a_live_status_that_differs_from_the_stored_one_is_drift(config):
    stored = {"visibility": "private", "outputs": {"url": "u"}}
    live = {"visibility": "public", "outputs": {"url": "u"}}

    plan = plan_apply(config(tool("repo.app", owner="me")), state(record("repo.app", {"owner": "me"}, stored)),
                      {"repo_app": live}, as_is)

    (change,) = plan.changes
    assert (change.action, change.reason) == (Action.UPDATE, "drifted: status.visibility")
    assert change.before == {"resourceStatus": stored}
    assert change.after == {"resourceStatus": live}


def test_changed_options_win_over_the_live_status(config):
    # A changed tool is updated whatever its status, so the status is not even read (NOT_READ).
    plan = plan_apply(config(tool("repo.app", owner="you")), state(record("repo.app", {"owner": "me"})),
                      {"repo_app": None}, as_is)

    assert summary(plan) == [("update", "repo.app", "options changed: owner")]


@pytest.mark.parametrize("live", [
    {},                                              # not read at all
    {"repo_app": NOT_READ},
    {"repo_app": {"id": 7, "outputs": {"url": "u"}}},  # read, and the same
], ids=["absent", "not-read", "equal"])
def test_an_unchanged_tool_whose_status_is_unknown_or_equal_needs_nothing(config, live):
    current = state(record("repo.app", {"owner": "me"}, {"id": 7, "outputs": {"url": "u"}}))

    plan = plan_apply(config(tool("repo.app", owner="me")), current, live, as_is)

    assert plan.empty
    assert plan.counts() == {"create": 0, "update": 0, "delete": 0}


def test_python_types_that_json_carries_alike_are_no_change(config):
    # The plugin's stored form may hand back tuples; state (from YAML) has lists and string keys.
    def tuples(name: str, options: dict) -> dict:
        return {"branches": tuple(options["branches"]), "limits": {1: 2}}

    current = state(record("repo.app", {"branches": ["main", "dev"], "limits": {"1": 2}},
                           {"ids": [1, 2], "ratio": 1}))
    live = {"repo_app": {"ids": (1, 2), "ratio": 1.0}}

    assert plan_apply(config(tool("repo.app", branches=["main", "dev"])), current, live, tuples).empty


def test_nil_and_empty_options_are_no_change(config):
    current = state(record("repo.app", {"labels": None, "topics": []}, {"outputs": {}}))

    plan = plan_apply(config(tool("repo.app", labels={}, extra="")), current, {"repo_app": {"outputs": None}}, as_is)

    assert plan.empty


# -- secrets ----------------------------------------------------------------------------------------------


def test_an_unchanged_secret_is_no_change_and_a_rotated_one_is_an_update(config):
    current = state(record("ci.app", {"token": fingerprint("old-token-1234")}))

    same = plan_apply(config(tool("ci.app", token="old-token-1234")), current, {}, fingerprinting)
    rotated = plan_apply(config(tool("ci.app", token="new-token-5678")), current, {}, fingerprinting)

    assert same.empty
    assert summary(rotated) == [("update", "ci.app", "options changed: token")]
    text = json.dumps(rotated.as_json())
    assert "old-token-1234" not in text and "new-token-5678" not in text
    assert rotated.changes[0].after == {"options": {"token": fingerprint("new-token-5678")}}


def test_a_created_tool_shows_its_secret_only_as_a_fingerprint(config):
    plan = plan_apply(config(tool("ci.app", token="new-token-5678")), {}, {}, fingerprinting)

    assert plan.changes[0].after == {"options": {"token": fingerprint("new-token-5678")}}


def test_a_secret_stays_hidden_while_a_referenced_output_is_not_known_yet(config):
    tools = config(tool("repo.app"), tool("ci.app", token="new-token-5678", url=ref("repo.app")))

    created = plan_apply(tools, {}, {}, fingerprinting)
    updated = plan_apply(tools, state(record("ci.app", {"token": fingerprint("new-token-5678"), "url": "u"})), {},
                         fingerprinting)

    assert "new-token-5678" not in json.dumps(created.as_json())
    assert "new-token-5678" not in json.dumps(updated.as_json())


# -- several tools ----------------------------------------------------------------------------------------


def test_changes_follow_dependency_order_not_config_order(config):
    tools = config(tool("ci.app", url=ref("repo.app")), tool("repo.app", "org.main"), tool("org.main"))

    plan = plan_apply(tools, {}, {}, as_is)

    assert [c.key for c in plan.changes] == ["org.main", "repo.app", "ci.app"]
    assert [c.waits_for for c in plan.changes] == [[], ["org.main"], ["repo.app"]]


def test_a_tool_created_after_the_tool_it_references_keeps_the_reference_for_apply_time(config):
    plan = plan_apply(config(tool("repo.app"), tool("ci.app", url=ref("repo.app"))), {}, {}, as_is)

    assert plan.changes[1].after == {"options": {"url": "${{ repo.app.outputs.url }}"}}


def test_references_are_resolved_from_state_before_comparing(config):
    tools = config(tool("repo.app"), tool("ci.app", url=ref("repo.app")))
    current = state(record("repo.app", {}, {"outputs": {"url": "https://git/app"}}),
                    record("ci.app", {"url": "https://git/app"}))

    assert plan_apply(tools, current, {}, as_is).empty


def test_a_tool_in_state_whose_referenced_tool_is_not_applied_yet_is_updated(config):
    tools = config(tool("repo.app"), tool("ci.app", url=ref("repo.app")))

    plan = plan_apply(tools, state(record("ci.app", {"url": "https://git/app"})), {}, as_is)

    assert summary(plan) == [
        ("create", "repo.app", "not in state"),
        ("update", "ci.app", "options changed: ${{ repo.app.outputs.url }} not known yet"),
    ]
    assert plan.changes[1].waits_for == ["repo.app"]


def test_a_reference_to_an_output_the_tool_does_not_have_is_named_in_the_plan(config):
    tools = config(tool("repo.app"), tool("ci.app", url=ref("repo.app", "nope")))
    current = state(record("repo.app", {}, {"outputs": {"url": "u"}}), record("ci.app", {"url": "u"}))

    (change,) = plan_apply(tools, current, {}, as_is).changes

    assert "inputs from  " not in change.reason
    assert "repo.app" in change.reason


def test_a_tool_that_references_a_changing_tool_is_rechecked_at_apply_time(config):
    tools = config(tool("repo.app", owner="you"), tool("ci.app", url=ref("repo.app")))
    current = state(record("repo.app", {"owner": "me"}, {"outputs": {"url": "https://git/app"}}),
                    record("ci.app", {"url": "https://git/app"}, {"ok": True}))

    plan = plan_apply(tools, current, {"ci_app": {"ok": True}}, as_is)

    assert summary(plan) == [
        ("update", "repo.app", "options changed: owner"),
        ("update", "ci.app", "inputs from repo.app may change"),
    ]
    ci = plan.changes[1]
    assert ci.only_if_inputs_change is True
    assert ci.waits_for == ["repo.app"]
    assert plan.changes[0].only_if_inputs_change is False


def test_a_mere_dependson_on_a_changing_tool_changes_nothing(config):
    tools = config(tool("repo.app", owner="you"), tool("ci.app", "repo.app"))
    current = state(record("repo.app", {"owner": "me"}), record("ci.app"))

    assert [c.key for c in plan_apply(tools, current, {}, as_is).changes] == ["repo.app"]


def test_waits_for_lists_only_dependencies_that_are_in_the_plan(config):
    tools = config(tool("org.main"), tool("repo.app", "org.main", owner="you"), tool("ci.app", "repo.app", "org.main"))
    current = state(record("org.main"), record("repo.app", {"owner": "me"}))

    plan = plan_apply(tools, current, {}, as_is)

    assert summary(plan) == [("update", "repo.app", "options changed: owner"), ("create", "ci.app", "not in state")]
    assert [c.waits_for for c in plan.changes] == [[], ["repo.app"]]


# -- deletes ----------------------------------------------------------------------------------------------


def test_records_not_in_the_config_are_deleted_dependents_first_before_anything_else(config):
    current = state(
        record("old.base", {"a": 1}, {"outputs": {"url": "u"}}),
        record("old.top", {"b": 2}, depends_on=("old.base",)),
        record("keep.app", {"c": 3}),
    )

    plan = plan_apply(config(tool("keep.app", c=4), tool("new.app")), current, {}, as_is)

    assert summary(plan) == [
        ("delete", "old.top", "not in config"),
        ("delete", "old.base", "not in config"),
        ("update", "keep.app", "options changed: c"),
        ("create", "new.app", "not in state"),
    ]
    top, base, keep, new = plan.changes
    assert top.waits_for == []
    assert base.waits_for == ["old.top"]       # a record goes only after what depends on it
    assert keep.waits_for == ["old.top", "old.base"]  # creates and updates wait for every delete
    assert new.waits_for == ["old.top", "old.base"]
    assert base.before == {"options": {"a": 1}, "resourceStatus": {"outputs": {"url": "u"}}}
    assert base.after is None
    assert plan.counts() == {"create": 1, "update": 1, "delete": 2}


def test_a_delete_ignores_dependencies_on_records_that_are_not_being_deleted(config):
    current = state(record("keep.app"), record("old.top", depends_on=("keep.app", "long.gone")))

    plan = plan_apply(config(tool("keep.app")), current, {}, as_is)

    assert summary(plan) == [("delete", "old.top", "not in config")]
    assert plan.changes[0].waits_for == []


def test_a_graph_can_be_passed_in(config):
    tools = config(tool("a.x"), tool("b.x", "a.x"))

    plan = plan_apply(tools, {}, {}, as_is, graph=Graph.from_tools(tools.tools))

    assert [c.key for c in plan.changes] == ["a.x", "b.x"]


# -- the plan as data -------------------------------------------------------------------------------------


def test_the_json_plan_has_a_stable_shape(config):
    current = state(record("old.app", {"x": 1}), record("repo.app", {"owner": "me"}))

    plan = plan_apply(config(tool("repo.app", owner="you"), tool("new.app", n=1)), current, {}, as_is)

    assert plan.as_json() == {
        "format_version": "1",
        "operation": "apply",
        "changes": [
            {"key": "old.app", "name": "old", "instanceID": "app", "action": "delete", "reason": "not in config",
             "before": {"options": {"x": 1}, "resourceStatus": {}}, "after": None},
            {"key": "repo.app", "name": "repo", "instanceID": "app", "action": "update",
             "reason": "options changed: owner", "before": {"options": {"owner": "me"}},
             "after": {"options": {"owner": "you"}}},
            {"key": "new.app", "name": "new", "instanceID": "app", "action": "create", "reason": "not in state",
             "before": None, "after": {"options": {"n": 1}}},
        ],
    }
    json.dumps(plan.as_json())  # and it is plain JSON


def test_an_empty_plan_as_json(config):
    assert plan_apply(config(), {}, {}, as_is).as_json() == {"format_version": "1", "operation": "apply",
                                                              "changes": []}


def test_only_keeps_the_targets_and_what_they_wait_for(config):
    #   org <- repo <- ci        docs (alone)
    tools = config(tool("org.main"), tool("repo.app", "org.main"), tool("ci.app", url=ref("repo.app")),
                   tool("docs.site"))
    plan = plan_apply(tools, {}, {}, as_is)

    part = plan.only(["repo.app"])

    assert [c.key for c in part.changes] == ["org.main", "repo.app"]
    assert part.changes[1].waits_for == ["org.main"]
    assert part.operation == "apply"
    assert [c.key for c in plan.changes] == ["org.main", "docs.site", "repo.app", "ci.app"]  # untouched


def test_only_trims_waits_for_to_the_changes_kept():
    plan = Plan(changes=[
        {"key": "a.x", "name": "a", "instanceID": "x", "action": "create", "reason": "r"},
        {"key": "b.x", "name": "b", "instanceID": "x", "action": "create", "reason": "r", "waits_for": ["a.x"]},
        {"key": "c.x", "name": "c", "instanceID": "x", "action": "create", "reason": "r",
         "waits_for": ["a.x", "b.x"]},
    ])

    part = plan.only(["c.x", "a.x"])

    assert [(c.key, c.waits_for) for c in part.changes] == [("a.x", []), ("b.x", ["a.x"]), ("c.x", ["a.x", "b.x"])]


def test_only_with_a_target_that_has_no_change_is_empty(config):
    plan = plan_apply(config(tool("a.x")), {}, {}, as_is)

    assert plan.only(["nothing.here"]).empty


def test_only_brings_along_the_deletes_a_target_waits_for(config):
    plan = plan_apply(config(tool("new.app"), tool("other.app")), state(record("old.app")), {}, as_is)

    assert [c.key for c in plan.only(["new.app"]).changes] == ["old.app", "new.app"]
