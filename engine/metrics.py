"""Per-arm KPIs from outcome sums: the numbers managers read. Pure functions.

Only matured units count for a rate: a debtor assigned yesterday has had no chance to pay
within a 14-day window, and counting them as "not paid" would bias every arm that was used
recently (the bandit's current favourite most of all). The immature share is reported beside.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields

from engine.clv import clv_uplift
from engine.config import Experiment
from engine.stats.binomial import BetaPosterior, BinomialStat

NAN = float("nan")


@dataclass(frozen=True)
class ArmTotals:
    """Outcome sums of one arm (over any set of cells); add two to pool them."""

    assigned: int = 0
    pay_matured: int = 0
    paid: int = 0
    collected: float = 0.0
    churn_matured: int = 0
    churned: int = 0
    reminders: int = 0
    collection_cases: int = 0
    inquiries: int = 0
    collected_sq: float = 0.0  # sums of squares, for the variance of per-debtor means
    reminders_sq: int = 0
    collection_cases_sq: int = 0
    #: Treatment cost of the assigned debtors: each debtor's arm's cost, or, for a router arm,
    #: the cost of the treatment it was routed to (so a router's cost is its actual mix).
    cost: float = 0.0

    def __add__(self, other: ArmTotals) -> ArmTotals:
        return ArmTotals(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    @property
    def pay_stat(self) -> BinomialStat:
        return BinomialStat(self.pay_matured, self.paid)

    @property
    def churn_stat(self) -> BinomialStat:
        return BinomialStat(self.churn_matured, self.churned)


def totals_by_arm(
    arm_keys: Iterable[str], cells: Iterable[tuple[str, ArmTotals]]
) -> dict[str, ArmTotals]:
    """Pool (arm, totals) cells into one :class:`ArmTotals` per arm (every arm present)."""
    result = dict.fromkeys(arm_keys, ArmTotals())
    for arm, totals in cells:
        if arm not in result:
            raise ValueError(f"outcomes for unknown arm {arm!r}")
        result[arm] = result[arm] + totals
    return result


@dataclass(frozen=True)
class ArmKpis:
    """One row of the KPI table. Rates are NaN when no unit has matured yet."""

    arm: str
    label: str
    champion: bool
    assigned: int
    pay_matured: int
    immature_share: float
    pay_on_time: float
    pay_on_time_low: float
    pay_on_time_high: float
    reminders: int
    collection_cases: int
    cases_per_1000: float
    churn_matured: int
    churn: float
    collected_per_debtor: float
    cost_per_debtor: float
    clv_per_debtor: float
    clv_uplift: float
    traffic_share: float
    p_best: float


def _rate(stat: BinomialStat) -> float:
    return stat.rate if stat.n else NAN


def _smoothed(stat: BinomialStat) -> float:
    """Posterior mean under a uniform prior: keeps a hazard ratio finite with zero churners."""
    return BetaPosterior.from_stat(stat).mean


def arm_kpis(
    experiment: Experiment,
    totals: Mapping[str, ArmTotals],
    *,
    champion: str,
    weights: Mapping[str, float],
    p_best: Mapping[str, float],
) -> list[ArmKpis]:
    """The KPI table, one row per arm in the experiment's order.

    CLV: the champion's residual CLV uses the configured monthly retention; each arm's hazard
    ratio against the champion comes from churn within the horizon (see :mod:`engine.clv`).
    """
    clv = experiment.clv
    horizon = experiment.metrics.churn_horizon_days
    base_clv = clv.residual_value()
    champion_churn = totals[champion].churn_stat
    rows = []
    for arm in experiment.arms:
        t = totals[arm.key]
        low, high = BetaPosterior.from_stat(t.pay_stat).interval() if t.pay_matured else (NAN, NAN)
        if t.churn_matured and champion_churn.n:
            uplift = float(
                clv_uplift(
                    churn_share=_smoothed(t.churn_stat),
                    champion_churn_share=_smoothed(champion_churn),
                    horizon_days=horizon,
                    margin=clv.monthly_margin,
                    retention=clv.monthly_retention,
                    discount_rate=clv.monthly_discount_rate,
                )
            )
        else:
            uplift = NAN
        rows.append(
            ArmKpis(
                arm=arm.key,
                label=arm.display_name,
                champion=arm.key == champion,
                assigned=t.assigned,
                pay_matured=t.pay_matured,
                immature_share=1.0 - t.pay_matured / t.assigned if t.assigned else NAN,
                pay_on_time=_rate(t.pay_stat),
                pay_on_time_low=low,
                pay_on_time_high=high,
                reminders=t.reminders,
                collection_cases=t.collection_cases,
                cases_per_1000=1000.0 * t.collection_cases / t.assigned if t.assigned else NAN,
                churn_matured=t.churn_matured,
                churn=_rate(t.churn_stat),
                collected_per_debtor=t.collected / t.pay_matured if t.pay_matured else NAN,
                cost_per_debtor=t.cost / t.assigned if t.assigned else NAN,
                clv_per_debtor=base_clv + uplift if not math.isnan(uplift) else NAN,
                clv_uplift=uplift,
                traffic_share=float(weights.get(arm.key, 0.0)),
                p_best=float(p_best.get(arm.key, NAN)),
            )
        )
    return rows
