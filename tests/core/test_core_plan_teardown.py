"""Planning `dtm destroy` and `dtm delete`, and choosing which live statuses `dtm apply` must read.

Teardown runs in reverse dependency order: a tool is deleted only after everything that depends on it
(`waits_for` = its dependents). Destroy works from state alone (the records' `dependsOn`); delete works
from the config's tools, and by default only those that are in state.
"""

from __future__ import annotations

from core_builders import as_is, fingerprinting, record, state, tool

from devstream.plan import Action, Plan, plan_delete, plan_destroy, read_targets


def assert_dependents_go_first(plan: Plan) -> None:
    position = {c.key: i for i, c in enumerate(plan.changes)}
    for change in plan.changes:
        for dependent in change.waits_for:
            assert position[dependent] < position[change.key], f"{dependent} must be deleted before {change.key}"


# -- destroy ----------------------------------------------------------------------------------------------


def test_destroy_deletes_everything_in_reverse_dependency_order():
    #   org <- repo <- ci       docs (alone)
    #           ^---- deploy
    current = state(
        record("org.main", {"o": 1}, {"outputs": {"id": 1}}),
        record("repo.app", depends_on=("org.main",)),
        record("ci.app", depends_on=("repo.app",)),
        record("deploy.app", depends_on=("repo.app", "org.main")),
        record("docs.site"),
    )

    plan = plan_destroy(current)

    assert plan.operation == "destroy"
    assert {c.key for c in plan.changes} == {"org.main", "repo.app", "ci.app", "deploy.app", "docs.site"}
    assert all(c.action is Action.DELETE and c.reason == "destroy" for c in plan.changes)
    assert_dependents_go_first(plan)
    waits = {c.key: c.waits_for for c in plan.changes}
    assert waits == {
        "org.main": ["deploy.app", "repo.app"],
        "repo.app": ["ci.app", "deploy.app"],
        "ci.app": [],
        "deploy.app": [],
        "docs.site": [],
    }
    org = next(c for c in plan.changes if c.key == "org.main")
    assert org.before == {"options": {"o": 1}, "resourceStatus": {"outputs": {"id": 1}}}
    assert org.after is None


def test_destroy_of_a_chain_is_the_chain_backwards():
    current = state(record("a.x"), record("b.x", depends_on=("a.x",)), record("c.x", depends_on=("b.x",)))

    assert [c.key for c in plan_destroy(current).changes] == ["c.x", "b.x", "a.x"]


def test_destroy_ignores_dependencies_on_records_no_longer_in_state():
    plan = plan_destroy(state(record("ci.app", depends_on=("repo.app",))))

    assert [(c.key, c.waits_for) for c in plan.changes] == [("ci.app", [])]


def test_destroy_of_empty_state_is_an_empty_plan():
    assert plan_destroy({}).empty


# -- delete -----------------------------------------------------------------------------------------------


def test_delete_plans_only_the_configs_tools_that_are_in_state(config):
    tools = config(tool("repo.app"), tool("ci.app", "repo.app"), tool("docs.site"))
    current = state(record("repo.app"), record("ci.app", depends_on=("repo.app",)), record("other.app"))

    plan = plan_delete(tools, current, as_is)

    assert plan.operation == "delete"
    assert [(c.action.value, c.key, c.reason) for c in plan.changes] == [
        ("delete", "ci.app", "in config (delete)"),
        ("delete", "repo.app", "in config (delete)"),
    ]  # docs.site is not in state; other.app is not in the config
    assert [c.waits_for for c in plan.changes] == [[], ["ci.app"]]


def test_delete_with_force_also_plans_tools_that_are_not_in_state(config):
    tools = config(tool("repo.app", owner="me"), tool("ci.app", "repo.app"))

    plan = plan_delete(tools, {}, as_is, force=True)

    assert [(c.key, c.reason, c.waits_for) for c in plan.changes] == [
        ("ci.app", "in config (delete --force)", []),
        ("repo.app", "in config (delete --force)", ["ci.app"]),
    ]
    assert plan.changes[1].before == {"options": {"owner": "me"}, "resourceStatus": {}}


def test_delete_orders_by_the_configs_references_as_well_as_the_records(config):
    # The record of ci.app does not say it depends on repo.app, but its options reference repo.app's output.
    tools = config(tool("repo.app"), tool("ci.app", url="${{ repo.app.outputs.url }}"))
    current = state(record("repo.app", status={"outputs": {"url": "u"}}), record("ci.app", {"url": "u"}))

    plan = plan_delete(tools, current, as_is)

    assert [(c.key, c.waits_for) for c in plan.changes] == [("ci.app", []), ("repo.app", ["ci.app"])]


def test_delete_of_tools_none_of_which_is_in_state_is_empty(config):
    assert plan_delete(config(tool("repo.app")), state(record("other.app")), as_is).empty


# -- which statuses to read -------------------------------------------------------------------------------


def test_only_tools_in_state_with_unchanged_options_are_read(config):
    tools = config(
        tool("same.app", owner="me"),                        # in state, unchanged: read
        tool("changed.app", owner="you"),                    # options changed: updated anyway, not read
        tool("new.app"),                                     # not in state: created, not read
        tool("user.app", url="${{ same.app.outputs.url }}"),  # unchanged once resolved: read
        tool("waiting.app", url="${{ new.app.outputs.url }}"),  # its input is not known yet: not read
    )
    current = state(
        record("same.app", {"owner": "me"}, {"outputs": {"url": "https://git/app"}}),
        record("changed.app", {"owner": "me"}),
        record("user.app", {"url": "https://git/app"}),
        record("waiting.app", {"url": "https://git/old"}),
    )

    targets = read_targets(tools, current, as_is)

    assert [(t.key, options) for t, options in targets] == [
        ("same.app", {"owner": "me"}),
        ("user.app", {"url": "https://git/app"}),  # read with the resolved options
    ]


def test_tools_are_read_with_their_real_options_not_the_stored_form(config):
    # State keeps a fingerprint, but the plugin needs the secret itself to read the resource.
    def hide_token(name: str, options: dict) -> dict:
        return {**options, "token": "<hidden>"}

    tools = config(tool("ci.app", token="real-token-1234"))
    (target,) = read_targets(tools, state(record("ci.app", {"token": "<hidden>"})), hide_token)

    assert target[1] == {"token": "real-token-1234"}


def test_nothing_in_state_means_nothing_to_read(config):
    assert read_targets(config(tool("a.x"), tool("b.x")), {}, as_is) == []


def test_delete_with_force_does_not_show_secrets(config):
    plan = plan_delete(config(tool("ci.app", token="real-token-1234")), {}, fingerprinting, force=True)

    assert "real-token-1234" not in str(plan.as_json())
