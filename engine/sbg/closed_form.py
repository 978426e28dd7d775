"""sBG closed forms: survival, retention and the discounted expected residual lifetime (DERL).

Fader & Hardie (2007, eqs. 5-8) and (2010, eq. 6); see :mod:`engine.sbg` for the model and the
money convention.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import special

FloatArray = npt.NDArray[np.float64]

# Series for 2F1 stop when the bound on the remaining tail is below this share of the sum.
_SERIES_RTOL = 1e-17
_SERIES_CHUNK = 8192
_SERIES_MAX_TERMS = 50_000_000


def _check_shape_params(alpha: npt.ArrayLike, beta: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    a = np.asarray(alpha, dtype=np.float64)
    b = np.asarray(beta, dtype=np.float64)
    for name, value in (("alpha", a), ("beta", b)):
        if not np.all(np.isfinite(value) & (value > 0)):
            raise ValueError(f"{name} must be positive and finite, got {value}")
    return a, b


def _check_periods(t: npt.ArrayLike, *, minimum: int, name: str) -> FloatArray:
    periods = np.asarray(t, dtype=np.float64)
    if not np.all(np.isfinite(periods) & (periods == np.floor(periods)) & (periods >= minimum)):
        raise ValueError(f"{name} must be whole numbers >= {minimum}, got {periods}")
    return periods


def _check_money(*, margin: float, discount_rate: float) -> None:
    if not math.isfinite(margin):
        raise ValueError(f"margin must be finite, got {margin}")
    if not (math.isfinite(discount_rate) and discount_rate > 0):
        # With d = 0 the expected lifetime is infinite whenever alpha <= 1.
        raise ValueError(f"discount_rate must be positive and finite, got {discount_rate}")


def _check_renewals(renewals: int) -> None:
    if isinstance(renewals, bool) or not isinstance(renewals, int | np.integer) or renewals < 0:
        raise ValueError(f"renewals must be a whole number >= 0, got {renewals!r}")


def sbg_survival(alpha: npt.ArrayLike, beta: npt.ArrayLike, t: npt.ArrayLike) -> FloatArray:
    """Share of a cohort still alive after ``t`` periods, ``S(t) = B(a, b + t) / B(a, b)``.

    Fader & Hardie (2007), eq. 6; ``S(0) = 1``. Arguments broadcast; ``t`` whole numbers >= 0.
    """
    a, b = _check_shape_params(alpha, beta)
    periods = _check_periods(t, minimum=0, name="t")
    result: FloatArray = np.exp(special.betaln(a, b + periods) - special.betaln(a, b))
    return result


def sbg_retention(alpha: npt.ArrayLike, beta: npt.ArrayLike, t: npt.ArrayLike) -> FloatArray:
    """Retention rate in period ``t``, ``r_t = (b + t - 1) / (a + b + t - 1)``.

    Fader & Hardie (2007), eq. 8: the share of customers alive at ``t - 1`` still alive at
    ``t``; rises with ``t`` towards 1. Arguments broadcast; ``t`` whole numbers >= 1.
    """
    a, b = _check_shape_params(alpha, beta)
    periods = _check_periods(t, minimum=1, name="t")
    result: FloatArray = (b + periods - 1.0) / (a + b + periods - 1.0)
    return result


def _derl_series(alpha: float, beta_n: float, z: float) -> float:
    """``sum_{j>=0} z^j prod_{i<=j} (b + i) / (a + b + i) = b / (a + b) 2F1(1, b+1; a+b+1; z)``.

    The hypergeometric series itself, summed in log space in chunks. Each term is at most ``z``
    times the previous one, so after term ``t_J`` the tail is below ``t_J z / (1 - z)``.
    ``scipy.special.hyp2f1`` is not used: near ``z = 1`` it returns NaN for large ``b, c`` (e.g.
    alpha = 250, beta = 9750) and wrong values for some small ones (negative for alpha = 1,
    beta = 0.5, d = 0.001) in scipy 1.17.
    """
    log_z = math.log(z)
    total = 0.0
    log_prod = 0.0  # log prod_{i < start} (b + i) / (a + b + i)
    start = 0
    while start < _SERIES_MAX_TERMS:
        i = np.arange(start, start + _SERIES_CHUNK, dtype=np.float64)
        log_terms = i * log_z + log_prod - np.cumsum(np.log1p(alpha / (beta_n + i)))
        terms = np.exp(log_terms)
        total += float(terms.sum())
        last = float(terms[-1])
        if last * z / (1.0 - z) <= _SERIES_RTOL * total:
            return total
        log_prod = float(log_terms[-1]) - float(i[-1]) * log_z
        start += _SERIES_CHUNK
    raise ValueError("discount_rate too small: the DERL series does not converge in 5e7 terms")


def sbg_expected_residual_lifetime(
    alpha: float, beta: float, *, discount_rate: float, renewals: int = 0
) -> float:
    """Fader & Hardie's (2010, eq. 6) DERL: discounted expected number of future renewals.

    ``DERL = (b + n) / (a + b + n) * 2F1(1, b + n + 1; a + b + n + 1; 1 / (1 + d))`` for a
    customer who has made ``n = renewals`` renewals, valued just before the next renewal
    decision (first renewal undiscounted). Equals pymc-marketing's
    ``ShiftedBetaGeoModel.expected_residual_lifetime`` at ``T = renewals + 1``.
    """
    a, b = _check_shape_params(alpha, beta)
    _check_money(margin=0.0, discount_rate=discount_rate)
    _check_renewals(renewals)
    return _derl_series(float(a), float(b) + renewals, 1.0 / (1.0 + discount_rate))


def sbg_derl(
    alpha: float, beta: float, *, margin: float, discount_rate: float, renewals: int
) -> float:
    """Discounted expected residual lifetime value of a customer who has made ``renewals``.

    ``m * DERL(d | alpha, beta, n) / (1 + d)`` (Fader & Hardie 2010, eq. 6, see
    :func:`sbg_expected_residual_lifetime`), in the convention of
    :func:`engine.clv.residual_clv`: the customer is alive now, with ``theta ~ Beta(alpha,
    beta + n)``, and pays ``margin`` at the end of each future period survived, discounted
    ``(1 + d)`` per period. Equivalently ``sum_{t>=1} m S(n + t) / S(n) / (1 + d)^t``.

    Parameters
    ----------
    alpha, beta
        sBG shape parameters (> 0) of the customer's cohort.
    margin
        Margin per period (currency).
    discount_rate
        Discount rate per period (> 0).
    renewals
        Renewals already made (0 for a customer just acquired).

    Returns
    -------
    float
        Expected residual value (currency).
    """
    _check_money(margin=margin, discount_rate=discount_rate)
    erl = sbg_expected_residual_lifetime(
        alpha, beta, discount_rate=discount_rate, renewals=renewals
    )
    return margin * erl / (1.0 + discount_rate)
