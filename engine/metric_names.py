"""The plain names of the metrics, for every sentence a person reads: the promotion rule's
explanation, an arm's stop in words (the scorecard, the History page, the demo). One table, so
that no surface shows a metric key (``late_again``) where a manager reads a name. No
dependency: the promotion rule sits below the analysis, and both name metrics the same way."""

from __future__ import annotations

#: Metric key (the analysis' and the experiment language's guardrail keys) -> its plain name,
#: worded to read after "its": "its late-again rate is higher than under ...".
METRIC_NAMES: dict[str, str] = {
    "pay_on_time": "pay-on-time rate",
    "churn": "churn",
    "collected_per_debtor": "amount collected per debtor",
    "net_value_per_debtor": "net value per debtor",
    "clv_per_debtor": "customer lifetime value per debtor",
    "cases_per_1000": "collection-case rate",
    "reminders_per_1000": "reminder rate",
    "collection_cases": "collection-case rate",
    "reminders": "reminder rate",
    "late_again": "late-again rate",
    "cases_per_customer": "dunning cases per customer",
}


def metric_name(metric: str) -> str:
    """The plain name of ``metric``; an unknown key in words (``a_b`` -> ``a b``)."""
    return METRIC_NAMES.get(metric, metric.replace("_", " "))
