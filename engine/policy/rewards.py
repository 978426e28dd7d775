"""Posterior draws of the net-value reward the bandit samples from (``objective: net_value``).

Thompson sampling needs a posterior per arm, not a comparison: these are pooled conjugate
posteriors of the arm's own outcomes (churn: Beta(1 + s, 1 + f); amount collected: the normal
likelihood of the mean with a plug-in variance, Gelman et al., *BDA3*, sec. 2.5), combined
draw by draw into ``collected - cost - churn x residual CLV``. Decisions about arms (promotion,
reports) use :mod:`engine.stats.comparison` instead.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def net_value_draws(
    *,
    churn_units: npt.ArrayLike,
    churned: npt.ArrayLike,
    collected_units: npt.ArrayLike,
    collected: npt.ArrayLike,
    collected_sq: npt.ArrayLike,
    cost: npt.ArrayLike,
    residual_value: float,
    rng: np.random.Generator,
    draws: int,
) -> FloatArray:
    """Shape (draws, k): draws of each arm's net value per debtor from pooled sums (k,).

    An arm with fewer than two collected units gets the widest sensible spread for its mean:
    the standard deviation of one debtor's amount over all arms (the prior carries the
    information of one debtor, so the bandit keeps exploring it).
    """
    n_c = np.asarray(churn_units, dtype=np.float64)
    s = np.asarray(churned, dtype=np.float64)
    n = np.asarray(collected_units, dtype=np.float64)
    total = np.asarray(collected, dtype=np.float64)
    squares = np.asarray(collected_sq, dtype=np.float64)
    churn = rng.beta(1.0 + s, 1.0 + n_c - s, size=(draws, s.size))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, total / np.maximum(n, 1.0), 0.0)
        var = np.where(n > 1, (squares - n * mean**2) / np.maximum(n - 1.0, 1.0), np.nan)
    everyone = max(float(n.sum()), 1.0)
    grand = float(total.sum()) / everyone
    spread = max(float(squares.sum()) / everyone - grand**2, 1.0)
    sd = np.where(
        n > 1, np.sqrt(np.maximum(np.nan_to_num(var), 0.0) / np.maximum(n, 1.0)), np.sqrt(spread)
    )
    centre = np.where(n > 1, mean, grand)
    amount = centre + sd * rng.standard_normal((draws, s.size))
    result: FloatArray = amount - np.asarray(cost, dtype=np.float64) - residual_value * churn
    return result


def late_again_draws(
    *,
    customers: npt.ArrayLike,
    cases: npt.ArrayLike,
    cases_sq: npt.ArrayLike,
    late: npt.ArrayLike,
    late_sq: npt.ArrayLike,
    cross: npt.ArrayLike,
    rng: np.random.Generator,
    draws: int,
) -> FloatArray:
    """Shape (draws, k): draws of each arm's reward ``-(late-again share of its cases)`` from
    pooled per-customer sums (k,) (``objective: late_again``; fewer cases late again is better,
    and the bandit maximises).

    The share is a ratio of per-customer totals, ``sum Y / sum M``; its posterior is taken as
    normal with the cluster-robust (linearised) variance
    ``G / (G - 1) * sum (Y - r M)^2 / (sum M)^2`` over the arm's ``G`` customers, so a
    customer's correlated cases count once (as in :mod:`engine.stats.comparison`). An arm with
    fewer than two customers gets the share 1/2 with the spread of a single Bernoulli case,
    the widest sensible, so the bandit keeps exploring it.
    """
    g = np.asarray(customers, dtype=np.float64)
    m = np.asarray(cases, dtype=np.float64)
    m2 = np.asarray(cases_sq, dtype=np.float64)
    y = np.asarray(late, dtype=np.float64)
    y2 = np.asarray(late_sq, dtype=np.float64)
    ym = np.asarray(cross, dtype=np.float64)
    known = (g > 1) & (m > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(known, y / np.where(m > 0, m, 1.0), 0.5)
        resid = np.maximum(y2 - 2.0 * rate * ym + rate * rate * m2, 0.0)
        var = np.where(known, resid / np.where(m > 0, m * m, 1.0) * g / (g - 1.0), 0.25)
    # A share no case has crossed (all or none late again) keeps a binomial floor of variance.
    floor = np.where(known, (y + 0.5) * (m - y + 0.5) / np.maximum(m + 1.0, 1.0) ** 3, 0.25)
    sd = np.sqrt(np.maximum(var, floor))
    result: FloatArray = -(rate + sd * rng.standard_normal((draws, g.size)))
    return result
