"""The analysis as a value: per-metric and per-arm results, and its versioned JSON shape."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:  # only an annotation here; holdout.py imports LEVEL from this module
    from engine.analysis.holdout import HoldoutComparison

#: Version of the JSON shape of :meth:`Analysis.to_dict` (bump on any breaking change).
SCHEMA_VERSION = 2
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
    "late_again",
    "cases_per_customer",
]
#: Why a metric of an arm has (or has no) figures: ``ok``; ``champion`` (the reference row);
#: ``not_matured`` (debtors assigned, none matured yet: ``matures_on`` says when the first
#: does); ``no_units`` (nobody assigned); ``no_overlap`` (the arm and the champion never had
#: traffic in the same stratum); ``not_estimable`` (too few units for a variance).
Status = Literal["ok", "champion", "not_matured", "no_units", "no_overlap", "not_estimable"]


@dataclass(frozen=True)
class MetricResult:
    """One metric of one arm. Uplifts are ``arm - champion`` in the metric's unit: the estimand
    of :mod:`engine.stats.comparison`, the same figures the promotion rule decides on.

    ``estimate``/``low``/``high`` are the arm's own level (its strata weighted by their share of
    the randomised debtors); ``uplift``/``uplift_low``/``uplift_high`` the comparison with the
    champion, whose 95% interval is both the confidence and the (flat-prior) credible interval;
    ``p_value``/``p_holm`` are its frequentist reading, ``prob_beat_champion``, ``prob_best`` and
    ``expected_loss`` its Bayesian one. ``pooled_estimate`` is the plain pooled mean, for
    contrast only (biased when traffic and baseline both change).
    """

    metric: str
    unit: str
    higher_is_better: bool
    status: str
    message: str
    units: int  # matured randomised units of the arm
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
    coverage: float  # share of the randomised matured debtors the comparison covers
    prob_beat_champion: float
    prob_best: float
    expected_loss: float
    p_value: float
    p_holm: float
    pooled_estimate: float
    matures_on: date | None = None

    @property
    def has_figures(self) -> bool:
        return self.status in ("ok", "champion") and not np.isnan(self.estimate)


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
    #: Debtors a contact rule sent to the fallback side (not randomised, not in any estimate).
    constrained: int = 0


@dataclass(frozen=True)
class SrmSummary:
    observed: dict[str, float]
    expected: dict[str, float]
    chi2: float
    p_value: float
    flagged: bool
    threshold: float
    reason: str
    #: Debtors left out of the check because a contact rule decided their arm.
    constrained: int = 0


@dataclass(frozen=True)
class ClvAssumption:
    """What the CLV figures rest on, stated with them."""

    model: str  # "constant retention 0.975/month" or the sBG parameters and tenure
    residual_value: float  # residual CLV of a debtor who stays a customer (posterior mean)
    residual_value_low: float
    residual_value_high: float
    persistence_months: int | None  # 0: only churn within the horizon; None: for life
    statement: str  # one sentence for people


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
    strata: int  # strata of the estimand: segments under per-segment allocation, else 1
    cells: int  # (stratum, allocation period) cells after merging equal splits
    pay_window_days: int
    churn_horizon_days: int
    seed: int
    clv: ClvAssumption
    srm: SrmSummary
    arms: list[ArmResult] = field(default_factory=list)
    holdout: HoldoutComparison | None = None
    #: Metric -> primary, objective, secondary, guardrail or other, in report order.
    metric_roles: dict[str, str] = field(default_factory=dict)
    first_pay_due: datetime | None = None
    first_churn_due: datetime | None = None
    #: N of ``late_again`` (another case within N days) when the experiment has repeat cases
    #: (``unit.case``); None, and absent from the JSON, when every debtor is one case.
    late_again_days: int | None = None
    first_late_again_due: datetime | None = None  # the first case's late-again window closes

    @property
    def clv_model(self) -> str:
        return self.clv.model

    def arm(self, key: str) -> ArmResult:
        for result in self.arms:
            if result.arm == key:
                return result
        raise KeyError(f"no arm {key!r} in the analysis of {self.experiment!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able shape, versioned by ``schema_version`` (NaN becomes null)."""
        data = asdict(self)
        data["segments"] = list(self.segments) if self.segments is not None else None
        if self.late_again_days is None:  # one case per debtor: the shape of before
            del data["late_again_days"], data["first_late_again_due"]
        return {"schema_version": SCHEMA_VERSION, **json_safe(data)}


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (nested in dicts, lists, tuples) as None, and
    dates as ISO 8601 text, so ``json.dumps(..., allow_nan=False)`` accepts it."""
    if isinstance(value, float):
        return None if not np.isfinite(value) else value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
