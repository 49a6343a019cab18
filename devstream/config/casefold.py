"""Option keys in any letter case, as DevStream's decoder took them.

DevStream decoded plugin options with mapstructure, which matches a key to a field whatever its case: its
users wrote `baseUrl` for `baseURL`, `configlocation` for `configLocation`. dtm's options are pydantic models
that forbid unknown keys, so before they are validated each key that names a field only in another case is
renamed to the field's own spelling, in nested option models too. Keys that are data, not fields (a map of
variables, file names), are left alone, and so is a key two fields could claim.
"""

from __future__ import annotations

from typing import Any, get_args, get_origin

from pydantic import BaseModel

__all__ = ["canonical_keys"]


def _models_in(annotation: Any) -> tuple[type[BaseModel] | None, str]:
    """The options model a field holds, and how: "one", "list" (of them) or "map" (name -> one)."""
    origin = get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, "one"
    args = get_args(annotation)
    if origin in (list, tuple, set) and args:
        model, how = _models_in(args[0])
        return (model, "list") if how == "one" else (None, "")
    if origin is dict and len(args) == 2:
        model, how = _models_in(args[1])
        return (model, "map") if how == "one" else (None, "")
    for arg in args:  # Optional[...], unions, Annotated[...]
        model, how = _models_in(arg)
        if model is not None:
            return model, how
    return None, ""


def _names(model: type[BaseModel]) -> dict[str, Any]:
    """The keys a model takes, each with its field's annotation."""
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        out[info.alias or name] = info.annotation
        if info.alias and model.model_config.get("populate_by_name"):
            out[name] = info.annotation
    return out


def canonical_keys(options: Any, model: type[BaseModel]) -> Any:
    """`options` with keys that match a field of `model` only case-insensitively spelled as the field is."""
    if not isinstance(options, dict):
        return options
    names = _names(model)
    by_lower: dict[str, list[str]] = {}
    for name in names:
        by_lower.setdefault(name.lower(), []).append(name)
    out: dict[Any, Any] = {}
    for key, value in options.items():
        name = key
        if isinstance(key, str) and key not in names:
            claims = by_lower.get(key.lower(), [])
            if len(claims) == 1 and claims[0] not in options:
                name = claims[0]
        out[name] = _nested(value, names.get(name))
    return out


def _nested(value: Any, annotation: Any) -> Any:
    if annotation is None:
        return value
    model, how = _models_in(annotation)
    if model is None:
        return value
    if how == "one":
        return canonical_keys(value, model)
    if how == "list" and isinstance(value, list):
        return [canonical_keys(v, model) for v in value]
    if how == "map" and isinstance(value, dict):
        return {k: canonical_keys(v, model) for k, v in value.items()}
    return value
