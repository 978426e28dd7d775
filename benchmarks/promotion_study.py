"""The promotion rule's simulation study, as reported in the README.

Usage: ``python -m benchmarks.promotion_study [--experiments 500] [--seed 2026]``. Each scenario
runs :func:`engine.promotion.study.run_study` (500 experiments x 90 daily looks through the
engine's own rule) and prints the promotion rate of the engine's rule and of the naive daily
"P(beat) > 0.95" rule, with Monte Carlo standard errors, and the stop rate.
"""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table

from engine.config import Guardrail
from engine.promotion.study import StudyConfig, run_study

CHURN_10 = (Guardrail(metric="churn", max_relative_increase=0.10),)


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
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--experiments", type=int, default=500)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    table = Table(title="promotion rule under daily looks (rate +- Monte Carlo s.e.)")
    for column in ("scenario", "rule promotes", "median day", "naive promotes", "stopped", "time"):
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
            f"{naive:.1%} +- {naive_se:.1%}",
            f"{stop:.1%} +- {stop_se:.1%}"
            + ("" if stop_day != stop_day else f" (day {stop_day + 1:.0f})"),
            f"{elapsed:.1f} s",
        )
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
