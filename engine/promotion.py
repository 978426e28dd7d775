"""The promotion decision rule: does a challenger replace the champion? No side effects.

The rule (from the experiment's ``promotion`` block):

1. the champion has held the title for at least ``min_days``;
2. champion and challenger each have at least ``min_units_per_arm`` matured units;
3. P(challenger's rate > champion's rate) >= ``min_prob_beat_champion`` under the Beta posteriors.

Among challengers passing 2., the one with the highest P(beat) is considered. Every decision
carries a reason code and the numbers behind it, so the audit trail explains each one.

This first rule looks at the data daily; repeated looks inflate the false promotion rate above
``1 - min_prob_beat_champion``, which the ``min_days`` and ``min_units_per_arm`` gates only damp.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from engine.config import Promotion
from engine.stats.binomial import BinomialStat, posterior_draws, prob_beat

Action = Literal["promote", "continue"]
Reason = Literal["promote", "too_early", "too_few_units", "not_confident"]


@dataclass(frozen=True)
class PromotionDecision:
    """Outcome of one evaluation of the rule, with the evidence for the audit trail."""

    action: Action
    reason: Reason
    champion: str
    challenger: str | None
    explanation: str
    prob_beat: Mapping[str, float] = field(default_factory=dict)
    units: Mapping[str, int] = field(default_factory=dict)
    rates: Mapping[str, float] = field(default_factory=dict)
    days_as_champion: float = 0.0

    @property
    def new_champion(self) -> str | None:
        return self.challenger if self.action == "promote" else None

    def numbers(self) -> dict[str, Any]:
        """The evidence as plain JSON-able data."""
        data = asdict(self)
        data["rates"] = {k: (None if np.isnan(v) else v) for k, v in self.rates.items()}
        return data


def decide_promotion(
    *,
    rule: Promotion,
    champion: str,
    stats: Mapping[str, BinomialStat],
    days_as_champion: float,
    rng: np.random.Generator,
    prior_alpha: float = 1.0,
    prior_beta: float = 1.0,
    draws: int = 20_000,
    samples: Mapping[str, npt.NDArray[np.float64]] | None = None,
) -> PromotionDecision:
    """Evaluate the promotion rule once.

    Parameters
    ----------
    rule
        Thresholds from the experiment file.
    champion
        Key of the current champion; must be in ``stats``.
    stats
        Matured outcomes of the primary metric per arm.
    days_as_champion
        Days since the champion took the title (experiment start or last promotion).
    rng
        Generator for the Monte Carlo estimate of P(beat); seeded and recorded by the caller.
    samples
        Arm -> joint posterior draws (draws,) of its rate, to use instead of the pooled Beta
        posteriors of ``stats``: the period-and-segment stratified posteriors when traffic
        depends on the segment, where pooled rates compare different mixes of debtors.
    """
    if champion not in stats:
        raise ValueError(f"champion {champion!r} has no statistics")
    units = {arm: s.n for arm, s in stats.items()}
    rates = {arm: s.rate for arm, s in stats.items()}

    def decision(
        action: Action,
        reason: Reason,
        challenger: str | None,
        explanation: str,
        p_beat: Mapping[str, float] | None = None,
    ) -> PromotionDecision:
        return PromotionDecision(
            action,
            reason,
            champion=champion,
            challenger=challenger,
            explanation=explanation,
            prob_beat=p_beat or {},
            units=units,
            rates=rates,
            days_as_champion=days_as_champion,
        )

    if days_as_champion < rule.min_days:
        return decision(
            "continue",
            "too_early",
            None,
            f"champion held the title {days_as_champion:.1f} of {rule.min_days} days",
        )
    ready = [arm for arm, n in units.items() if arm != champion and n >= rule.min_units_per_arm]
    if units[champion] < rule.min_units_per_arm or not ready:
        return decision(
            "continue",
            "too_few_units",
            None,
            (
                f"need {rule.min_units_per_arm} matured units in the champion and a challenger; "
                f"champion has {units[champion]}, best challenger "
                f"{max((n for a, n in units.items() if a != champion), default=0)}"
            ),
        )

    arms = [champion, *ready]
    if samples is not None:
        joint = np.column_stack([samples[a] for a in arms])
    else:
        alpha = np.array([prior_alpha + stats[a].successes for a in arms])
        beta = np.array([prior_beta + stats[a].failures for a in arms])
        joint = posterior_draws(alpha, beta, draws=draws, rng=rng)
    beats = prob_beat(joint, reference=0)
    p_beat = {arm: float(p) for arm, p in zip(arms[1:], beats[1:], strict=True)}
    # Highest P(beat) first; the higher observed rate breaks ties (both can be 1.0).
    best = max(ready, key=lambda arm: (p_beat[arm], rates[arm]))
    threshold = rule.min_prob_beat_champion
    if p_beat[best] >= threshold:
        return decision(
            "promote",
            "promote",
            best,
            (
                f"P({best} beats {champion}) = {p_beat[best]:.4f} >= {threshold:g} with "
                f"{units[best]} and {units[champion]} matured units"
            ),
            p_beat,
        )
    return decision(
        "continue",
        "not_confident",
        best,
        (f"best challenger {best}: P(beat {champion}) = {p_beat[best]:.4f} < {threshold:g}"),
        p_beat,
    )
