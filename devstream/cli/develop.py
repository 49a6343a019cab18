"""`dtm develop`: write a new plugin package, and run the conformance suite against an installed plugin."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

from rich.table import Table
from rich.text import Text

from devstream import __version__
from devstream.cli import render
from devstream.cli.plugin_template import FILES
from devstream.errors import DtmError
from devstream.plugin.registry import default_registry
from devstream.testing import Harness, run_checks

__all__ = ["CONFORMANCE_GROUP", "create_plugin", "validate_plugin"]

CONFORMANCE_GROUP = "devstream.conformance"
_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")


def create_plugin(*, name: str, directory: Path) -> int:
    """Write the package `dtm-plugin-NAME` into `directory`."""
    if not _NAME.fullmatch(name):
        raise DtmError(f"plugin name {name!r} is not valid: use lower-case letters, digits and single dashes, "
                       f"starting with a letter (e.g. my-tool)")
    module = "dtm_plugin_" + name.replace("-", "_")
    base = "".join(part.capitalize() for part in name.split("-"))
    values = {"name": name, "dist": f"dtm-plugin-{name}", "module": module, "cls": f"{base}Plugin",
              "cls_base": base, "dtm_version": __version__}
    root = directory / values["dist"]
    if root.exists() and any(root.iterdir()):
        raise DtmError(f"{root} exists and is not empty; choose another --dir or remove it")
    for relative, template in FILES.items():
        path = root / relative.replace("$module", module)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.substitute(values), encoding="utf-8")
    render.console.print(f"Wrote the plugin package {root}\n  cd {root} && pip install -e '.[test]' && pytest\n"
                         f"  dtm develop validate-plugin {name}", markup=False)
    return 0


def _harness_factory(name: str) -> Callable[[Path], Harness] | None:
    for ep in entry_points(group=CONFORMANCE_GROUP):
        if ep.name == name:
            try:
                factory = ep.load()
            except Exception as exc:
                raise DtmError(f"the conformance harness of plugin {name!r} ({ep.value}) failed to load: "
                               f"{exc}") from exc
            return factory
    return None


def validate_plugin(*, name: str) -> int:
    """Run the conformance suite against the installed plugin `name`; exit 1 when a check fails."""
    cls = default_registry().plugin_class(name)
    factory = _harness_factory(name)
    with tempfile.TemporaryDirectory(prefix="dtm-validate-") as scratch:
        counter = iter(range(1_000_000))

        def make() -> Harness:
            if factory is None:
                from devstream.plugin.base import PluginContext

                return Harness(plugin=cls(), options=None,
                               context=PluginContext(name=name, instance_id="conformance", workdir=Path(scratch)))
            workdir = Path(scratch) / str(next(counter))
            workdir.mkdir()
            return factory(workdir)

        results = run_checks(make, system=factory is not None)
    table = Table(title=f"dtm conformance: {name} ({default_registry().source(name)})")
    for col in ("check", "result", "detail"):
        table.add_column(col)
    style = {"passed": "green", "failed": "red", "skipped": "yellow"}
    for result in results:
        table.add_row(result.check.name, Text(result.outcome, style[result.outcome]), result.detail)
    render.console.print(table)
    if factory is None:
        render.console.print(f"Only the checks of the class ran: the plugin registers no test double (a "
                             f"{CONFORMANCE_GROUP!r} entry point named {name!r} giving a Harness for a folder).")
    failed = [r for r in results if r.outcome == "failed"]
    if failed:
        raise DtmError(f"plugin {name!r} fails {len(failed)} conformance check(s): "
                       f"{', '.join(r.check.name for r in failed)}")
    render.console.print(f"[green]Plugin {name!r} passes the conformance suite.[/]")
    return 0
