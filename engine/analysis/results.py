"""The analysis as a value: per-metric and per-arm results, and its versioned JSON shape."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:  # only an annotation here; holdout.py imports LEVEL from this module
    from engine.analysis.holdout import HoldoutComparison

#: Version of the JSON shape of :meth:`Analysis.to_dict` (bump on any breaking change).
SCHEMA_VERSION = 1
#: Credible and confidence level of every interval of the analysis.
LEVEL = 0.95
NAN = float("nan")

MetricName = Literal[
    "pay_on_time",
    "churn",
    "collected_per_debtor",
    "cases_per_1000",
    "reminders_per_1000",
    "net_value_per_debtor",
    "clv_per_debtor",
]


@dataclass(frozen=True)
class MetricResult:
    """One metric of one arm. Uplifts are ``arm - champion`` in the metric's unit."""

    metric: str
    unit: str
    higher_is_better: bool
    units: int  # matured units behind the estimate
    immature_share: float
    estimate: float
    low: float
    high: float
    uplift: float
    uplift_low: float
    uplift_high: float
    relative_uplift: float
    relative_uplift_low: float
    relative_uplift_high: float
    prob_beat_champion: float
    prob_best: float
    expected_loss: float
    naive_estimate: float  # pooled over periods, for contrast; biased under a bandit
    freq_diff: float = NAN
    freq_low: float = NAN
    freq_high: float = NAN
    p_value: float = NAN
    p_holm: float = NAN
    freq_note: str = ""


@dataclass(frozen=True)
class ArmResult:
    arm: str
    label: str
    champion: bool
    traffic_share: float
    assigned: int
    cost_per_debtor: float
    totals: dict[str, float]  # to date: collection cases, reminders, collected, cost
    metrics: dict[str, MetricResult]


@dataclass(frozen=True)
class SrmSummary:
    observed: dict[str, float]
    expected: dict[str, float]
    chi2: float
    p_value: float
    flagged: bool
    threshold: float
    reason: str


@dataclass(frozen=True)
class Analysis:
    """The whole analysis of one experiment (or one segment of it)."""

    experiment: str
    name: str
    experiment_version: int
    currency: str
    as_of: datetime
    champion: str
    segments: tuple[str, ...] | None  # None: all debtors
    strata: int
    pay_window_days: int
    churn_horizon_days: int
    seed: int
    clv_model: str
    srm: SrmSummary
    arms: list[ArmResult] = field(default_factory=list)
    holdout: HoldoutComparison | None = None
    #: Metric -> primary, objective, secondary, guardrail or other, in report order.
    metric_roles: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able shape, versioned by ``schema_version`` (NaN becomes null)."""
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        data["segments"] = list(self.segments) if self.segments is not None else None
        return {"schema_version": SCHEMA_VERSION, **json_safe(data)}


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (nested in dicts, lists, tuples) as None, so
    ``json.dumps(..., allow_nan=False)`` accepts it: JSON has no NaN."""
    if isinstance(value, float):
        return None if not np.isfinite(value) else value
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
