"""The estimator: inverse-propensity-weighted (Hajek) means within strata, combined by each
stratum's share of the randomised population. See :mod:`engine.stats.comparison`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from engine.stats.comparison.cells import BoolArray, Cells, FloatArray, IntArray

#: Strata in which an arm has fewer matured units than this borrow the arm's pooled
#: within-stratum variance (see the package docstring, "Small strata").
SMALL_STRATUM = 10

#: Why a comparison has no figures (``Comparison.reason``).
REASONS = ("ok", "champion", "no_data", "no_overlap", "not_estimable")
OK, CHAMPION, NO_DATA, NO_OVERLAP, NOT_ESTIMABLE = range(len(REASONS))


@dataclass(frozen=True, eq=False)
class ArmStrata:
    """One arm's weighted sums per stratum, each of shape (..., S, K).

    ``population`` is ``sum n / p`` (the Horvitz-Thompson estimate of how many units of the
    stratum there were), ``mean`` the Hajek mean (NaN where the arm has no unit), ``variance``
    the variance of that mean after the small-stratum rule, ``units`` the matured units.
    """

    population: FloatArray
    mean: FloatArray
    variance: FloatArray
    units: FloatArray


def _by_stratum(values: FloatArray, onehot: FloatArray) -> FloatArray:
    """Sum (..., C, K) cells into (..., S, K) strata: one matrix product (einsum without an
    optimised path loops in C and was the simulation study's bottleneck)."""
    if onehot.shape[1] == 1:
        result: FloatArray = values.sum(axis=-2, keepdims=True)
        return result
    summed: FloatArray = np.swapaxes(np.swapaxes(values, -1, -2) @ onehot, -1, -2)
    return summed


def _stack_by_stratum(onehot: FloatArray, *values: FloatArray) -> list[FloatArray]:
    """Several (..., C, K) arrays summed into strata in one product."""
    stacked = _by_stratum(np.concatenate(values, axis=-1), onehot)
    return np.split(stacked, len(values), axis=-1)


def arm_strata(
    cells: Cells,
    *,
    n: FloatArray,
    total: FloatArray,
    total_sq: FloatArray,
    prob: FloatArray,
    live: BoolArray,
    cases: FloatArray | None = None,
    cases_sq: FloatArray | None = None,
    cross: FloatArray | None = None,
    small_stratum: int = SMALL_STRATUM,
) -> ArmStrata:
    """Hajek means and their variances per (stratum, column) over the ``live`` cells.

    ``n``, ``total``, ``total_sq``, ``prob`` and ``live`` have shape (..., C, K): one column per
    arm, or the champion's data repeated once per challenger (each pair has its own live cells).
    ``cases``, ``cases_sq`` and ``cross`` are the repeat-case sums of :class:`Cells` (``None``:
    one case per unit).

    With unit ``i`` carrying ``M_i`` cases and outcome total ``Y_i``, the mean per case is
    ``m = sum w_i Y_i / sum w_i M_i`` and its linearised variance
    ``n / (n - 1) * sum w_i^2 (Y_i - m M_i)^2 / (sum w_i M_i)^2``: the residual is summed per
    unit before squaring, so correlated cases of one customer count once (Liang & Zeger 1986;
    the ratio-estimator variance of cluster sampling, Cochran 1977, 6.13). With ``M_i = 1`` it
    is the per-unit formula.
    """
    if cases is None or cases_sq is None or cross is None:
        cases, cases_sq, cross = n, n, total
    onehot = cells.onehot()
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(live & (prob > 0), 1.0 / np.where(prob > 0, prob, 1.0), 0.0)
        w2 = w * w
        a, b, d, e, f, units = _stack_by_stratum(
            onehot, cases * w, total * w, cases_sq * w2, cross * w2, total_sq * w2, n * (w > 0)
        )
        mean = np.where(a > 0, b / np.where(a > 0, a, 1.0), np.nan)
        m = np.nan_to_num(mean)
        # sum_i w_i^2 (Y_i - m M_i)^2, expanded so that it needs cell sums only; clipped
        # because the expansion can dip below 0 by rounding.
        resid = np.maximum(f - 2.0 * m * e + m * m * d, 0.0)
        several = units >= 2
        own = np.where(several, resid / np.where(d > 0, d, 1.0) * units / (units - 1.0), np.nan)
        df = np.where(several, units - 1.0, 0.0)
        df_sum = df.sum(axis=-2, keepdims=True)
        pooled = np.where(df_sum > 0, np.nansum(df * own, axis=-2, keepdims=True) / df_sum, np.nan)
        if cells.binary:
            # No stratum with two units: the arm's overall rate, shrunk by half a unit towards
            # 1/2 so that an arm whose few units all paid still has some variance.
            rate = (total.sum(axis=-2, keepdims=True) * 1.0 + 0.5) / (
                cases.sum(axis=-2, keepdims=True) + 1.0
            )
            pooled = np.where(np.isnan(pooled), rate * (1.0 - rate), pooled)
            degenerate = several & (own <= 0.0)
        else:
            degenerate = np.zeros_like(several)
        small = (units < small_stratum) | degenerate
        s2 = np.where(small, np.broadcast_to(pooled, own.shape), own)
        variance = np.where(a > 0, s2 * d / np.where(a > 0, a * a, 1.0), np.nan)
    return ArmStrata(population=a, mean=mean, variance=variance, units=units)


@dataclass(frozen=True, eq=False)
class Comparison:
    """Every arm against the champion on one metric, shape (..., K) unless stated.

    Attributes
    ----------
    estimate, variance
        The estimand ``theta_k`` (arm minus champion) and the variance of its estimate; the
        champion's column is 0 and NaN.
    coverage
        Share of the randomised matured units that lie in strata the pair shares (the rest is
        not covered by the comparison: one of the two arms had no traffic or no unit there).
    champion_level, champion_level_variance, covariance
        The champion's mean on the pair's strata and weights, its variance, and the covariance
        of ``estimate`` with it (for the relative uplift).
    level, level_variance, level_coverage
        Each arm's own mean: its strata weighted by their share of the randomised units (the
        "population" rate of the arm), its variance, and the share of units it covers.
    units, pair_units, champion_units
        Matured units of each arm in its live cells; of the arm and of the champion in the
        strata the pair shares.
    reason
        Index into :data:`REASONS` (``ok`` where there are figures).
    weights, champion_variance
        Shape (..., S, K): the pair's stratum weights and the champion's per-stratum variance
        (the covariance between two challengers' estimates goes through the champion).
    """

    estimate: FloatArray
    variance: FloatArray
    coverage: FloatArray
    champion_level: FloatArray
    champion_level_variance: FloatArray
    covariance: FloatArray
    level: FloatArray
    level_variance: FloatArray
    level_coverage: FloatArray
    units: FloatArray
    pair_units: FloatArray
    champion_units: FloatArray
    reason: IntArray
    weights: FloatArray
    champion_variance: FloatArray

    @property
    def informative(self) -> BoolArray:
        """Where the pair has figures."""
        result: BoolArray = self.reason == OK
        return result

    def standard_error(self) -> FloatArray:
        result: FloatArray = np.sqrt(self.variance)
        return result

    def interval(self, level: float = 0.95) -> tuple[FloatArray, FloatArray]:
        """Equal-tailed interval of the estimand (confidence and credible: see the package)."""
        z = float(sps.norm.isf((1.0 - level) / 2.0))
        se = self.standard_error()
        return self.estimate - z * se, self.estimate + z * se

    def level_interval(self, level: float = 0.95) -> tuple[FloatArray, FloatArray]:
        z = float(sps.norm.isf((1.0 - level) / 2.0))
        se = np.sqrt(self.level_variance)
        return self.level - z * se, self.level + z * se

    def z(self) -> FloatArray:
        with np.errstate(divide="ignore", invalid="ignore"):
            result: FloatArray = np.where(
                self.informative & (self.variance > 0),
                self.estimate / np.sqrt(self.variance),
                np.nan,
            )
        return result

    def p_value(self) -> FloatArray:
        """Two-sided p-value of ``theta = 0`` (Wald z-test)."""
        result: FloatArray = 2.0 * sps.norm.sf(np.abs(self.z()))
        return result

    def prob_positive(self) -> FloatArray:
        """Posterior P(theta > 0) under the flat-prior normal posterior N(estimate, variance);
        0.5 where the pair has no figures."""
        with np.errstate(divide="ignore", invalid="ignore"):
            z = self.estimate / np.sqrt(self.variance)
            p = np.where(self.variance > 0, sps.norm.cdf(z), np.where(self.estimate > 0, 1.0, 0.5))
        p = np.where((self.variance == 0) & (self.estimate < 0), 0.0, p)
        result: FloatArray = np.where(self.informative, p, 0.5)
        return result

    def expected_loss(self, *, higher_is_better: bool = True) -> FloatArray:
        """E[max(-d, 0)] with ``d`` the estimand signed so that positive is better: what is
        given up, on average over the posterior, by choosing the arm over the champion."""
        mu = self.estimate if higher_is_better else -self.estimate
        sd = np.sqrt(self.variance)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = mu / sd
            loss = np.where(
                sd > 0, sd * sps.norm.pdf(z) - mu * sps.norm.cdf(-z), np.maximum(-mu, 0.0)
            )
        result: FloatArray = np.where(self.informative, loss, np.inf)
        return result

    def relative(self, level: float = 0.95) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``theta / champion_level`` with a delta-method interval; NaN where the champion's
        level is not clearly away from 0 (a ratio to something that may be 0 means nothing)."""
        base = self.champion_level
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = self.estimate / base
            var = (
                self.variance
                - 2.0 * ratio * self.covariance
                + ratio**2 * self.champion_level_variance
            ) / base**2
        z = float(sps.norm.isf((1.0 - level) / 2.0))
        clear = np.abs(base) > z * np.sqrt(self.champion_level_variance)
        ok = self.informative & clear & np.isfinite(var)
        sd = np.sqrt(np.where(ok, np.maximum(var, 0.0), 0.0))
        nan = np.full_like(ratio, np.nan)
        return (
            np.where(ok, ratio, nan),
            np.where(ok, ratio - z * sd, nan),
            np.where(ok, ratio + z * sd, nan),
        )


def _pair_mask(cells: Cells, champion: int) -> BoolArray:
    live: BoolArray = (cells.prob[..., champion : champion + 1] > 0) & (cells.prob > 0)
    return live


def compare(cells: Cells, *, champion: int, small_stratum: int = SMALL_STRATUM) -> Comparison:
    """Every arm against ``champion`` on the estimand of :mod:`engine.stats.comparison`.

    Parameters
    ----------
    cells
        Shape (..., C, K) sums with each arm's assignment probability per cell.
    champion
        Index of the champion arm.
    small_stratum
        Strata with fewer units of an arm borrow its pooled within-stratum variance.
    """
    k = cells.n_arms
    if not 0 <= champion < k:
        raise ValueError(f"champion must be an arm index in 0..{k - 1}, got {champion}")
    onehot = cells.onehot()
    c = slice(champion, champion + 1)

    def repeat(values: FloatArray) -> FloatArray:
        result: FloatArray = np.broadcast_to(values[..., c], values.shape)
        return result

    live = _pair_mask(cells, champion)
    cases, cases_sq, cross = cells.case_sums()
    own = arm_strata(
        cells, n=cells.n, total=cells.total, total_sq=cells.total_sq, prob=cells.prob,
        live=live, cases=cases, cases_sq=cases_sq, cross=cross, small_stratum=small_stratum,
    )  # fmt: skip
    champ = arm_strata(
        cells, n=repeat(cells.n), total=repeat(cells.total), total_sq=repeat(cells.total_sq),
        prob=repeat(cells.prob), live=live, cases=repeat(cases), cases_sq=repeat(cases_sq),
        cross=repeat(cross), small_stratum=small_stratum,
    )  # fmt: skip
    # (..., C): the randomised cases of each cell, all arms (units when one case per unit),
    # so that the estimand is the mean per case of the population.
    everyone = cases.sum(axis=-1)
    population = everyone.sum(axis=-1)[..., None]  # (..., 1)
    covered = (own.population > 0) & (champ.population > 0)
    weights, share = _stratum_weights(
        _by_stratum(live * everyone[..., None], onehot), covered, population
    )
    with np.errstate(invalid="ignore"):
        diff = np.nan_to_num(own.mean - champ.mean)
        estimate = (weights * diff).sum(axis=-2)
        w2 = weights**2
        champ_var = np.where(covered, champ.variance, 0.0)
        variance = (w2 * (np.where(covered, own.variance, 0.0) + champ_var)).sum(axis=-2)
        champion_level = (weights * np.nan_to_num(champ.mean)).sum(axis=-2)
        champion_level_variance = (w2 * champ_var).sum(axis=-2)
    # Each arm's own level: the strata where it had traffic, weighted by their population.
    mine = cells.prob > 0
    alone = arm_strata(
        cells, n=cells.n, total=cells.total, total_sq=cells.total_sq, prob=cells.prob,
        live=mine, cases=cases, cases_sq=cases_sq, cross=cross, small_stratum=small_stratum,
    )  # fmt: skip
    has = alone.population > 0
    own_weights, level_share = _stratum_weights(
        _by_stratum(mine * everyone[..., None], onehot), has, population
    )
    level = (own_weights * np.nan_to_num(alone.mean)).sum(axis=-2)
    level_variance = (own_weights**2 * np.where(has, alone.variance, 0.0)).sum(axis=-2)
    no_level = ~has.any(axis=-2)

    units_here = (cells.n * mine).sum(axis=-2)
    reason = np.select(
        [
            np.arange(k) == champion,
            (units_here == 0) | (units_here[..., c] == 0),
            ~covered.any(axis=-2),
            ~np.isfinite(variance),
        ],
        [CHAMPION, NO_DATA, NO_OVERLAP, NOT_ESTIMABLE],
        OK,
    ).astype(np.int64)
    ok = reason == OK
    nan = np.nan
    return Comparison(
        estimate=np.where(ok, estimate, np.where(reason == CHAMPION, 0.0, nan)),
        variance=np.where(ok, variance, nan),
        coverage=np.where(ok, share, nan),
        champion_level=np.where(ok, champion_level, nan),
        champion_level_variance=np.where(ok, champion_level_variance, nan),
        covariance=np.where(ok, -champion_level_variance, nan),
        level=np.where(no_level, nan, level),
        level_variance=np.where(no_level, nan, level_variance),
        level_coverage=np.where(no_level, nan, level_share),
        units=units_here,
        pair_units=np.where(covered, own.units, 0.0).sum(axis=-2),
        champion_units=np.where(covered, champ.units, 0.0).sum(axis=-2),
        reason=reason,
        weights=weights,
        champion_variance=champ_var,
    )


def _stratum_weights(
    population: FloatArray, covered: BoolArray, everyone: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Weights ``P_s / sum P`` over the covered strata (..., S, K) and the covered share of all
    randomised units (..., K)."""
    kept = np.where(covered, population, 0.0)
    total = kept.sum(axis=-2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        weights = np.where(total > 0, kept / np.where(total > 0, total, 1.0), 0.0)
        share = np.where(
            everyone > 0, total[..., 0, :] / np.where(everyone > 0, everyone, 1.0), 0.0
        )
    return weights, share
