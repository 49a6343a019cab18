"""Checks requests against GitHub's official OpenAPI description (the npm package `@octokit/openapi`).

For each request: the path must be one of the description's paths (GitHub's `/repositories/{id}/...`
pagination links count as `/repos/{owner}/{repo}/...`), the method one of that path's operations, every
path and query parameter declared there and valid for its schema, every required one present, and a JSON
body allowed by the operation and valid for its schema (`$ref`s resolved within the document, OpenAPI
3.0's `nullable` understood, and properties the schema does not name refused, since GitHub would ignore
them silently).

The description is found at `$DTM_GITHUB_OPENAPI`, else in the npm folder `.ci/run` installs into
(`$DTM_NPM_CACHE`, default `~/.cache/dtm/npm`).
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

from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30WriteValidator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

PACKAGE = "@octokit/openapi@23.0.2"
RELATIVE = Path("node_modules/@octokit/openapi/generated/api.github.com.json")
_DOC = "urn:dtm:github-openapi"
_SLASHED = ("path", "ref", "basehead")  # path parameters whose values are paths (or, basehead, hold branch names)
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def npm_folder() -> Path:
    return Path(os.environ.get("DTM_NPM_CACHE") or Path.home() / ".cache" / "dtm" / "npm").expanduser()


def description_path() -> Path:
    explicit = os.environ.get("DTM_GITHUB_OPENAPI")
    return Path(explicit).expanduser() if explicit else npm_folder() / RELATIVE


def install_command() -> str:
    return f"npm install --prefix {npm_folder()} {PACKAGE}"


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
            node = node[part.replace("~1", "/").replace("~0", "~")]
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
        return found + [f"{where}: {p}" for p in self._unknown(instance, self.at(pointer), "body")]

    def _unknown(self, instance: Any, schema: Any, where: str) -> list[str]:
        """Properties a plain object schema does not name (a typo GitHub would ignore without a word)."""
        schema = self.deref(schema)
        if not isinstance(schema, dict) or any(k in schema for k in ("allOf", "anyOf", "oneOf")):
            return []
        found: list[str] = []
        properties = schema.get("properties", {})
        if isinstance(instance, dict):
            if properties and "additionalProperties" not in schema:
                found += [f"{where}.{k}: not a property of the schema ({', '.join(sorted(properties))})"
                          for k in instance if k not in properties]
            for k, v in instance.items():
                if k in properties:
                    found += self._unknown(v, properties[k], f"{where}.{k}")
        elif isinstance(instance, list) and "items" in schema:
            for i, v in enumerate(instance):
                found += self._unknown(v, schema["items"], f"{where}[{i}]")
        return found


def _where(path: Iterable[Any]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
