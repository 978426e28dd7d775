"""What each analysed metric is to the experiment: its primary metric, its objective, a secondary
metric, a guardrail, or one more KPI. Reports show them in that order, so the figure the
experiment is decided on comes first and the ones an analyst asked for are not lost among the
rest."""

from __future__ import annotations

from typing import Literal

from engine.config import Experiment

Role = Literal["primary", "objective", "secondary", "guardrail", "other"]

#: The experiment file's metric names -> the analysis metric that measures each.
ANALYSIS_METRIC: dict[str, str] = {
    "pay_on_time": "pay_on_time",
    "churn": "churn",
    "collected": "collected_per_debtor",
    "collection_cases": "cases_per_1000",
    "reminders": "reminders_per_1000",
    "net_value": "net_value_per_debtor",
    "clv": "clv_per_debtor",
    "late_again": "late_again",
    "cases_per_customer": "cases_per_customer",
}
#: Measured only when the debtor file names a case (``unit.case``).
CASE_ONLY = ("late_again", "cases_per_customer")

_ORDER: tuple[Role, ...] = ("primary", "objective", "secondary", "guardrail", "other")


def metric_roles(experiment: Experiment) -> dict[str, Role]:
    """Analysis metric -> its role, every metric once, in report order (first role wins)."""
    roles: dict[str, Role] = {ANALYSIS_METRIC[experiment.metrics.primary]: "primary"}
    roles.setdefault(ANALYSIS_METRIC[experiment.objective], "objective")
    for name in experiment.metrics.secondary:
        roles.setdefault(ANALYSIS_METRIC[name], "secondary")
    for guardrail in experiment.metrics.guardrails:
        roles.setdefault(ANALYSIS_METRIC[guardrail.metric], "guardrail")
    cases = experiment.case_column is not None
    for metric in ANALYSIS_METRIC.values():
        if cases or metric not in CASE_ONLY:
            roles.setdefault(metric, "other")
    return dict(sorted(roles.items(), key=lambda item: _ORDER.index(item[1])))
