"""The JSON Schema of a dtm config, for editors (yaml-language-server) and for checks.

Every installed plugin's `Options` model gives the schema of `options` of the tools whose `name` is that
plugin (an if/then on `name` per plugin), with its descriptions and defaults. Values in a config may be
written as `[[ var ]]` or `${{ tool.id.outputs.key }}` and are only typed after rendering, so every option
also accepts a string holding such an expression.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from devstream.config.app_models import App, PipelineTemplate
from devstream.config.models import BACKENDS, DEFAULT_BACKEND
from devstream.plugin.registry import PluginRegistry, default_registry

__all__ = ["DIALECT", "config_schema", "plugin_options_schema"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
EXPRESSION = {
    "description": "A [[ var ]] or ${{ tool.instanceID.outputs.key }} expression, typed after rendering.",
    "anyOf": [
        {"type": "string", "pattern": r"\[\[|\$\{\{"},
        # `port: [[ port ]]` unquoted, as YAML (and so an editor) reads it: a list holding a list of one string.
        {"type": "array", "minItems": 1, "maxItems": 1,
         "items": {"type": "array", "minItems": 1, "maxItems": 1, "items": {"type": "string"}}},
    ],
}
_ANNOTATIONS = ("title", "description", "default", "examples", "deprecated")


def plugin_options_schema(options: type[BaseModel]) -> dict[str, Any]:
    """A plugin's Options model as a standalone JSON Schema."""
    return {"$schema": DIALECT, **options.model_json_schema(mode="validation")}


def _renamed(schema: Any, prefix: str) -> Any:
    """`schema` with every local `#/$defs/X` reference pointing at `#/$defs/<prefix>X` instead."""
    if isinstance(schema, dict):
        out = {k: _renamed(v, prefix) for k, v in schema.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            out["$ref"] = "#/$defs/" + prefix + ref.removeprefix("#/$defs/")
        return out
    if isinstance(schema, list):
        return [_renamed(v, prefix) for v in schema]
    return schema


def _with_expressions(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's schema whose every property, item and map value also accepts an expression string."""
    out = copy.deepcopy(schema)
    for key in ("properties", "patternProperties"):
        if isinstance(out.get(key), dict):
            out[key] = {name: _or_expression(prop) for name, prop in out[key].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = _or_expression(out[key])
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(out.get(key), list):
            out[key] = [_with_expressions(sub) for sub in out[key]]
    return out


def _or_expression(prop: dict[str, Any]) -> dict[str, Any]:
    inner = _with_expressions({k: v for k, v in prop.items() if k not in _ANNOTATIONS})
    outer = {k: prop[k] for k in _ANNOTATIONS if k in prop}
    if not inner:  # any value at all
        return outer
    return {**outer, "anyOf": [inner, {"$ref": "#/$defs/expression"}]}


def _model_schema(model: type[BaseModel], prefix: str, defs: dict[str, Any]) -> dict[str, Any]:
    """The model's schema with its $defs moved into `defs` under `prefix`, expressions allowed."""
    schema = _renamed(model.model_json_schema(mode="validation"), prefix)
    for name, sub in schema.pop("$defs", {}).items():
        defs[prefix + name] = _with_expressions(sub)
    return _with_expressions(schema)


def _with_alias_choices(model: type[BaseModel], schema: dict[str, Any]) -> dict[str, Any]:
    """Every spelling an option accepts (`AliasChoices`), not only the first one pydantic's schema shows."""
    props, required = schema.get("properties", {}), schema.get("required", [])
    for info in model.model_fields.values():
        choices = getattr(info.validation_alias, "choices", None)
        names = [c for c in choices or () if isinstance(c, str)]
        if len(names) < 2 or names[0] not in props:
            continue
        for other in names[1:]:
            props.setdefault(other, props[names[0]])
        if names[0] in required:
            required.remove(names[0])
            schema.setdefault("allOf", []).append({"anyOf": [{"required": [n]} for n in names]})
    if not required:
        schema.pop("required", None)
    return schema


def _tool_schema(plugins: dict[str, type[BaseModel]], descriptions: dict[str, str], defs: dict[str, Any]
                 ) -> dict[str, Any]:
    names = sorted(plugins)
    branches = []
    for name in names:
        ref = f"plugin.{name}"
        defs[ref] = _with_alias_choices(plugins[name], _model_schema(plugins[name], f"{ref}.", defs))
        branches.append({"if": {"properties": {"name": {"const": name}}, "required": ["name"]},
                         "then": {"properties": {"options": {"$ref": f"#/$defs/{ref}"}}}})
    name_schema: dict[str, Any] = {"type": "string", "description": "The plugin this tool is an instance of."}
    if names:
        name_schema["anyOf"] = [{"const": n, "description": descriptions.get(n, "")} for n in names]
    return {
        "type": "object",
        "description": "One tool: an instance of a plugin, with its options.",
        "required": ["name", "instanceID"],
        "additionalProperties": False,
        "properties": {
            "name": name_schema,
            "instanceID": {"type": "string", "minLength": 1,
                           "description": "This instance's id; `name.instanceID` names the tool."},
            "dependsOn": {"type": "array", "items": {"type": "string", "pattern": r"^[^.\s]+\.[^.\s]+$"},
                          "description": "Tools (name.instanceID) that must be applied before this one."},
            "options": {"type": "object", "description": "The plugin's options."},
        },
        "allOf": branches,
    }


def _config_section() -> dict[str, Any]:
    backends = sorted(set(BACKENDS))
    return {
        "type": "object",
        "description": "dtm's own settings.",
        "additionalProperties": False,
        "properties": {
            "state": {
                "type": "object", "additionalProperties": False,
                "description": "Where dtm keeps the state of what it made.",
                "properties": {
                    "backend": {"type": "string", "enum": backends, "default": DEFAULT_BACKEND,
                                "description": "The state backend: prefect (artifacts on the Prefect server), "
                                               "local (a YAML file beside the config) or s3 (an object in an S3 "
                                               "bucket)."},
                    "options": {"type": "object", "description": "The backend's options, e.g. stateFile for "
                                                                 "local; bucket, region and key for s3."},
                },
            },
            "pluginDir": {"type": "string",
                          "description": "A folder of plugins (`dtm init -d`), relative to the config's folder; "
                                         "every dtm command run with this config finds its plugins there."},
            "pluginIndex": {"type": "string",
                            "description": "A plugin index file, relative to the config's folder, that `dtm init` "
                                           "reads after dtm's own: plugin name -> distribution, versions, hashes."},
        },
    }


def config_schema(registry: PluginRegistry | None = None, names: Iterable[str] | None = None) -> dict[str, Any]:
    """The JSON Schema of a config file, with the options of the named (default: every installed) plugin.

    A plugin that fails to load is left out: its tools' options are then any map.
    """
    registry = registry or default_registry()
    plugins: dict[str, type[BaseModel]] = {}
    descriptions: dict[str, str] = {}
    for name in names if names is not None else registry.names():
        try:
            cls = registry.plugin_class(name)
        except Exception:  # a broken third-party plugin must not hide the others' schemas
            continue
        plugins[name] = cls.Options
        descriptions[name] = cls.description
    defs: dict[str, Any] = {"expression": EXPRESSION}
    tool = _tool_schema(plugins, descriptions, defs)
    app = _model_schema(App, "app.", defs)
    template = _model_schema(PipelineTemplate, "pipelineTemplate.", defs)
    defs["tool"] = tool
    return {
        "$schema": DIALECT,
        "title": "dtm config",
        "description": "A dtm (DevStream) config file; a config may be split over the files of a folder.",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "config": _config_section(),
            "vars": {"type": "object", "description": "Variables used as [[ name ]] in the rest of the config."},
            "tools": {"type": "array", "items": {"$ref": "#/$defs/tool"},
                      "description": "The tools: plugin instances with their options."},
            "apps": {"type": "array", "items": app,
                     "description": "Applications: a repository scaffolded from a template, and its CI/CD "
                                    "pipelines, expanded into tools."},
            "pipelineTemplates": {"type": "array", "items": template,
                                  "description": "Pipelines that apps name in their ci/cd entries."},
        },
        "$defs": defs,
    }
