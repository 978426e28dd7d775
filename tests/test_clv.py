"""Tests for engine.clv: closed forms against explicit sums, hazards, a persisting effect."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine.clv import (
    DAYS_PER_MONTH,
    alive_value_under_hazard_ratio,
    monthly_hazard,
    residual_clv,
    retention_under_hazard_ratio,
)

HYPOTHESIS = settings(max_examples=200, deadline=None, derandomize=True, database=None)


def explicit_clv(m: float, r: float, d: float, months: int = 5000) -> float:
    """sum_{t=1..months} m r^t / (1 + d)^t, summed exactly-rounded with math.fsum."""
    return math.fsum(m * (r / (1 + d)) ** t for t in range(1, months + 1))


@pytest.mark.parametrize(
    ("m", "r", "d"), [(14.0, 0.975, 0.01), (30.0, 0.5, 0.0), (9.99, 0.99, 0.005), (1.0, 0.0, 0.02)]
)
def test_residual_clv_equals_discounted_sum(m: float, r: float, d: float) -> None:
    # (r / (1 + d))^5000 < 1e-20 for these values, so truncating at 5000 months is exact to 1e-9.
    assert float(residual_clv(margin=m, retention=r, discount_rate=d)) == pytest.approx(
        explicit_clv(m, r, d), rel=1e-9, abs=1e-12
    )


def test_residual_clv_is_vectorised() -> None:
    r = np.array([[0.9, 0.95], [0.975, 0.0]])
    result = residual_clv(margin=14.0, retention=r, discount_rate=0.01)
    assert result.shape == (2, 2)
    np.testing.assert_allclose(result, 14.0 * r / (1.01 - r), rtol=1e-15)
    assert result[1, 1] == 0.0


@pytest.mark.parametrize("r", [-0.01, 1.01, 1.5])
def test_residual_clv_rejects_retention_outside_range(r: float) -> None:
    with pytest.raises(ValueError, match=r"retention must lie in \[0, 1 \+ discount_rate\)"):
        residual_clv(margin=1.0, retention=r, discount_rate=0.01)


def test_retention_under_hazard_ratio() -> None:
    # 1 - HR (1 - r): HR 2 doubles the monthly churn of 2.5% to 5%.
    np.testing.assert_allclose(
        retention_under_hazard_ratio(0.975, [0.0, 0.5, 1.0, 2.0, 5.0]),
        [1.0, 0.9875, 0.975, 0.95, 0.875],
        rtol=1e-14,
    )
    # A hazard ratio that would push churn above 100% is clipped: retention cannot be negative.
    np.testing.assert_array_equal(retention_under_hazard_ratio(0.5, [2.0, 3.0, 100.0]), [0, 0, 0])


def test_monthly_hazard_reference_values() -> None:
    # Over exactly one average month the monthly hazard is the observed share.
    np.testing.assert_allclose(
        monthly_hazard([0.0, 0.1, 1.0], DAYS_PER_MONTH), [0, 0.1, 1], atol=1e-15
    )
    # 3 months of 10% monthly churn leave 0.9^3 = 72.9%.
    share = 1 - 0.9**3
    assert float(monthly_hazard(share, 3 * DAYS_PER_MONTH)) == pytest.approx(0.1, rel=1e-12)
    assert DAYS_PER_MONTH == 365.25 / 12


@pytest.mark.parametrize("share", [-0.1, 1.1])
def test_monthly_hazard_rejects_shares_outside_unit_interval(share: float) -> None:
    with pytest.raises(ValueError, match=r"churn share must lie in \[0, 1\]"):
        monthly_hazard(share, 90)


@HYPOTHESIS
@given(st.floats(min_value=0.0, max_value=0.99), st.floats(min_value=1.0, max_value=730.0))
def test_monthly_hazard_inverts_constant_hazard(share: float, horizon: float) -> None:
    h = float(monthly_hazard(share, horizon))
    assert 0.0 <= h <= 1.0
    # Monthly survival below 1e-6 (e.g. 75% churned within a day) is not representable as
    # 1 - h in float64 with useful precision; such shares are outside any real experiment.
    assume(1 - h > 1e-6)
    exponent = horizon / DAYS_PER_MONTH
    back = 1 - (1 - h) ** exponent
    # Error propagation: storing h rounds 1 - h by eps / (1 - h) relative, which the power
    # multiplies by the exponent; short horizons make 1 - h tiny. 8 x that bound, plus 1e-14.
    eps = np.finfo(float).eps
    tolerance = 1e-14 + 8 * eps * exponent * (1 - share) / (1 - h)
    assert back == pytest.approx(share, abs=tolerance)


def test_alive_value_splits_the_closed_form_at_month_m() -> None:
    """The arm's retention for M months, then the champion's residual value: against the sum
    written out month by month."""
    m, r, d, hr = 14.0, 0.975, 0.01, 2.0
    arm = 1 - hr * (1 - r)
    base = m * r / (1 + d - r)
    for months in (0, 1, 6, 24):
        explicit = math.fsum(m * (arm / (1 + d)) ** t for t in range(1, months + 1))
        explicit += (arm / (1 + d)) ** months * base
        value = alive_value_under_hazard_ratio(
            margin=m, retention=r, discount_rate=d, hazard_ratio=hr, months=months
        )
        assert float(value) == pytest.approx(explicit, rel=1e-12)
    assert float(
        alive_value_under_hazard_ratio(
            margin=m, retention=r, discount_rate=d, hazard_ratio=hr, months=0
        )
    ) == pytest.approx(base)
    lifetime = alive_value_under_hazard_ratio(
        margin=m, retention=r, discount_rate=d, hazard_ratio=hr, months=None
    )
    assert float(lifetime) == pytest.approx(m * arm / (1 + d - arm))
    long = alive_value_under_hazard_ratio(
        margin=m, retention=r, discount_rate=d, hazard_ratio=hr, months=5000
    )
    assert float(long) == pytest.approx(float(lifetime), rel=1e-9)


@HYPOTHESIS
@given(st.floats(0.1, 5.0), st.integers(0, 120))
def test_a_longer_harm_is_worth_less(hazard_ratio: float, months: int) -> None:
    def value(n: int | None) -> float:
        return float(
            alive_value_under_hazard_ratio(
                margin=14.0, retention=0.97, discount_rate=0.01, hazard_ratio=hazard_ratio,
                months=n,
            )
        )  # fmt: skip

    if hazard_ratio > 1:
        assert value(months + 1) <= value(months) + 1e-9
    elif hazard_ratio < 1:
        assert value(months + 1) >= value(months) - 1e-9


def test_zero_discount_rate_with_full_retention_stays_finite() -> None:
    value = alive_value_under_hazard_ratio(
        margin=10.0, retention=0.99, discount_rate=0.0, hazard_ratio=0.0, months=12
    )
    assert float(value) == pytest.approx(10.0 * 12 + 10.0 * 0.99 / 0.01)


def test_importing_engine_clv_does_not_import_pymc() -> None:
    import subprocess
    import sys

    code = (
        "import sys, engine.clv; "
        "print(any(m.split('.')[0] in {'pymc', 'pymc_marketing', 'scipy'} for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
