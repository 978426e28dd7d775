"""The bandit's debtors against the randomized holdout."""

from __future__ import annotations

from dataclasses import dataclass

from engine.analysis.results import LEVEL
from engine.metrics import ArmTotals
from engine.stats.comparison import Cells, compare


@dataclass(frozen=True)
class HoldoutComparison:
    """Pay-on-time of the bandit's debtors against the randomized holdout (the champion only):
    the value of the bandit policy itself (as Eppo and Statsig evaluate bandits).

    ``uplift`` is bandit minus holdout with its 95% interval, from the same estimator as every
    other comparison (:mod:`engine.stats.comparison`); ``prob_bandit_better`` its flat-prior
    posterior probability of being positive.
    """

    bandit_units: int
    holdout_units: int
    bandit_rate: float
    holdout_rate: float
    uplift: float
    uplift_low: float
    uplift_high: float
    prob_bandit_better: float


def compare_holdout(bandit: ArmTotals, holdout: ArmTotals) -> HoldoutComparison | None:
    """Bandit traffic vs holdout on pay-on-time; None without matured units in both.

    Membership is a random hash independent of time and arm, so the two groups are concurrent
    random samples: one cell, the holdout as the reference.
    """
    if holdout.pay_matured == 0 or bandit.pay_matured == 0:
        return None
    cells = Cells.rate(
        [[holdout.pay_matured, bandit.pay_matured]], [[holdout.paid, bandit.paid]], [[1.0, 1.0]]
    )
    result = compare(cells, champion=0)
    low, high = result.interval(LEVEL)
    return HoldoutComparison(
        bandit_units=bandit.pay_matured,
        holdout_units=holdout.pay_matured,
        bandit_rate=bandit.paid / bandit.pay_matured,
        holdout_rate=holdout.paid / holdout.pay_matured,
        uplift=float(result.estimate[1]),
        uplift_low=float(low[1]),
        uplift_high=float(high[1]),
        prob_bandit_better=float(result.prob_positive()[1]),
    )
