"""The manager's scorecard of one experiment: a recommendation and why, in sentences. Pure.

Every figure is read off the analysis (the one comparison of :mod:`engine.stats.comparison`)
and the stored decisions of the promotion rule; the outlook (how many more days the
always-valid test needs) is :func:`engine.analysis.outlook.days_to_decide` on the same
estimate and variance. The dashboard and the demo print the same sentences.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from scipy import stats as sps

from engine.analysis.outlook import Outlook, days_to_decide
from engine.analysis.reasons import Decided, stop_sentence
from engine.analysis.results import LEVEL, Analysis, ArmResult, MetricResult
from engine.analysis.wording import (
    days_phrase,
    effect_sentence,
    finite,
)
from engine.config import Promotion
from engine.plural import counted
from engine.promotion import PromotionDecision

Verdict = Literal["promote", "keep_running", "stop_arm", "inconclusive", "rolled_back", "no_data"]
HEADLINES: dict[str, str] = {
    "promote": "Promote",
    "keep_running": "Keep running",
    "stop_arm": "Stop arm",
    "inconclusive": "Inconclusive: keep the champion",
    "rolled_back": "Rolled back",
    "no_data": "Keep running: not enough data yet",
}


@dataclass(frozen=True)
class Scorecard:
    verdict: Verdict
    headline: str  # "Promote 5% discount", "Keep running", "Stop arm Direct to collection"
    sentences: tuple[str, ...]  # why, first the effect with its interval
    challenger: str | None  # arm key the effect sentence is about
    outlook: Outlook | None = None
    decided_at: datetime | None = None
    notes: tuple[str, ...] = field(default=())  # earlier stops and rollbacks, in words


def _labels(analysis: Analysis) -> dict[str, str]:
    return {a.arm: a.label for a in analysis.arms}


def _primary(analysis: Analysis) -> str:
    roles = analysis.metric_roles
    return next((m for m, r in roles.items() if r == "primary"), "pay_on_time")


def _best_challenger(analysis: Analysis, metric: str, stopped: Sequence[str]) -> ArmResult | None:
    """The live challenger with the best estimate on ``metric`` (its direction)."""
    live = [
        a
        for a in analysis.arms
        if not a.champion and a.arm not in stopped and a.metrics[metric].status == "ok"
    ]
    if not live:
        return None

    def gain(a: ArmResult) -> float:
        m = a.metrics[metric]
        return m.uplift if m.higher_is_better else -m.uplift

    return max(live, key=gain)


def _outlook(
    m: MetricResult,
    champion: MetricResult,
    *,
    per_day: tuple[float, float],
    rule: Promotion,
    arms: int,
) -> Outlook | None:
    if m.unit.startswith("per ") or not (finite(m.uplift_low) and finite(m.uplift_high)):
        return None
    z = float(sps.norm.ppf(0.5 + LEVEL / 2))
    variance = ((m.uplift_high - m.uplift_low) / (2 * z)) ** 2
    return days_to_decide(
        estimate=m.uplift,
        variance=variance,
        units=(float(m.units), float(champion.units)),
        per_day=per_day,
        alpha=rule.alpha / max(arms - 1, 1),  # the rule's Bonferroni share per challenger
        mixture_sd=rule.mixture_sd,
        higher_is_better=m.higher_is_better,
    )


def _waiting(
    reason: str,
    decision: PromotionDecision,
    *,
    rule: Promotion,
    outlook: Outlook | None,
    per_day: tuple[float, float],
    units: tuple[int, int],
) -> str:
    """Why the best challenger is not promoted yet, and what is still needed."""
    if reason == "too_early":
        left = max(rule.min_days - decision.days_as_champion, 0.0)
        return (
            "Not promoted yet: a champion holds its title at least "
            f"{counted(rule.min_days, 'day')} before the rule compares, {days_phrase(left)} to go."
        )
    if reason == "srm":
        return (
            "Not decided: the debtors assigned per arm do not match the traffic split "
            "(sample-ratio mismatch). Check the assignment before trusting any figure."
        )
    if reason == "too_few_units":
        short = [
            (rule.min_units_per_arm - n) / r if r > 0 else math.inf
            for n, r in zip(units, per_day, strict=True)
            if n < rule.min_units_per_arm
        ]
        return (
            f"Not enough data yet: the rule needs {rule.min_units_per_arm:,} debtors with a known "
            f"outcome in the champion and the challenger, {days_phrase(max(short, default=0.0))} "
            "at today's traffic."
        )
    if reason == "not_significant":
        if outlook is None or not math.isfinite(outlook.days):
            return (
                "Not promoted yet: the always-valid test (it stays valid although the rule "
                "looks every day) cannot yet rule out chance, and at today's traffic and effect "
                "it would take more than a year."
            )
        return (
            "Not promoted yet: the always-valid test (it stays valid although the rule looks "
            f"every day) needs {days_phrase(outlook.days)} at today's traffic to rule out "
            "chance, if the effect stays where it is."
        )
    if reason == "not_confident":
        p = max(decision.prob_beat.values(), default=math.nan)
        return (
            f"Not promoted yet: the chance that it beats the champion is {p:.0%}, below the "
            f"required {rule.min_prob_beat_champion:.0%}."
        )
    if reason == "expected_loss":
        return (
            "Not promoted yet: what switching would cost if it is wrong is above the tolerated "
            f"{100 * rule.max_expected_loss:.1f} points."
        )
    if reason == "guardrail_unclear":
        return (
            "Not promoted yet: a guardrail is not yet shown to stay within its margin (see "
            "Guardrails)."
        )
    if reason == "low_ess":
        return "Not promoted yet: the off-policy estimate rests on too few effective debtors."
    return ""


def build_scorecard(
    analysis: Analysis,
    *,
    rule: Promotion,
    decisions: Sequence[Decided],
    stopped: Sequence[str],
    per_day: Mapping[str, float],
    status: str = "running",
) -> Scorecard:
    """The scorecard as of the latest stored decision (``decisions`` oldest first) and the
    analysis; ``per_day`` is each arm's new debtors per day at today's traffic."""
    labels = _labels(analysis)
    champion = analysis.champion
    metric = _primary(analysis)
    latest = next((d for d in reversed(decisions) if d.action != "status"), None)
    notes = tuple(
        f"{d.decided_at:%Y-%m-%d}: "
        + stop_sentence(d.numbers, labels, champion=d.numbers.get("champion", champion))
        for d in decisions
        if d.action == "stop_arm"
    )
    best = _best_challenger(analysis, metric, stopped)
    sentences: list[str] = []
    outlook = None
    if best is not None:
        m = best.metrics[metric]
        sentences.append(
            effect_sentence(
                metric=metric,
                arm=best.label,
                champion=labels[champion],
                estimate=m.uplift,
                low=m.uplift_low,
                high=m.uplift_high,
                currency=analysis.currency,
            )
        )
        rates = (per_day.get(best.arm, 0.0), per_day.get(champion, 0.0))
        outlook = _outlook(
            m,
            analysis.arm(champion).metrics[metric],
            per_day=rates,
            rule=rule,
            arms=len(analysis.arms),
        )
    when = latest.decided_at if latest is not None else None
    if latest is None or (best is None and latest.action == "continue"):
        sentences.append("Not enough data yet: no challenger has debtors with a known outcome.")
        return Scorecard(
            "no_data", HEADLINES["no_data"], tuple(sentences), None, outlook, when, notes
        )
    if latest.action == "rollback":
        to = latest.numbers.get("to_version")
        sentences.insert(
            0, f"The allocation was rolled back to version {to}: {latest.explanation}."
        )
        return Scorecard(
            "rolled_back",
            HEADLINES["rolled_back"],
            tuple(sentences),
            best.arm if best else None,
            outlook,
            when,
            notes,
        )
    decision = PromotionDecision.from_numbers(latest.numbers)
    if latest.action == "stop_arm":
        names = ", ".join(labels.get(a, a) for a in decision.stopped_arms)
        sentences.insert(0, stop_sentence(latest.numbers, labels, champion=decision.champion))
        return Scorecard(
            "stop_arm",
            f"{HEADLINES['stop_arm']} {names}",
            tuple(sentences),
            best.arm if best else None,
            outlook,
            when,
            notes,
        )
    if latest.action == "promote":
        new = labels.get(decision.challenger or "", decision.challenger or "")
        sentences.append(
            f"{new} was promoted on {latest.decided_at:%Y-%m-%d}: the always-valid test "
            "established its effect and every guardrail stayed within its margin."
        )
        return Scorecard(
            "promote",
            f"{HEADLINES['promote']} {new}",
            tuple(sentences),
            decision.challenger,
            outlook,
            when,
            notes,
        )
    if latest.action == "inconclusive":
        planned = (
            "The planned horizon has"
            if rule.horizon_days is None
            else f"The planned {counted(rule.horizon_days, 'day')} "
            + ("has" if rule.horizon_days == 1 else "have")
        )
        sentences.append(
            f"{planned} passed without a clear winner: {labels[champion]} stays champion."
        )
        return Scorecard(
            "inconclusive",
            HEADLINES["inconclusive"],
            tuple(sentences),
            best.arm if best else None,
            outlook,
            when,
            notes,
        )
    units = (
        best.metrics[metric].units if best else 0,
        analysis.arm(champion).metrics[metric].units,
    )
    rates = (per_day.get(best.arm, 0.0) if best else 0.0, per_day.get(champion, 0.0))
    why = _waiting(
        decision.reason, decision, rule=rule, outlook=outlook, per_day=rates, units=units
    )
    if why:
        sentences.append(why)
    if status != "running":
        sentences.append(f"The experiment is {status}: no decision is taken until it runs again.")
    verdict: Verdict = "no_data" if decision.reason == "too_few_units" else "keep_running"
    return Scorecard(
        verdict,
        HEADLINES[verdict],
        tuple(sentences),
        best.arm if best else None,
        outlook,
        when,
        notes,
    )


def leading_arm(analysis: Analysis, *, stopped: Sequence[str]) -> str | None:
    """The live arm (champion included) with the best level on the primary metric so far;
    None while no arm has one."""
    metric = _primary(analysis)
    live = [a for a in analysis.arms if a.arm not in stopped and a.metrics[metric].has_figures]
    if not live:
        return None
    sign = 1.0 if live[0].metrics[metric].higher_is_better else -1.0
    return max(live, key=lambda a: sign * a.metrics[metric].estimate).arm
