"""The experiment analysis managers read: every KPI per arm with its uncertainty. Pure.

Inputs are outcome sums per (arm, allocation period) and the traffic weights of each period.
Periods with identical consecutive weights are merged (a fixed split is one stratum), then every
metric is estimated *within* periods and combined with period weights (post-stratification), so
a bandit that shifts traffic while the baseline drifts cannot bias the comparison; see
:mod:`engine.stats.strata`.

Per metric and arm the analysis reports the Bayesian posterior (mean, 95% credible interval,
uplift against the champion in absolute and relative terms, P(beat champion), P(best), expected
loss) and the frequentist cross-check (stratified z or Welch test, confidence interval, Holm-
adjusted p-value), plus a sample-ratio-mismatch check that knows the weights changed over time.

Metrics
-------
``pay_on_time``           share paid within the pay window (matured units)
``churn``                 share churned within the horizon (matured units; lower is better)
``collected_per_debtor``  amount collected within the window per matured debtor
``cases_per_1000``        collection cases opened per 1,000 assigned debtors (lower is better)
``reminders_per_1000``    reminders sent per 1,000 assigned debtors (lower is better)
``net_value_per_debtor``  collected - treatment cost - churn x residual CLV (derived)
``clv_per_debtor``        residual CLV at the arm's retention; its uplift is the CLV uplift

Net value combines two populations: collected over pay-matured units, churn over churn-matured
units (a subset). Their draws are combined as independent, which ignores the covariance of
payment and churn within a debtor; with the horizon much longer than the window this trades a
small covariance term for using every matured payment.

Modules: :mod:`~engine.analysis.grid` (sums by arm and stratum), :mod:`~engine.analysis.compute`
(the analysis), :mod:`~engine.analysis.holdout` (bandit vs holdout),
:mod:`~engine.analysis.results` (the result values and their JSON shape).
"""

from engine.analysis.compute import analyze
from engine.analysis.grid import StrataGrid, Stratum, pay_on_time_draws, strata_grid
from engine.analysis.holdout import HoldoutComparison, compare_holdout
from engine.analysis.results import (
    LEVEL,
    SCHEMA_VERSION,
    Analysis,
    ArmResult,
    MetricName,
    MetricResult,
    SrmSummary,
    json_safe,
)

__all__ = [
    "LEVEL",
    "SCHEMA_VERSION",
    "Analysis",
    "ArmResult",
    "HoldoutComparison",
    "MetricName",
    "MetricResult",
    "SrmSummary",
    "StrataGrid",
    "Stratum",
    "analyze",
    "compare_holdout",
    "json_safe",
    "pay_on_time_draws",
    "strata_grid",
]
