"""Statistics on sufficient statistics: pure functions over counts, no I/O."""

from engine.stats.binomial import (
    BetaPosterior,
    BinomialStat,
    posterior_draws,
    prob_beat,
    prob_best,
)

__all__ = ["BetaPosterior", "BinomialStat", "posterior_draws", "prob_beat", "prob_best"]
