"""The promotion decision rule, vectorised over a batch of experiments. No side effects.

:func:`evaluate_rule` is the one implementation: the engine calls it for one experiment (through
:func:`engine.promotion.decide_promotion`), the simulation study for thousands at once. At each
look, in this order:

1. **stop_arm**: a challenger whose guardrail is clearly breached (the always-valid lower bound
   of its increase over the champion exceeds the margin, with at least
   :data:`MIN_UNITS_TO_STOP` matured units in both) loses its traffic at once, whatever the
   day: harm is not left running until the horizon (Eppo's hybrid).
2. **continue** while the champion has held the title fewer than ``min_days``, while the
   sample-ratio check fails (the data cannot be trusted), or while the champion or every
   challenger has fewer than ``min_units_per_arm`` matured units.
3. **promote** the challenger with the largest estimated gain among those that pass every gate:
   the effect on the primary metric is established (``sequential``: the confidence sequence's
   lower bound is above 0 at this look; ``horizon``: a one-sided z-test at the planned horizon),
   P(beat) >= ``min_prob_beat_champion``, expected loss <= ``max_expected_loss``, every guardrail
   shown non-inferior (the upper bound of its increase below the margin) and, for a policy
   challenger, an effective sample size of at least ``min_ess_share`` of the log.
4. **inconclusive** once ``horizon_days`` have passed without a promotion: the champion stays.
5. else **continue**, with the first gate the best challenger failed as the reason.

The level ``alpha`` is split over the challengers (Bonferroni), so the chance that *any*
challenger is wrongly promoted over all looks stays at or below ``alpha``. The primary
metric's confidence sequence is tuned with ``mixture_sd``; a guardrail's with its own margin
(the size of change that matters for it: churn moves by points, not tens of points).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from engine.config import Guardrail, Promotion
from engine.promotion.sequential import Difference, FloatArray, always_valid
from engine.stats.comparison import Cells, compare

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

ACTIONS = ("continue", "promote", "stop_arm", "inconclusive")
REASONS = (
    "too_early",
    "srm",
    "too_few_units",
    "not_significant",
    "not_confident",
    "expected_loss",
    "guardrail_unclear",
    "low_ess",
    "promote",
    "guardrail_breach",
    "horizon_reached",
)
CONTINUE, PROMOTE, STOP_ARM, INCONCLUSIVE = range(4)
#: SRM p-value below which the data are not trusted (the check runs at every look).
SRM_THRESHOLD = 0.001
#: Fewest matured units per arm before a guardrail may stop an arm: the normal approximation
#: behind the confidence sequence is poor on a few dozen debtors.
MIN_UNITS_TO_STOP = 200


@dataclass(frozen=True, eq=False)
class Evidence:
    """What the rule sees at one look; leading axes (...) index experiments in a batch.

    primary, guardrails
        Matured outcome sums per (cell, arm) with each arm's assignment probability, of the
        primary metric and of each guardrail of the rule, in the rule's order; compared by
        :func:`engine.stats.comparison.compare`.
    days_as_champion
        Shape (...): days since the champion took the title.
    stopped
        Shape (..., arms): arms already stopped (they are never promoted).
    srm_p_value
        Shape (...): p-value of the sample-ratio check; NaN when nothing could be tested.
    ess_share
        Shape (..., arms): effective sample size of the off-policy estimate of a policy
        challenger as a share of the logged decisions; NaN for an ordinary arm.
    """

    primary: Cells
    guardrails: tuple[Cells, ...]
    days_as_champion: FloatArray
    stopped: BoolArray
    srm_p_value: FloatArray
    ess_share: FloatArray


@dataclass(frozen=True, eq=False)
class RuleResult:
    """Decisions of one look: ``action`` and ``reason`` (indices into :data:`ACTIONS` and
    :data:`REASONS`), ``challenger`` (the promoted or best challenger, -1 if none), ``stop``
    (..., arms) the arms to stop, and the numbers behind them."""

    action: IntArray
    reason: IntArray
    challenger: IntArray
    stop: BoolArray
    primary: Difference
    guardrails: tuple[Difference, ...]
    margins: tuple[FloatArray, ...]
    significant: BoolArray
    alpha_per_challenger: float


def _margins(guardrail: Guardrail, champion_value: FloatArray) -> FloatArray:
    """Largest tolerated increase per challenger, shape (..., arms): the champion's level on
    the pair's strata sets the relative margin."""
    values = [np.full_like(champion_value, np.inf)]
    if guardrail.max_relative_increase is not None:
        values.append(guardrail.max_relative_increase * np.abs(np.nan_to_num(champion_value)))
    if guardrail.max_absolute_increase is not None:
        values.append(np.full_like(champion_value, guardrail.max_absolute_increase))
    result: FloatArray = np.minimum.reduce(values)
    return result


def evaluate_rule(
    rule: Promotion,
    guardrails: Sequence[Guardrail],
    evidence: Evidence,
    *,
    champion: int,
) -> RuleResult:
    """Apply the rule (module docstring) to every experiment of the batch at once."""
    if len(guardrails) != len(evidence.guardrails):
        raise ValueError("one Cells per guardrail is needed")
    n_arms = evidence.primary.n_arms
    alpha = rule.alpha / max(n_arms - 1, 1)
    is_champion = np.arange(n_arms) == champion
    challengers = ~np.asarray(evidence.stopped, dtype=bool) & ~is_champion
    primary = always_valid(
        compare(evidence.primary, champion=champion), alpha=alpha, mixture_sd=rule.mixture_sd
    )
    units = primary.comparison.pair_units
    champion_units = primary.comparison.champion_units
    days = np.asarray(evidence.days_as_champion, dtype=np.float64)

    breached = np.zeros_like(challengers)
    non_inferior = np.ones_like(challengers)
    diffs: list[Difference] = []
    margins: list[FloatArray] = []
    for guardrail, data in zip(guardrails, evidence.guardrails, strict=True):
        estimate = compare(data, champion=champion)
        margin = _margins(guardrail, estimate.champion_level)
        # The sequence's spread is set by the margin, the size of change that matters for the
        # guardrail: churn moves by points, not by the primary metric's tens of points.
        diff = always_valid(estimate, alpha=alpha, mixture_sd=np.clip(margin, 1e-3, 1.0))
        enough = (estimate.pair_units >= MIN_UNITS_TO_STOP) & (
            estimate.champion_units >= MIN_UNITS_TO_STOP
        )
        breached |= diff.informative & enough & (diff.lower > margin)
        non_inferior &= diff.informative & (diff.upper < margin)
        diffs.append(diff)
        margins.append(margin)
    stop = challengers & breached

    at_horizon = (
        np.zeros_like(days, dtype=bool) if rule.horizon_days is None else days >= rule.horizon_days
    )
    if rule.method == "sequential":
        significant = primary.informative & (primary.lower > 0)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            z = primary.estimate / np.sqrt(primary.variance)
        significant = primary.informative & at_horizon[..., None] & (z > sps.norm.isf(alpha))
    ready = (
        challengers
        & ~stop
        & (units >= rule.min_units_per_arm)
        & (champion_units >= rule.min_units_per_arm)
    )
    confident = primary.prob_positive() >= rule.min_prob_beat_champion
    low_loss = primary.expected_loss() <= rule.max_expected_loss
    ess = np.asarray(evidence.ess_share, dtype=np.float64)
    ess_ok = np.isnan(ess) | (rule.min_ess_share is None) | (ess >= (rule.min_ess_share or 0.0))
    gates = (significant, confident, low_loss, non_inferior, ess_ok)
    passes = ready & np.logical_and.reduce(gates)

    # The candidate: the passing challenger with the largest gain, else the best ready one.
    any_ready = ready.any(axis=-1)
    any_pass = passes.any(axis=-1)
    gain = np.nan_to_num(primary.estimate, nan=-np.inf)
    best = np.where(
        any_pass,
        np.argmax(np.where(passes, gain, -np.inf), axis=-1),
        np.argmax(np.where(ready, gain, -np.inf), axis=-1),
    )
    challenger = np.where(any_ready, best, -1)

    def at_best(values: BoolArray) -> BoolArray:
        return np.take_along_axis(values, best[..., None], axis=-1)[..., 0]

    first_failed = np.select(
        [~at_best(g) for g in gates],
        [REASONS.index(r) for r in ("not_significant", "not_confident", "expected_loss")]
        + [REASONS.index("guardrail_unclear"), REASONS.index("low_ess")],
        default=REASONS.index("promote"),
    )
    srm_flagged = np.nan_to_num(np.asarray(evidence.srm_p_value), nan=1.0) < SRM_THRESHOLD
    any_stop = stop.any(axis=-1)
    too_early = days < rule.min_days
    conditions = [any_stop, too_early, srm_flagged, ~any_ready, any_pass, at_horizon]
    action = np.select(
        conditions, [STOP_ARM, CONTINUE, CONTINUE, CONTINUE, PROMOTE, INCONCLUSIVE], CONTINUE
    )
    reason = np.select(
        conditions,
        [
            REASONS.index(r)
            for r in ("guardrail_breach", "too_early", "srm", "too_few_units", "promote")
        ]
        + [REASONS.index("horizon_reached")],
        first_failed,
    )
    return RuleResult(
        action=np.asarray(action, dtype=np.int64),
        reason=np.asarray(reason, dtype=np.int64),
        # Only a comparison that was made names a challenger.
        challenger=np.asarray(
            np.where(any_stop | too_early | srm_flagged, -1, challenger), dtype=np.int64
        ),
        stop=stop,
        primary=primary,
        guardrails=tuple(diffs),
        margins=tuple(margins),
        significant=significant,
        alpha_per_challenger=alpha,
    )
