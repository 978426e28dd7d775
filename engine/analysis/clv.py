"""CLV per debtor and its uplift, from the churn comparison, stating what it assumes.

By default only the churn observed within the horizon is valued: each extra churner costs the
residual CLV of a customer who stays, ``V``. An arm's CLV per debtor is then ``(1 - c_a) V``
and its uplift over the champion ``(c_c - c_a) V``, with ``c`` the churn within the horizon: the
churn part of net value, nothing extrapolated. ``clv.effect_persistence_months: N`` assumes the
arm's hazard ratio lasts N more months (``None``: for life), valued by
:func:`engine.clv.alive_value_under_hazard_ratio`.

``V`` comes from the configured constant retention (Fader & Hardie 2007), or from a
shifted-beta-geometric fit at the tenure of the subscriber base: the mean discounted expected
residual lifetime (Fader & Hardie 2010, eq. 6) over the active subscribers' renewals, one value
per posterior draw of ``(alpha, beta)``, so the parameters' uncertainty is carried into every
interval together with the churn difference's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

from engine.analysis.results import LEVEL, ClvAssumption
from engine.clv import alive_value_under_hazard_ratio, monthly_hazard
from engine.config import Clv
from engine.sbg.closed_form import sbg_expected_residual_lifetime
from engine.stats.comparison import Comparison

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Posterior draws of the sBG parameters used for the residual value (each needs one DERL per
#: distinct tenure; the Monte Carlo error of the mean stays far below its spread).
SBG_DRAWS = 200


@dataclass(frozen=True, eq=False)
class ResidualValue:
    """Residual CLV of a debtor who stays a customer: one value per parameter draw.

    Attributes
    ----------
    draws
        Shape (S,): ``V`` per draw (all equal under constant retention).
    retention
        Shape (S,): the monthly retention each ``V`` corresponds to, ``V (1 + d) / (m + V)``
        (the constant-retention reading of an sBG value, used to value a persisting effect).
    margin, discount_rate
        Monthly margin and discount rate.
    model
        What ``V`` rests on, in words.
    """

    draws: FloatArray
    retention: FloatArray
    margin: float
    discount_rate: float
    model: str

    @classmethod
    def constant(cls, clv: Clv) -> ResidualValue:
        """The configured constant retention: ``V = m r / (1 + d - r)``."""
        value = clv.residual_value()
        return cls(
            draws=np.array([value]),
            retention=np.array([clv.monthly_retention]),
            margin=clv.monthly_margin,
            discount_rate=clv.monthly_discount_rate,
            model=f"constant retention {clv.monthly_retention:g}/month",
        )

    @classmethod
    def from_sbg(
        cls,
        alpha_draws: npt.ArrayLike,
        beta_draws: npt.ArrayLike,
        *,
        renewals: npt.ArrayLike,
        clv: Clv,
        rng: np.random.Generator,
        label: str,
    ) -> ResidualValue:
        """``V`` per posterior draw: the mean sBG residual value over active subscribers.

        Parameters
        ----------
        alpha_draws, beta_draws
            Posterior draws of the cohort's sBG parameters, shape (draws,).
        renewals
            Renewals made so far by each active subscriber of the tenure table (their tenure).
        clv
            Margin and discount rate.
        rng
            Picks :data:`SBG_DRAWS` of the posterior draws.
        label
            The cohort, for the model's description.
        """
        a, b = np.asarray(alpha_draws, dtype=float), np.asarray(beta_draws, dtype=float)
        if a.shape != b.shape or a.ndim != 1 or a.size == 0:
            raise ValueError("alpha_draws and beta_draws need one shape (draws,)")
        tenure = np.asarray(renewals, dtype=np.int64)
        if tenure.size == 0 or np.any(tenure < 0):
            raise ValueError("renewals needs at least one active subscriber, none negative")
        pick = rng.choice(a.size, size=min(SBG_DRAWS, a.size), replace=False)
        values, counts = np.unique(tenure, return_counts=True)
        share = counts / counts.sum()
        d, m = clv.monthly_discount_rate, clv.monthly_margin
        erl = _derl(a[pick, None], b[pick, None], values[None, :], d)  # (draws, tenures)
        draws = m * (erl @ share) / (1.0 + d)
        return cls(
            draws=draws,
            retention=draws * (1.0 + d) / (m + draws),
            margin=m,
            discount_rate=d,
            model=(
                f"shifted-beta-geometric {label} alpha={float(a.mean()):.4g} "
                f"beta={float(b.mean()):.4g}, at the tenure of {tenure.size:,} active subscribers"
            ),
        )

    def assumption(self, persistence_months: int | None, horizon_days: int) -> ClvAssumption:
        value = float(self.draws.mean())
        if np.ptp(self.draws) > 0:
            low, high = np.quantile(self.draws, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
        else:  # configured, not estimated: no interval rather than a zero-width one
            low = high = float("nan")
        if persistence_months == 0:
            statement = (
                f"Each extra churner within {horizon_days} days costs the residual CLV of a "
                f"customer who stays, {value:,.2f}; the effect is not assumed to last beyond the "
                "horizon."
            )
        elif persistence_months is None:
            statement = (
                "Assumes each arm's churn hazard ratio, seen within "
                f"{horizon_days} days, lasts for the customer's whole life."
            )
        else:
            statement = (
                f"Assumes each arm's churn hazard ratio, seen within {horizon_days} days, lasts "
                f"{persistence_months} more months, then returns to the champion's."
            )
        return ClvAssumption(
            model=self.model,
            residual_value=value,
            residual_value_low=float(low),
            residual_value_high=float(high),
            persistence_months=persistence_months,
            statement=statement,
        )


def _derl(
    alpha: FloatArray, beta: FloatArray, renewals: IntArray, discount_rate: float
) -> FloatArray:
    """Fader & Hardie's DERL, vectorised through ``scipy.special.hyp2f1``; entries outside
    the series' bounds (hyp2f1 is unreliable near z = 1 for some parameters) are recomputed
    with the exact series of :func:`engine.sbg.closed_form.sbg_expected_residual_lifetime`."""
    a, b = np.broadcast_arrays(alpha, beta + renewals)
    z = 1.0 / (1.0 + discount_rate)
    with np.errstate(all="ignore"):
        value = b / (a + b) * special.hyp2f1(1.0, b + 1.0, a + b + 1.0, z)
    first = b / (a + b)
    bad = ~np.isfinite(value) | (value < first) | (value > 1.0 / (1.0 - z))
    for index in zip(*np.nonzero(bad), strict=True):  # rare: a handful of parameter draws
        n = int(np.broadcast_to(renewals, a.shape)[index])
        value[index] = sbg_expected_residual_lifetime(
            float(a[index]), float(b[index]) - n, discount_rate=discount_rate, renewals=n
        )
    result: FloatArray = value
    return result


@dataclass(frozen=True, eq=False)
class ClvFigures:
    """Per arm (K,): CLV per debtor with its interval, the uplift over the champion with its
    interval, P(uplift > 0) and the expected loss of switching (currency per debtor)."""

    level: FloatArray
    low: FloatArray
    high: FloatArray
    uplift: FloatArray
    uplift_low: FloatArray
    uplift_high: FloatArray
    prob_beat: FloatArray
    expected_loss: FloatArray


def clv_figures(
    churn: Comparison,
    value: ResidualValue,
    *,
    champion: int,
    horizon_days: int,
    persistence_months: int | None,
    rng: np.random.Generator,
    draws: int = 20_000,
) -> ClvFigures:
    """CLV per debtor and its uplift (module docstring), by Monte Carlo over the churn
    comparison's normal posterior and the residual value's draws.

    Each pair draws the champion's churn on the pair's strata and the difference from their
    joint normal (the covariance of the estimate with the champion's level included); a
    level uses the arm's own churn level.
    """
    k = churn.estimate.shape[-1]
    nan = np.full(k, np.nan)
    out = {name: nan.copy() for name in ClvFigures.__dataclass_fields__}
    v_index = rng.integers(value.draws.size, size=draws)
    v, r = value.draws[v_index], value.retention[v_index]

    def worth(c: FloatArray, hazard_ratio: FloatArray) -> FloatArray:
        alive = alive_value_under_hazard_ratio(
            margin=value.margin,
            retention=r,
            discount_rate=value.discount_rate,
            hazard_ratio=hazard_ratio,
            months=persistence_months,
        )
        result: FloatArray = (1.0 - c) * (v if persistence_months == 0 else alive)
        return result

    def ratio(c: FloatArray, base: FloatArray) -> FloatArray:
        floor = 1e-12
        h = np.maximum(monthly_hazard(c, horizon_days), floor)
        h0 = np.maximum(monthly_hazard(base, horizon_days), floor)
        result: FloatArray = h / h0
        return result

    tails = [(1 - LEVEL) / 2, (1 + LEVEL) / 2]
    for a in range(k):
        if np.isfinite(churn.level[a]) and np.isfinite(churn.level_variance[a]):
            noise = np.sqrt(churn.level_variance[a]) * rng.standard_normal(draws)
            c = np.clip(churn.level[a] + noise, 0, 1)
            # An arm's own level: its hazard ratio against the champion's churn level.
            hazard_ratio = (
                np.ones(draws)
                if a == champion
                else ratio(c, np.full(draws, np.clip(churn.level[champion], 0, 1)))
            )
            level = worth(c, hazard_ratio)
            out["level"][a] = float(level.mean())
            out["low"][a], out["high"][a] = np.quantile(level, tails)
        if a == champion or not churn.informative[a]:
            continue
        lv, cov = churn.champion_level_variance[a], churn.covariance[a]
        base = churn.champion_level[a] + np.sqrt(lv) * rng.standard_normal(draws)
        slope = cov / lv if lv > 0 else 0.0
        rest = max(churn.variance[a] - slope * cov, 0.0)
        diff = churn.estimate[a] + slope * (base - churn.champion_level[a])
        diff = diff + np.sqrt(rest) * rng.standard_normal(draws)
        c0, c1 = np.clip(base, 0, 1), np.clip(base + diff, 0, 1)
        uplift = worth(c1, ratio(c1, c0)) - worth(c0, np.ones(draws))
        out["uplift"][a] = float(uplift.mean())
        out["uplift_low"][a], out["uplift_high"][a] = np.quantile(uplift, tails)
        out["prob_beat"][a] = float(np.mean(uplift > 0))
        out["expected_loss"][a] = float(np.mean(np.maximum(-uplift, 0.0)))
    out["uplift"][champion] = 0.0
    return ClvFigures(**out)
