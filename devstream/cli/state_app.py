"""The typer side of `dtm state ...`, `dtm output` and `dtm import`; the work is in state_cmds.py."""

from __future__ import annotations

from typing import Annotated

import typer

from devstream.cli.options import ConfigOpt, JsonOpt, LockOpt

__all__ = ["register"]

state = typer.Typer(help="Look at and repair the state: list, show, rm, mv. No resource is touched.",
                    no_args_is_help=True)
KeyArg = Annotated[str, typer.Argument(help="A tool as name.instanceID (or DevStream's state key name_instanceID).")]


# Each command imports state_cmds (config, state backends, pydantic) when it runs, not when `dtm --help` does.


def _exit(code: int) -> None:
    raise typer.Exit(code)


@state.command("list")
def state_list(config: ConfigOpt, json_out: JsonOpt = False) -> None:
    """Every record in the state: the tool, its plugin, whether the config has it."""
    from devstream.cli import state_cmds
    _exit(state_cmds.state_list(config_path=config, json_out=json_out))


@state.command("show")
def state_show(key: KeyArg, config: ConfigOpt, json_out: JsonOpt = False) -> None:
    """One record: options (secrets as fingerprints), dependencies and resource status with its outputs."""
    from devstream.cli import state_cmds
    _exit(state_cmds.state_show(config_path=config, key=key, json_out=json_out))


@state.command("rm")
def state_rm(keys: Annotated[list[str], typer.Argument(help="Tools as name.instanceID.", show_default=False)],
             config: ConfigOpt, lock_timeout: LockOpt = 0) -> None:
    """Forget records without deleting their resources (dtm no longer manages them)."""
    from devstream.cli import state_cmds
    _exit(state_cmds.state_rm(config_path=config, keys=keys, lock_timeout=lock_timeout))


@state.command("mv")
def state_mv(old: KeyArg, new: Annotated[str, typer.Argument(help="The new name.instanceID.")],
             config: ConfigOpt, lock_timeout: LockOpt = 0) -> None:
    """Rename a record after its instanceID changed in the config, so nothing is deleted and re-created."""
    from devstream.cli import state_cmds
    _exit(state_cmds.state_mv(config_path=config, old=old, new=new, lock_timeout=lock_timeout))


def output(config: ConfigOpt,
           key: Annotated[str | None, typer.Argument(
               help="A tool (name.instanceID), or one value (name.instanceID.outputs.NAME).")] = None,
           json_out: JsonOpt = False) -> None:
    """Print tools' outputs from the state."""
    from devstream.cli import state_cmds
    _exit(state_cmds.output(config_path=config, key=key, json_out=json_out))


def import_(key: Annotated[str, typer.Argument(help="The tool of the config it becomes, as name.instanceID.")],
            resource_id: Annotated[str, typer.Argument(
                metavar="ID", help="The existing resource, as the tool's plugin names it (a file's path, a "
                                   "repository's owner/name...; `dtm show config -p PLUGIN` says which).")],
            config: ConfigOpt,
            owned: Annotated[bool, typer.Option(
                "--owned", help="dtm owns the resource from now on: delete and destroy remove it, as if dtm had "
                                "created it.")] = False,
            lock_timeout: LockOpt = 0) -> None:
    """Adopt an existing resource into the state as a tool of the config; the next plan shows what differs."""
    from devstream.cli import state_cmds
    _exit(state_cmds.import_resource(config_path=config, key=key, resource_id=resource_id, owned=owned,
                                     lock_timeout=lock_timeout))


def register(app: typer.Typer) -> None:
    """Add these commands to `dtm`."""
    app.add_typer(state, name="state")
    app.command("output")(output)
    app.command("import")(import_)
