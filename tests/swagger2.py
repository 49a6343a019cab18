"""Checks requests, and a stand-in's answers, against an official Swagger 2.0 description (the Docker Engine
API's `api/swagger.yaml`; Kubernetes publishes its API the same way).

For each request (`request_problems`): the path, without the description's `basePath` (or with it), must be one
of the description's paths, the method one of that path's operations, every query parameter declared there
and of its declared type, every required one present, and a body allowed by the operation and valid for its
schema (`$ref`s resolved within the document). Properties a body schema does not name are refused at any
depth, unless the schema allows `additionalProperties`: a server would ignore a misspelt field silently.

For each answer (`response_problems`): the status must be one the operation documents, and a JSON body must
be valid for that status's schema. Required properties are not enforced on answers (a stand-in returns the
subset of fields its clients read), but every property it sends must be declared, with the declared type.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft4Validator
from jsonschema.validators import extend


def _not_enforced(validator: Any, value: Any, instance: Any, schema: Mapping[str, Any]) -> None:
    return None


_ANSWER_VALIDATOR = extend(Draft4Validator, {"required": _not_enforced})


@dataclass
class _Operation:
    template: str
    method: str
    parameters: list[dict[str, Any]]
    responses: dict[str, Any]


@dataclass
class Swagger2:
    """A loaded description; `slashed` names path parameters whose values may hold slashes."""

    document: dict[str, Any]
    slashed: frozenset[str] = frozenset()
    _routes: list[tuple[re.Pattern[str], str]] = field(default_factory=list, repr=False)

    @classmethod
    def load(cls, path: Path, slashed: frozenset[str] = frozenset()) -> Swagger2:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        with path.open("rb") as handle:
            document = yaml.load(handle, Loader=loader)  # noqa: S506 - a safe loader
        checker = cls(document, slashed)
        checker._routes = sorted(
            ((checker._pattern(template), template) for template in document["paths"]),
            # literal segments before parameters: /images/create is not /images/{name}
            key=lambda route: (route[1].count("{"), -len(route[1])),
        )
        return checker

    @property
    def base_path(self) -> str:
        return str(self.document.get("basePath", "")).rstrip("/")

    def _pattern(self, template: str) -> re.Pattern[str]:
        parts = re.split(r"(\{[^}]+\})", template)
        regex = "".join(
            (f"(?P<{p[1:-1]}>.+)" if p[1:-1] in self.slashed else f"(?P<{p[1:-1]}>[^/]+)")
            if p.startswith("{") else re.escape(p)
            for p in parts
        )
        return re.compile(regex + r"\Z")

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in schema:
            pointer = schema["$ref"].lstrip("#").strip("/").split("/")
            node: Any = self.document
            for part in pointer:
                node = node[part.replace("~1", "/").replace("~0", "~")]
            schema = node
        return schema

    def operation(self, method: str, path: str) -> tuple[_Operation | None, str]:
        """The operation a request names, or None with the reason."""
        base = self.base_path
        if base and path.startswith(base + "/"):
            path = path[len(base):]
        elif re.match(r"/v\d+\.\d+/", path):
            return None, f"{path}: API version {path.split('/')[1]} is not the description's {base.lstrip('/')}"
        for pattern, template in self._routes:
            if pattern.match(path):
                item = self.document["paths"][template]
                op = item.get(method.lower())
                if op is None:
                    continue
                params = [self.resolve(p) for p in (*item.get("parameters", ()), *op.get("parameters", ()))]
                return _Operation(template, method.upper(), [dict(p) for p in params], op.get("responses", {})), ""
        return None, f"{method} {path}: no such path and method in the description"

    # -- requests ---------------------------------------------------------------------------------------
    def request_problems(self, method: str, path: str, query: Mapping[str, list[str]], body: Any) -> list[str]:
        op, why = self.operation(method, path)
        if op is None:
            return [why]
        where = f"{op.method} {op.template}"
        problems: list[str] = []
        declared = {p["name"]: p for p in op.parameters if p.get("in") == "query"}
        for name, values in query.items():
            param = declared.get(name)
            if param is None:
                problems.append(f"{where}: query parameter {name!r} is not declared")
                continue
            problems += [f"{where}: query {name}={v!r}: {why}" for v in values if (why := _bad_scalar(param, v))]
        problems += [f"{where}: required query parameter {n!r} is missing"
                     for n, p in declared.items() if p.get("required") and n not in query]
        body_params = [p for p in op.parameters if p.get("in") == "body"]
        if body is not None:
            if not body_params:
                problems.append(f"{where}: the operation takes no body")
            elif "schema" in body_params[0]:
                problems += [f"{where}: body: {m}" for m in self.schema_problems(body, body_params[0]["schema"])]
        elif body_params and body_params[0].get("required"):
            problems.append(f"{where}: the body is required")
        return problems

    # -- answers ----------------------------------------------------------------------------------------
    def response_problems(self, method: str, path: str, status: int, body: Any) -> list[str]:
        op, why = self.operation(method, path)
        if op is None:
            return [why]
        where = f"{op.method} {op.template} -> {status}"
        spec = op.responses.get(str(status)) or op.responses.get(status)
        if spec is None:
            return [f"{where}: the description documents {sorted(map(str, op.responses))} only"]
        spec = self.resolve(spec)
        if body is None or "schema" not in spec:
            return []
        return [f"{where}: {m}" for m in self.schema_problems(body, spec["schema"], answer=True)]

    # -- schemas ----------------------------------------------------------------------------------------
    def schema_problems(self, instance: Any, schema: Mapping[str, Any], answer: bool = False) -> list[str]:
        # `#/definitions/...` in the schema points into the description: give the schema its definitions
        rooted = {**schema, "definitions": self.document.get("definitions", {})}
        validator_class = _ANSWER_VALIDATOR if answer else Draft4Validator
        validator = validator_class(rooted)
        found = [f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
                 for e in validator.iter_errors(instance)]
        found += list(self._undeclared(instance, schema, ""))
        return found

    def _properties(self, schema: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
        """The properties an object schema declares (through `$ref` and `allOf`), and its additionalProperties."""
        schema = self.resolve(schema)
        props: dict[str, Any] = dict(schema.get("properties", {}))
        extra: Any = schema.get("additionalProperties")
        for part in schema.get("allOf", ()):
            more, more_extra = self._properties(part)
            props.update(more)
            extra = extra if extra is not None else more_extra
        return props, extra

    def _undeclared(self, instance: Any, schema: Mapping[str, Any], at: str) -> Iterator[str]:
        schema = self.resolve(schema)
        if isinstance(instance, dict):
            props, extra = self._properties(schema)
            if not props and extra is None:
                return  # a free-form object
            for key, value in instance.items():
                where = f"{at}.{key}" if at else key
                if key in props:
                    yield from self._undeclared(value, props[key], where)
                elif isinstance(extra, dict):
                    yield from self._undeclared(value, extra, where)
                elif extra is not True:
                    yield f"{where}: not a property the description declares"
        elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
            for index, item in enumerate(instance):
                yield from self._undeclared(item, schema["items"], f"{at}[{index}]")


def _bad_scalar(param: Mapping[str, Any], value: str) -> str:
    kind = param.get("type")
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        return "not an integer"
    if kind == "boolean" and value.lower() not in ("1", "0", "true", "false"):
        return "not a boolean"
    if "enum" in param and value not in [str(v) for v in param["enum"]]:
        return f"not one of {param['enum']}"
    return ""
