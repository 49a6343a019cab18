"""Where a config comes from: one YAML file, or a folder of them merged section by section.

Every error names the file, the line and the field, and says what to write instead.
"""

from __future__ import annotations

from devstream.config.models import Location


def test_a_single_file_gives_its_tools_state_name_and_folder(write, load):
    path = write("prod.yaml", """
        config:
          state:
            backend: local
            options:
              stateFile: my.state
        tools:
        - name: greeter
          instanceID: hello
          options:
            path: hello.txt
        """)

    config = load(path)

    assert [t.key for t in config.tools] == ["greeter.hello"]
    assert config.tools[0].options == {"path": "hello.txt"}  # the plugin's defaults are not added
    assert config.state.backend == "local"
    assert config.state.options == {"stateFile": "my.state"}  # resolved later, by the state package
    assert config.name == "prod"  # the file's stem
    assert config.workdir == path.parent.resolve()
    assert config.files == [path.resolve()]
    assert config.locations["greeter.hello"] == Location(str(path), 7, "tools[0]")


def test_without_a_config_section_the_state_is_kept_on_the_prefect_server(write, load):
    path = write("c.yaml", """
        tools:
        - {name: greeter, instanceID: a, options: {path: a}}
        """)

    assert load(path).state.backend == "prefect"


def test_backend_names_are_case_insensitive(write, load):
    path = write("c.yaml", """
        config:
          state: {backend: Local, options: {name: team-a}}
        tools:
        - {name: greeter, instanceID: a, options: {path: a}}
        """)

    config = load(path)

    assert config.state.backend == "local"
    assert config.name == "team-a"  # state.options.name wins over the file's stem


def test_an_unknown_backend_lists_the_valid_ones(write, problem):
    path = write("c.yaml", """
        config:
          state:
            backend: etcd
        tools:
        - {name: greeter, instanceID: a, options: {path: a}}
        """)

    issue = problem(path)

    assert (issue.file, issue.line, issue.field) == (str(path), 3, "config.state.backend")
    assert "'etcd'" in issue.message
    assert "use one of: local, prefect" in issue.message


def test_a_folder_is_merged_section_by_section(tmp_path, write, load):
    write("10-base.yaml", """
        config:
          state: {backend: local}
        vars:
          greeting: hi
        tools:
        - {name: greeter, instanceID: one, options: {path: one, greeting: "[[ greeting ]]"}}
        """)
    # Folders are read recursively, in sorted order; both .yaml and .yml count.
    write("sub/20-more.yml", """
        vars:
          times: 3
        tools:
        - {name: greeter, instanceID: two, options: {path: two, times: "[[ times ]]"}}
        """)
    write("notes.txt", "not: yaml: at all: [")

    config = load(tmp_path)

    assert [t.key for t in config.tools] == ["greeter.one", "greeter.two"]  # lists concatenated
    assert config.vars == {"greeting": "hi", "times": 3}  # vars merged
    assert config.tools[0].options["greeting"] == "hi"
    assert config.tools[1].options["times"] == "3"  # quoted in the YAML, so a string
    assert config.name == tmp_path.name  # a folder's config is named after the folder
    assert config.workdir == tmp_path.resolve()
    assert config.locations["greeter.two"] == Location(str(tmp_path / "sub/20-more.yml"), 4, "tools[0]")


def test_documents_of_one_file_are_merged_like_files(write, load):
    path = write("c.yaml", """
        vars: {a: 1}
        tools:
        - {name: greeter, instanceID: one, options: {path: one}}
        ---
        tools:
        - {name: greeter, instanceID: two, options: {path: two, times: "[[ a ]]"}}
        """)

    config = load(path)

    assert [t.key for t in config.tools] == ["greeter.one", "greeter.two"]
    assert config.locations["greeter.two"].line == 6


def test_a_var_defined_in_two_files_names_both(tmp_path, write, problem):
    first = write("a.yaml", """
        vars:
          region: eu
        tools:
        - {name: greeter, instanceID: a, options: {path: a}}
        """)
    second = write("b.yaml", """
        vars:
          other: 1
          region: us
        """)

    issue = problem(tmp_path)

    assert (issue.file, issue.line, issue.field) == (str(second), 3, "vars.region")
    assert f"{first}:2" in issue.message


def test_config_may_be_defined_only_once(tmp_path, write, problem):
    first = write("a.yaml", """
        config: {state: {backend: local}}
        tools:
        - {name: greeter, instanceID: a, options: {path: a}}
        """)
    second = write("b.yaml", """
        tools: []
        config: {state: {backend: local}}
        """)

    issue = problem(tmp_path)

    assert (issue.file, issue.line, issue.field) == (str(second), 2, "config")
    assert f"{first}:1" in issue.message


def test_an_unknown_top_level_key_is_named_with_the_allowed_ones(write, problem):
    path = write("c.yaml", """
        tools:
        - {name: greeter, instanceID: a, options: {path: a}}
        tool:
        - {name: greeter, instanceID: b}
        """)

    issue = problem(path)

    assert (issue.file, issue.line, issue.field) == (str(path), 3, "tool")
    assert "'tool'" in issue.message
    assert "config, vars, tools, apps, pipelineTemplates" in issue.message


def test_a_yaml_syntax_error_gives_the_line_and_the_problem(write, problem):
    path = write("c.yaml", """
        tools:
        - name: greeter
          instanceID: a
            options: {path: a}
        """)

    issue = problem(path)

    assert (issue.file, issue.line) == (str(path), 4)
    assert "YAML syntax error" in issue.message
    assert "mapping values are not allowed" in issue.message


def test_syntax_errors_of_every_file_are_reported_together(tmp_path, write, problems):
    write("a.yaml", "tools: [\n")
    write("b.yaml", "vars: {a: 1\n")

    issues = problems(tmp_path)

    assert [(i.file, i.line) for i in issues] == [(str(tmp_path / "a.yaml"), 2), (str(tmp_path / "b.yaml"), 2)]


def test_a_key_written_twice_in_one_map_is_an_error(write, problem):
    path = write("c.yaml", """
        tools:
        - name: greeter
          instanceID: a
          instanceID: b
        """)

    issue = problem(path)

    assert (issue.file, issue.line, issue.field) == (str(path), 4, "tools[0].instanceID")
    assert "first on line 3" in issue.message


def test_a_missing_path_is_a_config_error(tmp_path, problem):
    issue = problem(tmp_path / "nope.yaml")

    assert issue.file == str(tmp_path / "nope.yaml")
    assert "does not exist" in issue.message


def test_an_empty_file_says_what_to_add(write, problem):
    path = write("c.yaml", "# nothing yet\n")

    issue = problem(path)

    assert (issue.file, issue.line) == (str(path), 1)
    assert "add a `tools:` list" in issue.message


def test_a_config_without_tools_or_apps_says_what_to_add(write, problem):
    path = write("c.yaml", """
        config:
          state: {backend: local}
        tools: []
        """)

    issue = problem(path)

    assert (issue.file, issue.line) == (str(path), 1)
    assert "no tools and no apps" in issue.message
    assert "`apps:`" in issue.message
