"""The artifacts a run publishes: the plan as markdown, the results as a table."""

from __future__ import annotations

from collections.abc import Mapping

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from devstream.drift import DriftReport
from devstream.plan import Plan
from devstream.prefect_boundary import rest
from devstream.prefect_boundary.state_store import summary_table
from devstream.state import StateRecord
from devstream.summary import RunSummary


def slug(text: str) -> str:
    """Artifact keys allow lowercase letters, digits and dashes only."""
    return rest.slug(text, empty="default")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def plan_markdown(plan: Plan, config_name: str) -> str:
    counts = plan.counts()
    head = f"# dtm {plan.operation} plan for `{config_name}`\n\n"
    head += f"{counts['create']} to create, {counts['update']} to update, {counts['delete']} to delete.\n\n"
    if plan.empty:
        return head + "No changes: the toolchain matches the config.\n"
    rows = "\n".join(f"| {c.action.value} | `{c.key}` | {_cell(c.reason)} |" for c in plan.changes)
    return head + "| action | tool | reason |\n|---|---|---|\n" + rows + "\n"


def publish_plan(plan: Plan, config_name: str) -> None:
    create_markdown_artifact(plan_markdown(plan, config_name), key=f"dtm-plan-{slug(config_name)}",
                             description=f"dtm {plan.operation} plan for {config_name}")


def publish_results(summary: RunSummary, config_name: str) -> None:
    rows = [{"tool": r.key, "action": r.action, "result": r.result, "seconds": r.seconds, "message": r.message}
            for r in summary.results]
    create_table_artifact(rows, key=f"dtm-{summary.operation}-{slug(config_name)}",
                          description=f"dtm {summary.operation} of {config_name}: {summary.line()}")


def publish_state(records: Mapping[str, StateRecord], config_name: str, where: str) -> None:
    """The state a run left, as a table linked to the run (the records themselves live in the store)."""
    rows = summary_table(records)
    create_table_artifact(rows or [{"tool": "(empty)", "dependsOn": "", "outputs": ""}],
                          key=f"dtm-state-table-{slug(config_name)}",
                          description=f"dtm state of {config_name} after this run: {len(rows)} resources in {where}")


def drift_keys(config_name: str) -> tuple[str, str]:
    """The artifact keys of a config's drift report: (markdown, table)."""
    return f"dtm-drift-{slug(config_name)}", f"dtm-drift-table-{slug(config_name)}"


def publish_drift(report: DriftReport) -> None:
    """The report as markdown (what needs attention) and as a table (one row per resource)."""
    markdown_key, table_key = drift_keys(report.config_name)
    description = f"dtm drift check of {report.config_name}: {report.line()}"
    create_markdown_artifact(report.markdown(), key=markdown_key, description=description)
    create_table_artifact(report.table_rows(), key=table_key, description=description)
