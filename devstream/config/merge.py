"""Merging the documents of a config into one, structurally.

DevStream glued the files of a folder together as text, so a var defined in two files broke YAML parsing
with a message naming neither file. Here every document is parsed on its own and the sections are merged:
`tools`, `apps` and `pipelineTemplates` are concatenated in file order, `vars` are merged (a var defined
twice names both places), and `config` may appear once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from devstream.config.source import FieldPath, Part
from devstream.errors import ConfigError, Issue

__all__ = ["LIST_SECTIONS", "SECTIONS", "Entry", "Merged", "merge_parts"]

LIST_SECTIONS = ("tools", "apps", "pipelineTemplates")
SECTIONS = ("config", "vars", *LIST_SECTIONS)


@dataclass(frozen=True)
class Entry:
    """One item of a list section (or the `config` section) and the part it was written in."""

    part: Part
    path: FieldPath
    value: Any

    @property
    def line(self) -> int | None:
        return self.part.line_of(self.path)

    def where(self) -> str:
        return f"{self.part.file}:{self.line}"


@dataclass
class Merged:
    """All documents' sections together. `vars` maps a name to (part, path, raw value)."""

    config: Entry | None = None
    vars: dict[str, tuple[Part, FieldPath, Any]] = field(default_factory=dict)
    tools: list[Entry] = field(default_factory=list)
    apps: list[Entry] = field(default_factory=list)
    pipelineTemplates: list[Entry] = field(default_factory=list)  # noqa: N815 - the YAML key's spelling


def merge_parts(parts: list[Part]) -> Merged:
    """Merge the parts in order; every structural problem of every part is reported together."""
    merged = Merged()
    issues: list[Issue] = []
    allowed = ", ".join(SECTIONS)
    for part in parts:
        if not isinstance(part.data, dict):
            issues.append(part.issue(f"a config document must be a map of sections ({allowed}), "
                                     f"not a {type(part.data).__name__}", ()))
            continue
        for key, value in part.data.items():
            path: FieldPath = (key,)
            if key not in SECTIONS:
                issues.append(part.issue(f"unknown top-level key {key!r}; the allowed keys are {allowed} "
                                         f"(is this file meant for dtm?)", path))
            elif value is None:
                continue  # `tools:` with nothing under it
            elif key == "config":
                if not isinstance(value, dict):
                    issues.append(part.issue("`config` must be a map (with a `state` key)", path))
                elif merged.config is not None:
                    issues.append(part.issue(f"`config` may be defined only once, but it is also defined at "
                                             f"{merged.config.where()}; keep one of them", path))
                else:
                    merged.config = Entry(part, path, value)
            elif key == "vars":
                if not isinstance(value, dict):
                    issues.append(part.issue("`vars` must be a map of names to values", path))
                    continue
                for name, raw in value.items():
                    if name in merged.vars:
                        first, first_path, _ = merged.vars[name]
                        issues.append(part.issue(
                            f"var {name!r} is defined twice: here and at {first.file}:"
                            f"{first.line_of(first_path)}; keep one of them", (*path, name)))
                    else:
                        merged.vars[name] = (part, (*path, name), raw)
            elif not isinstance(value, list):
                issues.append(part.issue(f"`{key}` must be a list (items start with '- ')", path))
            else:
                getattr(merged, key).extend(Entry(part, (key, i), item) for i, item in enumerate(value))
    if issues:
        raise ConfigError(issues)
    return merged
