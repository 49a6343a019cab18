"""The house rules that code review alone would miss."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

CORE = ["devstream.config", "devstream.graph", "devstream.plan", "devstream.outputs", "devstream.state",
        "devstream.plugin", "devstream.engine", "devstream.executor", "devstream.live", "devstream.state_view",
        "devstream.progress", "devstream.tool_options", "devstream.cli.main", "devstream.plugins.noop",
        "devstream.plugins.file", "devstream.prefect_boundary.state_store", "devstream.prefect_boundary.server",
        "devstream.prefect_boundary.server_watch"]


def test_the_core_never_imports_prefect():
    # The CLI imports prefect only when a flow must run, so `dtm plan`, `validate` and friends start fast.
    code = "import sys\n" + "".join(f"import {m}\n" for m in CORE) + "print('prefect' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_prefect_facing_folders_install_inside_the_one_package():
    import devstream.flows
    import devstream.plugins
    import devstream.tasks

    for module, folder in ((devstream.flows, "flows"), (devstream.tasks, "tasks"), (devstream.plugins, "plugins")):
        assert module.__file__ is not None and f"/{folder}/" in module.__file__


def test_the_plugin_sdk_exports_what_plugins_need():
    import devstream.plugin as sdk

    for name in ("Plugin", "PluginContext", "TransientError", "PermanentError", "http_client", "raise_for_status"):
        assert name in sdk.__all__ and hasattr(sdk, name)


def test_the_package_type_checks(tmp_path):
    """mypy over the package as it installs: flows/, tasks/ and plugins/ live outside devstream/ in the
    repository, so they are linked into a tree shaped like the installed package first. The plugin SDK
    (devstream.plugin, devstream.testing, devstream.errors) is held to strict mode by pyproject's overrides."""
    root = Path(__file__).resolve().parent.parent
    package = tmp_path / "devstream"
    package.mkdir()
    for entry in (root / "devstream").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for folder in ("flows", "tasks", "plugins"):
        (package / folder).symlink_to(root / folder)
    command = [sys.executable, "-m", "mypy", "-p", "devstream", "--config-file", str(root / "pyproject.toml"),
               "--cache-dir", str(tmp_path / "cache")]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def _plain_jinja2_constructions(source: str) -> list[int]:
    """Lines where a jinja2 Environment or Template is built directly (a call), not through the sandbox factory.
    A type annotation such as `jinja2.Template` is not a construction."""
    import ast

    tree = ast.parse(source)
    unsafe = {"Environment", "Template"}
    imported = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and node.module == "jinja2" for alias in node.names if alias.name in unsafe}
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (isinstance(func, ast.Attribute) and func.attr in unsafe and isinstance(func.value, ast.Name)
                and func.value.id == "jinja2") or (isinstance(func, ast.Name) and func.id in imported):
            lines.append(node.lineno)
    return lines


def test_the_template_check_sees_constructions_and_not_annotations():
    assert _plain_jinja2_constructions("import jinja2\nenv = jinja2.Environment()\n") == [2]
    assert _plain_jinja2_constructions("from jinja2 import Template as T\nT('x')\n") == [2]
    assert _plain_jinja2_constructions("import jinja2\ndef f(t: jinja2.Template) -> None: ...\n") == []


def test_every_template_renders_through_the_sandbox_factory():
    # Templates are untrusted input: a plain jinja2 Environment lets one run commands (issue 8, item 1).
    root = Path(__file__).resolve().parent.parent
    offenders = [f"{p.relative_to(root)}:{line}" for folder in ("devstream", "plugins", "flows", "tasks")
                 for p in sorted((root / folder).rglob("*.py")) if p.name != "templates.py"
                 for line in _plain_jinja2_constructions(p.read_text(encoding="utf-8"))]
    assert offenders == [], "render templates with devstream.templates' sandboxed environment instead"


def _drawn_tree(docstring: str) -> dict[str, str]:
    """{class: parent} as errors.py's docstring draws it (a root's parent is the name it stands under)."""
    import re

    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in docstring.splitlines():
        match = re.match(r"^(\s*)(?:[│ ]*[├└]── )?([A-Z]\w+)(?:\s|$)", line)
        if not match or not re.search(r"(Error|Exception|Failed|Failure|Exceeded|Interrupted)\b", match.group(2)):
            continue
        depth = len(line) - len(line.lstrip(" │├└─"))
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[match.group(2)] = stack[-1][1]
        stack.append((depth, match.group(2)))
    return parents


def test_every_exception_lives_in_errors_py_and_its_drawn_tree_is_true():
    import ast
    import inspect

    import devstream.errors as errors

    root = Path(__file__).resolve().parent.parent
    elsewhere = [f"{p.relative_to(root)}:{node.lineno} {node.name}"
                 for folder in ("devstream", "plugins", "flows", "tasks") for p in sorted((root / folder).rglob("*.py"))
                 if p != root / "devstream" / "errors.py"
                 for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
                 if isinstance(node, ast.ClassDef) and not node.name.startswith("_")
                 and any(isinstance(b, ast.Name) and b.id.endswith(("Error", "Exception", "Failed"))
                         or isinstance(b, ast.Attribute) and b.attr.endswith(("Error", "Exception"))
                         for b in node.bases)]
    assert elsewhere == [], "define exception classes in devstream/errors.py (and draw them in its tree)"

    classes = {name: cls for name, cls in inspect.getmembers(errors, inspect.isclass)
               if issubclass(cls, BaseException) and cls.__module__ == errors.__name__}
    true_parents = {name: cls.__bases__[0].__name__ for name, cls in classes.items()}
    drawn = _drawn_tree(errors.__doc__ or "")
    drawn_parents = {name: drawn.get(name, "Exception") for name in set(classes) | set(drawn)}
    assert drawn_parents == true_parents


# Speaking HTTP: an HTTP library, or the SDK's client (devstream.plugin.http).
_HTTP_MODULES = ("httpx", "urllib.request", "http.client", "requests", "urllib3", "aiohttp", "devstream.plugin.http")
# Talking to Prefect: its API's environment variable, its port, or one of its REST routes, in code (docstrings
# and comments do not count).
_PREFECT_API = re.compile(r"PREFECT_API_(URL|KEY)|:4200\b|/api/?$|/(health|flow_runs|task_runs|artifacts|variables|"
                          r"deployments|concurrency_limits|work_pools|block_documents|events|logs)\b")


def _talks_to_prefect_over_http(source: str) -> list[str]:
    """What in `source` is HTTP toward Prefect: empty unless it both imports an HTTP library and names Prefect's
    API in a string that is not a docstring."""
    import ast

    tree = ast.parse(source)
    http = sorted({alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
                   if alias.name.startswith(_HTTP_MODULES)}
                  | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
                     and node.module.startswith(_HTTP_MODULES)})
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    strings = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
               and isinstance(node.value, str) and id(node) not in docstrings]
    prefect = sorted({text for text in strings if _PREFECT_API.search(text)})
    return http + prefect if http and prefect else []


def test_the_prefect_http_check_sees_requests_and_not_mentions():
    assert _talks_to_prefect_over_http('import httpx\nhttpx.get(os.environ["PREFECT_API_URL"] + "/health")\n')
    assert _talks_to_prefect_over_http('from urllib.request import urlopen\nurlopen(f"{url}/flow_runs/filter")\n')
    assert _talks_to_prefect_over_http('from devstream.plugin.http import http_client\nu = "http://h:4200/api"\n')
    assert not _talks_to_prefect_over_http('"""Set PREFECT_API_URL."""\nimport httpx\nhttpx.get(u)\n')
    assert not _talks_to_prefect_over_http('import os\nos.environ.get("PREFECT_API_URL")\n')


def test_only_the_prefect_boundary_talks_to_prefect_over_http():
    """devstream/prefect_boundary/ says why dtm talks REST to Prefect; the rest of the core asks it to."""
    root = Path(__file__).resolve().parent.parent
    boundary = root / "devstream" / "prefect_boundary"
    offenders = {str(p.relative_to(root)): found for p in sorted((root / "devstream").rglob("*.py"))
                 if boundary not in p.parents
                 and (found := _talks_to_prefect_over_http(p.read_text(encoding="utf-8")))}
    assert offenders == {}, "move HTTP calls to Prefect into devstream/prefect_boundary/"
    assert all(_talks_to_prefect_over_http((boundary / name).read_text(encoding="utf-8"))
               for name in ("rest.py", "server.py", "server_watch.py"))


# Modules stay small (DEVELOPERS.md): one over this many lines says at its top why it is not split.
MODULE_LINES = 400


def _long_without_a_reason(text: str) -> bool:
    """A module over MODULE_LINES lines whose docstring or opening comments do not say why it is that long."""
    lines = text.splitlines()
    return len(lines) > MODULE_LINES and f"{MODULE_LINES} lines" not in "\n".join(lines[:40])


def test_the_long_module_check_asks_for_a_reason_only_from_long_modules():
    long_body = "\n".join(f"x{i} = {i}" for i in range(MODULE_LINES + 1))
    assert _long_without_a_reason(long_body)
    assert not _long_without_a_reason(f'"""Past {MODULE_LINES} lines: one table of rules."""\n' + long_body)
    assert not _long_without_a_reason("x = 1\n")


def test_no_module_is_over_400_lines_without_a_reason_at_its_top():
    root = Path(__file__).resolve().parent.parent
    long_ones = [str(path.relative_to(root))
                 for folder in ("devstream", "plugins", "flows", "tasks", "tests", "benchmarks", "deployments")
                 for path in sorted((root / folder).rglob("*.py"))
                 if _long_without_a_reason(path.read_text(encoding="utf-8"))]
    assert long_ones == [], f"split these along their seams, or say at the top why not ({MODULE_LINES} lines)"


def _private_imports(source: str) -> list[str]:
    """Names imported from another module that the module keeps private (a leading underscore; dunders such as
    `__version__` are public)."""
    import ast

    return [f"{node.module}.{alias.name}" for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)
            for alias in node.names if alias.name.startswith("_") and not alias.name.startswith("__")]


def test_the_private_import_check_sees_underscored_names_only():
    assert _private_imports("from a.b import c, _d\n") == ["a.b._d"]
    assert _private_imports("def f():\n    from a import _g\n") == ["a._g"]
    assert _private_imports("from devstream import __version__\nfrom a import b as _b\n") == []


def test_no_module_imports_another_modules_private_names():
    """What one module (or a benchmark) needs from another is public there, named for what it does and documented.
    (Tests may reach into a module to break it on purpose.)"""
    root = Path(__file__).resolve().parent.parent
    offenders = {str(path.relative_to(root)): found
                 for folder in ("devstream", "plugins", "flows", "tasks", "benchmarks")
                 for path in sorted((root / folder).rglob("*.py"))
                 if (found := _private_imports(path.read_text(encoding="utf-8")))}
    assert offenders == {}, "make these public in the module that defines them (a name that says what it does)"


def _patches_of_http_client(source: str) -> list[int]:
    """Lines that replace dtm's `http_client` through a patch (`monkeypatch.setattr(module, "http_client", ...)`,
    `mock.patch("devstream.plugin.http.http_client")`) instead of handing a client factory to what they test."""
    import ast

    def named(call: ast.Call) -> str:  # `setattr` of `monkeypatch.setattr`, `patch` of `mock.patch`
        return str(getattr(call.func, "attr", getattr(call.func, "id", "")))

    return [node.lineno for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and named(node) in {"setattr", "patch", "object"}
            and any(isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.endswith("http_client")
                    for arg in node.args)]


def test_the_http_client_patch_check_sees_patches_and_not_factories():
    assert _patches_of_http_client('monkeypatch.setattr(plugin_http, "http_client", patched)\n') == [1]
    assert _patches_of_http_client('with mock.patch("devstream.plugin.http.http_client"):\n    pass\n') == [1]
    assert _patches_of_http_client('run.apply(config_path=p, client_factory=partial(http_client, transport=t))\n') == []


def test_tests_hand_the_http_client_factory_over_instead_of_patching_it():
    """Workspace.open, the CLI's functions and PluginContext take `client_factory=`; a test passes its stand-in's."""
    root = Path(__file__).resolve().parent
    offenders = {str(path.relative_to(root)): lines for path in sorted(root.rglob("*.py"))
                 if (lines := _patches_of_http_client(path.read_text(encoding="utf-8")))}
    assert offenders == {}


def test_the_slow_files_handed_out_first_exist():
    """tests/conftest.py's SLOW_FILES go first to the workers; a file renamed or removed must leave the list too."""
    import ast

    conftest = Path(__file__).resolve().parent / "conftest.py"
    (listed,) = [ast.literal_eval(node.value) for node in ast.parse(conftest.read_text(encoding="utf-8")).body
                 if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "SLOW_FILES"]
    assert listed and [name for name in listed if not (conftest.parent / name).is_file()] == []
