"""Customer lifetime value of subscribers under churn.

Constant-retention closed form (Fader & Hardie 2007, "How to project customer retention";
also Gupta & Lehmann 2003): a customer alive now, with monthly margin ``m``, monthly retention
``r`` and monthly discount rate ``d``, has expected residual value

    CLV = sum_{t>=1} m * r**t / (1 + d)**t = m * r / (1 + d - r).

A treatment that multiplies the monthly churn hazard by ``HR`` changes retention to
``1 - HR * (1 - r)`` (proportional hazards on the discrete-time churn probability). The hazard
ratio of an arm is estimated from the churn it caused within the experiment's horizon.

:func:`clv_uplift_draws` propagates posterior uncertainty about the churn shares into the CLV
uplift, draw by draw; :func:`summarize_uplift` reduces the draws to a mean and an interval.
Heterogeneous churn (the shifted-beta-geometric model and its fitting) lives in
:mod:`engine.sbg`, so that importing this module stays cheap (numpy only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: Average month length in days (365.25 / 12): converts a horizon in days into months.
DAYS_PER_MONTH = 30.4375

#: Monthly hazards below this are raised to it before a hazard ratio is formed from posterior
#: draws (see :func:`clv_uplift_draws`): far below any churn a subscription business observes,
#: far above float64's smallest normal number.
HAZARD_FLOOR = 1e-12

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


def hazard_ratio_draws(
    *,
    churn_draws: npt.ArrayLike,
    champion: int,
    horizon_days: float,
    hazard_floor: float = HAZARD_FLOOR,
) -> FloatArray:
    """Draws of each arm's monthly hazard ratio against the champion, shape ``(draws, k)``.

    ``HR_sj = max(h_sj, floor) / max(h_s,champion, floor)`` with ``h = monthly_hazard(c,
    horizon_days)``; the champion's column is exactly 1. The floor is explained in
    :func:`clv_uplift_draws`. Feed these to :func:`engine.sbg.sbg_clv_under_hazard_ratio` for
    the uplift under heterogeneous churn.
    """
    draws = np.asarray(churn_draws, dtype=np.float64)
    if draws.ndim != 2 or draws.shape[0] == 0 or draws.shape[1] == 0:
        raise ValueError(
            f"churn_draws must have shape (draws, arms) with both > 0, got {draws.shape}"
        )
    if not np.all(np.isfinite(draws)):
        raise ValueError("churn_draws must be finite")
    arms = draws.shape[1]
    if not 0 <= champion < arms:
        raise ValueError(f"champion must be a column index in [0, {arms}), got {champion}")
    if not (math.isfinite(horizon_days) and horizon_days > 0):
        raise ValueError(f"horizon_days must be positive, got {horizon_days}")
    if not (math.isfinite(hazard_floor) and 0 < hazard_floor < 1):
        raise ValueError(f"hazard_floor must lie in (0, 1), got {hazard_floor}")
    hazard = np.maximum(monthly_hazard(draws, horizon_days), hazard_floor)
    ratio: FloatArray = hazard / hazard[:, champion : champion + 1]
    return ratio


def clv_uplift_draws(
    *,
    churn_draws: npt.ArrayLike,
    champion: int,
    horizon_days: float,
    margin: float,
    retention: float,
    discount_rate: float,
    hazard_floor: float = HAZARD_FLOOR,
) -> FloatArray:
    """Posterior draws of each arm's CLV uplift per debtor versus the champion.

    For every draw ``s`` and arm ``j`` (the computation of :func:`clv_uplift`, draw by draw):

    1. monthly hazard ``h_sj = 1 - (1 - c_sj) ** (DAYS_PER_MONTH / horizon_days)`` from the
       churn share ``c_sj`` within the horizon (constant hazard, :func:`monthly_hazard`);
    2. hazard ratio ``HR_sj = h_sj / h_s,champion``;
    3. the arm's monthly hazard under the champion's process ``q_sj = min(HR_sj (1 - r), 1)``,
       i.e. retention ``1 - HR (1 - r)`` floored at 0 (:func:`retention_under_hazard_ratio`);
    4. uplift ``m (1 - q_sj) / (d + q_sj) - m r / (1 + d - r)``: the residual CLV
       ``m r' / (1 + d - r')`` of Fader & Hardie (2007) at ``r' = 1 - q``, written in the hazard
       so that a tiny hazard ratio cannot round ``r'`` up to 1.

    Parameters
    ----------
    churn_draws
        Posterior draws of each arm's churn share within the horizon, shape ``(draws, k)``,
        values in [0, 1] (e.g. from Beta posteriors of the churn counts).
    champion
        Column of the champion, ``0 <= champion < k``; its uplift is exactly 0 in every draw.
    horizon_days
        Horizon within which churn was observed (days, > 0).
    margin, retention, discount_rate
        Monthly margin ``m``, the champion's monthly retention ``r`` (in [0, 1]) and monthly
        discount rate ``d`` (>= 0, with ``r < 1 + d``), as in :func:`residual_clv`.
    hazard_floor
        Hazards below this are raised to it before the ratio is formed (see Notes).

    Returns
    -------
    numpy.ndarray
        Shape ``(draws, k)``: CLV uplift per debtor (currency), draw by draw.

    Notes
    -----
    A draw of the champion's churn share can be 0, or so small that its monthly hazard is ~0
    (a Beta posterior after few churners puts mass near 0). The ratio ``h_arm / h_champion`` is
    then undefined (0/0) or unbounded. Both hazards are raised to ``hazard_floor`` first, so:

    - both below the floor: ``HR = 1``, uplift 0 (the draw shows no difference);
    - only the champion's below the floor: ``HR`` is huge, the arm's hazard is capped at 1 and
      its uplift is ``-m r / (1 + d - r)`` (it loses the champion's whole residual CLV), the
      limit of the closed form as the champion's hazard goes to 0.

    Every draw is therefore finite and lies in ``[-CLV_champion, m / d - CLV_champion]``, and
    the mean over draws exists. Such draws are a sign the horizon is too short to estimate a
    hazard ratio; the width of the interval from :func:`summarize_uplift` shows it.
    """
    if not math.isfinite(margin):
        raise ValueError(f"margin must be finite, got {margin}")
    if not (math.isfinite(discount_rate) and discount_rate >= 0):
        raise ValueError(f"discount_rate must be >= 0, got {discount_rate}")
    if not 0 <= retention <= 1:
        raise ValueError(f"retention must lie in [0, 1], got {retention}")
    ratio = hazard_ratio_draws(
        churn_draws=churn_draws,
        champion=champion,
        horizon_days=horizon_days,
        hazard_floor=hazard_floor,
    )
    base = float(residual_clv(margin=margin, retention=retention, discount_rate=discount_rate))
    arm_hazard = np.minimum(ratio * (1.0 - retention), 1.0)
    uplift: FloatArray = margin * (1.0 - arm_hazard) / (discount_rate + arm_hazard) - base
    # The champion's ratio is exactly 1; 1 - (1 - r) may differ from r in the last bit.
    uplift[:, champion] = 0.0
    return uplift


@dataclass(frozen=True, eq=False)
class UpliftSummary:
    """Posterior summary of uplift draws, one entry per arm (arrays of shape ``(k,)``).

    Attributes
    ----------
    mean
        Posterior mean.
    low, high
        Equal-tailed credible interval at ``level`` (quantiles ``(1 - level) / 2`` and
        ``(1 + level) / 2`` of the draws).
    prob_positive
        Share of draws with uplift > 0 (posterior probability the arm adds value).
    level
        Credibility level of the interval.
    """

    mean: FloatArray
    low: FloatArray
    high: FloatArray
    prob_positive: FloatArray
    level: float


def summarize_uplift(draws: npt.ArrayLike, *, level: float = 0.95) -> UpliftSummary:
    """Mean, equal-tailed ``level`` interval and P(uplift > 0) of draws of shape ``(draws, k)``."""
    values = np.asarray(draws, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] == 0:
        raise ValueError(f"draws must have shape (draws, arms) with draws > 0, got {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("draws must be finite")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail], axis=0)
    return UpliftSummary(
        mean=values.mean(axis=0),
        low=low,
        high=high,
        prob_positive=(values > 0).mean(axis=0),
        level=level,
    )


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
    hr = np.asarray(hazard_ratio, dtype=np.float64)
    arm_r = np.clip(1.0 - hr * (1.0 - r), 0.0, 1.0)
    if months is None:
        result: FloatArray = margin * arm_r / (1.0 + discount_rate - arm_r)
        return result
    base = margin * r / (1.0 + discount_rate - r)
    q = arm_r / (1.0 + discount_rate)
    with np.errstate(invalid="ignore", divide="ignore"):
        head = np.where(q < 1.0, margin * q * (1.0 - q**months) / (1.0 - q), margin * months)
    value: FloatArray = head + q**months * base
    return value
