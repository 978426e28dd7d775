"""The KPI table managers read (``dunning report``, the demo, the dashboard): one row per arm,
every figure taken from the analysis, so no surface estimates anything its own way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engine.analysis.results import NAN, Analysis, MetricResult


@dataclass(frozen=True)
class CaseKpis:
    """The repeat-case KPIs of one arm (experiments with ``unit.case``): the share of its
    matured cases late again within ``late_again_days`` with its interval and the uplift
    against the champion (the customer the unit of both), and the cases per churn-matured
    customer. NaN where nothing has matured (the statuses say why)."""

    late_again_days: int
    late_again_customers: int
    late_again: float
    late_again_low: float
    late_again_high: float
    late_again_uplift: float
    late_again_uplift_low: float
    late_again_uplift_high: float
    late_again_status: str
    cases_per_customer: float
    cases_per_customer_low: float
    cases_per_customer_high: float
    cases_per_customer_status: str


@dataclass(frozen=True)
class ArmKpis:
    """One row of the KPI table: the arm's level of each KPI with its 95% interval, the uplift
    against the champion where it matters to a decision, and the traffic it gets now.

    NaN where a figure has no matured debtors yet (``pay_status`` / ``churn_status`` say why).
    """

    arm: str
    label: str
    champion: bool
    assigned: int
    pay_matured: int
    immature_share: float
    pay_on_time: float
    pay_on_time_low: float
    pay_on_time_high: float
    pay_uplift: float
    pay_uplift_low: float
    pay_uplift_high: float
    pay_status: str
    collection_cases: int
    reminders: int
    cases_per_1000: float
    reminders_per_1000: float
    churn_matured: int
    churn: float
    churn_low: float
    churn_high: float
    churn_status: str
    collected_per_debtor: float
    cost_per_debtor: float
    clv_per_debtor: float
    clv_uplift: float
    clv_uplift_low: float
    clv_uplift_high: float
    net_value_uplift: float
    net_value_uplift_low: float
    net_value_uplift_high: float
    traffic_share: float
    p_best: float  # the bandit's, from the allocation in force
    constrained: int = 0
    #: None when every debtor is one case (no ``unit.case``).
    cases: CaseKpis | None = None


def _level(m: MetricResult) -> tuple[float, float, float]:
    return m.estimate, m.low, m.high


def _uplift(m: MetricResult) -> tuple[float, float, float]:
    return m.uplift, m.uplift_low, m.uplift_high


def _cases(analysis: Analysis, metrics: Mapping[str, MetricResult]) -> CaseKpis | None:
    if analysis.late_again_days is None or "late_again" not in metrics:
        return None
    late, per_customer = metrics["late_again"], metrics["cases_per_customer"]
    return CaseKpis(
        late_again_days=analysis.late_again_days,
        late_again_customers=late.units,
        late_again=late.estimate,
        late_again_low=late.low,
        late_again_high=late.high,
        late_again_uplift=late.uplift,
        late_again_uplift_low=late.uplift_low,
        late_again_uplift_high=late.uplift_high,
        late_again_status=late.status,
        cases_per_customer=per_customer.estimate,
        cases_per_customer_low=per_customer.low,
        cases_per_customer_high=per_customer.high,
        cases_per_customer_status=per_customer.status,
    )


def kpi_rows(analysis: Analysis, *, p_best: Mapping[str, float]) -> list[ArmKpis]:
    """The KPI table of ``analysis``, in the experiment's arm order."""
    rows = []
    for arm in analysis.arms:
        m = arm.metrics
        pay, churn, clv, net = (
            m["pay_on_time"], m["churn"], m["clv_per_debtor"], m["net_value_per_debtor"]
        )  # fmt: skip
        rows.append(
            ArmKpis(
                arm=arm.arm,
                label=arm.label,
                champion=arm.champion,
                assigned=arm.assigned,
                pay_matured=pay.units,
                immature_share=pay.immature_share,
                pay_on_time=_level(pay)[0],
                pay_on_time_low=_level(pay)[1],
                pay_on_time_high=_level(pay)[2],
                pay_uplift=_uplift(pay)[0],
                pay_uplift_low=_uplift(pay)[1],
                pay_uplift_high=_uplift(pay)[2],
                pay_status=pay.status,
                collection_cases=int(arm.totals["collection_cases"]),
                reminders=int(arm.totals["reminders"]),
                cases_per_1000=m["cases_per_1000"].estimate,
                reminders_per_1000=m["reminders_per_1000"].estimate,
                churn_matured=churn.units,
                churn=_level(churn)[0],
                churn_low=_level(churn)[1],
                churn_high=_level(churn)[2],
                churn_status=churn.status,
                collected_per_debtor=m["collected_per_debtor"].estimate,
                cost_per_debtor=arm.cost_per_debtor,
                clv_per_debtor=clv.estimate,
                clv_uplift=_uplift(clv)[0],
                clv_uplift_low=_uplift(clv)[1],
                clv_uplift_high=_uplift(clv)[2],
                net_value_uplift=_uplift(net)[0],
                net_value_uplift_low=_uplift(net)[1],
                net_value_uplift_high=_uplift(net)[2],
                traffic_share=arm.traffic_share,
                p_best=float(p_best.get(arm.arm, NAN)),
                constrained=arm.constrained,
                cases=_cases(analysis, m),
            )
        )
    return rows
