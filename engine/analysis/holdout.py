"""The bandit's debtors against the randomized holdout."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from statsmodels.stats.proportion import confint_proportions_2indep

from engine.analysis.results import LEVEL
from engine.metrics import ArmTotals


@dataclass(frozen=True)
class HoldoutComparison:
    """Pay-on-time of the bandit's debtors against the randomized holdout (the champion only):
    the value of the bandit policy itself (as Eppo and Statsig evaluate bandits)."""

    bandit_units: int
    holdout_units: int
    bandit_rate: float
    holdout_rate: float
    uplift: float  # bandit - holdout, posterior mean
    uplift_low: float
    uplift_high: float
    prob_bandit_better: float
    freq_low: float  # Wald interval of the difference
    freq_high: float


def compare_holdout(
    bandit: ArmTotals, holdout: ArmTotals, *, rng: np.random.Generator, draws: int = 20_000
) -> HoldoutComparison | None:
    """Bandit traffic vs holdout on pay-on-time; None without matured holdout units.

    Membership is a random hash independent of time and arm, so the two groups are concurrent
    random samples and their pooled rates compare without stratification.
    """
    if holdout.pay_matured == 0 or bandit.pay_matured == 0:
        return None
    b = rng.beta(1 + bandit.paid, 1 + bandit.pay_matured - bandit.paid, draws)
    h = rng.beta(1 + holdout.paid, 1 + holdout.pay_matured - holdout.paid, draws)
    diff = b - h
    low, high = confint_proportions_2indep(
        bandit.paid, bandit.pay_matured, holdout.paid, holdout.pay_matured, method="wald"
    )
    return HoldoutComparison(
        bandit_units=bandit.pay_matured,
        holdout_units=holdout.pay_matured,
        bandit_rate=bandit.paid / bandit.pay_matured,
        holdout_rate=holdout.paid / holdout.pay_matured,
        uplift=float(diff.mean()),
        uplift_low=float(np.quantile(diff, (1 - LEVEL) / 2)),
        uplift_high=float(np.quantile(diff, (1 + LEVEL) / 2)),
        prob_bandit_better=float(np.mean(diff > 0)),
        freq_low=float(low),
        freq_high=float(high),
    )
