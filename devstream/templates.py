"""The one place dtm makes jinja2 environments: every template it renders runs in jinja2's sandbox.

Templates are untrusted input: CI files and repository templates come from URLs, git remotes and, by
default, a third party's repository, and even a config's own `[[ ]]` values may be pasted from elsewhere.
A plain `jinja2.Environment` lets a template reach Python's internals
(`{{ lipsum.__globals__['os'].system('...') }}`) and so run commands on the machine that runs dtm; the
sandbox refuses any attribute that starts with `_`, a function's globals, and calls that mutate the data
handed in. Here the refusal is always an error (jinja2's sandbox alone lets `x.__class__ is defined` quietly
answer false), and `failure` names the template and its line.

Two spellings exist: `{{ }}` (the file plugin's templates, as jinja2 writes them) and DevStream's
`[[ ]]` (config values, CI files, repository templates), which lets `{{ }}` and `${{ }}` of GitHub Actions
and Helm pass through untouched.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any, NoReturn

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["BRACKETS", "SandboxViolation", "failure", "sandboxed_environment", "template_line"]

BRACKETS: dict[str, str] = {
    "variable_start_string": "[[",
    "variable_end_string": "]]",
    "block_start_string": "[%",
    "block_end_string": "%]",
    "comment_start_string": "[#",
    "comment_end_string": "#]",
}
"""DevStream's delimiters: `[[ expr ]]`, `[% block %]`, `[# comment #]`."""

SandboxViolation = SecurityError
"""What an unsafe access in a template raises."""

STRING_TEMPLATE = "<template>"
"""The file name jinja2 gives a template made from a string, as its traceback frames show it."""


class _Sandbox(ImmutableSandboxedEnvironment):
    """jinja2's sandbox (with the data handed in read-only), where an unsafe access fails at once."""

    def unsafe_undefined(self, obj: Any, attribute: str) -> NoReturn:
        raise SandboxViolation(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")


def sandboxed_environment(*, brackets: bool = False, loader: jinja2.BaseLoader | None = None,
                          finalize: Callable[[Any], Any] | None = None) -> jinja2.Environment:
    """A sandboxed environment for templates dtm renders: undefined names are errors, output is not escaped
    (the output is any text file, not HTML), a final newline is kept. `brackets` selects DevStream's `[[ ]]`
    delimiters; `loader` lets `{% include %}` find templates; `finalize` turns values into text."""
    options: dict[str, Any] = dict(BRACKETS) if brackets else {}
    if finalize is not None:
        options["finalize"] = finalize
    return _Sandbox(loader=loader, undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False,
                    **options)


def template_line(exc: BaseException, filenames: Callable[[str], bool]) -> tuple[str, int] | None:
    """(file, line) in the template where `exc` was raised: jinja2 rewrites tracebacks so that template lines
    appear as frames of the template's file name; `filenames` says which names are templates'."""
    if isinstance(exc, jinja2.TemplateSyntaxError) and exc.lineno:
        return exc.filename or exc.name or STRING_TEMPLATE, exc.lineno
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if filenames(f.filename) and f.lineno]
    if not frames:
        return None
    return frames[-1].filename, int(frames[-1].lineno or 0)


def failure(exc: BaseException) -> str:
    """What went wrong rendering a template, in words fit for an error message (without the location)."""
    if isinstance(exc, SandboxViolation):
        return f"unsafe access refused by the template sandbox: {exc} (check where this template comes from)"
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return exc.message or str(exc)
    if isinstance(exc, jinja2.TemplateError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
