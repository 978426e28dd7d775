"""How long until the always-valid test can decide, at today's traffic. Pure.

The promotion rule establishes a challenger's effect once the lower bound of its confidence
sequence, ``estimate - r(V)`` (:func:`engine.promotion.cs_radius`), is above 0. Both the
estimate and its variance ``V`` come from the one comparison of :mod:`engine.stats.comparison`.
The outlook asks: if the estimate stayed where it is today, how many more matured debtors,
and so how many days at today's daily traffic, until ``r(V) < |estimate|``?

Method
------
The radius grows with ``V`` (for ``V > 0``), so ``r(V*) = |theta|`` has one root ``V*``, found
by Brent's method on ``log V``. The difference's variance is the sum of the two arms' (the
estimand's ``V = V_k + V_c``), and each falls as ``1 / n`` as its matured units grow:

    V(t) = V_k n_k / (n_k + r_k t) + V_c n_c / (n_c + r_c t),

with ``r_a`` the arm's new debtors per day (today's traffic: at a steady intake the units
maturing each day are as many as those arriving). ``V_k : V_c`` is split in proportion to
``1 / n_k : 1 / n_c`` (equal per-debtor variance in the two arms, true to first order for rates
of similar size). The answer is the smallest ``t`` with ``V(t) <= V*``, found by bisection
(``V(t)`` falls in ``t``). It is an estimate: the effect estimate moves as data arrive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import optimize

from engine.promotion import cs_radius

#: Longest outlook worth stating; beyond it "more than a year at today's traffic".
MAX_DAYS = 365.0


@dataclass(frozen=True)
class Outlook:
    """``days``: estimated further days of traffic until the test can decide (0: it can today;
    inf: not at today's traffic or not with an estimate of this sign). ``detectable``: the
    smallest |effect| the test would establish with today's variance (the radius)."""

    days: float
    detectable: float
    target_variance: float


def variance_for_radius(radius: float, *, alpha: float, mixture_sd: float) -> float:
    """The variance at which the confidence sequence's radius equals ``radius`` (> 0)."""
    if not radius > 0:
        return 0.0

    def gap(log_v: float) -> float:
        return float(cs_radius(math.exp(log_v), alpha=alpha, mixture_sd=mixture_sd)) - radius

    low, high = math.log(radius**2) - 60.0, math.log(radius**2) + 10.0
    # At V = radius^2 * e^10 the radius exceeds ``radius`` (r >= sqrt(2 log(1/alpha) V));
    # at the low end it is far below: the root is bracketed.
    return math.exp(optimize.brentq(gap, low, high, xtol=1e-12, rtol=1e-12))


def projected_variance(
    variance: float, *, units: tuple[float, float], per_day: tuple[float, float], days: float
) -> float:
    """``V(t)`` of the module docstring: ``units`` and ``per_day`` are (challenger, champion)."""
    (n_k, n_c), (r_k, r_c) = units, per_day
    share_k = (1 / n_k) / (1 / n_k + 1 / n_c)
    return variance * (
        share_k * n_k / (n_k + r_k * days) + (1 - share_k) * n_c / (n_c + r_c * days)
    )


def days_to_decide(
    *,
    estimate: float,
    variance: float,
    units: tuple[float, float],
    per_day: tuple[float, float],
    alpha: float,
    mixture_sd: float,
    higher_is_better: bool = True,
) -> Outlook:
    """The outlook (module docstring) of one challenger against the champion.

    ``alpha`` is the level per challenger the rule uses (its Bonferroni share).
    """
    detectable = float(cs_radius(variance, alpha=alpha, mixture_sd=mixture_sd))
    gain = estimate if higher_is_better else -estimate
    if not (math.isfinite(gain) and math.isfinite(variance) and min(units) > 0):
        return Outlook(math.inf, detectable, math.nan)
    if gain <= 0:  # an estimate that favours the champion never promotes the challenger
        return Outlook(math.inf, detectable, math.nan)
    target = variance_for_radius(gain, alpha=alpha, mixture_sd=mixture_sd)
    if variance <= target:
        return Outlook(0.0, detectable, target)

    def remaining(t: float) -> float:
        return projected_variance(variance, units=units, per_day=per_day, days=t) - target

    if remaining(MAX_DAYS) > 0:
        return Outlook(math.inf, detectable, target)
    days = optimize.brentq(remaining, 0.0, MAX_DAYS, xtol=1e-6)
    return Outlook(float(days), detectable, target)
