"""The promotion rule's simulation study, as reported in the README.

Usage: ``python -m benchmarks.promotion_study [--experiments 500] [--seed 2026]``. Each scenario
runs :func:`engine.promotion.study.run_study` (500 experiments x 90 daily looks through the
engine's own rule) and prints the promotion rate of the engine's rule and of the naive daily
"P(beat) > 0.95" rule, with Monte Carlo standard errors, and the stop rate.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
from rich.console import Console
from rich.table import Table

from engine.config import Guardrail
from engine.promotion.study import StudyConfig, run_study
from engine.simulate.calibration import _default_type_shares

CHURN_10 = (Guardrail(metric="churn", max_relative_increase=0.10),)
#: A per-segment bandit with a 30% champion floor, the challenger better for 40% of debtors and
#: worse for 60% (-1 pp on average), 2,000 debtors a day: the hard case of the estimand.
HETEROGENEOUS = StudyConfig(
    debtors_per_day=2_000,
    segment_shares=(0.4, 0.6),
    segment_effects=(0.05, -0.05),
    per_segment=True,
    champion_floor=0.3,
)
#: One bandit per PAIR debtor type (16 types, five of them 63% of debtors).
TYPES = StudyConfig(segment_shares=tuple(_default_type_shares().values()), per_segment=True)


def scenarios(experiments: int) -> list[tuple[str, StudyConfig]]:
    base = StudyConfig(experiments=experiments)
    return [
        ("A/A (no difference)", base),
        ("A/A, no guardrail", StudyConfig(experiments=experiments, guardrails=())),
        ("+3 pp pay-on-time", StudyConfig(experiments=experiments, effect=0.03)),
        ("+3 pp, no guardrail", StudyConfig(experiments=experiments, effect=0.03, guardrails=())),
        (
            "+3 pp, churn margin 10%",
            StudyConfig(experiments=experiments, effect=0.03, guardrails=CHURN_10),
        ),
        (
            "+3 pp, 300 debtors/day",
            StudyConfig(experiments=experiments, effect=0.03, debtors_per_day=300),
        ),
        ("challenger doubles churn", StudyConfig(experiments=experiments, churn_multiplier=2.0)),
        (
            "per segment: +5 pp for 40%, -5 pp for 60%",
            replace(HETEROGENEOUS, experiments=experiments),
        ),
        (
            "per segment: +3/-3 pp, falling 3 pp over the run",
            replace(
                HETEROGENEOUS,
                experiments=experiments,
                segment_effects=(0.03, -0.03),
                effect_trend=-0.03,
            ),
        ),
        (
            "16 debtor types, A/A, 300 debtors/day",
            replace(TYPES, experiments=experiments, debtors_per_day=300),
        ),
        ("16 debtor types, +3 pp, 1,000/day", replace(TYPES, experiments=experiments, effect=0.03)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--experiments", type=int, default=500)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    table = Table(title="promotion rule under daily looks (rate +- Monte Carlo s.e.)")
    columns = (
        "scenario", "rule promotes", "median day", "estimate - truth", "naive promotes",
        "stopped", "time",
    )  # fmt: skip
    for column in columns:
        table.add_column(column)
    for name, config in scenarios(args.experiments):
        started = time.perf_counter()
        outcome = run_study(config, seed=args.seed)
        elapsed = time.perf_counter() - started
        rate, se = outcome.promotion_rate
        naive, naive_se = outcome.naive_promotion_rate
        stop, stop_se = outcome.stop_rate
        median = outcome.median_day(outcome.promoted_on)
        stop_day = outcome.median_day(outcome.stopped_on)
        table.add_row(
            name,
            f"{rate:.1%} +- {se:.1%}",
            "-" if median != median else f"{median + 1:.0f}",
            f"{100 * (float(np.nanmean(outcome.final_estimate)) - outcome.true_effect):+.2f} pp",
            f"{naive:.1%} +- {naive_se:.1%}",
            f"{stop:.1%} +- {stop_se:.1%}"
            + ("" if stop_day != stop_day else f" (day {stop_day + 1:.0f})"),
            f"{elapsed:.1f} s",
        )
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
