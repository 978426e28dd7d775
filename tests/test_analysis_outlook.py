"""The days-to-decide outlook: against the closed form of the confidence sequence, and against
a simulation that actually collects the forecast number of days of data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.analysis.outlook import days_to_decide, projected_variance, variance_for_radius
from engine.promotion import cs_radius
from engine.stats.comparison import Cells, compare

ALPHA, TAU = 0.05 / 3, 0.05


@pytest.mark.parametrize("radius", [0.002, 0.01, 0.05])
def test_the_target_variance_gives_exactly_the_radius(radius: float) -> None:
    v = variance_for_radius(radius, alpha=ALPHA, mixture_sd=TAU)
    assert float(cs_radius(v, alpha=ALPHA, mixture_sd=TAU)) == pytest.approx(radius, rel=1e-9)


def test_equal_arms_match_the_closed_form() -> None:
    # Equal units and traffic: V(t) = V n / (n + r t), so t = n (V / V* - 1) / r exactly.
    n, r, v, theta = 4_000.0, 150.0, 2.4e-4, 0.02
    outlook = days_to_decide(
        estimate=theta, variance=v, units=(n, n), per_day=(r, r), alpha=ALPHA, mixture_sd=TAU
    )
    target = variance_for_radius(theta, alpha=ALPHA, mixture_sd=TAU)
    assert outlook.days == pytest.approx(n * (v / target - 1) / r, rel=1e-6)
    assert outlook.detectable == pytest.approx(float(cs_radius(v, alpha=ALPHA, mixture_sd=TAU)))
    later = projected_variance(v, units=(n, n), per_day=(r, r), days=outlook.days)
    assert later == pytest.approx(target, rel=1e-6)


def test_no_outlook_for_an_estimate_that_favours_the_champion_or_without_traffic() -> None:
    common = {"variance": 1e-4, "units": (1000.0, 1000.0), "alpha": ALPHA, "mixture_sd": TAU}
    assert math.isinf(days_to_decide(estimate=-0.01, per_day=(10.0, 10.0), **common).days)
    assert math.isinf(days_to_decide(estimate=0.01, per_day=(0.0, 0.0), **common).days)
    # Lower is better (churn): a negative difference is the good direction.
    lower = days_to_decide(estimate=-0.02, per_day=(50.0, 50.0), higher_is_better=False, **common)
    assert 0 < lower.days < math.inf
    assert days_to_decide(estimate=0.5, per_day=(1.0, 1.0), **common).days == 0.0


def _variance(rng: np.random.Generator, n: tuple[int, int], p: tuple[float, float]) -> float:
    """The comparison's variance of one simulated experiment (one allocation period)."""
    paid = np.array([[rng.binomial(n[0], p[0]), rng.binomial(n[1], p[1])]], dtype=float)
    units = np.array([list(n)], dtype=float)
    share = units / units.sum()
    cells = Cells(units, paid, paid, share, np.zeros(1, dtype=np.int64), binary=True)
    return float(compare(cells, champion=1).variance[0])


def test_the_forecast_holds_when_the_days_of_data_are_simulated() -> None:
    # A 90/10 bandit split at 1,000 debtors a day: after the forecast days, the comparison of
    # the data then collected has the radius of today's estimate (within simulation noise).
    rng = np.random.default_rng(7)
    p, n, r = (0.62, 0.60), (20_000, 3_000), (900.0, 100.0)
    v = _variance(rng, n, p)
    outlook = days_to_decide(
        estimate=0.02, variance=v, units=(n[0], n[1]), per_day=r, alpha=ALPHA, mixture_sd=TAU
    )
    assert 5 < outlook.days < MAX_CHECK
    later = (round(n[0] + r[0] * outlook.days), round(n[1] + r[1] * outlook.days))
    radii = [
        float(cs_radius(_variance(rng, later, p), alpha=ALPHA, mixture_sd=TAU)) for _ in range(200)
    ]
    assert np.mean(radii) == pytest.approx(0.02, rel=0.02)


MAX_CHECK = 365
