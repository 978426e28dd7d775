"""Simulation study of the promotion rule under daily looks, a bandit, delays and drift.

Each simulated experiment has a champion (arm 0) and one challenger. Every day
``debtors_per_day`` debtors arrive, spread over the segments by ``segment_shares``, and are
split by the day's Thompson-sampling weights (one bandit, or one per segment with
``per_segment``); the pay-on-time outcome of a day's cohort matures ``pay_window_days`` later
and churn ``churn_window_days`` later. Each day the weights are refreshed from the matured
outcomes (P(best) with the additive ``min_share`` floor, as :func:`engine.policy.decide_allocation`;
P(best) of two Beta posteriors by their normal approximation, which is what makes thousands of
experiments a second's work) and the rule is evaluated through :func:`evaluate_rule`, the
function the engine uses, with each (day, segment) as a cell carrying the day's weights. The
base rate drifts (``drift`` peak to peak over the run, a slow cycle), and the challenger's effect
may differ by segment (``segment_effects``): a per-segment bandit then gives it most traffic
where it is good and only its floor where it is bad, the hard case for any estimator that
weights strata by the arms' traffic.

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
from engine.promotion.sequential import FloatArray, pearson_srm_p_value
from engine.stats.comparison import Cells

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
    #: The champion keeps at least this share (``allocation.champion_floor``): with it the two
    #: arms' floors differ, and a per-segment split is uneven in a different way per segment.
    champion_floor: float = 0.0
    #: Population share of each segment (sums to 1); one segment by default.
    segment_shares: tuple[float, ...] = (1.0,)
    #: The challenger's effect in each segment (overrides ``effect``); None: ``effect`` in all.
    segment_effects: tuple[float, ...] | None = None
    #: Added to the challenger's effect linearly over the run (0 on the first day, all of it
    #: on the last): an effect that drifts in time.
    effect_trend: float = 0.0
    #: One bandit per segment (strata are the segments) instead of one for all debtors.
    per_segment: bool = False
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
    #: The rule's estimate of the challenger's effect at the last look (NaN without figures):
    #: its mean over experiments against :attr:`true_effect` is the estimator's bias.
    final_estimate: FloatArray = field(default_factory=lambda: np.zeros(0))

    @staticmethod
    def _rate(days: IntArray) -> tuple[float, float]:
        p = float(np.mean(days >= 0))
        return p, float(np.sqrt(p * (1 - p) / days.size))

    @property
    def promotion_rate(self) -> tuple[float, float]:
        """Share of experiments in which the challenger was promoted, and its standard error."""
        return self._rate(self.promoted_on)

    @property
    def true_effect(self) -> float:
        """The estimand at the last look: the challenger's population-average effect over
        the debtors whose pay window had closed by then."""
        c = self.config
        matured = max(c.days - c.pay_window_days, 1)  # days 0 .. matured - 1
        trend = c.effect_trend * (matured - 1) / max(c.days - 1, 1) / 2  # a ramp's mean
        return float(np.dot(c.segment_shares, _effects(c))) + trend

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


def _effects(config: StudyConfig) -> FloatArray:
    shares = np.asarray(config.segment_shares, dtype=np.float64)
    if config.segment_effects is None:
        return np.full(shares.size, config.effect)
    effects = np.asarray(config.segment_effects, dtype=np.float64)
    if effects.shape != shares.shape:
        raise ValueError("segment_effects needs one effect per segment")
    return effects


def run_study(config: StudyConfig, *, seed: int) -> StudyOutcome:
    """Simulate ``config.experiments`` experiments day by day (module docstring)."""
    rng = np.random.default_rng(seed)
    e, d = config.experiments, config.days
    shares = np.asarray(config.segment_shares, dtype=np.float64)
    if shares.ndim != 1 or not np.isclose(shares.sum(), 1.0) or np.any(shares <= 0):
        raise ValueError("segment_shares must be positive and sum to 1")
    segments = shares.size
    t = np.arange(d)
    base = config.base_rate + 0.5 * config.drift * np.sin(2 * np.pi * t / d)
    champion_p = np.broadcast_to(base[:, None], (d, segments))
    ramp = config.effect_trend * t / max(d - 1, 1)
    effect = _effects(config)[None, :] + ramp[:, None]  # (d, segments)
    pay_p = np.stack([champion_p, np.clip(champion_p + effect, 0, 1)], axis=-1)
    churn_p = np.array([config.churn_rate, config.churn_rate * config.churn_multiplier])
    shape = (e, d, segments, 2)
    n, paid, churned, weights = (np.zeros(shape) for _ in range(4))
    promoted: IntArray = np.full(e, -1, dtype=np.int64)
    stopped: IntArray = np.full(e, -1, dtype=np.int64)
    naive: IntArray = np.full(e, -1, dtype=np.int64)
    # The challenger's weight per experiment and segment; starts at the equal split.
    share = np.full((e, segments), 0.5)
    floor = config.min_share
    # Cells are (day, segment) pairs, day-major; the estimand's strata are the segments when
    # the allocation depends on them (the engine's rule), else one stratum.
    stratum = np.tile(np.arange(segments), d) if config.per_segment else np.zeros(d * segments)

    def cells(units: FloatArray, hits: FloatArray, days: int) -> Cells:
        """The cells of the first ``days`` days (later days have no debtors yet)."""
        flat = (e, days * segments, 2)
        return Cells.rate(
            units[:, :days].reshape(flat),
            hits[:, :days].reshape(flat),
            weights[:, :days].reshape(flat),
            stratum[: days * segments],
        )

    for day in range(d):
        weights[:, day] = np.stack([1 - share, share], axis=-1)
        arrivals = rng.multinomial(config.debtors_per_day, shares, size=e)  # (e, segments)
        to_challenger = rng.binomial(arrivals, share)
        n[:, day] = np.stack([arrivals - to_challenger, to_challenger], axis=-1)
        paid[:, day] = rng.binomial(n[:, day].astype(np.int64), pay_p[day])
        churned[:, day] = rng.binomial(n[:, day].astype(np.int64), churn_p)
        # The look at the end of the day sees the cohorts whose window has closed.
        pay_mask = (t <= day - config.pay_window_days)[None, :, None, None]
        churn_mask = (t <= day - config.churn_window_days)[None, :, None, None]
        pay_n, pay_s = n * pay_mask, paid * pay_mask
        guardrail = cells(n * churn_mask, churned * churn_mask, day + 1)
        evidence = Evidence(
            primary=cells(pay_n, pay_s, day + 1),
            guardrails=tuple(guardrail for _ in config.guardrails),
            days_as_champion=np.full(e, day + 1.0),
            stopped=np.zeros((e, 2), dtype=bool),
            srm_p_value=pearson_srm_p_value(
                n[:, : day + 1].reshape(e, -1, 2), weights[:, : day + 1].reshape(e, -1, 2)
            ),
            ess_share=np.full((e, 2), np.nan),
        )
        result = evaluate_rule(config.rule, config.guardrails, evidence, champion=0)
        open_ = (promoted < 0) & (stopped < 0)
        promoted[open_ & (result.action == PROMOTE)] = day
        stopped[open_ & (result.action == STOP_ARM)] = day
        pooled_n, pooled_s = pay_n.sum(axis=(1, 2)), pay_s.sum(axis=(1, 2))
        naive[(naive < 0) & naive_rule(config.rule, pooled_s, pooled_n, day)] = day
        # Tomorrow's split: P(best) from the matured outcomes, with the additive floor; per
        # segment from that segment's outcomes, else one split for all.
        if config.per_segment:
            best = _prob_beat(pay_s.sum(axis=1), pay_n.sum(axis=1))  # (e, segments)
        else:
            best = np.broadcast_to(_prob_beat(pooled_s, pooled_n)[:, None], (e, segments))
        share = np.minimum(floor + (1 - 2 * floor) * best, 1.0 - config.champion_floor)
    return StudyOutcome(config, promoted, stopped, naive, result.primary.estimate[:, 1])
