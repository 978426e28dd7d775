"""Customer lifetime value of subscribers under churn.

Constant-retention closed form (Fader & Hardie 2007, "How to project customer retention";
also Gupta & Lehmann 2003): a customer alive now, with monthly margin ``m``, monthly retention
``r`` and monthly discount rate ``d``, has expected residual value

    CLV = sum_{t>=1} m * r**t / (1 + d)**t = m * r / (1 + d - r).

A treatment that multiplies the monthly churn hazard by ``HR`` changes retention to
``1 - HR * (1 - r)`` (proportional hazards on the discrete-time churn probability). The hazard
ratio of an arm is estimated from the churn it caused within the experiment's horizon.
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


def retention_under_hazard_ratio(retention: float, hazard_ratio: npt.ArrayLike) -> FloatArray:
    """Monthly retention ``1 - HR (1 - r)``, floored at 0 (a hazard cannot exceed certainty)."""
    hr = np.asarray(hazard_ratio, dtype=np.float64)
    result: FloatArray = np.clip(1.0 - hr * (1.0 - retention), 0.0, 1.0)
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


def clv_uplift(
    *,
    churn_share: npt.ArrayLike,
    champion_churn_share: float,
    horizon_days: float,
    margin: float,
    retention: float,
    discount_rate: float,
) -> FloatArray:
    """CLV per debtor under each arm minus under the champion.

    ``retention`` is the monthly retention under the champion's process. Each arm's hazard
    ratio against the champion comes from the churn shares observed within ``horizon_days``.

    Returns an array with the shape of ``churn_share`` (currency per debtor).
    """
    champion_hazard = monthly_hazard(champion_churn_share, horizon_days)
    if champion_hazard <= 0:
        raise ValueError("champion churn share must be positive to form a hazard ratio")
    ratio = monthly_hazard(churn_share, horizon_days) / champion_hazard
    arm_clv = residual_clv(
        margin=margin,
        retention=retention_under_hazard_ratio(retention, ratio),
        discount_rate=discount_rate,
    )
    base = residual_clv(margin=margin, retention=retention, discount_rate=discount_rate)
    result: FloatArray = arm_clv - base
    return result
