"""Tools: their fields, their plugins' options, their output references and their dependencies.

All of it is checked when the config is loaded, so a typo fails before anything runs. The plugins used here
are the two tiny ones of conftest.py: `greeter` (options path/times/greeting; outputs url and id) and
`anything` (any options; outputs unknown in advance).
"""

from __future__ import annotations

from devstream.errors import DependencyCycleError


def test_a_bad_instance_id_says_what_an_instance_id_may_be(write, problem):
    path = write("c.yaml", """
        tools:
        - name: greeter
          instanceID: My_Tool
          options: {path: a}
        """)

    issue = problem(path)

    assert (issue.file, issue.line, issue.field) == (str(path), 3, "tools[0].instanceID")
    assert "RFC 1123" in issue.message
    assert "'My_Tool'" in issue.message


def test_an_unknown_field_in_a_tool_is_an_error(write, problem):
    path = write("c.yaml", """
        tools:
        - name: greeter
          instanceID: a
          option: {path: a}
        """)

    issue = problem(path)

    assert (issue.file, issue.line, issue.field) == (str(path), 4, "tools[0].option")
    assert "name, instanceID, dependsOn, options" in issue.message


def test_a_tool_defined_twice_names_both_places(tmp_path, write, problem):
    first = write("a.yaml", """
        tools:
        - {name: greeter, instanceID: a, options: {path: a}}
        """)
    second = write("b.yaml", """
        tools:
        - {name: anything, instanceID: a}
        - {name: greeter, instanceID: a, options: {path: b}}
        """)

    issue = problem(tmp_path)

    assert (issue.file, issue.line, issue.field) == (str(second), 3, "tools[1]")
    assert "'greeter.a' is defined twice" in issue.message
    assert f"{first}:2" in issue.message


def test_depends_on_a_tool_that_does_not_exist(write, problem):
    path = write("c.yaml", """
        tools:
        - {name: greeter, instanceID: a, options: {path: a}}
        - name: greeter
          instanceID: b
          dependsOn:
          - greeter.a
          - greeter.c
          options: {path: b}
        """)

    issue = problem(path)

    assert (issue.file, issue.line, issue.field) == (str(path), 7, "tools[1].dependsOn[1]")
    assert "'greeter.c'" in issue.message


def test_a_dependency_cycle_is_printed_whole(write, load):
    path = write("c.yaml", """
        tools:
        - {name: greeter, instanceID: free, options: {path: x}}
        - {name: greeter, instanceID: a, dependsOn: [anything.c], options: {path: a}}
        - {name: greeter, instanceID: b, dependsOn: [greeter.a], options: {path: b}}
        - name: anything
          instanceID: c
          options:
            from: ${{ greeter.b.outputs.url }}
        """)

    try:
        load(path)
    except DependencyCycleError as error:
        assert error.cycle == ["greeter.a", "anything.c", "greeter.b", "greeter.a"]
        [issue] = error.issues
        assert (issue.file, issue.line, issue.field) == (str(path), 3, "tools[1]")
        assert "greeter.a -> anything.c -> greeter.b -> greeter.a" in issue.message
    else:
        raise AssertionError("a cycle must not load")


def test_an_unknown_plugin_lists_the_installed_ones_and_how_to_install(write, problem):
    path = write("c.yaml", """
        tools:
        - name: greeterr
          instanceID: a
        """)

    issue = problem(path)

    assert (issue.file, issue.line, issue.field) == (str(path), 2, "tools[0].name")
    assert "plugin 'greeterr' is not installed (installed: anything, greeter)" in issue.message
    assert f"`dtm init -f {path}`" in issue.message and "devstream.plugins" in issue.message


def test_options_are_checked_against_the_plugin_model_for_every_tool(write, problems):
    path = write("c.yaml", """
        tools:
        - name: greeter
          instanceID: a
          options:
            path: a.txt
            times: many
        - name: greeter
          instanceID: b
          options:
            greting: hi
        """)

    issues = problems(path)

    assert [(i.file, i.line, i.field) for i in issues] == [
        (str(path), 6, "tools[0].options.times"),  # the line of the field itself
        (str(path), 9, "tools[1].options.path"),  # a missing field: the line of its parent
        (str(path), 10, "tools[1].options.greting"),
    ]
    assert "valid integer" in issues[0].message
    assert "requires option 'path'" in issues[1].message
    assert "no option 'greting'" in issues[2].message


def test_the_users_options_are_kept_as_written(write, load):
    path = write("c.yaml", """
        tools:
        - {name: greeter, instanceID: a, options: {path: a, times: 2}}
        """)

    # `greeting` has a default in the model; it is not added to the stored options.
    assert load(path).tools[0].options == {"path": "a", "times": 2}


def test_an_option_holding_a_reference_is_checked_at_apply_time(write, load):
    path = write("c.yaml", """
        tools:
        - {name: anything, instanceID: a}
        - name: greeter
          instanceID: b
          options:
            path: b
            times: ${{ anything.a.outputs.count }}
        """)

    tool = load(path).tool("greeter.b")

    assert tool.options["times"] == "${{ anything.a.outputs.count }}"


def test_a_reference_to_a_tool_that_does_not_exist(write, problem):
    path = write("c.yaml", """
        tools:
        - name: anything
          instanceID: a
          options:
            hosts:
            - ok
            - https://${{ greeter.nope.outputs.url }}/x
        """)

    issue = problem(path)

    assert (issue.file, issue.line, issue.field) == (str(path), 7, "tools[0].options.hosts[1]")
    assert "'greeter.nope', which is not defined" in issue.message


def test_a_reference_to_an_output_the_plugin_does_not_return(write, problem):
    path = write("c.yaml", """
        tools:
        - {name: greeter, instanceID: a, options: {path: a}}
        - name: anything
          instanceID: b
          options:
            fine: ${{ greeter.a.outputs.url }}
            wrong: ${{ greeter.a.outputs.adress }}
        """)

    issue = problem(path)

    assert (issue.file, issue.line, issue.field) == (str(path), 7, "tools[1].options.wrong")
    assert "'adress'" in issue.message
    assert "its outputs are: id, url" in issue.message


def test_references_add_implicit_dependencies_without_dependson(write, load):
    from devstream.graph import Graph

    path = write("c.yaml", """
        tools:
        - {name: anything, instanceID: b, options: {url: "${{ greeter.a.outputs.url }}"}}
        - {name: greeter, instanceID: a, options: {path: a}}
        """)

    config = load(path)

    assert Graph.from_tools(config.tools).order() == ["greeter.a", "anything.b"]


def test_without_plugin_validation_unknown_plugins_load(write, load):
    path = write("c.yaml", """
        tools:
        - {name: not-installed, instanceID: a, options: {whatever: 1}}
        """)

    assert load(path, validate_plugins=False).tools[0].key == "not-installed.a"
