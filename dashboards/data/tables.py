"""Display tables of the overview and experiment pages."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from engine import service
from engine.analysis import ArmKpis

from .constants import DASH, NBSP
from .format import money, number, pct, points, share, when

# -- tables --------------------------------------------------------------------------------


def kpi_frame(report: service.ExperimentReport) -> pd.DataFrame:
    """One row per arm, formatted for reading; the champion's row is starred."""
    cur = report.currency

    def matured(status: str, text: str) -> str:
        return "not matured yet" if status == "not_matured" else text

    def cases(k: ArmKpis) -> dict[str, str]:
        """Repeat-case columns, for an experiment with ``unit.case`` only."""
        c = k.cases
        if c is None:
            return {}
        late = f"Late{NBSP}again{NBSP}{c.late_again_days}{NBSP}d [95%]"
        return {
            late: matured(
                c.late_again_status, share(c.late_again, c.late_again_low, c.late_again_high)
            ),
            "Late again vs ★ [95%]": "reference"
            if k.champion
            else matured(
                c.late_again_status,
                points(c.late_again_uplift, c.late_again_uplift_low, c.late_again_uplift_high),
            ),
            "Cases / customer": matured(
                c.cases_per_customer_status, number(c.cases_per_customer, 2)
            ),
        }

    def row(k: ArmKpis) -> dict[str, str]:
        return {
            "Arm": f"★ {k.label}" if k.champion else k.label,
            "Debtors": number(k.assigned),
            "Pay on time [95%]": matured(
                k.pay_status,
                share(k.pay_on_time, k.pay_on_time_low, k.pay_on_time_high),
            ),
            "vs ★ [95%]": "reference"
            if k.champion
            else matured(k.pay_status, points(k.pay_uplift, k.pay_uplift_low, k.pay_uplift_high)),
            "Not yet matured": pct(k.immature_share, 0),
            "Cases / 1,000": number(k.cases_per_1000, 1),
            "Reminders / 1,000": number(k.reminders_per_1000, 1),
            **cases(k),
            f"Churn{NBSP}{report.churn_horizon_days}{NBSP}d [95%]": matured(
                k.churn_status, share(k.churn, k.churn_low, k.churn_high)
            ),
            "Collected / matured": money(k.collected_per_debtor, cur),
            "Cost / debtor": money(k.cost_per_debtor, cur),
            "CLV uplift [95%]": "reference"
            if k.champion
            else matured(
                k.churn_status,
                f"{money(k.clv_uplift, cur, signed=True)}{NBSP}"
                f"[{money(k.clv_uplift_low, cur, signed=True)}, "
                f"{money(k.clv_uplift_high, cur, signed=True)}]",
            ),
            "Traffic now": pct(k.traffic_share),
            "Bandit P(best)": pct(k.p_best),
        }

    return pd.DataFrame([row(k) for k in report.kpis]).set_index("Arm")


def churn_matured(report: service.ExperimentReport) -> bool:
    """Whether any debtor has reached the churn horizon (else churn and CLV are all NaN)."""
    return any(k.churn_matured for k in report.kpis)


def allocation_frame(report: service.ExperimentReport) -> pd.DataFrame:
    """Long table (created_at, version, arm, weight) for the traffic chart.

    Versions written at the same instant (an update and a promotion) keep only the last one,
    so the stacked chart has one point per arm and time.
    """
    latest: dict[datetime, service.AllocationInfo] = {}
    for a in report.allocations:
        latest[a.created_at] = a
    labels = {k.arm: k.label for k in report.kpis}
    rows = [
        {
            "created_at": pd.Timestamp(a.created_at),
            "version": a.version,
            "arm": labels.get(arm, arm),
            "weight": float(weight),
        }
        for a in latest.values()
        for arm, weight in a.weights.items()
    ]
    return pd.DataFrame(rows, columns=["created_at", "version", "arm", "weight"])


#: Audit records that changed the allocation or the status, and how the log names each.
_CHANGES = {
    "promote": "promoted",
    "stop_arm": "arm stopped",
    "rollback": "rolled back",
    "status": "status changed",
}


def _change(p: service.PromotionRecord, labels: dict[str, str]) -> str:
    """The change in a few words, arms by their labels."""

    def name(arm: str | None) -> str:
        return labels.get(arm or "", str(arm))

    if p.action == "stop_arm":
        return "stopped " + ", ".join(map(name, p.numbers.get("stopped_arms", [])))
    if p.action == "rollback":
        return f"rollback to v{p.numbers.get('to_version')}"
    if p.action == "status":
        before, after = p.numbers.get("status_before"), p.numbers.get("status_after")
        return f"{before} → {after} by {p.numbers.get('by') or 'unknown'}"
    return f"{name(p.champion_before)} → {name(p.champion_after)}"


def promotion_frame(report: service.ExperimentReport) -> pd.DataFrame:
    """The decisions that changed the allocation (promotions, stopped arms, rollbacks) or the
    status (pause, resume, stop)."""
    labels = {k.arm: k.label for k in report.kpis}
    rows = [
        {
            "Decided at": when(p.decided_at),
            "Decision": _CHANGES[p.action],
            "Change": _change(p, labels),
            "Explanation": p.explanation,
            "Allocation version": DASH if p.allocation_version is None else p.allocation_version,
        }
        for p in report.promotions
        if p.action in _CHANGES
    ]
    return pd.DataFrame(
        rows, columns=["Decided at", "Decision", "Change", "Explanation", "Allocation version"]
    )


def history_frame(report: service.ExperimentReport) -> pd.DataFrame:
    labels = {k.arm: k.label for k in report.kpis}
    rows = [
        {
            "Version": a.version,
            "Created at": when(a.created_at),
            "Kind": a.kind,
            "Champion": labels.get(a.champion, a.champion),
            **{labels.get(arm, arm): pct(w) for arm, w in a.weights.items()},
            "Matured units": number(a.matured_units),
            "Reason": a.reason,
            # As text: a 63-bit seed would lose digits as a JavaScript number.
            "Seed": DASH if a.seed is None else str(a.seed),
        }
        for a in reversed(report.allocations)
    ]
    return pd.DataFrame(rows).fillna(DASH)


def promotion_marks(report: service.ExperimentReport) -> pd.DataFrame:
    """Champion changes for the traffic chart: decided_at and a short label."""
    rows = [
        {"decided_at": pd.Timestamp(p.decided_at), "label": f"→ {p.champion_after}"}
        for p in report.promotions
        if p.action == "promote"
    ]
    return pd.DataFrame(rows, columns=["decided_at", "label"])
