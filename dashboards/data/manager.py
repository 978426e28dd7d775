"""Display tables of the manager's view: guardrails, money, decisions, versions, trends."""

from __future__ import annotations

import pandas as pd

from engine import service
from engine.analysis.guardrails import GuardrailRow
from engine.analysis.money import MoneyLine
from engine.analysis.reasons import ACTION_WORDS, reason_in_words
from engine.service.manager import ManagerView, decided
from engine.service.trends import TrendPoint

from .constants import DASH, MINUS, NBSP
from .format import money, nan, when

#: Status of a guardrail -> its badge colour.
STATUS_COLOURS = {
    "ok": "green",
    "unclear": "orange",
    "breached": "red",
    "arm stopped": "gray",
    "not enough data": "gray",
}


def _signed(x: float, digits: int = 1) -> str:
    return f"{MINUS if x < 0 else '+'}{abs(x):,.{digits}f}"


def guardrail_unit(row: GuardrailRow) -> str:
    return "per 1,000" if row.scale != 1 else "pp"


def _g(x: float, row: GuardrailRow) -> str:
    """A guardrail difference in its display unit (pp, or per 1,000 debtors)."""
    if nan(x):
        return DASH
    return _signed(x * (100.0 if row.scale == 1 else row.scale))


def guardrail_frame(view: ManagerView) -> pd.DataFrame:
    rows = [
        {
            "Guardrail": r.metric.replace("_", " ").capitalize(),
            "Challenger": r.label,
            "Increase vs ★ [95%]": DASH
            if nan(r.estimate)
            else f"{_g(r.estimate, r)}{NBSP}{guardrail_unit(r)} [{_g(r.low, r)}, {_g(r.high, r)}]",
            "Always-valid bounds": DASH
            if nan(r.always_valid_low)
            else f"{_g(r.always_valid_low, r)} to {_g(r.always_valid_high, r)}",
            "Margin": DASH if nan(r.margin) else f"{_g(r.margin, r)}{NBSP}{guardrail_unit(r)}",
            "Status": r.status,
            "Outcome known": DASH
            if r.matures_on is None
            else f"today's debtors on {r.matures_on:%Y-%m-%d}",
        }
        for r in view.guardrails
    ]
    columns = [
        "Guardrail",
        "Challenger",
        "Increase vs ★ [95%]",
        "Always-valid bounds",
        "Margin",
        "Status",
        "Outcome known",
    ]
    return pd.DataFrame(rows, columns=columns)


def guardrail_points(view: ManagerView) -> pd.DataFrame:
    """Long table for the guardrail chart, in display units (pp or per 1,000)."""
    rows = []
    for r in view.guardrails:
        if nan(r.estimate):
            continue
        k = 100.0 if r.scale == 1 else r.scale
        rows.append(
            {
                "guardrail": r.metric.replace("_", " "),
                "arm": r.label,
                "estimate": k * r.estimate,
                "low": k * r.low,
                "high": k * r.high,
                "margin": k * r.margin,
                "status": r.status,
            }
        )
    return pd.DataFrame(
        rows, columns=["guardrail", "arm", "estimate", "low", "high", "margin", "status"]
    )


def _money_cell(line: MoneyLine, currency: str, *, signed: bool = False) -> str:
    if nan(line.value):
        return line.assumption  # "not matured yet: ..." instead of a number
    if line.unit == "share":
        return f"{line.value:.0%}" if line.value else DASH
    # Monthly totals in whole units: cents of a forecast are noise.
    digits = 0 if abs(line.value) >= 1000 or abs(line.low) >= 1000 else 2
    head = money(line.value, currency, signed=signed, digits=digits)
    if line.constant:
        return head  # a configured constant: no interval, not a zero-width one
    lo = money(line.low, currency, signed=signed, digits=digits)
    hi = money(line.high, currency, signed=signed, digits=digits)
    return f"{head} [{lo}, {hi}]"


def money_frame(view: ManagerView) -> pd.DataFrame:
    """Per debtor and arm: one column per arm, one row per item."""
    currency = view.report.currency
    data = {
        (f"★ {a.label}" if a.champion else a.label): [_money_cell(x, currency) for x in a.lines]
        for a in view.money
    }
    items = [x.item for x in view.money[0].lines] if view.money else []
    return pd.DataFrame(data, index=pd.Index(items, name="Per debtor"))


def money_assumptions(view: ManagerView) -> dict[str, str]:
    """Item -> the assumption it rests on (the same for every arm)."""
    if not view.money:
        return {}
    return {x.item: x.assumption for x in view.money[0].lines if not nan(x.value)}


def switch_frame(view: ManagerView) -> pd.DataFrame:
    if view.switch is None:
        return pd.DataFrame(columns=["Per month", "Assumption"])
    currency = view.report.currency
    return pd.DataFrame(
        {
            "Per month": [_money_cell(x, currency, signed=True) for x in view.switch.lines],
            "Assumption": [x.assumption for x in view.switch.lines],
        },
        index=pd.Index([x.item for x in view.switch.lines], name="Change"),
    )


def decision_frame(view: ManagerView) -> pd.DataFrame:
    """Every stored decision, newest first: date, action and the reason in words."""
    labels = {k.arm: k.label for k in view.report.kpis}
    rows = [
        {
            "Date": when(d.decided_at),
            "Action": ACTION_WORDS.get(d.action, d.action),
            "Reason": reason_in_words(d, labels),
        }
        for d in reversed(decided(view.report.promotions))
    ]
    return pd.DataFrame(rows, columns=["Date", "Action", "Reason"])


def version_frame(entries: list[service.VersionEntry]) -> pd.DataFrame:
    """The experiment's versions (``dunning history``), newest first, with their changes."""
    rows = [
        {
            "Version": f"v{e.version}",
            "Stored": when(e.created_at),
            "Hash": e.content_hash[:12],
            "File": e.source_path or DASH,
            "Changes from the previous version": "\n".join(
                [*e.changes, *(f"forced: {f}" for f in e.forced)]
            )
            or "(first version)",
        }
        for e in reversed(entries)
    ]
    return pd.DataFrame(
        rows, columns=["Version", "Stored", "Hash", "File", "Changes from the previous version"]
    )


def trend_frame(points: list[TrendPoint], labels: dict[str, str], unit: str) -> pd.DataFrame:
    """Long table (day, arm, uplift, low, high) in display units (pp for shares)."""
    scale = 100.0 if unit == "share" else 1.0
    rows = [
        {
            "day": pd.Timestamp(p.day),
            "arm": labels.get(p.arm, p.arm),
            "uplift": scale * p.uplift,
            "low": scale * p.low,
            "high": scale * p.high,
            "units": p.units,
        }
        for p in points
        if not nan(p.uplift)
    ]
    return pd.DataFrame(rows, columns=["day", "arm", "uplift", "low", "high", "units"])


def traffic_frame(view: ManagerView) -> pd.DataFrame:
    """Debtors assigned per day and arm (labels), for the traffic chart."""
    labels = {k.arm: k.label for k in view.report.kpis}
    rows = [
        {"day": pd.Timestamp(t.day), "arm": labels.get(t.arm, t.arm), "assigned": t.assigned}
        for t in view.traffic
    ]
    return pd.DataFrame(rows, columns=["day", "arm", "assigned"])


#: The audit actions the charts mark, and their marker label.
MARKED = {"promote": "promoted", "stop_arm": "arm stopped", "rollback": "rolled back"}


def event_marks(view: ManagerView) -> pd.DataFrame:
    """Promotions, stops and rollbacks for the charts: when, what, in words."""
    labels = {k.arm: k.label for k in view.report.kpis}
    rows = []
    for d in decided(view.report.promotions):
        if d.action not in MARKED:
            continue
        if d.action == "stop_arm":
            what = "stopped " + ", ".join(
                labels.get(a, a) for a in d.numbers.get("stopped_arms", [])
            )
        elif d.action == "promote":
            new = d.numbers.get("challenger") or ""
            what = f"promoted {labels.get(new, new)}"
        else:
            what = f"rolled back to v{d.numbers.get('to_version')}"
        rows.append({"when": pd.Timestamp(d.decided_at), "event": MARKED[d.action], "what": what})
    return pd.DataFrame(rows, columns=["when", "event", "what"])
