"""The dependency graph: which tool waits for which, and in what order dtm works through them.

Edges come from two places: a tool's `dependsOn`, and every `${{ name.instanceID.outputs.key }}` reference
in its options (an implicit dependency). Orders are stable: among tools that are ready together, the order
they were written in the config wins.
"""

from __future__ import annotations

import pytest

from devstream.config.models import ToolSpec
from devstream.errors import ConfigError, DependencyCycleError, UnknownDependencyError
from devstream.graph import Graph


def tool(key: str, *depends_on: str, **options: object) -> ToolSpec:
    name, instance_id = key.split(".", 1)
    return ToolSpec(name=name, instanceID=instance_id, dependsOn=list(depends_on), options=dict(options))


def ref(key: str, output: str = "url") -> str:
    return f"${{{{ {key}.outputs.{output} }}}}"


# -- order ------------------------------------------------------------------------------------------------


def test_dependencies_come_before_their_dependents_whatever_the_config_order():
    graph = Graph.from_tools([
        tool("ci.app", url=ref("repo.app")),  # implicit edge: ci.app -> repo.app
        tool("repo.app", "org.main"),          # explicit edge: repo.app -> org.main
        tool("org.main"),
    ])

    assert graph.order() == ["org.main", "repo.app", "ci.app"]
    assert graph.deps == {"ci.app": {"repo.app"}, "repo.app": {"org.main"}, "org.main": set()}
    assert graph.dependents["org.main"] == {"repo.app"}


def test_a_reference_deep_inside_the_options_is_an_edge_too():
    graph = Graph.from_tools([
        tool("deploy.app", envs=[{"vars": {"REPO": f"git clone {ref('repo.app')}"}}]),
        tool("repo.app"),
    ])

    assert graph.deps["deploy.app"] == {"repo.app"}
    assert graph.order() == ["repo.app", "deploy.app"]


def test_tools_that_are_ready_together_keep_config_order():
    graph = Graph.from_tools([tool("z.one"), tool("y.two"), tool("b.x", "a.x"), tool("c.x"), tool("a.x")])

    assert graph.layers() == [["z.one", "y.two", "c.x", "a.x"], ["b.x"]]
    assert graph.order() == ["z.one", "y.two", "c.x", "a.x", "b.x"]


def test_layers_group_the_tools_that_can_run_at_once():
    # A diamond: b and c both need a; d needs b and c.
    graph = Graph.from_tools([
        tool("d.x", "b.x", url=ref("c.x")),
        tool("c.x", "a.x"),
        tool("b.x", "a.x"),
        tool("a.x"),
    ])

    assert graph.layers() == [["a.x"], ["c.x", "b.x"], ["d.x"]]
    assert graph.depth() == 3


def test_duplicate_nodes_are_kept_once_in_first_position():
    graph = Graph(["a", "b", "a"], {"b": ["a"]})

    assert graph.nodes == ["a", "b"]
    assert graph.order() == ["a", "b"]


# -- cycles -----------------------------------------------------------------------------------------------


def test_a_cycle_is_an_error_that_names_the_whole_cycle():
    with pytest.raises(DependencyCycleError) as caught:
        Graph.from_tools([tool("a.x", "b.y"), tool("b.y", "a.x")])

    assert caught.value.cycle == ["a.x", "b.y", "a.x"]
    assert "a.x -> b.y -> a.x" in str(caught.value)
    assert isinstance(caught.value, ConfigError)  # so the CLI reports it like any config problem


def test_a_cycle_through_output_references_is_found():
    with pytest.raises(DependencyCycleError) as caught:
        Graph.from_tools([
            tool("a.x", url=ref("b.y")),
            tool("b.y", "c.z"),
            tool("c.z", token=ref("a.x", "token")),
        ])

    assert caught.value.cycle == ["a.x", "b.y", "c.z", "a.x"]


def test_the_named_cycle_leaves_out_the_tools_that_merely_lead_into_it():
    # start.x waits for a.x, but the loop itself is a.x <-> b.y.
    with pytest.raises(DependencyCycleError) as caught:
        Graph.from_tools([tool("start.x", "a.x"), tool("a.x", "b.y"), tool("b.y", "a.x")])

    assert caught.value.cycle == ["a.x", "b.y", "a.x"]


def test_a_tool_that_depends_on_itself_is_a_cycle_of_one():
    with pytest.raises(DependencyCycleError) as caught:
        Graph.from_tools([tool("a.x", "a.x")])

    assert caught.value.cycle == ["a.x", "a.x"]


def test_layers_of_a_graph_built_without_checks_still_refuse_a_cycle():
    graph = Graph.from_tools([tool("a.x", "b.y"), tool("b.y", "a.x")], strict=False)

    assert graph.find_cycle() == ["a.x", "b.y", "a.x"]
    with pytest.raises(DependencyCycleError):
        graph.order()


def test_an_acyclic_graph_has_no_cycle():
    assert Graph.from_tools([tool("a.x"), tool("b.x", "a.x")]).find_cycle() is None


# -- unknown dependencies ---------------------------------------------------------------------------------


def test_every_dependency_on_an_undefined_tool_is_its_own_issue():
    with pytest.raises(UnknownDependencyError) as caught:
        Graph.from_tools([
            tool("ci.app", "repo.ap", url=ref("registry.main")),  # a typo and a missing tool
            tool("repo.app"),
        ])

    issues = caught.value.issues
    assert len(issues) == 2
    assert [i.field for i in issues] == ["ci.app", "ci.app"]
    assert "dependsOn 'repo.ap'" in issues[0].message
    assert "no tool 'repo.ap' is defined" in issues[0].message
    assert "options.url references ${{ registry.main.outputs.url }}" in issues[1].message
    assert "no tool 'registry.main' is defined" in issues[1].message


def test_a_missing_tool_named_both_ways_is_reported_once():
    with pytest.raises(UnknownDependencyError) as caught:
        Graph.from_tools([tool("ci.app", "repo.app", url=ref("repo.app"))])

    assert len(caught.value.issues) == 1


def test_without_strict_unknown_dependencies_are_dropped():
    graph = Graph.from_tools([tool("ci.app", "gone.x", url=ref("also.gone")), tool("repo.app")], strict=False)

    assert graph.deps == {"ci.app": set(), "repo.app": set()}
    assert graph.order() == ["ci.app", "repo.app"]


# -- ancestors and descendants ----------------------------------------------------------------------------


@pytest.fixture
def family() -> Graph:
    #   a <- b <- c
    #        ^
    #        d          e (alone)
    return Graph.from_tools([tool("a.x"), tool("b.x", "a.x"), tool("c.x", "b.x"), tool("d.x", "b.x"), tool("e.x")])


def test_ancestors_are_everything_a_tool_waits_for_transitively(family: Graph):
    assert family.ancestors(["c.x"]) == {"a.x", "b.x"}
    assert family.ancestors(["a.x"]) == set()
    assert family.ancestors(["c.x", "e.x"]) == {"a.x", "b.x"}


def test_descendants_are_everything_that_waits_for_a_tool_transitively(family: Graph):
    assert family.descendants(["a.x"]) == {"b.x", "c.x", "d.x"}
    assert family.descendants(["c.x"]) == set()


def test_the_starting_keys_are_never_their_own_ancestors_or_descendants(family: Graph):
    assert family.ancestors(["c.x", "b.x"]) == {"a.x"}
    assert family.descendants(["a.x", "b.x"]) == {"c.x", "d.x"}


# -- scale ------------------------------------------------------------------------------------------------


def test_a_chain_of_5000_tools_does_not_hit_the_recursion_limit():
    n = 5000
    # Written backwards, so the order has to be worked out: t<i> depends on t<i-1>.
    tools = [tool(f"t.i{i}", *([f"t.i{i - 1}"] if i else [])) for i in reversed(range(n))]

    graph = Graph.from_tools(tools)

    assert graph.order() == [f"t.i{i}" for i in range(n)]
    assert graph.depth() == n
    assert len(graph.ancestors([f"t.i{n - 1}"])) == n - 1
    assert len(graph.descendants(["t.i0"])) == n - 1


def test_a_cycle_of_5000_tools_is_found_without_recursion():
    n = 5000
    tools = [tool(f"t.i{i}", f"t.i{(i + 1) % n}") for i in range(n)]

    with pytest.raises(DependencyCycleError) as caught:
        Graph.from_tools(tools)

    assert len(caught.value.cycle) == n + 1
    assert caught.value.cycle[0] == caught.value.cycle[-1] == "t.i0"
