"""Always-valid confidence sequences on the one challenger-vs-champion estimand.

The estimate and its variance are those of :mod:`engine.stats.comparison` (population-weighted
strata, inverse-propensity-weighted means within each), so the rule decides on exactly the
number the analysis, the report and the dashboard show; only the width of the interval differs.

Why a confidence sequence
-------------------------
A scheduled job looks every day. A fixed-sample 95% interval that excludes 0 at *some* look
happens far more often than 5% of the time under no effect (Armitage, McPherson & Rowe 1969).
The mixture sequential probability ratio test (mSPRT; Robbins 1970; Johari, Koomen, Pekelis &
Walsh 2017, "Peeking at A/B tests", the test behind Optimizely's and Statsig's sequential
results) with a normal mixture ``N(0, tau^2)`` over the effect rejects ``theta = theta0`` when

    sqrt(V / (V + tau^2)) exp(tau^2 (theta - theta0)^2 / (2 V (V + tau^2))) >= 1 / alpha

which, solved for ``theta0``, is the confidence sequence ``theta +- r`` with

    r^2 = V (V + tau^2) / tau^2 * (2 log(1 / alpha) + log((V + tau^2) / V)).

The sequence covers the true effect at every look at once with probability ``>= 1 - alpha``
for a Gaussian random walk; here the statistic is asymptotically Gaussian (Waudby-Smith et al.
2021, "Time-uniform central limit theory and asymptotic confidence sequences"), and the
simulation study (:mod:`engine.promotion.study`) checks the level under the engine's own
bandit, delays, drift and heterogeneous per-segment effects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from engine.stats.comparison import Comparison

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Difference:
    """Challenger minus champion with its always-valid bounds, shape (..., arms).

    ``comparison`` is the estimand's estimate (:func:`engine.stats.comparison.compare`);
    ``radius`` the half-width of its confidence sequence (inf where it has no figures).
    """

    comparison: Comparison
    radius: FloatArray

    @property
    def estimate(self) -> FloatArray:
        return self.comparison.estimate

    @property
    def variance(self) -> FloatArray:
        return self.comparison.variance

    @property
    def informative(self) -> npt.NDArray[np.bool_]:
        return self.comparison.informative

    @property
    def lower(self) -> FloatArray:
        result: FloatArray = np.where(self.informative, self.estimate - self.radius, -np.inf)
        return result

    @property
    def upper(self) -> FloatArray:
        result: FloatArray = np.where(self.informative, self.estimate + self.radius, np.inf)
        return result

    def prob_positive(self) -> FloatArray:
        return self.comparison.prob_positive()

    def expected_loss(self) -> FloatArray:
        return self.comparison.expected_loss()


def cs_radius(
    variance: npt.ArrayLike, *, alpha: float, mixture_sd: float | FloatArray
) -> FloatArray:
    """Radius of the normal-mixture confidence sequence (module docstring), elementwise.

    A zero variance (every unit the same) gives a zero radius; NaN stays NaN.
    """
    v = np.asarray(variance, dtype=np.float64)
    tau2 = np.asarray(mixture_sd, dtype=np.float64) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = v * (v + tau2) / tau2 * (2.0 * np.log(1.0 / alpha) + np.log((v + tau2) / v))
    result: FloatArray = np.sqrt(np.where(v == 0, 0.0, r2))
    return result


def always_valid(
    comparison: Comparison, *, alpha: float, mixture_sd: float | FloatArray
) -> Difference:
    """The comparison's confidence sequence at level ``alpha`` tuned to ``mixture_sd``."""
    radius = np.where(
        comparison.informative,
        cs_radius(np.nan_to_num(comparison.variance, nan=1.0), alpha=alpha, mixture_sd=mixture_sd),
        np.inf,
    )
    return Difference(comparison, radius)


def pearson_srm_p_value(assigned: npt.ArrayLike, weights: npt.ArrayLike) -> FloatArray:
    """Pearson SRM p-values of assigned counts (..., cells, arms) against the cells' weights
    (same shape), vectorised over leading axes (as :func:`engine.stats.srm.srm_check` with
    ``method="pearson"``, for the simulation study). Arms with zero expectation are skipped."""
    counts = np.asarray(assigned, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    expected = (w * counts.sum(axis=-1, keepdims=True)).sum(axis=-2)
    observed = counts.sum(axis=-2)
    tested = expected > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(tested, (observed - expected) ** 2 / np.where(tested, expected, 1), 0)
    dof = tested.sum(axis=-1) - 1
    chi2 = terms.sum(axis=-1)
    result: FloatArray = np.where(dof >= 1, sps.chi2.sf(chi2, np.maximum(dof, 1)), np.nan)
    return result
