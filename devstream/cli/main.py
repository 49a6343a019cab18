"""`dtm`: the command line. Typer options live here; the work is in run.py and inspect.py.

One exit path: typer reports usage errors (unknown flag or command, missing value) and exits 2; a DtmError
prints one red message and exits 1; an OSError (the disk, a permission) names the path and the cause and
exits 1; Ctrl-C exits 130; anything else is a bug, exits 3 and writes a report (versions and traceback)
whose path is printed. `--debug` also prints the traceback of an error.
"""

from __future__ import annotations

import atexit
import gc
import sys
import traceback
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

# Each command imports the module that does its work when it runs: `dtm --help` and usage errors then load
# typer and rich only, not pydantic, httpx, yaml or jinja2 (README, performance: 0.89 s -> 0.18 s, same load).
from devstream.cli import render, state_app
from devstream.cli.options import ConfigOpt, JsonOpt, LockOpt, default_config
from devstream.errors import DtmError, describe_os_error

app = typer.Typer(name="dtm", help="DevStream: declare your DevOps toolchain in YAML; dtm makes it real, on Prefect.",
                  no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None)
show_app = typer.Typer(help="Show the sample config or the status of resources.", no_args_is_help=True)
list_app = typer.Typer(help="List installed plugins.", no_args_is_help=True)
app.add_typer(show_app, name="show")
app.add_typer(list_app, name="list")
server_app = typer.Typer(help="dtm's local Prefect server, which runs the flows when PREFECT_API_URL is unset.",
                         no_args_is_help=True)
app.add_typer(server_app, name="server")
state_app.register(app)

YesOpt = Annotated[bool, typer.Option("-y", "--yes", help="Do not ask for confirmation.")]
ParOpt = Annotated[int, typer.Option("--parallelism", min=1, max=1000,
                                     help="How many changes (and, while planning, live reads) run at once.")]
# Commands that change nothing use it for their live reads only.
ReadParOpt = Annotated[int, typer.Option("--parallelism", min=1, max=1000,
                                         help="How many live reads of resources run at once.")]


ExcludeOpt = Annotated[list[str] | None, typer.Option(
    "--exclude", help="Leave this tool (name.instanceID) out, and every change that needs it; repeatable.")]


def _exit(code: int) -> None:
    raise typer.Exit(code)


@app.command()
def apply(plan_file: Annotated[Path | None, typer.Argument(
              metavar="PLANFILE", help="A plan saved by `dtm plan -o`: apply exactly it (no prompt), or refuse "
                                         "when config or state changed since.")] = None,
          config: Annotated[Path | None, typer.Option(
              "-f", "--config-file", readable=False,
              help="A config file, or a folder of them (default: with PLANFILE the plan's own, else ./config.yaml "
                   "when it exists).")] = None,
          yes: YesOpt = False, parallelism: ParOpt = 10,
          target: Annotated[list[str] | None, typer.Option("--target", help="Only this tool (name.instanceID) and "
                                                           "what it depends on; repeatable.")] = None,
          exclude: ExcludeOpt = None, json_out: JsonOpt = False, lock_timeout: LockOpt = 0) -> None:
    """Create, update and delete so that the toolchain matches the config (or as a saved plan says)."""
    from devstream.cli import plans, run

    if plan_file is not None:
        if target or exclude:
            raise typer.BadParameter("a saved plan is applied whole; give --target/--exclude to `dtm plan -o`",
                                     param_hint="'--target' / '--exclude'")
        _exit(plans.apply_saved(plan_path=plan_file, config_path=config, parallelism=parallelism,
                                json_out=json_out, lock_timeout=lock_timeout))
    if config is None:  # -f is optional here only because of PLANFILE: the same default, the same words
        try:
            config = default_config()
        except typer.BadParameter as missing:
            missing.param_hint = "'-f' / '--config-file'"
            raise
    _exit(run.apply(config_path=config, yes=yes, parallelism=parallelism, targets=target, json_out=json_out,
                    lock_timeout=lock_timeout, excludes=exclude))


@app.command()
def plan(config: ConfigOpt, json_out: JsonOpt = False, parallelism: ReadParOpt = 10,
         detailed_exitcode: Annotated[bool, typer.Option("--detailed-exitcode",
                                                         help="Exit 2 when there are changes.")] = False,
         exclude: ExcludeOpt = None,
         out: Annotated[Path | None, typer.Option("-o", "--out", help="Save the plan to this file, for "
                                                                     "`dtm apply PLANFILE`.")] = None) -> None:
    """Show what apply would change, without changing anything."""
    from devstream.cli import run
    _exit(run.plan(config_path=config, json_out=json_out, detailed_exitcode=detailed_exitcode,
                   parallelism=parallelism, excludes=exclude, out=out))


@app.command()
def verify(config: ConfigOpt, parallelism: ReadParOpt = 10) -> None:
    """Exit 0 when config, state and live resources agree; 2 when changes are pending."""
    from devstream.cli import run
    _exit(run.verify(config_path=config, parallelism=parallelism))


@app.command()
def delete(config: ConfigOpt, yes: YesOpt = False, parallelism: ParOpt = 10, json_out: JsonOpt = False,
           force: Annotated[bool, typer.Option("--force", help="Also call delete for tools not in state.")] = False,
           exclude: ExcludeOpt = None, lock_timeout: LockOpt = 0) -> None:
    """Delete the tools of the config, dependents first."""
    from devstream.cli import run
    _exit(run.delete(config_path=config, yes=yes, force=force, parallelism=parallelism, json_out=json_out,
                     lock_timeout=lock_timeout, excludes=exclude))


@app.command()
def destroy(config: ConfigOpt, yes: YesOpt = False, parallelism: ParOpt = 10, json_out: JsonOpt = False,
            force: Annotated[bool, typer.Option("--force", help="Also call delete for the config's tools that are "
                                                               "not in state (DevStream's destroy by config).")
                             ] = False,
            exclude: ExcludeOpt = None, lock_timeout: LockOpt = 0) -> None:
    """Delete everything in the state, dependents first."""
    from devstream.cli import run
    _exit(run.destroy(config_path=config, yes=yes, parallelism=parallelism, json_out=json_out,
                      lock_timeout=lock_timeout, force=force, excludes=exclude))


@app.command()
def drift(config: ConfigOpt,
          remediate: Annotated[bool, typer.Option(
              "--remediate", help="Re-apply the drifted and missing tools (holds the state's lock); the exit code "
                                  "is still 2, and the report lists what was re-applied.")] = False,
          json_out: JsonOpt = False,
          parallelism: Annotated[int, typer.Option(
              "--parallelism", min=1, max=1000,
              help="How many live reads (and, with --remediate, changes) run at once.")] = 10,
          lock_timeout: LockOpt = 0) -> None:
    """Check every resource in state against the config and its live status.

    Exit 0 when all are in sync; 2 when something drifted, went missing, changed in the config or left it
    (also after --remediate); 1 when a read or a remediation failed.
    """
    from devstream.cli import drift as drift_cli
    _exit(drift_cli.drift(config_path=config, remediate=remediate, json_out=json_out, parallelism=parallelism,
                          lock_timeout=lock_timeout))


@app.command()
def serve(config: ConfigOpt,
          drift_cron: Annotated[str, typer.Option("--drift-cron", help="When the drift check runs (cron, UTC).")
                                ] = "0 * * * *",
          limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many runs at once.")] = None,
          ) -> None:
    """Serve this config's apply, plan, destroy and scheduled drift-check deployments from this process."""
    from devstream.cli import serve as serve_cli
    _exit(serve_cli.serve(config_path=config, drift_cron=drift_cron, limit=limit))


@app.command()
def validate(config: ConfigOpt, json_out: JsonOpt = False) -> None:
    """Check the config (vars, references, dependencies, plugin options) without touching state."""
    from devstream.cli import inspect
    _exit(inspect.validate(config_path=config, json_out=json_out))


@app.command()
def init(
        config: Annotated[Path | None, typer.Option("-f", "--config-file",
                                                    help="A config file, or a folder of them.")] = None,
        plugins: Annotated[str | None, typer.Option("-p", "--plugins", help="Plugins to install: a,b,c.")] = None,
        install_all: Annotated[bool, typer.Option("-a", "--all", help="Every plugin in the index.")] = False,
        download_only: Annotated[bool, typer.Option("--download-only",
                                                    help="Fetch the wheels (into -d, else ./dtm-plugins) only.")
                                 ] = False,
        plugin_dir: Annotated[Path | None, typer.Option("-d", "--plugin-dir",
                                                        help="Install into this folder instead of dtm's "
                                                             "environment.")] = None,
        index: Annotated[list[Path] | None, typer.Option("--index", help="A plugin index file (repeatable).")
                         ] = None,
        find_links: Annotated[list[str] | None, typer.Option("--find-links",
                                                             help="A folder or page of wheels (repeatable).")
                              ] = None,
        index_url: Annotated[str | None, typer.Option("--index-url", help="A package index instead of PyPI.")
                             ] = None,
) -> None:
    """Install the plugins the config names that are missing (pip, pinned versions, hashes checked)."""
    from devstream.cli import plugins_install
    _exit(plugins_install.init(config_path=config, plugins=[p for p in (plugins or "").split(",") if p.strip()],
                               install_all=install_all, download_only=download_only, plugin_dir=plugin_dir,
                               indexes=index or [], find_links=find_links or [], index_url=index_url))


@app.callback()
def _everywhere(plugin_dir: Annotated[Path | None, typer.Option(
        "--plugin-dir", envvar="DTM_PLUGIN_DIR",
        help="A folder of plugins (dtm init -d) to use besides dtm's environment.")] = None,
        debug: Annotated[bool, typer.Option(
            "--debug", envvar="DTM_DEBUG",
            help="Print the traceback of an error (a failed change's too) and Prefect's INFO logs.")] = False,
        ) -> None:
    """Options for every command (`dtm --debug apply ...`)."""
    render.debug = debug
    if plugin_dir is not None:
        from devstream.plugin.registry import use_plugin_dir

        use_plugin_dir(plugin_dir)


@app.command()
def schema(plugin: Annotated[str | None, typer.Option("-p", "--plugin", help="Only this plugin's options.")] = None,
           output: Annotated[Path | None, typer.Option("-o", "--output", help="Write it to this file.")] = None
           ) -> None:
    """Print the JSON Schema of a config, with every installed plugin's options, for editors and checks."""
    from devstream.cli import schema as schema_cli
    _exit(schema_cli.schema(plugin=plugin, output=output))


develop_app = typer.Typer(help="Write and check plugins.", no_args_is_help=True)
app.add_typer(develop_app, name="develop")


@develop_app.command("create-plugin")
def develop_create_plugin(
        name: Annotated[str, typer.Argument(help="The plugin's name, as configs will write it (e.g. my-tool).")],
        directory: Annotated[Path, typer.Option("--dir", help="Where to write the package folder.")] = Path("."),
) -> None:
    """Write a plugin package: pyproject with the entry point, Options, create/read/update/delete, tests."""
    from devstream.cli import develop as develop_cli
    _exit(develop_cli.create_plugin(name=name, directory=directory))


@develop_app.command("validate-plugin")
def develop_validate_plugin(name: Annotated[str, typer.Argument(help="An installed plugin's name.")]) -> None:
    """Run the conformance suite against an installed plugin (exit 1 when a check fails)."""
    from devstream.cli import develop as develop_cli
    _exit(develop_cli.validate_plugin(name=name))


@app.command("force-unlock")
def force_unlock(config: ConfigOpt) -> None:
    """Release the state's lock left by a run that is gone."""
    from devstream.cli import inspect
    _exit(inspect.force_unlock(config_path=config))


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"
    powershell = "powershell"
    pwsh = "pwsh"


@app.command()
def completion(shell: Annotated[Shell, typer.Argument(help="The shell to complete dtm's commands in.")]) -> None:
    """Print the shell completion script (bash: `source <(dtm completion bash)`; zsh, fish, powershell alike)."""
    # The script typer writes for `dtm --show-completion SHELL`: asked for through the same public option.
    app(["--show-completion", shell.value], prog_name="dtm")


@app.command()
def version() -> None:
    """Print dtm's version."""
    from devstream.cli import inspect
    _exit(inspect.version())


@show_app.command("status")
def show_status(config: ConfigOpt,
                plugin: Annotated[str | None, typer.Option("-p", "--plugin", help="Only this plugin.")] = None,
                instance_id: Annotated[str | None, typer.Option("-i", "--id", help="Only this instanceID.")] = None,
                show_all: Annotated[bool, typer.Option("-a", "--all", help="Every resource in state (the default "
                                                                           "without -p and -i).")] = False,
                json_out: JsonOpt = False) -> None:
    """Each resource in state, read live, with what drifted."""
    from devstream.cli import inspect

    if show_all and (plugin or instance_id):
        raise typer.BadParameter("--all shows every resource; leave out -p/-i, or --all", param_hint="'-a' / '--all'")
    _exit(inspect.show_status(config_path=config, plugin=plugin, instance_id=instance_id, json_out=json_out))


@show_app.command("config")
def show_config(plugin: Annotated[str | None, typer.Option("-p", "--plugin", help="A plugin's options.")] = None,
                template: Annotated[str | None, typer.Option(
                    "-t", "--template", help="One of DevStream's template configs: quickstart, gitops, apps.")
                                    ] = None) -> None:
    """Print a sample config, a template config, or a plugin's options."""
    from devstream.cli import inspect, samples

    if template is not None:
        if plugin is not None:
            raise typer.BadParameter("give a template or a plugin, not both", param_hint="'-t' / '--template'")
        print(samples.template(template), end="")
        _exit(0)
    _exit(inspect.show_config(plugin=plugin))


@list_app.command("plugins")
def list_plugins(regex: Annotated[str | None, typer.Option("-r", "--regex", "--filter",
                                                           help="Only names this regular expression finds.")
                                      ] = None) -> None:
    """List the installed plugins."""
    from devstream.cli import inspect
    _exit(inspect.list_plugins(regex=regex))


@server_app.command("start")
def server_start() -> None:
    """Start dtm's local Prefect server in the background (dtm apply starts it when needed)."""
    from devstream.cli import server_cmds
    _exit(server_cmds.server_start())


@server_app.command("stop")
def server_stop() -> None:
    """Stop dtm's local Prefect server; its run history is kept for the next start."""
    from devstream.cli import server_cmds
    _exit(server_cmds.server_stop())


@server_app.command("status")
def server_status(json_out: JsonOpt = False) -> None:
    """Whether dtm's local Prefect server runs: its UI address, pid, uptime and database. Exit 1 if not."""
    from devstream.cli import server_cmds
    _exit(server_cmds.server_status(json_out=json_out))


def _version_of(package: str) -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version(package)
    except PackageNotFoundError:
        return "not installed"


def _crash_report(exc: BaseException) -> Path:
    import platform
    import tempfile
    import time

    path = Path(tempfile.gettempdir()) / f"dtm-crash-{time.strftime('%Y%m%d-%H%M%S')}.log"
    path.write_text(
        f"dtm {_version_of('dtm')}, Prefect {_version_of('prefect')}, typer {_version_of('typer')}, "
        f"Python {platform.python_version()} on {platform.platform()}\n"
        f"command: {' '.join(sys.argv)}\n\n" + "".join(traceback.format_exception(exc)))
    return path


def _print_traceback(exc: BaseException) -> None:
    """With --debug: where an error came from (a plugin's own traceback first, when it carries one)."""
    if not render.debug:
        return
    if (plugin_traceback := getattr(exc, "traceback_text", None)) is not None:
        render.err_console.print(plugin_traceback, markup=False, highlight=False, end="")
    render.err_console.print("".join(traceback.format_exception(exc)), markup=False, highlight=False, end="")


# At exit (after Prefect drained its event and log queues, before the interpreter's teardown): the teardown's
# collections skip the objects a run left, frozen. After a 300-change apply they took 3-5 s on a busy
# machine, between the last line printed and the shell's prompt; 0.5 s with this.
atexit.register(gc.freeze)


def main() -> None:
    # Standalone mode: typer itself prints usage errors with the command's usage line and exits 2, and turns
    # Ctrl-C inside a command into exit 130. What it lets through is dtm's to report.
    try:
        app()
    except DtmError as exc:
        _print_traceback(exc)
        render.print_error(exc)
        sys.exit(1)
    except KeyboardInterrupt:
        render.err_console.print("Interrupted.")
        sys.exit(130)
    except OSError as exc:  # the environment refused: a full disk, a permission, a path that cannot be
        _print_traceback(exc)
        render.print_error(DtmError(describe_os_error(exc)))
        sys.exit(1)
    except Exception as exc:
        _print_traceback(exc)
        report = _crash_report(exc)
        render.print_error(DtmError(f"internal error ({type(exc).__name__}: {exc}); this is a bug in dtm. "
                                    f"A report is in {report}; please attach it to an issue"))
        sys.exit(3)
