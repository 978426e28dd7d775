"""The experiment analysis managers read: every KPI per arm with its uncertainty. Pure.

Inputs are the outcome sums of the randomised debtors per (arm, cell), a cell being an
allocation period, or a (segment, period) pair under per-segment allocation, with each arm's
assignment probability in the cell. Every metric is compared with the champion by the one
estimator of :mod:`engine.stats.comparison` (strata weighted by their share of the randomised
debtors, inverse-propensity-weighted means within each); its 95% interval is both the
confidence and the flat-prior credible interval, read frequentist (p-value, Holm) and
Bayesian (P(beat), P(best), expected loss). The promotion rule decides on the same estimate.
A sample-ratio-mismatch check knows the weights changed over time, and leaves out the debtors
a contact rule assigned.

Metrics
-------
``pay_on_time``           share paid within the pay window (matured units)
``churn``                 share churned within the horizon (matured units; lower is better)
``collected_per_debtor``  amount collected within the window per matured debtor
``cases_per_1000``        collection cases opened per 1,000 assigned debtors (lower is better)
``reminders_per_1000``    reminders sent per 1,000 assigned debtors (lower is better)
``net_value_per_debtor``  collected - treatment cost - churned x residual CLV, per
                          churn-matured debtor (one outcome per debtor, so the covariance of
                          paying and churning is in its interval)
``clv_per_debtor``        residual CLV per debtor; its uplift values the churn difference
                          (:mod:`engine.analysis.clv`, assumptions stated in the result)

A metric with no matured unit says so (``status: not_matured`` and the date the first cohort
matures) instead of showing a prior.

Modules: :mod:`~engine.analysis.grid` (sums by cell and arm, the metric table),
:mod:`~engine.analysis.compute` (the analysis), :mod:`~engine.analysis.clv` (CLV valuation),
:mod:`~engine.analysis.holdout` (bandit vs holdout), :mod:`~engine.analysis.results` (the
result values and their JSON shape).
"""

from engine.analysis.clv import ResidualValue
from engine.analysis.compute import Maturity, analyze
from engine.analysis.grid import GUARDRAILS, METRICS, MetricSpec, StrataGrid, Stratum, strata_grid
from engine.analysis.holdout import HoldoutComparison, compare_holdout
from engine.analysis.kpis import ArmKpis, CaseKpis, kpi_rows
from engine.analysis.results import (
    LEVEL,
    SCHEMA_VERSION,
    Analysis,
    ArmResult,
    ClvAssumption,
    MetricName,
    MetricResult,
    SrmSummary,
    json_safe,
)

__all__ = [
    "GUARDRAILS",
    "LEVEL",
    "METRICS",
    "SCHEMA_VERSION",
    "Analysis",
    "ArmKpis",
    "ArmResult",
    "CaseKpis",
    "ClvAssumption",
    "HoldoutComparison",
    "Maturity",
    "MetricName",
    "MetricResult",
    "MetricSpec",
    "ResidualValue",
    "SrmSummary",
    "StrataGrid",
    "Stratum",
    "analyze",
    "compare_holdout",
    "json_safe",
    "kpi_rows",
    "strata_grid",
]
