"""Simulation study of the promotion rule under daily looks, a bandit, delays and drift.

Each simulated experiment has a champion (arm 0) and one challenger. Every day
``debtors_per_day`` debtors arrive and are split by the day's Thompson-sampling weights; the
pay-on-time outcome of a day's cohort matures ``pay_window_days`` later and churn
``churn_window_days`` later. Each day the weights are refreshed from the matured outcomes
(P(best) with the additive ``min_share`` floor, as :func:`engine.policy.decide_allocation`;
P(best) of two Beta posteriors by their normal approximation, which is what makes thousands of
experiments a second's work) and the rule is evaluated through :func:`evaluate_rule`, the
function the engine uses, with the days as allocation periods (strata). The base rate drifts
(``drift`` peak to peak over the run, a slow cycle), so pooled rates under a bandit would be
biased: the stratification is tested, not assumed.

The first promote (or stop_arm) of an experiment ends it, as a promotion would in production.
For contrast, :func:`naive_rule` is the rule many dashboards apply: promote once the pooled
P(beat) exceeds 0.95 at any daily look (with the same ``min_days`` and ``min_units_per_arm``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from engine.config import Guardrail, Promotion
from engine.promotion.rule import PROMOTE, STOP_ARM, Evidence, evaluate_rule
from engine.promotion.sequential import FloatArray, MetricStrata, pearson_srm_p_value

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class StudyConfig:
    """One scenario: the truth, the traffic and the rule."""

    experiments: int = 500
    days: int = 90
    debtors_per_day: int = 1_000
    base_rate: float = 0.55
    effect: float = 0.0  # challenger's pay-on-time minus the champion's, in rate points
    drift: float = 0.06  # peak-to-peak swing of the base rate over the run
    pay_window_days: int = 14
    churn_rate: float = 0.05
    churn_multiplier: float = 1.0  # challenger's churn = champion's x this
    churn_window_days: int = 14
    min_share: float = 0.05
    rule: Promotion = field(default_factory=Promotion)
    guardrails: tuple[Guardrail, ...] = field(
        default_factory=lambda: (Guardrail(metric="churn", max_relative_increase=0.20),)
    )


@dataclass(frozen=True)
class StudyOutcome:
    """Per experiment: the day (index) of the first promotion / stop, -1 if none, for the
    engine's rule and for the naive rule, and the rates with their Monte Carlo standard error."""

    config: StudyConfig
    promoted_on: IntArray
    stopped_on: IntArray
    naive_promoted_on: IntArray

    @staticmethod
    def _rate(days: IntArray) -> tuple[float, float]:
        p = float(np.mean(days >= 0))
        return p, float(np.sqrt(p * (1 - p) / days.size))

    @property
    def promotion_rate(self) -> tuple[float, float]:
        """Share of experiments in which the challenger was promoted, and its standard error."""
        return self._rate(self.promoted_on)

    @property
    def stop_rate(self) -> tuple[float, float]:
        return self._rate(self.stopped_on)

    @property
    def naive_promotion_rate(self) -> tuple[float, float]:
        return self._rate(self.naive_promoted_on)

    def median_day(self, days: IntArray) -> float:
        """Median day of the event among experiments where it happened (NaN if none)."""
        hit = days[days >= 0]
        return float(np.median(hit)) if hit.size else float("nan")


def _prob_beat(paid: FloatArray, n: FloatArray) -> FloatArray:
    """P(arm 1 > arm 0) of Beta(1 + s, 1 + f) posteriors by their normal approximation."""
    a = paid + 1.0
    b = n - paid + 1.0
    mean = a / (a + b)
    var = a * b / ((a + b) ** 2 * (a + b + 1.0))
    z = (mean[..., 1] - mean[..., 0]) / np.sqrt(var[..., 0] + var[..., 1])
    result: FloatArray = sps.norm.cdf(z)
    return result


def naive_rule(rule: Promotion, paid: FloatArray, n: FloatArray, day: int) -> BoolArray:
    """Shape (experiments,) True where the naive rule promotes at this look: pooled P(beat)
    above ``min_prob_beat_champion`` after ``min_days`` with ``min_units_per_arm`` in both."""
    enough = (n >= rule.min_units_per_arm).all(axis=-1)
    result: BoolArray = (
        enough & (day + 1 >= rule.min_days) & (_prob_beat(paid, n) > rule.min_prob_beat_champion)
    )
    return result


def run_study(config: StudyConfig, *, seed: int) -> StudyOutcome:
    """Simulate ``config.experiments`` experiments day by day (module docstring)."""
    rng = np.random.default_rng(seed)
    e, d = config.experiments, config.days
    t = np.arange(d)
    base = config.base_rate + 0.5 * config.drift * np.sin(2 * np.pi * t / d)
    pay_p = np.stack([base, base + config.effect], axis=-1)  # (d, 2)
    churn_p = np.array([config.churn_rate, config.churn_rate * config.churn_multiplier])
    n = np.zeros((e, d, 2))
    paid = np.zeros((e, d, 2))
    churned = np.zeros((e, d, 2))
    weights = np.zeros((e, d, 2))
    promoted: IntArray = np.full(e, -1, dtype=np.int64)
    stopped: IntArray = np.full(e, -1, dtype=np.int64)
    naive: IntArray = np.full(e, -1, dtype=np.int64)
    share = np.full(e, 0.5)  # challenger's weight; starts at the configured equal split
    floor = config.min_share
    for day in range(d):
        weights[:, day] = np.column_stack([1 - share, share])
        to_challenger = rng.binomial(config.debtors_per_day, share)
        n[:, day] = np.column_stack([config.debtors_per_day - to_challenger, to_challenger])
        paid[:, day] = rng.binomial(n[:, day].astype(np.int64), pay_p[day])
        churned[:, day] = rng.binomial(n[:, day].astype(np.int64), churn_p)
        # The look at the end of the day sees the cohorts whose window has closed.
        pay_mask = (t <= day - config.pay_window_days)[None, :, None]
        churn_mask = (t <= day - config.churn_window_days)[None, :, None]
        pay_n, pay_s = n * pay_mask, paid * pay_mask
        guardrail = MetricStrata(n * churn_mask, churned * churn_mask)
        evidence = Evidence(
            primary=MetricStrata(pay_n, pay_s),
            guardrails=tuple(guardrail for _ in config.guardrails),
            days_as_champion=np.full(e, day + 1.0),
            stopped=np.zeros((e, 2), dtype=bool),
            srm_p_value=pearson_srm_p_value(n[:, : day + 1], weights[:, : day + 1]),
            ess_share=np.full((e, 2), np.nan),
        )
        result = evaluate_rule(config.rule, config.guardrails, evidence, champion=0)
        open_ = (promoted < 0) & (stopped < 0)
        promoted[open_ & (result.action == PROMOTE)] = day
        stopped[open_ & (result.action == STOP_ARM)] = day
        pooled_n, pooled_s = pay_n.sum(axis=1), pay_s.sum(axis=1)
        naive[(naive < 0) & naive_rule(config.rule, pooled_s, pooled_n, day)] = day
        # Tomorrow's split: P(best) from the matured outcomes, with the additive floor.
        share = floor + (1 - 2 * floor) * _prob_beat(pooled_s, pooled_n)
    return StudyOutcome(config, promoted, stopped, naive)
