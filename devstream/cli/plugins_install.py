"""`dtm init`: install the plugins a config names, from the plugin index, with pip, hashes checked.

The plugins come from PyPI, or from the index or folder of wheels the user names, and go into dtm's own
environment or a plugin folder (`-d`, which every dtm command then puts on sys.path). Nothing is installed
when a plugin is unknown, an index entry has no hashes, or a file does not match its hash: pip in
hash-checking mode verifies every file before it installs any.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from devstream.cli import render
from devstream.config import load_config
from devstream.errors import DtmError, PluginLoadError
from devstream.plugin.index import load_index, requirement
from devstream.plugin.registry import default_registry, use_plugin_dir

__all__ = ["init"]


def init(*, config_path: Path | None, plugins: list[str], install_all: bool, download_only: bool,
         plugin_dir: Path | None, indexes: list[Path], find_links: list[str], index_url: str | None) -> int:
    """Install the plugins the config (or `-p`, or `-a`: every plugin of the index) names that are missing."""
    index_files = list(indexes)
    if config_path is not None:
        config = load_config(config_path, validate_plugins=False)
        wanted = list(dict.fromkeys(t.name for t in config.tools))
        if config.plugin_index is not None:
            index_files.insert(0, config.plugin_index)
        plugin_dir = plugin_dir or config.plugin_dir
    else:
        wanted = []
    index = load_index(index_files)
    wanted += [p for p in plugins if p not in wanted]
    if install_all:
        wanted += [n for n in index if n not in wanted]
    if not wanted:
        raise DtmError("no plugins to install: give a config (-f), plugin names (-p a,b) or --all")
    if plugin_dir is not None:
        plugin_dir = use_plugin_dir(plugin_dir)
    registry = default_registry()
    missing = [n for n in wanted if n not in registry] if not download_only else \
        [n for n in wanted if not (index.get(n) and index[n].builtin)]
    unknown = [n for n in missing if n not in index]
    if unknown:
        sources = ", ".join(str(p) for p in ["dtm's own index", *index_files])
        raise PluginLoadError(
            f"unknown plugin(s) {', '.join(unknown)}: not installed and not in the plugin index ({sources}). "
            f"Check the spelling, or add an entry (distribution, versions, hashes) to the config's "
            f"`config.pluginIndex` or pass --index FILE; nothing was installed")
    builtin = [n for n in missing if index[n].builtin]
    if builtin:
        raise PluginLoadError(f"plugin(s) {', '.join(builtin)} ship with dtm but cannot be loaded here; reinstall "
                              f"dtm (see `dtm list plugins`)")
    for name in wanted:
        if name not in missing:
            render.console.print(f"  {name}: [green]installed[/] ({registry.source(name)})")
    if not missing:
        render.console.print(f"[green]Ready:[/] all {len(wanted)} plugins are installed.")
        return 0
    lines = [requirement(n, index[n]) for n in missing]  # raises, naming the plugin, before pip runs
    target = plugin_dir if plugin_dir is not None else (Path.cwd() / "dtm-plugins" if download_only else None)
    _pip(lines, download_only=download_only, target=target, find_links=find_links, index_url=index_url)
    if download_only:
        render.console.print(f"[green]Downloaded[/] {', '.join(missing)} into {target}; install them later with "
                             f"`dtm init --find-links {target}`.")
        return 0
    registry.rescan()
    still = [n for n in missing if n not in registry]
    if still:
        raise PluginLoadError(f"pip installed the distributions, but they register no plugin named "
                              f"{', '.join(still)} under the 'devstream.plugins' entry point group; fix the index")
    for name in missing:
        registry.plugin_class(name)  # a plugin that does not load is an error now, not at apply time
        render.console.print(f"  {name}: [green]installed now[/] ({registry.source(name)})")
    where = f" into {plugin_dir}" if plugin_dir is not None else ""
    render.console.print(f"[green]Ready:[/] installed {', '.join(missing)}{where}.")
    return 0


def _pip(lines: list[str], *, download_only: bool, target: Path | None, find_links: list[str],
         index_url: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="dtm-init-") as scratch:
        requirements = Path(scratch) / "requirements.txt"
        requirements.write_text("\n".join(lines) + "\n", encoding="utf-8")
        command = [sys.executable, "-m", "pip", "download" if download_only else "install",
                   "--require-hashes", "--no-deps", "--disable-pip-version-check", "-r", str(requirements)]
        if download_only:
            command += ["-d", str(target)]
        elif target is not None:
            command += ["--target", str(target), "--upgrade"]
        for link in find_links:
            command += ["--find-links", link]
        if index_url:
            command += ["--index-url", index_url]
        elif find_links:
            command.append("--no-index")  # a folder of wheels given alone: do not go to PyPI behind its back
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PIP_NO_INPUT": "1"})
    if done.returncode != 0:
        detail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-12:])
        raise PluginLoadError(f"pip could not install the plugins (nothing was installed; hashes are checked "
                              f"before any install):\n{detail}")
