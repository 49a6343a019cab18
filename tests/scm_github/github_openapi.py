"""Checks requests, and the answers a stand-in gives them, against GitHub's official OpenAPI description
(the npm package `@octokit/openapi`).

For each request (`problems`): the path must be one of the description's paths (GitHub's `/repositories/{id}/...`
pagination links count as `/repos/{owner}/{repo}/...`), the method one of that path's operations, every
path and query parameter declared there and valid for its schema, every required one present, and a JSON
body allowed by the operation and valid for its schema (`$ref`s resolved within the document, OpenAPI
3.0's `nullable` understood, and properties the schema does not name refused, since GitHub would ignore
them silently).

For each response (`response_problems`), so that a stand-in cannot teach a client to rely on what GitHub
never sends: the status must be one the operation documents (or one GitHub may send on any operation, see
`ANYWHERE`), a status documented without a body must come without one, and a JSON body must be valid for
the operation's `responses[status].content['application/json'].schema` (`$ref`s resolved, `nullable`
understood, also beside `oneOf`), with every property it holds declared by its schema unless that schema
allows additionalProperties, at any depth. Required properties are NOT enforced on successful answers: a
stand-in returns the subset of fields its client uses (GitHub's `full-repository` schema requires 75 of its
105 fields). The client can only read what the stand-in returns, so every field the client reads in a test is
one GitHub's description declares, with the type it declares. Error bodies (4xx and 5xx) are small and GitHub
sends them whole, so there `required` is enforced; the ones an operation does not document are held to
`basic-error`. As `required` is what tells GitHub's `oneOf` branches apart, `oneOf` is read as `anyOf`
(and the discriminator, which names a property that need not be there, is not used).

The description is read from `$DTM_GITHUB_OPENAPI` when set; otherwise `description()` fetches the pinned
npm package into the tests' npm cache folder (`$DTM_NPM_CACHE`, default `~/.cache/dtm/npm`) the first time it
is needed, as `.ci/run` does ahead of time (see tests/fetched.py).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from fetched import npm_file
from jsonschema.exceptions import ValidationError
from jsonschema.validators import extend
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

NPM_NAME, NPM_VERSION = "@octokit/openapi", "23.0.2"  # .ci/run installs the same version
PACKAGE = f"{NPM_NAME}@{NPM_VERSION}"
RELATIVE = Path("node_modules/@octokit/openapi/generated/api.github.com.json")
_DOC = "urn:dtm:github-openapi"
# path parameters whose values may hold slashes: paths, refs, and (basehead, tree_sha) branch names
_SLASHED = ("path", "ref", "basehead", "tree_sha")
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_JSON = "application/json"
_BASIC_ERROR = "/components/schemas/basic-error"
ANYWHERE = frozenset({401, 403, 429})
"""Statuses GitHub may answer on any operation, whether or not the operation documents them (and any 5xx).
The description lists them unevenly: of its 1,223 operations, 401 is on 165, 403 on 443, 429 on 2 and a
5xx on 161, yet GitHub's REST documentation says any request may be answered 401 (bad or missing
credentials), 403 or 429 (a primary or secondary rate limit, with `Retry-After` or `X-RateLimit-Remaining:
0`) and 5xx (an outage). Their bodies, when the operation does not document them, are held to `basic-error`.
Every other status (404 and 409 included) must be one the operation documents, or be in `UNDOCUMENTED`."""
UNDOCUMENTED: Mapping[tuple[str, str], frozenset[int]] = {
    # GitHub answers 404 for a repository it does not know or will not show, on every /repos/{owner}/{repo}
    # operation; the description leaves 404 out on many (255 of the 518 under /repos/{owner}/{repo}), all of
    # the Actions secrets API among them. The client does not depend on this one: any failure of the listing makes
    # it ask whether the repository exists (GitHubClient.list_secrets).
    ("GET", "/repos/{owner}/{repo}/actions/secrets"): frozenset({404}),
    # The same 404, and the one for a secret that does not exist, which GitHubClient.delete_secret takes to
    # mean "already gone" (a status the description does not document: reported, to be confirmed on GitHub).
    ("DELETE", "/repos/{owner}/{repo}/actions/secrets/{secret_name}"): frozenset({404}),
}
"""Statuses GitHub sends that the description does not document, accepted for the operation named (with a
`basic-error` body). Each is a place where the description is not the whole truth: keep the list short."""


def _nullable(keyword: Any) -> Any:
    """`nullable: true` beside `oneOf`/`anyOf`/`allOf` (as GitHub writes a nullable choice of objects) lets
    null through; the OAS 3.0 validator honours `nullable` only beside `type`."""
    def check(validator: Any, value: Any, instance: Any, schema: Mapping[str, Any]) -> Any:
        if instance is None and schema.get("nullable") is True:
            return
        yield from keyword(validator, value, instance, schema)
    return check


def _any_of(validator: Any, branches: list[Any], instance: Any, schema: Mapping[str, Any]) -> Any:
    errors: list[ValidationError] = []
    for index, branch in enumerate(branches):
        found = list(validator.descend(instance, branch, schema_path=index))
        if not found:
            return
        errors += found
    yield ValidationError(f"{instance!r} is not valid under any of the given schemas", context=errors)


def _not_enforced(validator: Any, value: Any, instance: Any, schema: Mapping[str, Any]) -> None:
    return None


_ERROR_VALIDATOR = extend(OAS30ReadValidator, {
    "oneOf": _nullable(_any_of), "anyOf": _nullable(_any_of),
    "allOf": _nullable(OAS30ReadValidator.VALIDATORS["allOf"])})
"""What an answer is held to: OAS 3.0 as GitHub writes it (see `_nullable`), `oneOf` read as `anyOf`."""
_ANSWER_VALIDATOR = extend(_ERROR_VALIDATOR, {"required": _not_enforced})
"""What a successful answer is held to: the same, with required properties not enforced."""


def description() -> Path:
    """GitHub's OpenAPI description: `$DTM_GITHUB_OPENAPI`, else the npm package, fetched into the cache once."""
    explicit = os.environ.get("DTM_GITHUB_OPENAPI")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"DTM_GITHUB_OPENAPI names {path}, which is not a file; unset it to let the "
                                    f"tests fetch {PACKAGE} themselves")
        return path
    return npm_file(NPM_NAME, NPM_VERSION, RELATIVE)


def _pointer(*parts: str) -> str:
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass(frozen=True)
class _Template:
    path: str
    strict: re.Pattern[str]
    loose: re.Pattern[str]
    literals: int


def _template(path: str) -> _Template:
    parts = path.strip("/").split("/")
    strict, loose = [], []
    for i, part in enumerate(parts):
        name = re.fullmatch(r"\{([^}]+)\}", part)
        if name is None:
            strict.append(re.escape(part))
            loose.append(re.escape(part))
        else:
            group = f"(?P<{re.sub(r'[^0-9A-Za-z_]', '_', name.group(1))}>"
            strict.append(group + "[^/]+)")
            # a file path, or a ref such as heads/main, holds slashes when it is the last parameter
            slashes = i == len(parts) - 1 and name.group(1) in _SLASHED
            loose.append(group + (".+)" if slashes else "[^/]+)"))
    return _Template(path, re.compile("/" + "/".join(strict) + "$"), re.compile("/" + "/".join(loose) + "$"),
                     sum(1 for p in parts if not p.startswith("{")))


class OpenAPIChecker:
    """Tells what is wrong with a request, as GitHub's OpenAPI description sees it."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.doc = document
        self.templates = sorted((_template(p) for p in document["paths"]), key=lambda t: -t.literals)
        self.registry: Registry = Registry().with_resource(_DOC, Resource.from_contents(
            dict(document), default_specification=DRAFT4))
        self._validators: dict[str, Any] = {}
        self._readers: dict[tuple[str, bool], Any] = {}

    @classmethod
    def load(cls, path: Path) -> OpenAPIChecker:
        return cls(json.loads(path.read_text()))

    def deref(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            node = self.at(node["$ref"].removeprefix("#"))
        return node

    def at(self, pointer: str) -> Any:
        node: Any = self.doc
        for part in pointer.strip("/").split("/"):
            key = part.replace("~1", "/").replace("~0", "~")
            node = node[int(key)] if isinstance(node, list) else node[key]
        return node

    def match(self, path: str) -> tuple[str, dict[str, str]] | None:
        """The description's path template for a request path, and the path parameters' values."""
        path = re.sub(r"^/repositories/\d+(?=/|$)", "/repos/by-id/repository", path)
        for attempt in ("strict", "loose"):
            for template in self.templates:
                found = getattr(template, attempt).match(path)
                if found:
                    names = re.findall(r"\{([^}]+)\}", template.path)
                    return template.path, {n: unquote(v) for n, v in zip(names, found.groups(), strict=True)}
        return None

    def problems(self, method: str, path: str, query: Iterable[tuple[str, str]] = (), body: bytes = b"",
                 content_type: str | None = None) -> list[str]:
        """What does not conform; [] when the request does. `path` is relative to the API root."""
        where = f"{method} {path}"
        matched = self.match(path)
        if matched is None:
            return [f"{where}: no such path in GitHub's REST API"]
        template, values = matched
        item = self.doc["paths"][template]
        operation = item.get(method.lower())
        if operation is None:
            allowed = ", ".join(m.upper() for m in _METHODS if m in item)
            return [f"{where}: {template} takes {allowed}, not {method}"]
        found: list[str] = []
        params = {}
        for raw in [*item.get("parameters", []), *operation.get("parameters", [])]:
            param = self.deref(raw)
            params[(param["name"], param["in"])] = param
        for name, value in values.items():
            param = params.get((name, "path"))
            if param is None:
                found.append(f"{where}: path parameter {name} is not declared")
            else:
                found += self._value(where, f"path parameter {name}", value, param.get("schema", {}))
        given: dict[str, list[str]] = {}
        for name, value in query:
            given.setdefault(name, []).append(value)
        for name, values_ in given.items():
            param = params.get((name, "query"))
            if param is None:
                known = sorted(n for n, kind in params if kind == "query")
                found.append(f"{where}: query parameter {name!r} is not one of {known}")
                continue
            for value in values_:
                found += self._value(where, f"query parameter {name}", value, param.get("schema", {}))
        found += [f"{where}: required query parameter {name!r} is missing"
                  for (name, kind), p in params.items() if kind == "query" and p.get("required") and name not in given]
        found += self._body(where, template, method.lower(), operation, body, content_type)
        return found

    def response_problems(self, method: str, path: str, status: int, body: bytes = b"",
                          content_type: str | None = None) -> list[str]:
        """What does not conform in an answer to a request; [] when it does. A request whose path or method
        the description does not know is `problems`' to report."""
        where = f"{method} {path} -> {status}"
        matched = self.match(path)
        if matched is None:
            return []
        template, _ = matched
        operation = self.doc["paths"][template].get(method.lower())
        if operation is None:
            return []
        documented = operation.get("responses", {})
        key = next((k for k in (str(status), f"{status // 100}XX", "default") if k in documented), None)
        if key is not None:
            pointer = _pointer("paths", template, method.lower(), "responses", key)
            if "$ref" in documented[key]:
                pointer = documented[key]["$ref"].removeprefix("#")
            content = self.at(pointer).get("content") or {}
            pointer += _pointer("content", _JSON, "schema")
        elif status in ANYWHERE or 500 <= status <= 599 or status in UNDOCUMENTED.get((method.upper(), template), ()):
            pointer, content = _BASIC_ERROR, {_JSON: {"schema": {"$ref": f"#{_BASIC_ERROR}"}}}
        else:
            return [f"{where}: {template} does not document status {status} for {method.upper()} "
                    f"(it documents {', '.join(documented)})"]
        if not content:
            return [f"{where}: GitHub answers {status} without a body"] if body.strip() else []
        if not body.strip():
            return [f"{where}: GitHub answers {status} with a body ({', '.join(content)})"]
        media = (content_type or "").split(";")[0].strip().lower()
        if media != _JSON or _JSON not in content:
            return [f"{where}: content type {media or 'none'} is not one of {sorted(content)}"]
        try:
            instance = json.loads(body)
        except ValueError:
            return [f"{where}: the body is not JSON"]
        if "schema" not in content[_JSON]:
            return []  # any JSON will do
        errors = sorted(self._reader(pointer, status >= 400).iter_errors(instance), key=lambda e: list(e.path))
        found = [f"{where}: body{_where(e.absolute_path)}: {_message(e)}" for e in errors]
        return found + [f"{where}: {p}" for p in self._undeclared(instance, pointer, "body")]

    def _reader(self, pointer: str, error: bool) -> Any:
        """The validator of answers for the schema at `pointer` (an error body's enforces `required`)."""
        validator = self._readers.get((pointer, error))
        if validator is None:
            cls = _ERROR_VALIDATOR if error else _ANSWER_VALIDATOR
            validator = cls({"$ref": f"{_DOC}#{pointer}"}, registry=self.registry, format_checker=oas30_format_checker)
            self._readers[(pointer, error)] = validator
        return validator

    def _undeclared(self, instance: Any, pointer: str, where: str) -> list[str]:
        """Properties of a body (a request's or an answer's) that its schema (at `pointer`) does not declare, at
        any depth: GitHub ignores them without a word, and a client must not rely on them. Under a `oneOf`/`anyOf`,
        the branches the value is valid for are tried, and the one that declares most wins."""
        pointer = self._target(pointer)
        schema = self.at(pointer)
        if not isinstance(schema, dict) or instance is None:
            return []
        for choice in ("oneOf", "anyOf"):
            if choice in schema:
                branches = [pointer + _pointer(choice, str(i)) for i in range(len(schema[choice]))]
                fitting = [b for b in branches if self._reader(b, False).is_valid(instance)]
                if not fitting:
                    return []  # invalid for each: the validator has said so
                return min((self._undeclared(instance, b, where) for b in fitting), key=len)
        found: list[str] = []
        if isinstance(instance, dict):
            # an object's schema, with the parts an `allOf` adds to it
            parts = [pointer, *(self._target(pointer + _pointer("allOf", str(i)))
                                for i in range(len(schema.get("allOf", []))))]
            declared: dict[str, str] = {}
            for part in parts:
                for name in self.at(part).get("properties", {}):
                    declared.setdefault(name, part + _pointer("properties", name))
            closed = any("properties" in self.at(part) for part in parts)  # a bare {type: object} is free-form
            if closed and all(self.at(part).get("additionalProperties", False) is False for part in parts):
                found += [f"{where}.{k}: not a property of the schema ({', '.join(sorted(declared)) or 'none'})"
                          for k in instance if k not in declared]
            for k, v in instance.items():
                if k in declared:
                    found += self._undeclared(v, declared[k], f"{where}.{k}")
        elif isinstance(instance, list) and "items" in schema:
            for i, v in enumerate(instance):
                found += self._undeclared(v, pointer + "/items", f"{where}[{i}]")
        return found

    def _target(self, pointer: str) -> str:
        """The pointer a `$ref` at `pointer` leads to (followed to the end), or `pointer`."""
        node = self.at(pointer)
        while isinstance(node, dict) and "$ref" in node:
            pointer = node["$ref"].removeprefix("#")
            node = self.at(pointer)
        return pointer

    def _value(self, where: str, what: str, value: str, schema: Mapping[str, Any]) -> list[str]:
        schema = self.deref(schema)
        instance: Any = value
        kind = schema.get("type")
        if kind == "integer" and re.fullmatch(r"-?\d+", value):
            instance = int(value)
        elif kind == "number" and re.fullmatch(r"-?\d+(\.\d+)?", value):
            instance = float(value)
        elif kind == "boolean" and value in ("true", "false"):
            instance = value == "true"
        errors = list(OAS30WriteValidator(dict(schema), format_checker=oas30_format_checker).iter_errors(instance))
        return [f"{where}: {what} {value!r}: {e.message}" for e in errors]

    def _body(self, where: str, template: str, method: str, operation: Mapping[str, Any], body: bytes,
              content_type: str | None) -> list[str]:
        request_body = operation.get("requestBody")
        if not body:
            if request_body is not None and self.deref(request_body).get("required"):
                return [f"{where}: a request body is required"]
            return []
        if request_body is None:
            return [f"{where}: this operation takes no request body"]
        pointer = _pointer("paths", template, method, "requestBody")
        if "$ref" in request_body:
            pointer = request_body["$ref"].removeprefix("#")
        request_body = self.deref(request_body)
        media = (content_type or "").split(";")[0].strip().lower()
        if media not in request_body.get("content", {}):
            return [f"{where}: content type {media or 'none'} is not one of {sorted(request_body['content'])}"]
        try:
            instance = json.loads(body)
        except ValueError:
            return [f"{where}: the body is not JSON"]
        pointer += _pointer("content", media, "schema")
        validator = self._validators.get(pointer)
        if validator is None:
            validator = OAS30WriteValidator({"$ref": f"{_DOC}#{pointer}"}, registry=self.registry,
                                            format_checker=oas30_format_checker)
            self._validators[pointer] = validator
        errors: list[ValidationError] = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        found = [f"{where}: body{_where(e.absolute_path)}: {e.message}" for e in errors]
        return found + [f"{where}: {p}" for p in self._undeclared(instance, pointer, "body")]


def _message(error: ValidationError) -> str:
    """The error, and for a value valid under none of a `oneOf`'s branches, what each branch found."""
    if not error.context:
        return error.message
    reasons = sorted({f"{_where(e.relative_path) or 'value'}: {e.message}" for e in error.context})
    return f"{error.message} ({'; '.join(reasons)})"


def _where(path: Iterable[Any]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
