"""Saved plans: `dtm plan -o PLANFILE` writes one, `dtm apply PLANFILE` applies exactly it.

A saved plan is JSON: the plan (every change, its before and after as state keeps them, so secrets are
fingerprints, never clear text), and two fingerprints taken when it was made: of the config (each tool's
name, dependencies and options in their stored form, and the state backend) and of the state (every
record). Applying it re-takes both under the state's lock and refuses when either differs: the plan was
reviewed against a world that is gone, and applying it could undo someone else's change. A third
fingerprint, of the plan itself, catches a file edited or damaged since.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from devstream import __version__
from devstream.config.models import Config
from devstream.errors import DtmError
from devstream.jsonish import normalize
from devstream.plan import Plan, StoredForm
from devstream.state.base import StateRecord

__all__ = ["FORMAT", "SavedPlan", "config_fingerprint", "state_fingerprint"]

FORMAT = "dtm-saved-plan"
FORMAT_VERSION = "1"


def _digest(data: Any) -> str:
    text = json.dumps(normalize(data), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def config_fingerprint(config: Config, stored_form: StoredForm) -> str:
    """What the changes of a plan are made from: each tool as state would store it (a secret only as its
    fingerprint, so a rotated token changes this too) and where the state lives."""
    tools = []
    for tool in config.tools:
        try:
            options = stored_form(tool.name, tool.options)
        except DtmError:  # a plugin that is not installed: its options as written
            options = tool.options
        tools.append({"key": tool.key, "dependsOn": sorted(tool.dependsOn), "options": options})
    return _digest({"tools": tools, "state": config.state.model_dump()})


def state_fingerprint(records: Mapping[str, StateRecord]) -> str:
    """Every record (as the workspace reads it: secrets fingerprinted) in key order."""
    return _digest({key: records[key].model_dump(mode="json") for key in sorted(records)})


class SavedPlan(BaseModel):
    """The file `dtm plan -o` writes."""

    format: str = FORMAT
    format_version: str = FORMAT_VERSION
    dtm_version: str = __version__
    created: str = ""
    config_path: str
    config_fingerprint: str
    state: str
    state_fingerprint: str
    excluded: list[str] = []
    plan: Plan
    plan_fingerprint: str = ""

    @classmethod
    def make(cls, plan: Plan, *, config_path: Path, config_fp: str, state_description: str,
             state_fp: str, excluded: Iterable[str] = ()) -> SavedPlan:
        return cls(created=datetime.now(UTC).isoformat(timespec="seconds"), config_path=str(config_path.resolve()),
                   config_fingerprint=config_fp, state=state_description, state_fingerprint=state_fp,
                   excluded=sorted(excluded), plan=plan, plan_fingerprint=plan.fingerprint())

    def write(self, path: Path) -> None:
        """Written whole or not at all (a temporary file renamed), readable by its owner only: a plan names
        resources and their options, which a team may not want world-readable."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(self.model_dump_json(indent=2) + "\n")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def read(cls, path: Path) -> SavedPlan:
        """The saved plan at `path`; a file that is not one, or was changed since it was written, is refused."""
        what = f"{path}: not a plan saved by `dtm plan -o`"
        try:
            data = json.loads(path.read_text())
        except UnicodeDecodeError:
            raise DtmError(f"{what} (it is not text)") from None
        except json.JSONDecodeError as exc:
            raise DtmError(f"{what} (not JSON: line {exc.lineno}: {exc.msg})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DtmError(f"{what}; make one with `dtm plan -f CONFIG -o {path.name}`")
        if data.get("format_version") != FORMAT_VERSION:
            raise DtmError(f"{path}: a saved plan of format version {data.get('format_version')!r}, which this dtm "
                           f"({__version__}) does not read (it reads {FORMAT_VERSION}); make the plan again")
        try:
            saved = cls.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise DtmError(f"{what}: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
        if saved.plan.fingerprint() != saved.plan_fingerprint:
            raise DtmError(f"{path}: the plan in this file was changed after `dtm plan -o` wrote it; a saved plan "
                           f"is applied exactly as it was reviewed, so make it again with `dtm plan -o`")
        return saved
