"""``dunning outcomes``: per-debtor rows for people (a table) and for programs (records)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich import box
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from engine.service import DebtorOutcome
    from engine.service.definitions import Definition


#: Shown for a value that does not exist (yet): never None, NaN or NaT.
MISSING = "—"


#: The fields of :func:`outcome_record`, in order: the columns of ``dunning outcomes -o``.
RECORD_COLUMNS = (
    "debtor_id", "arm", "treatment", "propensity", "experiment_version", "allocation_version",
    "current_definition", "segment", "amount_owed", "assigned_at", "pay_matured",
    "paid_in_window", "paid_at", "collected", "collection_cases", "reminders", "churn_matured",
    "churned_in_horizon", "treatment_cost", "clv",
)  # fmt: skip


def outcome_record(row: DebtorOutcome, definition: Definition) -> dict[str, Any]:
    """One assignment as plain data: JSON-safe (None for a missing value, ISO 8601 times)."""
    o = row.outcome
    return {
        "debtor_id": o.debtor_id,
        "arm": o.arm,
        "treatment": o.treatment or o.arm,
        "propensity": o.propensity,
        "experiment_version": o.experiment_version,
        "allocation_version": o.allocation_version,
        # False: measured on an earlier outcome definition, not pooled (see `dunning history`).
        "current_definition": o.experiment_version >= definition.since,
        "segment": o.segment,
        "amount_owed": o.amount_owed,
        "assigned_at": o.assigned_at.isoformat(),
        "pay_matured": o.pay_matured,
        "paid_in_window": o.paid_in_window,
        "paid_at": None if o.paid_at is None else o.paid_at.isoformat(),
        "collected": o.collected,
        "collection_cases": o.collection_cases,
        "reminders": o.reminders,
        "churn_matured": o.churn_matured,
        "churned_in_horizon": o.churned_in_horizon,
        "treatment_cost": row.treatment_cost,
        "clv": None if math.isnan(row.clv) else row.clv,
    }


def _number(value: float | None, digits: int) -> str:
    return MISSING if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def _paid(record: dict[str, Any]) -> str:
    """yes (with the days it took) / no / open (the window has not closed yet)."""
    if record["paid_in_window"] is None:
        return "open"
    if not record["paid_in_window"]:
        return "no"
    days = datetime.fromisoformat(record["paid_at"]) - datetime.fromisoformat(record["assigned_at"])
    return f"yes, {days.total_seconds() / 86_400:.1f} d"


def _churned(value: bool | None) -> str:
    return "open" if value is None else ("yes" if value else "no")


#: Marks a debtor measured on an earlier outcome definition (not pooled).
EARLIER = "†"


def outcomes_table(records: list[dict[str, Any]], *, title: str) -> Table:
    """The records as a table: numbers rounded for reading, outcomes as yes / no / open."""
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    routed = any(r["treatment"] != r["arm"] for r in records)
    redefined = not all(r["current_definition"] for r in records)
    columns = ["debtor", "arm"] + (["treatment"] if routed else [])
    columns += ["propensity", "versions", "segment", "owed", "assigned (UTC)", "paid"]
    columns += ["collected", "cases", "reminders", "churned", "cost", "CLV"]
    right = {"propensity", "owed", "collected", "cases", "reminders", "cost", "CLV"}
    for column in columns:
        # Keys and ids are read whole; the table may fold the dates and amounts instead.
        whole = column in {"debtor", "arm", "treatment"}
        table.add_column(column, justify="right" if column in right else "left", no_wrap=whole)
    for r in records:
        versions = f"v{r['experiment_version']}/a{r['allocation_version']}"
        if not r["current_definition"]:
            versions += f" {EARLIER}"
        cells = [escape(r["debtor_id"]), r["arm"]] + ([r["treatment"]] if routed else [])
        cells += [
            f"{r['propensity']:.4f}",
            versions,
            escape(r["segment"] or MISSING),
            _number(r["amount_owed"], 2),
            f"{datetime.fromisoformat(r['assigned_at']):%Y-%m-%d %H:%M}",
            _paid(r),
            _number(r["collected"], 2),
            f"{r['collection_cases']:,}",
            f"{r['reminders']:,}",
            _churned(r["churned_in_horizon"]),
            _number(r["treatment_cost"], 2),
            _number(r["clv"], 2),
        ]
        table.add_row(*cells)
    if redefined:
        table.caption = (
            f"versions: experiment/allocation; {EARLIER} measured on an earlier outcome "
            "definition, not pooled"
        )
    else:
        table.caption = "versions: experiment/allocation"
    table.caption_justify = "left"
    return table
