"""Rendering `[[ var ]]` and `[[ env "NAME" ]]` in config values.

The engine is jinja2 with `[[`/`]]` for expressions, `[%`/`%]` for blocks and `[#`/`#]` for comments, so
`{{ }}` (GitHub Actions, Helm) and `${{ a.b.outputs.c }}` (output references) pass through untouched.
DevStream's Go-template spellings are accepted: `[[ .var ]]` and `[[ env NAME ]]`.

Values are rendered one string at a time, after YAML parsing, so every error keeps its line. A plain
(unquoted) scalar that is a single expression takes the variable's own value (`port: [[ port ]]` gives the
int 8080, `labels: [[ labels ]]` a map); when that value, or the result of a scalar that mixes text and
expressions, is text, it is typed again as YAML would type it in place, as DevStream's textual rendering
did (`[[ env PORT ]]` gives an int). A quoted scalar always stays a string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2 import meta

from devstream.config.limits import Limits, non_finite
from devstream.config.source import FieldPath, Part, has_template, plain_scalar, restore, swap, walk_strings
from devstream.errors import Issue, TemplateFailure
from devstream.gotemplate import leading_dots, register, translate
from devstream.templates import SandboxViolation, sandboxed_environment

__all__ = ["RESERVED_NAMES", "Renderer", "part_from_data", "reserved_var", "render_tree",
           "resolve_vars"]

# Names templates call as functions: a var of that name would hide the function (`[[ env "X" ]]` would call
# the var's value), so defining one is refused where it is written.
RESERVED_NAMES = ("env",)


def reserved_var(name: str) -> str | None:
    """Why `name` cannot be a var, or None when it can."""
    if name not in RESERVED_NAMES:
        return None
    return (f"`{name}` is a reserved name: it is the function of [[ {name} \"NAME\" ]], which reads an "
            f"environment variable; rename this var (e.g. `{name}_name`)")

_BLOCK = re.compile(r"(\[%)(.*?)(%\])", re.S)
_WHOLE = re.compile(r"\[\[-?(.*?)-?\]\]", re.S)


def _finalize(value: Any) -> Any:
    # Text for non-strings as YAML/JSON would write them, not Python's repr (True, None, {'a': 1}).
    if isinstance(value, bool | dict | list) or value is None:
        return json.dumps(value)
    return value


def _go_spelling(text: str) -> str:
    """DevStream's Go-template spellings turned into jinja's (see devstream/gotemplate.py); a `.name` in
    jinja's own `[% %]` blocks is the var `name` too."""
    return translate(_BLOCK.sub(lambda m: m.group(1) + leading_dots(m.group(2)) + m.group(3), text))


class Renderer:
    """Renders strings against a context of vars; `env` reads from the given environment."""

    def __init__(self, environ: Mapping[str, str], limits: Limits | None = None):
        self.environ = environ
        self.limits = limits or Limits()
        self.jinja = sandboxed_environment(brackets=True, finalize=_finalize)  # config values are templates too
        self.jinja.globals["env"] = self._env
        register(self.jinja)  # printf, default, eq... as translated Go templates call them

    def _env(self, name: str) -> str:
        value = self.environ.get(name)
        if value is None:
            raise TemplateFailure(f"environment variable {name} is not set; set it (export {name}=...) "
                                  f"before running dtm, or stop using [[ env {name} ]]", name)
        if value == "":
            raise TemplateFailure(f"environment variable {name} is set but empty; give it a value "
                                  f"(export {name}=...)", name)
        return value

    def names(self, text: str) -> set[str]:
        """The variables a template uses (without `env`)."""
        try:
            ast = self.jinja.parse(_go_spelling(text))
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateFailure(f"template syntax error in {text.strip()!r}: {exc.message}") from None
        return set(meta.find_undeclared_variables(ast)) - set(self.jinja.globals)

    def _bounded(self, template: jinja2.Template, context: Mapping[str, Any]) -> str:
        """The template's text, stopped as soon as it passes DTM_MAX_VALUE_BYTES (loops in loops would
        otherwise build gigabytes before any check could see them)."""
        limit = self.limits.value_bytes
        pieces: list[str] = []
        size = 0
        for piece in template.generate(**context):
            size += len(piece)
            if size > limit.value:
                raise TemplateFailure(limit.exceeded("the template renders to a value that"))
            pieces.append(piece)
        return "".join(pieces)

    def render(self, text: str, context: Mapping[str, Any], *, plain: bool) -> Any:
        """The rendered value of `text` (delimiters already restored)."""
        for name in sorted(self.names(text)):
            if name not in context:
                defined = ", ".join(sorted(context)) or "none"
                raise TemplateFailure(f"variable '{name}' is not defined (defined vars: {defined}); define it "
                                      f"under `vars:` or fix the spelling", name)
        source = _go_spelling(text)
        try:
            whole = _WHOLE.fullmatch(source)
            if plain and whole and "[[" not in whole.group(1) and "]]" not in whole.group(1):
                value = self.jinja.compile_expression(whole.group(1), undefined_to_none=False)(**context)
                if isinstance(value, jinja2.Undefined):
                    value._fail_with_undefined_error()
                # Text (an env var, a quoted var) is typed as if written in place, as DevStream did.
                return plain_scalar(value) if isinstance(value, str) else value
            rendered = self._bounded(self.jinja.from_string(source), context)
        except TemplateFailure:
            raise
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateFailure(f"template syntax error in {text.strip()!r}: {exc.message}") from None
        except jinja2.UndefinedError as exc:
            raise TemplateFailure(f"cannot render {text.strip()!r}: {exc.message}") from None
        except SandboxViolation as exc:
            raise TemplateFailure(f"cannot render {text.strip()!r}: unsafe access refused by the template "
                                  f"sandbox: {exc}") from None
        except Exception as exc:  # a filter or an operator failing on the vars' values
            raise TemplateFailure(f"cannot render {text.strip()!r}: {type(exc).__name__}: {exc}") from None
        # A plain scalar has no surrounding spaces in YAML; the rendered text keeps that rule.
        return plain_scalar(rendered.strip()) if plain else rendered


def _unfit(value: Any, limits: Limits) -> str | None:
    """Why a rendered value cannot stand in a config (JSON has no NaN; a value has a size limit), or None."""
    if non_finite(value):
        return ("the template renders to a value with NaN or infinity, which is not a number JSON can hold "
                "(options are JSON); make it a finite number, or quote the template to keep the text")
    longest = max((len(text) for _, text in walk_strings(value)), default=0)
    if longest > limits.value_bytes.value:
        return limits.value_bytes.exceeded(f"the template renders to a value of {longest:,} characters, which")
    return None


def part_from_data(data: Any, file: str) -> Part:
    """A Part for Python data given directly (no file, no lines); templated strings count as plain."""

    def swapped(value: Any) -> Any:
        if isinstance(value, str):
            return swap(value)
        if isinstance(value, dict):
            return {k: swapped(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swapped(v) for v in value]
        return value

    return Part(file, swapped(data), plain_default=True)


def render_tree(value: Any, path: FieldPath, part: Part, renderer: Renderer,
                context: Mapping[str, Any], issues: list[Issue]) -> Any:
    """A copy of `value` (found at `path` in `part`) with every templated string rendered.

    Failures are appended to `issues`, located at the line of the string; the raw string is kept.
    """
    if isinstance(value, str):
        if not has_template(value):
            return value
        try:
            rendered = renderer.render(restore(value), context, plain=part.is_plain(path))
        except TemplateFailure as failure:
            line = part.line_mentioning(path, failure.word) if failure.word else None
            issues.append(part.issue(failure.message, path, line))
            return value
        problem = _unfit(rendered, renderer.limits)
        if problem:
            issues.append(part.issue(problem, path))
            return value
        return rendered
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            at = (*path, k)
            rendered = render_tree(v, at, part, renderer, context, issues)
            out[_render_key(k, at, part, renderer, context, issues, out)] = rendered
        return out
    if isinstance(value, list):
        return [render_tree(v, (*path, i), part, renderer, context, issues) for i, v in enumerate(value)]
    return value


def _render_key(key: Any, path: FieldPath, part: Part, renderer: Renderer, context: Mapping[str, Any],
                issues: list[Issue], done: Mapping[Any, Any]) -> Any:
    """A map key with templates rendered (as DevStream rendered the whole file, keys included); always text.
    A key that renders to one already in the map is reported, not silently merged."""
    # The parser keeps keys with their delimiters as written (restored), so look for those.
    # "[" first: every delimiter has one, and swapping costs three regex passes (most keys have none).
    if not isinstance(key, str) or "[" not in key or not has_template(swap(key)):
        return key
    try:
        rendered = str(renderer.render(key, context, plain=False)).strip()
    except TemplateFailure as failure:
        issues.append(part.issue(failure.message, path))
        return key
    if rendered in done or not rendered:
        why = "is empty" if not rendered else f"is {rendered!r}, a key the map already has"
        issues.append(part.issue(f"the key {key!r} rendered {why}; give each key a distinct value", path))
        return key
    return rendered


VarSource = tuple[Part, FieldPath, Any]
"""Where a var was defined and its raw value."""


def resolve_vars(defined: Mapping[str, VarSource], renderer: Renderer,
                 context: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], list[Issue]]:
    """Render vars that refer to other vars, each after the vars it uses; loops are reported in full.

    `context` holds values already known (they are not rendered again and lose to `defined`).
    """
    issues: list[Issue] = []
    resolved: dict[str, Any] = dict(context or {})
    resolved = {k: v for k, v in resolved.items() if k not in defined}
    failed: set[str] = set()
    uses: dict[str, set[str]] = {}
    for name, (part, path, raw) in defined.items():
        uses[name] = set()
        if (why := reserved_var(name)) is not None:
            issues.append(part.issue(why, path))
            failed.add(name)
            continue
        for sub, text in walk_strings(raw, path):
            if not has_template(text):
                continue
            try:
                uses[name] |= renderer.names(restore(text))
            except TemplateFailure as failure:
                issues.append(part.issue(failure.message, sub))
                failed.add(name)

    def visit(name: str, stack: list[str]) -> None:
        if name in resolved or name in failed:
            return
        if name in stack:
            loop = stack[stack.index(name):] + [name]
            part, path, _ = defined[loop[0]]
            issues.append(part.issue(f"vars refer to each other in a loop: {' -> '.join(loop)}; "
                                     f"give one of them a value that does not use the others", path))
            failed.update(loop)
            return
        stack.append(name)
        for used in sorted(uses[name]):
            if used in defined:
                visit(used, stack)
        stack.pop()
        if name in failed:
            return
        if any(u in failed for u in uses[name]):
            failed.add(name)  # already reported where the used var failed
            return
        part, path, raw = defined[name]
        before = len(issues)
        value = render_tree(raw, path, part, renderer, resolved, issues)
        if len(issues) > before:
            failed.add(name)
        else:
            resolved[name] = value

    for name in defined:
        visit(name, [])
    return resolved, issues

