"""What a run did, change by change: the flows build it, the CLI and the artifacts show it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["ChangeResult", "RunSummary"]

Result = Literal["succeeded", "unchanged", "failed", "skipped"]


class ChangeResult(BaseModel):
    key: str
    action: str
    result: Result
    message: str = ""
    seconds: float | None = None
    # A plugin bug's traceback (secrets masked), for `dtm --debug`; kept out of JSON and artifacts.
    traceback: str | None = Field(default=None, exclude=True)


class RunSummary(BaseModel):
    operation: str
    results: list[ChangeResult] = Field(default_factory=list)
    seconds: float | None = None
    flow_run_id: str | None = None
    # Ctrl-C stopped the run: the changes not run were never started (see flows/execute.py run_plan).
    interrupted: bool = False

    def of(self, result: Result) -> list[ChangeResult]:
        return [r for r in self.results if r.result == result]

    @property
    def ok(self) -> bool:
        return not self.of("failed") and not self.of("skipped")

    def line(self) -> str:
        counts = {r: len(self.of(r)) for r in ("succeeded", "unchanged", "failed", "skipped")}
        return ", ".join(f"{n} {r}" for r, n in counts.items() if n) or "nothing to do"


