"""`dtm server start|stop|status`: what a user sees of dtm's local Prefect server (devstream/prefect_boundary/server.py
starts, finds and stops it)."""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from rich.markup import escape

from devstream.cli import render
from devstream.errors import LocalServerError
from devstream.prefect_boundary.server import (
    ServerInfo,
    dtm_home,
    embedded_server_disabled,
    ensure_running,
    forget_server,
    is_healthy,
    is_our_server,
    read_server_info,
    require_posix,
    server_lock,
    terminate_server,
)

__all__ = ["server_start", "server_status", "server_stop"]


def server_start() -> int:
    """`dtm server start`: start the local server (or find it running) and say where it is."""
    info, started = ensure_running(dtm_home())
    verb = "Started" if started else "Already running:"
    render.console.print(f"[green]{verb}[/] dtm's local Prefect server, UI at {escape(info.ui_url)} "
                         f"(pid {info.pid})")
    _note_when_unused(info)
    return 0


def server_stop() -> int:
    """`dtm server stop`: stop the local server and forget it. Exit 0 also when none was running."""
    require_posix()
    home = dtm_home()
    if not home.is_dir():
        render.console.print("dtm's local Prefect server is not running.")
        return 0
    with server_lock(home):
        info = read_server_info(home)
        if info is None:
            render.console.print("dtm's local Prefect server is not running.")
            return 0
        if not is_our_server(info):
            forget_server(home)
            render.console.print(f"dtm's local Prefect server is not running (pid {info.pid} is gone); "
                                 "removed its stale record.")
            return 0
        if not terminate_server(info.pid):
            raise LocalServerError(f"dtm's local Prefect server (pid {info.pid}) did not stop, even on SIGKILL; "
                                   f"check the process with `ps -p {info.pid}`")
        forget_server(home)
    render.console.print(f"Stopped dtm's local Prefect server (pid {info.pid}). Its runs are kept in "
                         f"{escape(str(info.database))}; the next `dtm apply` starts it again.")
    return 0


def _uptime_text(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _note_when_unused(info: ServerInfo) -> None:
    uses = os.environ.get("PREFECT_API_URL")
    if uses and uses.rstrip("/") != info.url:
        render.console.print(f"[yellow]Note:[/] PREFECT_API_URL is set, so dtm runs its flows on "
                             f"{escape(uses)}, not on this server.")
    elif embedded_server_disabled():
        render.console.print("[yellow]Note:[/] DTM_EMBEDDED_SERVER=0, so dtm uses Prefect's ephemeral mode, "
                             "not this server.")


def server_status(json_out: bool = False) -> int:
    """`dtm server status`: exit 0 when the local server runs and answers, 1 otherwise."""
    require_posix()
    home = dtm_home()
    info = read_server_info(home)
    running = info is not None and is_our_server(info)
    healthy = running and info is not None and is_healthy(info.url)
    if json_out:
        data: dict[str, Any] = {"running": running, "healthy": healthy, "home": str(home),
                                "log": str(home / "server.log")}
        if info is not None and running:
            data.update(asdict(info), ui_url=info.ui_url, database=str(info.database),
                        uptime_seconds=round(info.uptime(), 1))
        render.print_json(data)
        return 0 if healthy else 1
    if info is None or not running:
        render.console.print("dtm's local Prefect server is [bold]not running[/]; the next `dtm apply` with "
                             "changes starts it, or `dtm server start`.")
        return 1
    state = "[green]running[/]" if healthy else f"[red]running but not answering[/] (see {home / 'server.log'})"
    render.console.print(f"dtm's local Prefect server is {state}")
    for label, value in (("UI", info.ui_url), ("API", info.url),
                         ("pid", f"{info.pid}, up {_uptime_text(info.uptime())}"),
                         ("database", str(info.database)), ("log", str(home / "server.log")),
                         ("prefect", info.version)):
        render.console.print(f"  {label:<9} {escape(value)}")
    _note_when_unused(info)
    return 0 if healthy else 1
