"""Variables: `[[ var ]]`, `[[ .var ]]`, vars built from vars, and `[[ env NAME ]]`.

Rendering happens after YAML parsing, one string at a time, so a mistake is reported on its own line.
"""

from __future__ import annotations


def test_vars_fill_options_and_keep_their_type(write, load):
    path = write("c.yaml", """
        vars:
          times: 3
          name: world
          labels: {team: a}
        tools:
        - name: anything
          instanceID: a
          options:
            times: [[ times ]]
            quoted: "[[ times ]]"
            mixed: [[ times ]]0
            text: hello [[ name ]]
            labels: [[ labels ]]
            reference: ${{ greeter.b.outputs.url }}
            workflow: ${{ secrets.TOKEN }} and {{ helm }}
        - {name: greeter, instanceID: b, options: {path: b}}
        """)

    options = load(path).tools[0].options

    assert options == {
        "times": 3,  # an unquoted single var keeps the var's type...
        "quoted": "3",  # ...a quoted one is a string...
        "mixed": 30,  # ...and text around a var is typed again, as YAML would
        "text": "hello world",
        "labels": {"team": "a"},  # vars may hold maps and lists
        "reference": "${{ greeter.b.outputs.url }}",  # output references pass through untouched
        "workflow": "${{ secrets.TOKEN }} and {{ helm }}",
    }


def test_go_template_dot_spelling_works(write, load):
    path = write("c.yaml", """
        vars:
          dir: out
        tools:
        - {name: greeter, instanceID: a, options: {path: "[[ .dir ]]/a.txt"}}
        """)

    assert load(path).tools[0].options["path"] == "out/a.txt"


def test_vars_may_use_other_vars(write, load):
    path = write("c.yaml", """
        vars:
          url: https://[[ host ]]:[[ port ]]
          host: "[[ name ]].example.com"
          name: api
          port: 8443
        tools:
        - {name: greeter, instanceID: a, options: {path: "[[ url ]]"}}
        """)

    config = load(path)

    assert config.vars["url"] == "https://api.example.com:8443"
    assert config.tools[0].options["path"] == "https://api.example.com:8443"


def test_a_loop_of_vars_is_named_in_full(write, problem):
    path = write("c.yaml", """
        vars:
          ok: 1
          a: "[[ b ]]"
          b: x-[[ c ]]
          c: "[[ .a ]]"
        tools:
        - {name: greeter, instanceID: a, options: {path: "[[ a ]]"}}
        """)

    issue = problem(path)

    assert (issue.file, issue.line, issue.field) == (str(path), 3, "vars.a")
    assert "a -> b -> c -> a" in issue.message


def test_a_missing_var_is_named_with_its_line_and_the_defined_vars(write, problem):
    path = write("c.yaml", """
        vars:
          region: eu
          zone: b
        tools:
        - name: greeter
          instanceID: a
          options:
            path: "[[ regoin ]]/a.txt"
        """)

    issue = problem(path)

    assert (issue.file, issue.line, issue.field) == (str(path), 8, "tools[0].options.path")
    assert "'regoin'" in issue.message
    assert "defined vars: region, zone" in issue.message


def test_a_missing_var_in_a_multi_line_string_points_at_its_own_line(write, problem):
    path = write("c.yaml", """
        tools:
        - name: anything
          instanceID: a
          options:
            script: |
              echo one
              echo [[ two ]]
        """)

    issue = problem(path)

    assert (issue.file, issue.line, issue.field) == (str(path), 7, "tools[0].options.script")


def test_a_missing_var_used_by_a_var(write, problem):
    path = write("c.yaml", """
        vars:
          a: "[[ nothere ]]"
        tools:
        - {name: greeter, instanceID: a, options: {path: "[[ a ]]"}}
        """)

    issue = problem(path)

    assert (issue.file, issue.line, issue.field) == (str(path), 2, "vars.a")
    assert "'nothere'" in issue.message


def test_env_reads_the_environment_in_both_spellings(write, load):
    path = write("c.yaml", """
        vars:
          token: [[ env "TOKEN" ]]
        tools:
        - name: anything
          instanceID: a
          options:
            token: "[[ token ]]"
            user: [[ env USER_NAME ]]
            port: [[ env PORT ]]
        """)

    options = load(path, {"TOKEN": "s3cret", "USER_NAME": "ada", "PORT": "8080"}).tools[0].options

    assert options == {"token": "s3cret", "user": "ada", "port": 8080}


def test_an_unset_env_var_is_named_with_its_line(write, problem):
    path = write("c.yaml", """
        tools:
        - name: anything
          instanceID: a
          options:
            token: [[ env GITHUB_TOKEN ]]
        """)

    issue = problem(path, {"OTHER": "x"})

    assert (issue.file, issue.line, issue.field) == (str(path), 5, "tools[0].options.token")
    assert "GITHUB_TOKEN is not set" in issue.message


def test_an_empty_env_var_is_an_error_too(write, problem):
    path = write("c.yaml", """
        tools:
        - name: anything
          instanceID: a
          options:
            token: "[[ env 'GITHUB_TOKEN' ]]"
        """)

    issue = problem(path, {"GITHUB_TOKEN": ""})

    assert (issue.file, issue.line, issue.field) == (str(path), 5, "tools[0].options.token")
    assert "GITHUB_TOKEN is set but empty" in issue.message


def test_vars_render_in_the_config_section(write, load):
    path = write("c.yaml", """
        vars:
          file: team.state
        config:
          state:
            backend: local
            options: {stateFile: "[[ file ]]"}
        tools:
        - {name: greeter, instanceID: a, options: {path: a}}
        """)

    assert load(path).state.options == {"stateFile": "team.state"}


def test_every_missing_var_is_reported_at_once(write, problems):
    path = write("c.yaml", """
        tools:
        - {name: greeter, instanceID: a, options: {path: "[[ one ]]"}}
        - {name: greeter, instanceID: b, options: {path: "[[ two ]]"}}
        """)

    issues = problems(path)

    assert [(i.line, i.field) for i in issues] == [(2, "tools[0].options.path"), (3, "tools[1].options.path")]


def test_blocks_comments_and_yaml_nested_lists_live_side_by_side(write, load):
    path = write("c.yaml", """
        vars:
          debug: true
        tools:
        - name: anything
          instanceID: a
          options:
            args: [% if debug %]--verbose[% endif %] [# only when debugging #]
            matrix: [[1, 2], [3]]
            pairs: [[1, 2]]
        """)

    options = load(path).tools[0].options

    assert options["args"] == "--verbose"
    assert options["matrix"] == [[1, 2], [3]]  # `[[` followed by a digit is YAML, not a template
    assert options["pairs"] == [[1, 2]]


def test_a_value_reaching_for_python_internals_is_refused_on_its_line(write, problems):
    # Config values are rendered in the same sandbox as CI files and templates: a test whether an unsafe
    # attribute "is defined" fails as loudly as using it.
    path = write("c.yaml", """
        vars:
          name: web
        tools:
        - name: anything
          instanceID: a
          options:
            one: "[[ name.__class__.__mro__ ]]"
            two: "[% if lipsum.__globals__ is defined %]yes[% endif %]"
        """)

    issues = problems(path)

    assert [(i.line, i.field) for i in issues] == [(7, "tools[0].options.one"), (8, "tools[0].options.two")]
    assert all("unsafe access refused by the template sandbox" in i.message for i in issues)


def test_a_var_named_env_is_refused_where_it_is_defined(write, problems):
    """A var `env` would hide the function: `[[ env "X" ]]` would call a string."""
    path = write("c.yaml", """
        vars:
          region: eu
          env: prod
        tools:
        - name: anything
          instanceID: a
          options:
            token: [[ env "TOKEN" ]]
            where: "[[ region ]]"
        """)

    (issue,) = problems(path, {"TOKEN": "t"})

    assert (issue.file, issue.line, issue.field) == (str(path), 3, "vars.env")
    assert "`env` is a reserved name" in issue.message and "rename this var" in issue.message
