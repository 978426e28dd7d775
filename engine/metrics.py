"""Outcome sums per arm and cell: the sufficient statistics every figure is computed from.

Only matured units count for a rate: a debtor assigned yesterday has had no chance to pay
within a 14-day window, and counting them as "not paid" would bias every arm that was used
recently (the bandit's current favourite most of all). The immature share is reported beside.
The KPI table itself is :func:`engine.analysis.kpi_rows`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

from engine.stats.binomial import BinomialStat


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
    # Sums over the churn-matured units, the population of net value (collected - cost - churn
    # x residual CLV per debtor): with them the per-debtor net value's mean and variance follow
    # for any residual CLV, the covariance of paying and churning included.
    nv_collected: float = 0.0
    nv_collected_sq: float = 0.0
    nv_cost: float = 0.0
    nv_cost_sq: float = 0.0
    nv_collected_cost: float = 0.0
    nv_collected_churned: float = 0.0
    nv_cost_churned: float = 0.0
    # Repeat dunning cases (experiments with ``unit.case``), per customer (the randomised unit)
    # and summed over the cell's customers: ``late_*`` over the customers with a case whose
    # late-again window has closed (M of them matured, Y late again), for the clustered
    # estimator (:meth:`engine.stats.comparison.Cells.clustered`); ``cpc_*`` over the
    # churn-matured customers, their cases opened within the churn horizon.
    late_customers: int = 0
    late_cases: int = 0
    late_cases_sq: int = 0
    late_again: int = 0
    late_again_sq: int = 0
    late_cross: int = 0
    cpc_customers: int = 0
    cpc_cases: int = 0
    cpc_cases_sq: int = 0

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
