"""The plugin index: which distribution provides a plugin, the versions this dtm supports, and their hashes.

dtm ships a small index of its own plugins (`plugin_index.yaml` beside this module); a config's
`config.pluginIndex` and `dtm init --index` add or override entries. An index file is YAML:

    plugins:
      hello:
        distribution: dtm-plugin-hello      # what pip installs
        versions: ">=0.1,<0.2"              # the releases this dtm supports
        hashes:                             # per release: the sha256 of each file pip may install
          "0.1.0": ["sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]

`dtm init` pins the newest release that `versions` allows and the index has hashes for, and pip installs it
in hash-checking mode: a file whose hash the index does not list is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import entry_points
from pathlib import Path

import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from devstream.errors import PluginLoadError
from devstream.plugin.registry import ENTRY_POINT_GROUP

__all__ = ["SHIPPED_INDEX", "IndexEntry", "load_index", "requirement"]

SHIPPED_INDEX = Path(__file__).with_name("plugin_index.yaml")
_HASH = "sha256:"


class IndexEntry(BaseModel):
    """One plugin in the index."""

    model_config = ConfigDict(extra="forbid")

    distribution: str = Field(min_length=1, description="The Python distribution that provides the plugin.")
    versions: str = Field(default="", description="The releases this dtm supports, as a version specifier.")
    hashes: dict[str, list[str]] = Field(default_factory=dict, description="Release -> sha256 hashes of its files.")
    builtin: bool = Field(default=False, description="The plugin ships with dtm itself.")

    @field_validator("versions")
    @classmethod
    def _specifier(cls, value: str) -> str:
        try:
            SpecifierSet(value)
        except InvalidSpecifier:
            raise ValueError(f"{value!r} is not a version specifier such as '>=1.0,<2'") from None
        return value

    @field_validator("hashes")
    @classmethod
    def _sha256(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for release, hashes in value.items():
            for h in hashes:
                digest = h.removeprefix(_HASH)
                if not h.startswith(_HASH) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                    raise ValueError(f"release {release}: {h!r} is not a 'sha256:<64 hex digits>' hash")
        return value


def _read(path: Path) -> dict[str, IndexEntry]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise PluginLoadError(f"plugin index {path}: cannot read it: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise PluginLoadError(f"plugin index {path}: not valid YAML: {exc}") from None
    plugins = data.get("plugins") if isinstance(data, dict) else None
    if not isinstance(plugins, dict):
        raise PluginLoadError(f"plugin index {path}: expected a `plugins:` map of name -> entry")
    entries = {}
    for name, raw in plugins.items():
        try:
            entries[str(name)] = IndexEntry.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'entry'}: {e['msg']}" for e in exc.errors())
            raise PluginLoadError(f"plugin index {path}: plugins.{name}: {problems}") from None
    return entries


def load_index(extra: Iterable[Path] = ()) -> dict[str, IndexEntry]:
    """dtm's own index, then each extra file in order (a later entry replaces an earlier one of its name)."""
    index = _read(SHIPPED_INDEX)
    for ep in entry_points(group=ENTRY_POINT_GROUP):  # a plugin that ships with dtm is in its index
        dist = getattr(ep, "dist", None)
        if dist is not None and dist.name == "dtm" and ep.name not in index:
            index[ep.name] = IndexEntry(distribution="dtm", builtin=True)
    for path in extra:
        index.update(_read(path))
    return index


def requirement(name: str, entry: IndexEntry) -> str:
    """The pinned, hash-checked requirements-file line for the plugin: `dist==version --hash=sha256:...`."""
    allowed = SpecifierSet(entry.versions)
    releases = []
    for release, hashes in entry.hashes.items():
        try:
            version = Version(release)
        except InvalidVersion:
            raise PluginLoadError(f"plugin {name!r}: the index lists release {release!r}, which is not a "
                                  f"version") from None
        if version in allowed and hashes:
            releases.append((version, hashes))
    if not releases:
        raise PluginLoadError(
            f"plugin {name!r}: the index has no release of {entry.distribution} that this dtm supports "
            f"({entry.versions or 'any'}) with sha256 hashes; add the release and the hashes of its files "
            f"(`pip hash FILE`) to the index")
    version, hashes = max(releases)
    return f"{entry.distribution}=={version} " + " ".join(f"--hash={h}" for h in hashes)
