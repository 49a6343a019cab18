"""Typer options that several command modules share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["DEFAULT_CONFIG", "ConfigOpt", "JsonOpt", "LockOpt", "default_config"]

# DevStream's documented default: the config file in the working folder.
DEFAULT_CONFIG = Path("config.yaml")


def default_config() -> Path:
    """`-f` when not given: ./config.yaml if there is one (as DevStream's docs promised), else a usage error."""
    if DEFAULT_CONFIG.exists():
        return DEFAULT_CONFIG
    raise typer.BadParameter(f"missing: there is no {DEFAULT_CONFIG} in the current folder to default to; give the "
                             f"config file (or a folder of them) with -f PATH")


# readable=False: dtm checks the path itself, so an unreadable config is named with its cause (exit 1).
ConfigOpt = Annotated[Path, typer.Option("-f", "--config-file", readable=False, default_factory=default_config,
                                         show_default=f"./{DEFAULT_CONFIG} when it exists",
                                         help="A config file, or a folder of them.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
LockOpt = Annotated[float, typer.Option(
    "--lock-timeout", min=0,
    help="Seconds to wait for another run's lock on the state (default: fail at once).")]
