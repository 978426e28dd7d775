"""CLV valuation of the analysis (engine.analysis.clv): the sBG residual value at the tenure of
the subscriber base, per posterior draw, and the constant-retention one."""

from __future__ import annotations

import numpy as np
import pytest

from engine.analysis.clv import ResidualValue, _derl
from engine.config import Clv
from engine.sbg import sbg_derl, sbg_expected_residual_lifetime

CLV = Clv(monthly_margin=14.0, monthly_retention=0.975, monthly_discount_rate=0.01)


@pytest.mark.parametrize(
    ("alpha", "beta", "d"),
    [(0.704, 1.182, 0.01), (0.668, 3.806, 0.1), (250.0, 9750.0, 0.01), (1.0, 0.5, 0.001)],
)
def test_vectorised_derl_equals_the_series(alpha: float, beta: float, d: float) -> None:
    """scipy's hyp2f1 is fast but returns NaN or wrong values for some parameters near z = 1
    (the last two rows); those entries fall back to the exact series."""
    renewals = np.arange(0, 40, 3)
    fast = _derl(np.array([[alpha]]), np.array([[beta]]), renewals[None, :], d)[0]
    exact = [
        sbg_expected_residual_lifetime(alpha, beta, discount_rate=d, renewals=int(n))
        for n in renewals
    ]
    assert fast == pytest.approx(exact, rel=1e-9)


def test_sbg_residual_value_is_the_mean_over_the_active_subscribers_tenure() -> None:
    rng = np.random.default_rng(3)
    alpha = rng.normal(0.7, 0.05, 400)
    beta = rng.normal(1.2, 0.1, 400)
    renewals = np.array([0, 0, 1, 5, 5, 5, 11, 30])
    value = ResidualValue.from_sbg(
        alpha, beta, renewals=renewals, clv=CLV, rng=np.random.default_rng(1), label="cohort a"
    )
    pick = np.random.default_rng(1).choice(400, size=200, replace=False)
    expected = [
        np.mean(
            [
                sbg_derl(alpha[i], beta[i], margin=14.0, discount_rate=0.01, renewals=int(n))
                for n in renewals
            ]
        )
        for i in pick[:5]
    ]
    assert value.draws[:5] == pytest.approx(expected, rel=1e-9)
    assert value.draws.size == 200
    assert value.draws.std() > 0  # the parameters' uncertainty is carried
    # Each value's constant-retention reading gives it back.
    d, m = 0.01, 14.0
    assert m * value.retention / (1 + d - value.retention) == pytest.approx(value.draws)
    assumption = value.assumption(0, 60)
    assert (
        assumption.residual_value_low < assumption.residual_value < assumption.residual_value_high
    )
    assert "8 active subscribers" in assumption.model


def test_constant_residual_value_and_its_statement() -> None:
    value = ResidualValue.constant(CLV)
    assert value.draws.tolist() == [pytest.approx(14.0 * 0.975 / (1.01 - 0.975))]
    assert "not assumed to last" in value.assumption(0, 60).statement
    # A configured value is not an estimate: no interval, rather than a zero-width one.
    assert np.isnan(value.assumption(0, 60).residual_value_low)
    assert "12 more months" in value.assumption(12, 60).statement
    assert "whole life" in value.assumption(None, 60).statement


def test_sbg_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match="one shape"):
        ResidualValue.from_sbg(
            [1.0], [1.0, 2.0], renewals=[1], clv=CLV, rng=np.random.default_rng(0), label="x"
        )
    with pytest.raises(ValueError, match="active subscriber"):
        ResidualValue.from_sbg(
            [1.0], [1.0], renewals=[], clv=CLV, rng=np.random.default_rng(0), label="x"
        )
