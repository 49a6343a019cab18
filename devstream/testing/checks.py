"""The conformance checks: what every plugin must do, as plain functions over a `Harness`.

Each check takes a fresh harness (a plugin, options, and a context whose calls reach a fresh test double of
the plugin's system), raises `AssertionError` saying what is wrong when the plugin breaks the contract, and
returns None when it passed, or a sentence saying why it does not apply to this harness. The calls are
made as dtm's engine makes them: `ctx.prior` is None for a tool dtm has no record of, and the status the
last create or update returned otherwise.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from devstream.errors import PermanentError, PluginLoadError, TransientError
from devstream.jsonish import diff_paths, normalize
from devstream.plugin.base import Plugin, PluginContext, ResourceStatus
from devstream.plugin.registry import check_plugin_class
from devstream.secrets import secret_paths

__all__ = ["CHECKS", "Check", "FailureKind", "Harness", "options_schema", "secret_option_paths"]

FailureKind = Literal["transient", "permanent"]

# Option names that hold credentials: such an option must be a SecretStr (JSON Schema format "password").
SECRET_NAME = re.compile(r"(?i)(token|password|passwd|secret|private_?key|api_?key|credential)")


@dataclass
class Harness:
    """What a plugin's tests give the suite: the plugin, and how to reach a fresh test double of its system.

    Attributes:
        plugin: the plugin under test (an instance).
        options: options as a config writes them, for a resource the test double does not hold yet. Set every
            secret option the plugin has, so that the suite can check the values never show. None when there
            is no test double: only the checks that look at the plugin's class run then.
        context: a context whose calls reach the test double (its `prior` is set by the suite for each call).
        failures: per kind ("transient", "permanent"), a function giving options and a context with which
            `create` fails that way (the double answers 503, a push is rejected...). A kind left out is
            reported as not applicable, with the reason the plugin's system cannot fail that way.
        snapshot: what the double holds (files, commits, secrets...), to check that an update to the same
            options changes nothing; without it only the returned status is compared.
        secrets: further values that must never appear in a status or an error (e.g. a token the context
            carries rather than the options).
        import_id: the `dtm import` ID of the resource the options describe (a path, `owner/name`...), for a
            plugin that can import; None skips the import check.
    """

    plugin: Plugin[Any]
    options: Mapping[str, Any] | None
    context: PluginContext
    failures: Mapping[FailureKind, Callable[[], tuple[Mapping[str, Any], PluginContext]]] = field(
        default_factory=dict)
    snapshot: Callable[[], Any] | None = None
    secrets: Sequence[str] = ()
    import_id: str | None = None

    def model(self, options: Mapping[str, Any] | None = None) -> BaseModel:
        options = self.options if options is None else options
        assert options is not None, "this check needs a harness with options and a test double"
        try:
            return type(self.plugin).Options.model_validate(dict(options))
        except ValidationError as exc:
            raise AssertionError(f"the harness's options are not valid for {self.name}: {exc}") from None

    @property
    def name(self) -> str:
        return type(self.plugin).name or type(self.plugin).__qualname__

    def ctx(self, prior: ResourceStatus | None, context: PluginContext | None = None) -> PluginContext:
        """The context of the next call, with the prior the engine would give it (a copy, as read from state)."""
        return dataclasses.replace(context or self.context, prior=copy.deepcopy(prior))

    def secret_values(self, model: BaseModel | None = None) -> list[str]:
        found = [v if isinstance(v, str) else v.decode("utf-8", "replace")
                 for v in secret_paths(model or self.model()).values()]
        return [s for s in [*found, *self.secrets] if s]


@dataclass(frozen=True)
class Check:
    """One rule of the contract: `run(harness)` raises AssertionError, or returns None (passed) or why not
    applicable. `needs_system` checks call the plugin; the others only look at its class."""

    name: str
    description: str
    run: Callable[[Harness], str | None]
    needs_system: bool = True


# -- helpers ---------------------------------------------------------------------------------------------

def options_schema(options: type[BaseModel]) -> dict[str, Any]:
    """The Options model's JSON Schema, as editors and `dtm schema` see it (validation mode)."""
    return options.model_json_schema(mode="validation")


def _subschemas(schema: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """A schema and every schema nested in it through combinators, items and additionalProperties."""
    yield schema
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for sub in schema.get(key, []):
            yield from _subschemas(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), Mapping):
            yield from _subschemas(schema[key])


def _properties(schema: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(model title, property name, property schema) for the model and every model in its $defs."""
    models = [schema, *schema.get("$defs", {}).values()]
    for model in models:
        for name, prop in model.get("properties", {}).items():
            yield model.get("title", "?"), name, prop


def _is_secret(prop: Mapping[str, Any]) -> bool:
    return any(sub.get("format") == "password" and sub.get("writeOnly") for sub in _subschemas(prop))


def secret_option_paths(options: type[BaseModel]) -> list[str]:
    """`Model.field` for every option declared as a secret (SecretStr), in any nested model."""
    schema = options_schema(options)
    return [f"{title}.{name}" for title, name, prop in _properties(schema) if _is_secret(prop)]


def _status_problem(status: Any, what: str, harness: Harness, secrets: Sequence[str]) -> None:
    assert isinstance(status, dict), f"{what} returned {type(status).__name__}, not a status dict"
    try:
        text = json.dumps(status)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{what} returned a status that is not JSON: {exc}") from None
    assert isinstance(status.get("outputs", {}), dict), f"{what}: the status's outputs must be a dict"
    leaked = [s for s in secrets if s in text]
    assert not leaked, f"{what} returned a status holding a secret option's value in clear"


def _same(expected: Any, got: Any, what: str) -> None:
    differ = diff_paths(normalize(expected), normalize(got))
    assert not differ, f"{what} differs at {', '.join(differ)}:\n  expected {expected!r}\n  got      {got!r}"


def _error_text(exc: BaseException) -> str:
    """The error and everything it was raised from or during, as a user or a log could see it."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current)]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def _create(harness: Harness) -> ResourceStatus:
    model = harness.model()
    status = harness.plugin.create(model, harness.ctx(None))
    _status_problem(status, "create", harness, harness.secret_values(model))
    return status


# -- the checks ------------------------------------------------------------------------------------------

def plugin_loads(harness: Harness) -> str | None:
    cls = type(harness.plugin)
    try:
        check_plugin_class(cls, harness.name, f"{cls.__module__}:{cls.__qualname__}")
    except PluginLoadError as exc:
        raise AssertionError(str(exc)) from None
    assert cls.name, "the plugin class sets no `name` (the name configs use)"
    assert cls.description, f"plugin {cls.name!r} sets no `description` (what `dtm list plugins` shows)"
    return None


def options_are_described(harness: Harness) -> str | None:
    schema = options_schema(type(harness.plugin).Options)
    bare = [f"{title}.{name}" for title, name, prop in _properties(schema) if not prop.get("description")]
    assert not bare, f"options without a description (Field(description=...)): {', '.join(bare)}"
    return None


def secrets_are_secretstr(harness: Harness) -> str | None:
    schema = options_schema(type(harness.plugin).Options)
    clear = [f"{title}.{name}" for title, name, prop in _properties(schema)
             if SECRET_NAME.search(name) and not _is_secret(prop)
             and any(s.get("type") in ("string", "object") for s in _subschemas(prop))]
    assert not clear, (f"options that hold credentials but are not SecretStr (so they would be stored and "
                       f"shown in clear): {', '.join(clear)}")
    return None


def schema_is_valid(harness: Harness) -> str | None:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    schema = options_schema(type(harness.plugin).Options)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise AssertionError(f"the Options model's JSON Schema is not valid: {exc.message}") from None
    if harness.options is None:
        return None
    errors = sorted(Draft202012Validator(schema).iter_errors(normalize(dict(harness.options))), key=str)
    assert not errors, ("the harness's options (valid for the model) fail its JSON Schema, so editors would flag "
                        f"a good config: {errors[0].message} at {'/'.join(map(str, errors[0].absolute_path))}")
    return None


def read_of_what_never_existed_is_none(harness: Harness) -> str | None:
    status = harness.plugin.read(harness.model(), harness.ctx(None))
    assert status is None, f"read of a resource that was never created returned {status!r}, not None"
    return None


def create_then_read_returns_what_create_returned(harness: Harness) -> str | None:
    model = harness.model()
    created = _create(harness)
    keys = harness.plugin.output_keys(model)
    if keys is not None:
        assert set(keys) == set(created.get("outputs", {})), (
            f"output_keys promised {sorted(keys)} but create returned outputs {sorted(created.get('outputs', {}))}")
    read = harness.plugin.read(model, harness.ctx(created))
    assert read is not None, "read right after create returned None (the resource is missing)"
    _status_problem(read, "read", harness, harness.secret_values(model))
    _same(created, read, "read right after create (the next plan would see drift)")
    return None


def update_to_the_same_options_changes_nothing(harness: Harness) -> str | None:
    model = harness.model()
    created = _create(harness)
    before = copy.deepcopy(harness.snapshot()) if harness.snapshot else None
    updated = harness.plugin.update(model, harness.ctx(created))
    _status_problem(updated, "update", harness, harness.secret_values(model))
    _same(created, updated, "update to the same options returned a status that")
    if harness.snapshot:
        _same(before, harness.snapshot(), "the system after an update to the same options")
    read = harness.plugin.read(model, harness.ctx(updated))
    _same(created, read, "read after an update to the same options")
    return None


def read_after_delete_is_none(harness: Harness) -> str | None:
    model = harness.model()
    created = _create(harness)
    assert harness.plugin.delete(model, harness.ctx(created)) is None, "delete must return None"
    status = harness.plugin.read(model, harness.ctx(None))
    assert status is None, f"read after delete returned {status!r}, not None"
    try:
        harness.plugin.delete(model, harness.ctx(None))
    except Exception as exc:
        raise AssertionError(f"delete of a resource already gone must succeed, it raised {exc!r}") from exc
    return None


def _failure(kind: FailureKind, expected: type[Exception]) -> Callable[[Harness], str | None]:
    def check(harness: Harness) -> str | None:
        make = harness.failures.get(kind)
        if make is None:
            return f"the harness gives no way to make {harness.name}'s system fail {kind}ly"
        options, ctx = make()
        model = harness.model(options)
        secrets = harness.secret_values(model) + harness.secret_values()
        try:
            harness.plugin.create(model, harness.ctx(None, ctx))
        except Exception as exc:
            assert isinstance(exc, expected), (
                f"a {kind} failure must raise devstream.errors.{expected.__name__}, it raised "
                f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}")
            leaked = [s for s in secrets if s in _error_text(exc)]
            assert not leaked, f"the {expected.__name__} quotes a secret option's value in clear: {exc}"
            return None
        raise AssertionError(f"create succeeded although the system failed {kind}ly")

    check.__name__ = f"{kind}_failures_are_{expected.__name__}"
    return check


def secrets_never_show(harness: Harness) -> str | None:
    declared = secret_option_paths(type(harness.plugin).Options)
    if not declared:
        return f"{harness.name} has no secret options"
    secrets = harness.secret_values()
    assert secrets, (f"the harness's options set none of the secret options ({', '.join(declared)}); set them "
                     f"so that the suite can check their values never show")
    # Statuses are checked by every check that calls the plugin; here the whole life of one resource.
    model = harness.model()
    created = _create(harness)
    for what, status in (("read", harness.plugin.read(model, harness.ctx(created))),
                         ("update", harness.plugin.update(model, harness.ctx(created)))):
        _status_problem(status, what, harness, secrets)
    harness.plugin.delete(model, harness.ctx(created))
    return None


def import_adopts_without_owning(harness: Harness) -> str | None:
    if not type(harness.plugin).import_id:
        return f"{harness.name} cannot import (its import_id is empty), and `dtm import` says so"
    if harness.import_id is None:
        return "the harness gives no import_id (the ID of the resource its options describe)"
    model = harness.model()
    _create(harness)  # made outside dtm's record, as an existing resource is
    imported = harness.plugin.import_resource(harness.import_id, model, harness.ctx(None))
    assert imported is not None, f"import of {harness.import_id!r}, which exists, returned None"
    _status_problem(imported, "import", harness, harness.secret_values(model))
    _same(imported, harness.plugin.read(model, harness.ctx(imported)), "read right after import (the next plan "
                                                                       "would see drift)")
    harness.plugin.delete(model, harness.ctx(imported))
    assert harness.plugin.read(model, harness.ctx(imported)) is not None, (
        "delete removed a resource dtm imported without --owned: an imported resource is not dtm's to delete")
    return None


CHECKS: tuple[Check, ...] = (
    Check("plugin_loads", "the class is a Plugin with the four methods, a name, a description and an Options "
          "model", plugin_loads, needs_system=False),
    Check("options_are_described", "every option has a description", options_are_described, needs_system=False),
    Check("secrets_are_secretstr", "options that hold credentials are SecretStr", secrets_are_secretstr,
          needs_system=False),
    Check("schema_is_valid", "the Options model's JSON Schema is valid and accepts the harness's options",
          schema_is_valid, needs_system=False),
    Check("read_of_what_never_existed_is_none", "read of a resource never created returns None",
          read_of_what_never_existed_is_none),
    Check("create_then_read", "read right after create returns what create returned",
          create_then_read_returns_what_create_returned),
    Check("update_to_same_options", "update to the same options changes nothing",
          update_to_the_same_options_changes_nothing),
    Check("read_after_delete_is_none", "read after delete returns None; a second delete succeeds",
          read_after_delete_is_none),
    Check("secrets_never_show", "secret options never appear in a status", secrets_never_show),
    Check("transient_failure", "a transient failure raises TransientError (and quotes no secret)",
          _failure("transient", TransientError)),
    Check("import_adopts_without_owning", "import reads an existing resource as read would, and delete leaves it",
          import_adopts_without_owning),
    Check("permanent_failure", "a permanent failure raises PermanentError (and quotes no secret)",
          _failure("permanent", PermanentError)),
)
