"""Always-valid comparisons of a challenger with the champion, stratified by allocation period.

Why stratify
------------
A Thompson-sampling bandit changes the split every day, so the arms' pooled samples come from
different mixes of days; when the base rate drifts (season, debtor mix), pooled rates compare
different populations (Simpson's paradox) and the bias does not shrink with more data. Within
one allocation period the split is fixed and assignment random, so the per-period difference
is unbiased. We combine them with the Cochran-Mantel-Haenszel weights
``h_s = n_cs n_ks / (n_cs + n_ks)``::

    theta = sum_s h_s (m_ks - m_cs) / sum_s h_s,   V = sum_s h_s^2 (v_ks / n_ks + v_cs / n_cs) / H^2

with ``m`` the matured mean of a stratum and ``v`` its unit variance (Bernoulli ``p(1 - p)``
with the rate shrunk by half a unit towards 1/2, so empty or pure cells keep some variance).

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
bandit, delays and drift.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class MetricStrata:
    """Matured outcome sums of one metric, each of shape (..., strata, arms).

    ``total_sq`` is None for a binary metric (its sum of squares is its sum).
    """

    n: FloatArray
    total: FloatArray
    total_sq: FloatArray | None = None

    @property
    def binary(self) -> bool:
        return self.total_sq is None

    def pooled_mean(self) -> FloatArray:
        """Shape (..., arms): the mean over all strata (NaN without matured units)."""
        n = self.n.sum(axis=-2)
        with np.errstate(invalid="ignore", divide="ignore"):
            result: FloatArray = self.total.sum(axis=-2) / n
        return result

    def units(self) -> FloatArray:
        """Shape (..., arms): matured units per arm."""
        result: FloatArray = self.n.sum(axis=-2)
        return result


@dataclass(frozen=True, eq=False)
class Difference:
    """Challenger minus champion, shape (..., arms) (the champion's column is 0).

    ``estimate`` and ``variance`` of the stratified difference, ``radius`` of its confidence
    sequence, and ``informative`` where some stratum holds both arms.
    """

    estimate: FloatArray
    variance: FloatArray
    radius: FloatArray
    informative: npt.NDArray[np.bool_]

    @property
    def lower(self) -> FloatArray:
        result: FloatArray = self.estimate - self.radius
        return result

    @property
    def upper(self) -> FloatArray:
        result: FloatArray = self.estimate + self.radius
        return result

    def prob_positive(self) -> FloatArray:
        """P(difference > 0) under the flat-prior normal posterior ``N(estimate, variance)``."""
        with np.errstate(invalid="ignore", divide="ignore"):
            z = self.estimate / np.sqrt(self.variance)
        result: FloatArray = np.where(self.informative, sps.norm.cdf(z), 0.5)
        return result

    def expected_loss(self) -> FloatArray:
        """E[max(-difference, 0)]: the rate lost in expectation by choosing the challenger."""
        sd = np.sqrt(self.variance)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = self.estimate / sd
            loss = sd * sps.norm.pdf(z) - self.estimate * sps.norm.cdf(-z)
        result: FloatArray = np.where(self.informative, loss, np.inf)
        return result


def _unit_variance(data: MetricStrata) -> FloatArray:
    n = data.n
    if data.total_sq is None:
        p = (data.total + 0.5) / (n + 1.0)
        result: FloatArray = p * (1.0 - p)
        return result
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, data.total / np.maximum(n, 1), 0.0)
        var = np.where(n > 1, (data.total_sq - n * mean**2) / np.maximum(n - 1, 1), 0.0)
    # A floor keeps a stratum whose debtors all had the same count from claiming certainty.
    floored: FloatArray = np.maximum(var, 0.25 / np.maximum(n, 1.0))
    return floored


def cs_radius(
    variance: npt.ArrayLike, *, alpha: float, mixture_sd: float | FloatArray
) -> FloatArray:
    """Radius of the normal-mixture confidence sequence (module docstring), elementwise."""
    v = np.asarray(variance, dtype=np.float64)
    tau2 = np.asarray(mixture_sd, dtype=np.float64) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = v * (v + tau2) / tau2 * (2.0 * np.log(1.0 / alpha) + np.log((v + tau2) / v))
    result: FloatArray = np.sqrt(r2)
    return result


def stratified_difference(
    data: MetricStrata,
    *,
    champion: int,
    alpha: float,
    mixture_sd: float | FloatArray,
) -> Difference:
    """Every arm against the ``champion`` column, stratified by the strata axis (-2).

    Strata where an arm or the champion has no matured unit carry no weight.
    """
    n = data.n
    mean = np.where(n > 0, data.total / np.maximum(n, 1.0), 0.0)
    var_of_mean = _unit_variance(data) / np.maximum(n, 1.0)
    n_c = n[..., champion : champion + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        h = np.where((n > 0) & (n_c > 0), n * n_c / (n + n_c), 0.0)
    total_h = h.sum(axis=-2)
    informative = total_h > 0
    safe_h = np.where(informative, total_h, 1.0)
    diff = mean - mean[..., champion : champion + 1]
    estimate = (h * diff).sum(axis=-2) / safe_h
    variance = (h**2 * (var_of_mean + var_of_mean[..., champion : champion + 1])).sum(
        axis=-2
    ) / safe_h**2
    estimate = np.where(informative, estimate, 0.0)
    variance = np.where(informative, variance, np.inf)
    radius = np.where(informative, cs_radius(variance, alpha=alpha, mixture_sd=mixture_sd), np.inf)
    informative[..., champion] = False
    return Difference(estimate, variance, radius, informative)


def pearson_srm_p_value(assigned: npt.ArrayLike, weights: npt.ArrayLike) -> FloatArray:
    """Pearson SRM p-values of assigned counts (..., strata, arms) against the period weights
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
