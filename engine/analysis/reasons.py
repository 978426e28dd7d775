"""Stored decisions of the promotion rule in words: why an arm was stopped, why the champion
stayed. Pure; the scorecard, the History page and the demo read the same sentences."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.analysis.wording import PER_DEBTOR_COUNTS, finite, in_unit
from engine.metric_names import metric_name
from engine.promotion import PromotionDecision


@dataclass(frozen=True)
class Decided:
    """A stored decision of the rule as the scorecard reads it (an audit record)."""

    decided_at: datetime
    action: str  # promote, continue, stop_arm, inconclusive, rollback
    numbers: Mapping[str, Any]
    explanation: str


def stop_sentence(numbers: Mapping[str, Any], labels: Mapping[str, str], *, champion: str) -> str:
    """Why a guardrail stopped an arm: ``Direct to collection was stopped: its churn is higher
    than under Friendly SMS by at least 12.1 points (estimate +14.0), more than the tolerated
    +1.9.`` Read off a stop_arm decision's audit numbers."""
    decision = PromotionDecision.from_numbers(numbers)
    parts = []
    for arm in decision.stopped_arms:
        for metric, per_arm in decision.guardrails.items():
            g = per_arm.get(arm) or {}
            low, margin, est = g.get("always_valid_low"), g.get("margin"), g.get("estimate")
            if not (finite(low) and finite(margin) and finite(est)) or low <= margin:  # type: ignore[operator]
                continue
            scale = 1000.0 if metric in PER_DEBTOR_COUNTS else 1.0
            kind = "count" if metric in PER_DEBTOR_COUNTS else "share"
            name = metric_name(metric)
            parts.append(
                f"{labels.get(arm, arm)} was stopped: its {name} is higher than under "
                f"{labels.get(champion, champion)} by at least "
                f"{in_unit(scale * low, kind, '', sign=False)} (estimate "  # type: ignore[operator]
                f"{in_unit(scale * est, kind, '')}), more than the tolerated "  # type: ignore[operator]
                f"{in_unit(scale * margin, kind, '', sign=False)}."  # type: ignore[operator]
            )
    if not parts:
        stopped = ", ".join(labels.get(a, a) for a in decision.stopped_arms)
        return f"{stopped} was stopped: a guardrail was breached."
    return " ".join(parts)


#: A past decision's reason in a few words (the History page, the demo's log).
_REASON_WORDS = {
    "too_early": "the champion had not yet held its title for the minimum days",
    "srm": "the assignment counts did not match the traffic split (sample-ratio mismatch)",
    "too_few_units": "not enough debtors with a known outcome yet",
    "not_significant": "the always-valid test had not yet ruled out chance",
    "not_confident": "the chance of beating the champion was below the required level",
    "expected_loss": "the expected loss of switching was above the tolerated level",
    "guardrail_unclear": "a guardrail was not yet shown within its margin",
    "low_ess": "the off-policy estimate rested on too few effective debtors",
    "horizon_reached": "the planned horizon passed without a clear winner",
}
ACTION_WORDS = {
    "promote": "Promoted",
    "continue": "Kept running",
    "stop_arm": "Stopped an arm",
    "inconclusive": "Inconclusive",
    "rollback": "Rolled back",
    "status": "Status changed",
}


def reason_in_words(d: Decided, labels: Mapping[str, str]) -> str:
    """One stored decision's reason as a sentence a manager reads."""
    if d.action == "stop_arm":
        return stop_sentence(d.numbers, labels, champion=str(d.numbers.get("champion", "")))
    if d.action == "rollback":
        return f"Rolled back to allocation version {d.numbers.get('to_version')}: {d.explanation}"
    if d.action == "status":
        before, after = d.numbers.get("status_before"), d.numbers.get("status_after")
        return f"{before} \u2192 {after} by {d.numbers.get('by') or 'unknown'}"
    decision = PromotionDecision.from_numbers(d.numbers)
    challenger = labels.get(decision.challenger or "", decision.challenger or "")
    if d.action == "promote":
        return (
            f"{challenger} replaced {labels.get(decision.champion, decision.champion)} as champion."
        )
    words = _REASON_WORDS.get(decision.reason, decision.reason.replace("_", " "))
    about = f" (best challenger: {challenger})" if challenger else ""
    return f"{words[0].upper()}{words[1:]}{about}."
