"""A state record as a person reads it in the Prefect UI, and as dtm reads it back.

The `prefect` backend keeps each record as a markdown artifact: what the UI shows on the artifact's page is a
short document (the tool, its plugin, whether it is applied or deleted, its outputs as a table, what it
depends on, its last change and the flow run that made it, its options with secrets as fingerprints), and
below it, in one fenced `json` block, the envelope dtm reads (`parse`). The envelope is the whole truth; the
rest is rendered from it, so the two never disagree:

    {"format": 1, "state": "demo", "key": "file_readme", "record": {...},
     "change": {"action": "update", "at": "2026-12-03T09:40:12+00:00",
                "flowRun": {"id": "...", "name": "crimson-fox", "url": "http://127.0.0.1:4200/runs/flow-run/..."}}}

Records saved together in one write (`render_batch`) share one page: a table of the tools, their plugins, what
happened to each and the flow run, then one envelope holding every entry (format 2):

    {"format": 2, "state": "demo", "seq": 41, "entries": [
     {"key": "file_readme", "seq": 40, "record": {...}, "change": {...}},
     {"key": "repo_old", "seq": 41, "deleted": true, "deletedAt": "2026-...", "record": {"name": ...}}]}

The JSON is written on one line (newlines inside values are escaped), so the block's last line is all of it.
Values shown in tables are code spans, cut at `_CELL_CHARS`: a value (an output, a file's content) can never
inject markdown into the page.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from devstream.state.base import StateRecord

__all__ = ["parse", "render", "render_batch", "summary_table"]

_FENCE_OPEN = "\n```json\n"
_FENCE_CLOSE = "\n```"
_CELL_CHARS = 200
_RECORD_HEADING = "## Record"


def _code(value: Any) -> str:
    """A table cell showing `value` as code: compact JSON unless a string, one line, pipes escaped, cut short."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = " ".join(text.splitlines()) if "\n" in text or "\r" in text else text
    if len(text) > _CELL_CHARS:
        text = text[:_CELL_CHARS] + "…"
    ticks = "`"
    while ticks in text:
        ticks += "`"
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{ticks}{pad}{text}{pad}{ticks}".replace("|", "\\|")


def _table(heading: str, first: str, items: Mapping[str, Any], empty: str) -> str:
    if not items:
        return f"## {heading}\n\n{empty}\n"
    rows = "\n".join(f"| {_code(k)} | {_code(v)} |" for k, v in sorted(items.items()))
    return f"## {heading}\n\n| {first} | value |\n|---|---|\n{rows}\n"


def _last_change(change: Mapping[str, Any] | None) -> str:
    if not change:
        return "not recorded"
    text = f"{change.get('action', '?')} at {str(change.get('at', '?')).replace('T', ' ').replace('+00:00', ' UTC')}"
    run = change.get("flowRun") or {}
    if run.get("id"):
        name = str(run.get("name") or run["id"]).replace("]", "").replace("[", "")
        text += f" by flow run [{name}]({run['url']})" if run.get("url") else f" by flow run {_code(name)}"
    else:
        text += " outside a flow run"
    return text


def render(envelope: Mapping[str, Any]) -> str:
    """The markdown of one record's artifact (or of its tombstone), the envelope at the end."""
    record: Mapping[str, Any] = envelope.get("record") or {}
    key = str(envelope.get("key", ""))
    name, instance = record.get("name"), record.get("instanceID")
    tool = f"{name}.{instance}" if name and instance else key.replace("_", ".", 1)
    deleted = bool(envelope.get("deleted"))
    status: Mapping[str, Any] = record.get("resourceStatus") or {}
    outputs = status.get("outputs") if isinstance(status.get("outputs"), Mapping) else {}
    depends = ", ".join(_code(d) for d in record.get("dependsOn") or []) or "nothing"
    facts = [
        ("tool", _code(tool)),
        ("plugin", _code(name) if name else "-"),
        ("status", "deleted: no longer in the state" if deleted else "applied"),
        ("depends on", "-" if deleted else depends),
        ("last change", _last_change(envelope.get("change"))),
        ("state", _code(envelope.get("state", ""))),
    ]
    parts = [f"# {_code(tool)}\n", "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in facts) + "\n"]
    if not deleted:
        parts.append(_table("Outputs", "output", outputs or {}, "No outputs."))
        others = {k: v for k, v in status.items() if k != "outputs"}
        parts.append(_table("Resource status", "field", others, "Nothing else recorded."))
        parts.append(_table("Options", "option", record.get("options") or {},
                            "No options.").replace("## Options\n", "## Options\n\nSecrets show as fingerprints "
                                                   "(`<secret sha256:...>`), never in clear.\n", 1))
    body = json.dumps(envelope, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    parts.append(f"{_RECORD_HEADING}\n\nWhat dtm reads back: written by dtm on every change, never to be edited by "
                 f"hand.\n{_FENCE_OPEN}{body}{_FENCE_CLOSE}\n")
    return "\n".join(parts)


def _tool(entry: Mapping[str, Any]) -> str:
    record: Mapping[str, Any] = entry.get("record") or {}
    name, instance = record.get("name"), record.get("instanceID")
    return f"{name}.{instance}" if name and instance else str(entry.get("key", "")).replace("_", ".", 1)


def _run_cell(change: Mapping[str, Any] | None) -> str:
    run = (change or {}).get("flowRun") or {}
    if not run.get("id"):
        return "-"
    name = str(run.get("name") or run["id"]).replace("]", "").replace("[", "")
    return f"[{name}]({run['url']})" if run.get("url") else _code(name)


def render_batch(envelope: Mapping[str, Any]) -> str:
    """The markdown of records saved together: one table row per entry, the envelope (format 2) at the end."""
    entries: list[Mapping[str, Any]] = list(envelope.get("entries") or [])
    rows = []
    for entry in entries:
        change: Mapping[str, Any] = entry.get("change") or {}
        if entry.get("deleted"):
            what = "deleted"
        else:
            action = str(change.get("action") or "saved")
            what = {"create": "created", "update": "updated"}.get(action, action)
        plugin = (entry.get("record") or {}).get("name")
        rows.append(f"| {_code(_tool(entry))} | {_code(plugin) if plugin else '-'} | {_code(what)} | "
                    f"{_run_cell(change)} |")
    count = f"{len(entries)} record{'s' if len(entries) != 1 else ''}"
    body = json.dumps(envelope, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return (f"# dtm state {_code(envelope.get('state', ''))}: {count} saved together\n\n"
            "Each tool's newest version is the one with the highest sequence number, here or on another page of "
            "this state; a later page may hold a newer one.\n\n"
            "| tool | plugin | change | flow run |\n|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
            f"{_RECORD_HEADING}s\n\nWhat dtm reads back: written by dtm, never to be edited by hand.\n"
            f"{_FENCE_OPEN}{body}{_FENCE_CLOSE}\n")


def parse(text: str) -> dict[str, Any] | None:
    """The envelope at the end of a record's markdown; None when `text` holds none."""
    if not isinstance(text, str) or _FENCE_OPEN not in text:
        return None
    body = text.rsplit(_FENCE_OPEN, 1)[1].rstrip()
    if not body.endswith(_FENCE_CLOSE.strip()):
        return None
    body = body[: -len(_FENCE_CLOSE.strip())].strip()
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = " ".join(text.split("\n"))
    return text if len(text) <= limit else text[:limit] + "…"


def summary_table(records: Mapping[str, StateRecord] | Iterable[StateRecord]) -> list[dict[str, str]]:
    """Rows for a table artifact of the whole state: one per record, in key order, text cells only, each
    output with its value (cut short).

    Records already hold secrets as fingerprints only, so every cell is safe to publish.
    """
    values = records.values() if isinstance(records, Mapping) else records
    rows = []
    for rec in sorted(values, key=lambda r: r.state_key):
        rows.append(
            {
                "tool": rec.key,
                "plugin": rec.name,
                "dependsOn": ", ".join(rec.dependsOn),
                "outputs": "; ".join(f"{k} = {_short(v)}" for k, v in sorted(rec.outputs.items())),
            }
        )
    return rows
