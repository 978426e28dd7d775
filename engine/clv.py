"""Customer lifetime value of subscribers under churn.

Constant-retention closed form (Fader & Hardie 2007, "How to project customer retention";
also Gupta & Lehmann 2003): a customer alive now, with monthly margin ``m``, monthly retention
``r`` and monthly discount rate ``d``, has expected residual value

    CLV = sum_{t>=1} m * r**t / (1 + d)**t = m * r / (1 + d - r).

A treatment that multiplies the monthly churn hazard by ``HR`` changes retention to
``1 - HR * (1 - r)`` (proportional hazards on the discrete-time churn probability). How long
that lasts is an assumption, not an observation: :func:`alive_value_under_hazard_ratio` values
it for a given number of months; the analysis values only the churn it observed by default
(:mod:`engine.analysis.clv`). Heterogeneous churn (the shifted-beta-geometric model and its
fitting) lives in :mod:`engine.sbg`, so that importing this module stays cheap (numpy only).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: Average month length in days (365.25 / 12): converts a horizon in days into months.
DAYS_PER_MONTH = 30.4375

FloatArray = npt.NDArray[np.float64]


def residual_clv(*, margin: float, retention: npt.ArrayLike, discount_rate: float) -> FloatArray:
    """Residual CLV ``m r / (1 + d - r)``; ``retention`` may be an array (any shape)."""
    r = np.asarray(retention, dtype=np.float64)
    if np.any((r < 0) | (r >= 1 + discount_rate)):
        raise ValueError("retention must lie in [0, 1 + discount_rate)")
    result: FloatArray = margin * r / (1.0 + discount_rate - r)
    return result


def retention_under_hazard_ratio(
    retention: npt.ArrayLike, hazard_ratio: npt.ArrayLike
) -> FloatArray:
    """Monthly retention ``1 - HR (1 - r)``, floored at 0 (a hazard cannot exceed certainty)."""
    r = np.asarray(retention, dtype=np.float64)
    hr = np.asarray(hazard_ratio, dtype=np.float64)
    result: FloatArray = np.clip(1.0 - hr * (1.0 - r), 0.0, 1.0)
    return result


def monthly_hazard(churn_share: npt.ArrayLike, horizon_days: float) -> FloatArray:
    """Monthly churn probability implied by a share churned within ``horizon_days``.

    Constant hazard: ``1 - (1 - c) ** (DAYS_PER_MONTH / horizon_days)``.
    """
    c = np.asarray(churn_share, dtype=np.float64)
    if np.any((c < 0) | (c > 1)):
        raise ValueError("churn share must lie in [0, 1]")
    result: FloatArray = 1.0 - (1.0 - c) ** (DAYS_PER_MONTH / horizon_days)
    return result


def alive_value_under_hazard_ratio(
    *,
    margin: float,
    retention: npt.ArrayLike,
    discount_rate: float,
    hazard_ratio: npt.ArrayLike,
    months: int | None,
) -> FloatArray:
    """Residual value of a customer alive now whose monthly churn hazard is multiplied by
    ``hazard_ratio`` for ``months`` months and is the champion's afterwards.

    With ``q = r' / (1 + d)`` and ``r' = 1 - HR (1 - r)`` (floored at 0),

        V_M = m q (1 - q^M) / (1 - q) + q^M V_0,      V_0 = m r / (1 + d - r),

    the first M months at the arm's retention, then the residual value at the champion's
    (Fader & Hardie 2007's closed form, split at month M). ``months=0`` gives ``V_0`` (the
    effect ends with the horizon); ``months=None`` the lifetime value ``m r' / (1 + d - r')``.
    Arrays broadcast (e.g. draws x arms).
    """
    r = np.asarray(retention, dtype=np.float64)
    arm_r = retention_under_hazard_ratio(r, hazard_ratio)
    if months is None:
        result: FloatArray = margin * arm_r / (1.0 + discount_rate - arm_r)
        return result
    base = margin * r / (1.0 + discount_rate - r)
    q = arm_r / (1.0 + discount_rate)
    with np.errstate(invalid="ignore", divide="ignore"):
        head = np.where(q < 1.0, margin * q * (1.0 - q**months) / (1.0 - q), margin * months)
    value: FloatArray = head + q**months * base
    return value
