"""One experiment's promotion decision with its explanation and audit numbers."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, cast

import numpy as np

from engine.config import Guardrail, Promotion
from engine.metric_names import metric_name
from engine.promotion.rule import ACTIONS, REASONS, Evidence, RuleResult, evaluate_rule

Action = Literal["promote", "continue", "stop_arm", "inconclusive"]


def _num(value: float) -> float | None:
    """JSON has no NaN or infinity: they become null in the audit numbers."""
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class PromotionDecision:
    """Outcome of one evaluation of the rule, with the evidence for the audit trail.

    ``difference[arm]`` holds the challenger's difference to the champion on the primary metric
    as :mod:`engine.stats.comparison` estimates it (``estimate`` with its 95% interval
    ``low``/``high``, the same figures every report shows), the always-valid bounds the rule
    decides on (``always_valid_low``/``always_valid_high``), ``expected_loss``, the covered
    share of the randomised debtors (``coverage``) and the units on both sides;
    ``guardrails[metric][arm]`` the same for each guardrail with its ``margin``.
    """

    action: Action
    reason: str
    champion: str
    challenger: str | None
    explanation: str
    stopped_arms: tuple[str, ...] = ()
    prob_beat: Mapping[str, float] = field(default_factory=dict)
    units: Mapping[str, int] = field(default_factory=dict)
    rates: Mapping[str, float | None] = field(default_factory=dict)
    difference: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)
    guardrails: Mapping[str, Mapping[str, Mapping[str, float | None]]] = field(default_factory=dict)
    days_as_champion: float = 0.0
    srm_p_value: float | None = None
    ess_share: Mapping[str, float] = field(default_factory=dict)
    alpha: float = 0.05
    method: str = "sequential"

    @property
    def new_champion(self) -> str | None:
        return self.challenger if self.action == "promote" else None

    def numbers(self) -> dict[str, Any]:
        """The evidence as plain JSON-able data."""
        data = asdict(self)
        data["stopped_arms"] = list(self.stopped_arms)
        return data

    @classmethod
    def from_numbers(cls, numbers: Mapping[str, Any]) -> PromotionDecision:
        """The decision back from :meth:`numbers` (as stored in the audit record)."""
        data = dict(numbers)
        data["stopped_arms"] = tuple(data.get("stopped_arms", ()))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _points(value: float, *, per_debtor: bool = False) -> str:
    """A difference as people read it: percentage points of a rate, or per 1,000 debtors."""
    if per_debtor:
        return f"{1000 * value:+,.1f} per 1,000 debtors"
    return f"{100 * value:+.2f} pp"


def _span(low: float, high: float, *, per_debtor: bool = False) -> str:
    scale, unit = (1000.0, "") if per_debtor else (100.0, " pp")
    return f"{scale * low:+,.2f} to {scale * high:+,.2f}{unit}"


#: Guardrails measured per debtor (counts), shown per 1,000 debtors; churn is a rate.
_COUNT_GUARDRAILS = ("collection_cases", "reminders")


def _explain(
    result: RuleResult,
    rule: Promotion,
    names: Sequence[str],
    arms: Sequence[str],
    champion: int,
    units: Mapping[str, int],
    days: float,
    stopped: Sequence[str],
) -> str:
    reason = REASONS[int(result.reason)]
    best = int(result.challenger)
    name = arms[best] if best >= 0 else ""
    champ = arms[champion]
    primary = result.primary
    if reason == "guardrail_breach":
        parts = []
        for g, diff, margin in zip(names, result.guardrails, result.margins, strict=True):
            count = g in _COUNT_GUARDRAILS
            for k in (int(i) for i in np.flatnonzero(result.stop)):
                if diff.lower[k] > margin[k]:
                    parts.append(
                        f"{arms[k]}: its {metric_name(g)} is higher than under {champ} by "
                        "at least "
                        f"{_points(float(diff.lower[k]), per_debtor=count)} (estimate "
                        f"{_points(float(diff.estimate[k]), per_debtor=count)}), more than "
                        f"the tolerated {_points(float(margin[k]), per_debtor=count)}"
                    )
        return "guardrail breached, traffic stopped: " + "; ".join(parts)
    if reason == "too_early":
        unit = "day" if rule.min_days == 1 else "days"
        return f"the champion has held the title {max(days, 0.0):.1f} of the {rule.min_days} {unit}"
    if reason == "srm":
        return "sample-ratio mismatch: assignment counts do not match the traffic weights"
    if reason == "too_few_units":
        others = [units[a] for i, a in enumerate(arms) if i != champion and a not in stopped]
        return (
            f"need {rule.min_units_per_arm:,} matured debtors in the champion and a "
            f"challenger; the champion has {units[champ]:,}, the best challenger "
            f"{max(others, default=0):,}"
        )
    low, high = primary.comparison.interval()
    effect = (
        f"{name} - {champ} = {_points(float(primary.estimate[best]))} on pay-on-time "
        f"(95% interval {_span(float(low[best]), float(high[best]))}; always-valid interval "
        f"{_span(float(primary.lower[best]), float(primary.upper[best]))}), "
        f"P(beat) {primary.prob_positive()[best]:.4f}, "
        f"expected loss {100 * primary.expected_loss()[best]:.2f} pp"
    )
    if reason == "promote":
        return f"promote {name}: {effect}; guardrails within their margins"
    if reason == "horizon_reached":
        unit = "day" if rule.horizon_days == 1 else "days"
        return f"horizon of {rule.horizon_days} {unit} reached, the champion stays; best {effect}"
    words = {
        "not_significant": "effect not established (the always-valid interval includes 0)",
        "not_confident": f"P(beat) below {rule.min_prob_beat_champion:g}",
        "expected_loss": f"expected loss above {100 * rule.max_expected_loss:g} pp",
        "guardrail_unclear": "a guardrail is not yet shown within its margin",
        "low_ess": f"effective sample share below {rule.min_ess_share}",
    }
    return f"{words[reason]}: {effect}"


def decide_promotion(
    *,
    rule: Promotion,
    guardrails: Sequence[Guardrail],
    arm_keys: Sequence[str],
    champion: str,
    evidence: Evidence,
) -> PromotionDecision:
    """Evaluate the rule for one experiment: ``evidence`` without a batch axis (strata, arms)."""
    arms = list(arm_keys)
    c = arms.index(champion)
    result = evaluate_rule(rule, guardrails, evidence, champion=c)
    primary = result.primary
    comparison = primary.comparison
    units = {a: int(u) for a, u in zip(arms, comparison.units, strict=True)}
    rates = {a: _num(r) for a, r in zip(arms, comparison.level, strict=True)}
    stopped_before = [a for a, s in zip(arms, evidence.stopped, strict=True) if s]
    p_beat = primary.prob_positive()
    loss = primary.expected_loss()
    low, high = comparison.interval()
    challengers = [i for i in range(len(arms)) if i != c]
    difference = {
        arms[i]: {
            "estimate": _num(primary.estimate[i]),
            "low": _num(low[i]),
            "high": _num(high[i]),
            "always_valid_low": _num(primary.lower[i]),
            "always_valid_high": _num(primary.upper[i]),
            "expected_loss": _num(loss[i]),
            "coverage": _num(comparison.coverage[i]),
            "units": int(comparison.pair_units[i]),
            "champion_units": int(comparison.champion_units[i]),
        }
        for i in challengers
    }
    guardrail_numbers = {}
    for g, d, m in zip(guardrails, result.guardrails, result.margins, strict=True):
        g_low, g_high = d.comparison.interval()
        guardrail_numbers[g.metric] = {
            arms[i]: {
                "estimate": _num(d.estimate[i]),
                "low": _num(g_low[i]),
                "high": _num(g_high[i]),
                "always_valid_low": _num(d.lower[i]),
                "always_valid_high": _num(d.upper[i]),
                "margin": _num(float(m[i])),
                "units": int(d.comparison.pair_units[i]),
            }
            for i in challengers
        }
    action = cast(Action, ACTIONS[int(result.action)])
    best = int(result.challenger)
    days = float(evidence.days_as_champion)
    srm = float(evidence.srm_p_value)
    return PromotionDecision(
        action=action,
        reason=REASONS[int(result.reason)],
        champion=champion,
        challenger=arms[best] if best >= 0 else None,
        explanation=_explain(
            result, rule, [g.metric for g in guardrails], arms, c, units, days, stopped_before
        ),
        stopped_arms=tuple(a for a, s in zip(arms, result.stop, strict=True) if s),
        prob_beat={arms[i]: float(p_beat[i]) for i in challengers},
        units=units,
        rates=rates,
        difference=difference,
        guardrails=guardrail_numbers,
        days_as_champion=days,
        srm_p_value=_num(srm),
        ess_share={
            a: float(e) for a, e in zip(arms, evidence.ess_share, strict=True) if not np.isnan(e)
        },
        alpha=rule.alpha,
        method=rule.method,
    )
