"""DevStream's Go-template spellings in `[[ ]]`, turned into jinja2 for dtm's sandbox to render.

DevStream rendered configs and CI files with Go's text/template (delimiters `[[ ]]`). What its users wrote
renders the same in dtm: the leading-dot form (`[[ .app ]]`, `[[ .Repo.Name ]]`), `printf`, `default`
(Sprig's: the value unless it is empty), `eq`/`ne`/`lt`/`le`/`gt`/`ge`, `and`/`or`/`not`, `len`, `index`,
`print`, `env`, pipelines (`[[ .name | printf "%s-app" ]]`), `[[ if ]]`/`[[ else if ]]`/`[[ else ]]`/
`[[ end ]]`, `[[ range .list ]]` (dot is the item inside; `$i, $e :=` too; a map's values in key order),
`[[ with ]]` and `$var :=`.

This is a translator, not a second renderer: `translate` rewrites each Go-shaped action into jinja syntax
(functions become calls of the `GO_FUNCTIONS` below, registered on the same sandboxed environment), so
devstream/templates.py's sandbox stays the one thing that evaluates a template and an unsafe access still
fails there. An action that is not Go-shaped (jinja's own `[[ name | upper ]]`) is left as it is. What Go
has and dtm does not (`template`, `define`, `block`, `call`, `html`, `js`, `urlquery`, `slice`, unknown
functions) is a TemplateSyntaxError naming the line, with a hint. The functions themselves, as Go and Sprig
define them, are in gotemplate_functions.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import jinja2

from devstream.gotemplate_functions import GO_FUNCTIONS, PREFIX, register

__all__ = ["GO_FUNCTIONS", "leading_dots", "register", "translate"]

_ACTION = re.compile(r"\[\[(-?)(.*?)(-?)\]\]", re.S)
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|`[^`]*`|'(?:[^'\\\n]|\\.)*')
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<field>(?:\.[A-Za-z_]\w*)+)
  | (?P<dot>\.)
  | (?P<var>\$\w*(?:\.[A-Za-z_]\w*)*)
  | (?P<ident>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)
  | (?P<declare>:=)
  | (?P<punct>[()|,=])
""", re.X)
_KEYWORDS = {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}
_UNSUPPORTED = {"call": "it calls a function value", "html": "it escapes HTML", "js": "it escapes JavaScript",
                "urlquery": "it escapes a URL query", "slice": "it slices", "println": "it adds a line break",
                "template": "it runs another template", "define": "it defines a template",
                "block": "it defines a template", "break": "it leaves a loop", "continue": "it skips an item"}


class _NotGo(Exception):
    """The action is not Go-shaped: leave it to jinja."""


# -- the translator -------------------------------------------------------------------------------------------

@dataclass
class _Token:
    kind: str
    text: str


@dataclass
class _Scope:
    """A block: `kind` closes it (`endif`, `endfor`...); `dot` is what `.` means inside (None: the vars)."""

    kind: str
    dot: str | None
    close: str = ""
    aliases: dict[str, str] = field(default_factory=dict)


def _tokens(text: str) -> list[_Token]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _NotGo
        pos = m.end()
        kind = m.lastgroup or ""
        if kind != "space":
            out.append(_Token(kind, m.group()))
    return out


class _Translator:
    def __init__(self, env_function: str | None):
        self.scopes: list[_Scope] = []
        self.loops = 0
        self.env_function = env_function

    # operands and pipelines
    def _dot(self) -> str | None:
        for scope in reversed(self.scopes):
            if scope.dot is not None:
                return scope.dot
        return None

    def _var(self, name: str) -> str:
        for scope in reversed(self.scopes):
            if name in scope.aliases:
                return scope.aliases[name]
        return f"dtm_var_{name}"

    @staticmethod
    def _fields(base: str, chain: str) -> str:
        return base + "".join(f"[{part!r}]" for part in chain.split(".") if part)

    def _root_field(self, chain: str) -> str:
        first, _, rest = chain.lstrip(".").partition(".")
        return self._fields(first, rest)

    def operand(self, tok: _Token) -> str:
        if tok.kind == "string":
            raw = tok.text
            if raw.startswith("`"):
                return repr(raw[1:-1])
            return repr(json.loads('"' + raw[1:-1].replace("\\'", "'") + '"'))
        if tok.kind == "number":
            return tok.text
        if tok.kind == "field":
            dot = self._dot()
            return self._fields(dot, tok.text) if dot is not None else self._root_field(tok.text)
        if tok.kind == "dot":
            dot = self._dot()
            if dot is None:
                raise jinja2.TemplateSyntaxError(
                    "`.` alone (all the vars at once) is not something dtm renders; name a var: [[ .name ]]", 1)
            return dot
        if tok.kind == "var":
            name, _, rest = tok.text[1:].partition(".")
            if not name:  # `$`: the vars, whatever the dot is
                return self._root_field(rest) if rest else "dtm_no_such_var"
            return self._fields(self._var(name), rest)
        if tok.kind == "ident":
            if tok.text in ("true", "false"):
                return tok.text
            if tok.text == "nil":
                return "none"
            first, _, rest = tok.text.partition(".")
            if first in GO_FUNCTIONS or first in _UNSUPPORTED or first == "env":
                return self.command([tok])
            return self._fields(first, rest)  # DevStream's bare `[[ name ]]`
        raise _NotGo

    def command(self, toks: list[_Token], piped: str | None = None) -> str:
        """One command of a pipeline: a function with its arguments (the piped value last), or an operand."""
        head = toks[0]
        if head.kind == "ident" and (head.text in GO_FUNCTIONS or head.text in _UNSUPPORTED or head.text == "env"):
            name = head.text
            if name in _UNSUPPORTED or name in ("range", "range_pairs"):
                why = _UNSUPPORTED.get(name, "it is a keyword")
                raise jinja2.TemplateSyntaxError(
                    f"Go's `{name}` is not rendered by dtm ({why}); dtm renders {_known()}", 1)
            args = self.arguments(toks[1:], bare_names_are_text=name == "env")
            if piped is not None:
                args.append(piped)
            if name == "env":
                if self.env_function is None:
                    raise jinja2.TemplateSyntaxError("`env` is not available in this template", 1)
                return f"{self.env_function}({', '.join(args)})"
            return f"{PREFIX}{name}({', '.join(args)})"
        if head.kind == "ident" and any(t.kind in ("field", "var", "string", "dot") for t in toks[1:2]):
            raise jinja2.TemplateSyntaxError(
                f"`{head.text}` is not a function dtm renders in [[ ]]; dtm renders {_known()} "
                f"(or jinja2's own syntax: [[ name | upper ]])", 1)
        if piped is not None:
            raise _NotGo  # `value | name`: a jinja filter, not a Go function
        args = self.arguments(toks)
        if len(args) != 1:
            raise _NotGo
        return args[0]

    def arguments(self, toks: list[_Token], bare_names_are_text: bool = False) -> list[str]:
        out, i = [], 0
        while i < len(toks):
            tok = toks[i]
            if tok.kind == "punct" and tok.text == "(":
                depth, j = 1, i + 1
                while j < len(toks) and depth:
                    depth += {"(": 1, ")": -1}.get(toks[j].text if toks[j].kind == "punct" else "", 0)
                    j += 1
                if depth:
                    raise _NotGo
                out.append(f"({self.pipeline(toks[i + 1:j - 1])})")
                i = j
                continue
            if tok.kind == "punct":
                raise _NotGo
            if bare_names_are_text and tok.kind == "ident":
                out.append(repr(tok.text))  # DevStream's [[ env GITHUB_TOKEN ]]
            else:
                out.append(self.operand(tok))
            i += 1
        return out

    def pipeline(self, toks: list[_Token]) -> str:
        if not toks:
            raise _NotGo
        commands: list[list[_Token]] = [[]]
        depth = 0
        for tok in toks:
            if tok.kind == "punct" and tok.text in "()":
                depth += 1 if tok.text == "(" else -1
            if tok.kind == "punct" and tok.text == "|" and depth == 0:
                commands.append([])
            else:
                commands[-1].append(tok)
        if any(not c for c in commands):
            raise _NotGo
        value = self.command(commands[0])
        for cmd in commands[1:]:
            value = self.command(cmd, piped=value)
        return value

    # actions
    def action(self, inner: str) -> tuple[str, str] | None:
        """(delimiter kind, jinja text) for one action's inside; None leaves the action to jinja."""
        toks = _tokens(inner)
        if not toks:
            raise _NotGo
        word = toks[0].text if toks[0].kind == "ident" else ""
        if word in _KEYWORDS:
            return "block", self.control(word, toks[1:])
        if toks[0].kind == "var" and len(toks) > 2 and toks[1].kind in ("declare",) or (
                toks[0].kind == "var" and len(toks) > 2 and toks[1].text == "="):
            name = toks[0].text[1:]
            return "block", f"set {self._var(name)} = {self.pipeline(toks[2:])}"
        if len(toks) == 1 and toks[0].kind == "ident" and toks[0].text not in GO_FUNCTIONS and self._dot() is None:
            raise _NotGo  # `[[ name ]]` reads the same in both: leave it as written
        return "expr", self.pipeline(toks)

    def control(self, word: str, rest: list[_Token]) -> str:
        if word in ("define", "template", "block", "break", "continue"):
            raise jinja2.TemplateSyntaxError(
                f"Go's `{word}` is not rendered by dtm ({_UNSUPPORTED[word]}); use [[ if ]], [[ range ]] and "
                f"[[ with ]] blocks written in place", 1)
        if word == "if":
            self.scopes.append(_Scope("if", None, "endif"))
            return f"if {self.pipeline(rest)}"
        if word == "with":
            value = self.pipeline(rest)
            self.loops += 1
            name = f"dtm_dot{self.loops}"
            self.scopes.append(_Scope("with", name, "endif %][% endwith"))
            return f"with {name} = {value} %][% if {name}"
        if word == "range":
            self.loops += 1
            dot = f"dtm_dot{self.loops}"
            declared: list[str] = []
            if any(t.kind == "declare" for t in rest):
                at = next(i for i, t in enumerate(rest) if t.kind == "declare")
                declared = [t.text[1:] for t in rest[:at] if t.kind == "var"]
                if not declared or len(declared) > 2 or any(not d for d in declared):
                    raise jinja2.TemplateSyntaxError("range declares `$item :=` or `$index, $item :=`", 1)
                rest = rest[at + 1:]
            value = self.pipeline(rest)
            scope = _Scope("range", dot, "endfor")
            self.scopes.append(scope)
            if len(declared) == 2:
                scope.aliases[declared[1]] = dot
                return f"for {self._var(declared[0])}, {dot} in {PREFIX}range_pairs({value})"
            if declared:
                scope.aliases[declared[0]] = dot
            return f"for {dot} in {PREFIX}range({value})"
        if not self.scopes:
            raise jinja2.TemplateSyntaxError(f"[[ {word} ]] with no [[ if ]], [[ range ]] or [[ with ]] open", 1)
        scope = self.scopes[-1]
        if word == "end":
            self.scopes.pop()
            return scope.close
        # else / else if
        if rest and rest[0].text == "if":
            if scope.kind != "if":
                raise jinja2.TemplateSyntaxError("[[ else if ]] belongs to an [[ if ]]", 1)
            return f"elif {self.pipeline(rest[1:])}"
        if rest:
            raise jinja2.TemplateSyntaxError("[[ else ]] takes nothing after it", 1)
        return "else"


def _known() -> str:
    return ", ".join(n for n in GO_FUNCTIONS if not n.startswith("range")) + ", env, if/else/end, range, with"


_LEADING_DOT = re.compile(r"(^|[\s(,|\[=!<>+*/-])\.(?=[A-Za-z_])")


def leading_dots(expression: str, dot: str | None = None) -> str:
    """Go's `.name` in a jinja expression: `name` (a var), or `DOT.name` inside a range whose item is DOT."""
    return _LEADING_DOT.sub(lambda g: g.group(1) + (f"{dot}." if dot else ""), expression)


def translate(text: str, *, env_function: str | None = "env") -> str:
    """`text` with every Go-shaped `[[ ]]` action written as jinja (`[% %]` for blocks); other text, and
    actions jinja reads the same, unchanged. Raises jinja2.TemplateSyntaxError naming the line."""
    translator = _Translator(env_function)
    out: list[str] = []
    pos = 0
    for m in _ACTION.finditer(text):
        out.append(text[pos:m.start()])
        pos = m.end()
        left, inner, right = m.groups()
        try:
            done = translator.action(inner)
        except _NotGo:
            done = None
        except jinja2.TemplateSyntaxError as exc:
            exc.lineno = text.count("\n", 0, m.start()) + 1
            raise
        if done is None:  # jinja's syntax; `.name` is the item's name inside a range, else the var's
            dot = translator._dot()
            out.append(f"[[{left}{leading_dots(inner, dot)}{right}]]")
            continue
        lines = "\n" * inner.count("\n")  # so that jinja's line numbers stay those of the text
        if done[0] == "block":
            out.append(f"[%{left} {done[1]} {lines}{right}%]")
        else:
            out.append(f"[[{left} {done[1]} {lines}{right}]]")
    out.append(text[pos:])
    if translator.scopes:
        open_ = translator.scopes[-1].kind
        raise jinja2.TemplateSyntaxError(f"[[ {open_} ]] is never closed: add [[ end ]]", text.count("\n") + 1)
    return "".join(out)
