"""Post-stratification by allocation period: estimates that a bandit's changing traffic cannot bias.

Why stratify
------------
Under a bandit the share of traffic an arm receives changes from one allocation period to the
next. If the baseline drifts at the same time (fewer debtors pay on time in a downturn), the
pooled mean of an arm averages over *its own* mix of periods, and two arms are compared on
different mixes: Simpson's paradox. GrowthBook and Optimizely analyse bandits per allocation
period for this reason. Within one period assignment is a plain randomised experiment, so the
difference of cell means is unbiased for that period; a weighted average of the per-period
estimates with weights that do not depend on the arm is then unbiased for the average effect.

Estimator (Miratrix, Sekhon & Yu 2013, "Adjusting treatment effect estimates by
post-stratification in randomized experiments", JRSS B 75(2), eq. 2-3)::

    mean_a = sum_p w_p * ybar_ap,      w_p = N_p / N
    var_a  = sum_p w_p**2 * s2_ap / n_ap

where ``N_p`` is the number of matured units of period ``p`` over *all* arms (the population the
experiment saw in that period), ``n_ap`` the matured units of arm ``a`` in period ``p`` and
``s2_ap`` the variance of one unit's outcome in that cell.

Robustness rules (documented because they change numbers a manager reads)
-------------------------------------------------------------------------
* **Empty cells.** A period in which an arm has no matured unit says nothing about that arm in
  that period, and imputing it would bring the drift back. Such a period is dropped and the
  weights renormalised over the remaining periods (the *support*). The support is computed over
  the arms passed in, so every estimate in one call is on the same periods and arm means are
  comparable. To compare a pair on the largest support, pass only that pair
  (``cells.take_arms([champion, arm])``); :func:`stratified_difference` does exactly that.
  An arm with no matured unit at all is ignored when the support is chosen and gets NaN.
* **Small cells, binary metric.** ``p_hat * (1 - p_hat)`` is a poor variance in a cell with few
  units and is zero when the cell rate is 0 or 1 (a Wald interval of zero width). Such cells
  (fewer than ``small_cell`` units, or a rate of exactly 0 or 1) use the arm's pooled rate
  ``r_a * (1 - r_a)`` instead.
* **Small cells, means.** The sample variance needs two units and is noisy with few. Cells
  with fewer than ``small_cell`` units (at least 2 are always required) use the arm's pooled
  within-period variance ``sum_p SS_ap / sum_p (n_ap - 1)``, which removes the drift between
  periods. Its degrees of freedom enter the Welch-Satterthwaite formula once per arm.

With a single period every rule reduces to the textbook estimate: the stratified mean equals
the pooled mean and the variance equals ``p_hat (1 - p_hat) / n`` (binary) or ``s2 / n``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

SMALL_CELL = 10
"""Cells with fewer matured units than this borrow the arm's pooled variance (see module doc)."""

_WEIGHT_SUM_TOL = 1e-6


def _as_float_array(value: npt.ArrayLike) -> FloatArray:
    array = np.array(value, dtype=np.float64)  # a copy: the caller may mutate its own array
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class MetricCells:
    """Sufficient statistics of one metric in (arm, period) cells; matured units only.

    Attributes
    ----------
    n, total, total_sq
        Float64 arrays of shape (k, p): units, sum of y, sum of y**2 per arm and period.
    binary
        y is 0/1 (a rate); ``total_sq`` then equals ``total``.

    All input errors are reported at once in one ``ValueError``.
    """

    n: FloatArray
    total: FloatArray
    total_sq: FloatArray
    binary: bool

    def __post_init__(self) -> None:
        n, total, total_sq = (_as_float_array(a) for a in (self.n, self.total, self.total_sq))
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "total", total)
        object.__setattr__(self, "total_sq", total_sq)
        errors: list[str] = []
        if n.ndim != 2:
            errors.append(f"n must have shape (arms, periods), got shape {n.shape}")
        if total.shape != n.shape or total_sq.shape != n.shape:
            errors.append(
                f"n, total and total_sq must share one shape, got {n.shape}, {total.shape}, "
                f"{total_sq.shape}"
            )
        if errors:
            raise ValueError("; ".join(errors))
        if n.size == 0:
            raise ValueError(f"need at least one arm and one period, got shape {n.shape}")
        if not (np.isfinite(n).all() and np.isfinite(total).all() and np.isfinite(total_sq).all()):
            raise ValueError("n, total and total_sq must be finite")
        if np.any(n < 0):
            errors.append("n must be >= 0")
        if np.any(n != np.round(n)):
            errors.append("n must hold whole numbers of units")
        empty = n == 0
        if np.any(empty & ((total != 0) | (total_sq != 0))):
            errors.append("a cell with n = 0 must have total = total_sq = 0")
        if self.binary:
            if np.any(total < 0) or np.any(total > n):
                errors.append("binary metric needs 0 <= total <= n")
            if np.any(total_sq != total):
                errors.append("binary metric needs total_sq == total (y**2 == y for 0/1)")
        else:
            if np.any(total_sq < 0):
                errors.append("total_sq must be >= 0")
            # Cauchy-Schwarz: n * sum(y^2) >= (sum y)^2; a violation means swapped columns.
            slack = 1e-9 * np.maximum(total**2, 1.0)
            if np.any(n * total_sq < total**2 - slack):
                errors.append("need n * total_sq >= total**2 (Cauchy-Schwarz)")
        if errors:
            raise ValueError("; ".join(errors))

    @classmethod
    def from_counts(cls, n: npt.ArrayLike, successes: npt.ArrayLike) -> MetricCells:
        """Binary cells from units ``n`` and ``successes``, both shape (k, p)."""
        return cls(
            n=np.asarray(n),
            total=np.asarray(successes),
            total_sq=np.asarray(successes),
            binary=True,
        )

    @property
    def n_arms(self) -> int:
        return int(self.n.shape[0])

    @property
    def n_periods(self) -> int:
        return int(self.n.shape[1])

    def __add__(self, other: object) -> MetricCells:
        """Pool two segments cell by cell (same arms, same periods, same kind of metric)."""
        if not isinstance(other, MetricCells):
            return NotImplemented
        if other.n.shape != self.n.shape:
            raise ValueError(f"cannot add cells of shapes {self.n.shape} and {other.n.shape}")
        if other.binary != self.binary:
            raise ValueError("cannot add a binary metric to a non-binary one")
        return MetricCells(
            self.n + other.n, self.total + other.total, self.total_sq + other.total_sq, self.binary
        )

    def pooled(self) -> MetricCells:
        """All periods in one, shape (k, 1): the naive (unstratified) estimate."""
        return MetricCells(
            self.n.sum(axis=1, keepdims=True),
            self.total.sum(axis=1, keepdims=True),
            self.total_sq.sum(axis=1, keepdims=True),
            self.binary,
        )

    def take_periods(self, labels: npt.ArrayLike) -> MetricCells:
        """Merge periods that share a label (sums), shape (k, g) with g distinct labels.

        Parameters
        ----------
        labels
            Shape (p,), one label per period, e.g. from :func:`group_periods`. Merged periods
            appear in the order of each label's first occurrence.
        """
        codes = np.asarray(labels)
        if codes.shape != (self.n_periods,):
            raise ValueError(f"labels must have shape ({self.n_periods},), got {codes.shape}")
        _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
        order = np.argsort(first)  # np.unique sorts labels; keep the order of appearance
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        onehot = (rank[inverse.reshape(-1)][:, None] == np.arange(order.size)).astype(np.float64)
        return MetricCells(
            self.n @ onehot, self.total @ onehot, self.total_sq @ onehot, self.binary
        )

    def take_arms(self, arms: Sequence[int]) -> MetricCells:
        """Cells of the listed arms only, in that order, shape (len(arms), p)."""
        index = np.asarray(arms, dtype=np.int64)
        if index.ndim != 1 or np.any(index < -self.n_arms) or np.any(index >= self.n_arms):
            raise ValueError(f"arm indices must be within 0..{self.n_arms - 1}, got {arms!r}")
        return MetricCells(self.n[index], self.total[index], self.total_sq[index], self.binary)

    def cell_means(self) -> FloatArray:
        """Shape (k, p) cell means; NaN where a cell has no unit."""
        with np.errstate(invalid="ignore", divide="ignore"):
            result: FloatArray = np.where(self.n > 0, self.total / self.n, np.nan)
        return result


def validate_weights(weights: npt.ArrayLike) -> FloatArray:
    """Check traffic weights of shape (k, p): finite, >= 0, each column summing to 1.

    Returns the weights as float64, each column renormalised to sum exactly to 1.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.size == 0:
        raise ValueError(f"weights must have shape (arms, periods), got shape {w.shape}")
    if not np.isfinite(w).all() or np.any(w < 0):
        raise ValueError("weights must be finite and >= 0")
    sums = w.sum(axis=0)
    bad = np.flatnonzero(np.abs(sums - 1.0) > _WEIGHT_SUM_TOL)
    if bad.size:
        raise ValueError(
            f"each period's weights must sum to 1; periods {bad.tolist()} sum to "
            f"{sums[bad].round(6).tolist()}"
        )
    result: FloatArray = w / sums
    return result


def group_periods(weights: npt.ArrayLike, *, atol: float = 1e-12) -> IntArray:
    """Label allocation periods so that consecutive periods with identical weights merge.

    A fixed split is then one stratum, and a bandit that did not move keeps its strata few.
    Non-consecutive periods with equal weights stay apart: the baseline may have drifted in
    between, and merging them would average over that drift.

    Parameters
    ----------
    weights
        Shape (k, p): traffic weight of each arm in each period (columns sum to 1).
    atol
        Two weights closer than this count as identical (stored weights round-trip through a
        database).

    Returns
    -------
    numpy.ndarray
        Shape (p,), int64 labels 0, 1, ... increasing by one at each change of weights.
    """
    w = validate_weights(weights)
    changed = np.any(np.abs(np.diff(w, axis=1)) > atol, axis=0)  # shape (p - 1,)
    labels: IntArray = np.concatenate(([0], np.cumsum(changed))).astype(np.int64)
    return labels


def comparison_support(cells: MetricCells) -> BoolArray:
    """Periods usable for comparing the arms of ``cells``, shape (p,).

    A period is in the support when every arm that has any matured unit at all has at least one
    matured unit in it (arms with no data are left out so that a brand-new arm does not erase
    the others' estimates; they get NaN).
    """
    has = cells.n > 0
    active = has.any(axis=1)
    if not active.any():
        return np.zeros(cells.n_periods, dtype=np.bool_)
    support: BoolArray = np.all(has[active], axis=0)
    return support


def period_weights(cells: MetricCells, support: BoolArray | None = None) -> FloatArray:
    """Post-stratification weights ``w_p = N_p / N`` over the support, shape (p,).

    ``N_p`` counts the matured units of period ``p`` over all arms; periods outside the support
    get weight 0 and the others are renormalised. All zeros when nothing is left.
    """
    if support is None:
        support = comparison_support(cells)
    units = np.where(support, cells.n.sum(axis=0), 0.0)
    total = units.sum()
    result: FloatArray = units / total if total > 0 else np.zeros_like(units)
    return result


@dataclass(frozen=True, eq=False)
class CellVariances:
    """Per-unit outcome variance in each cell after the small-cell rules.

    Attributes
    ----------
    s2
        Shape (k, p): variance of one unit's outcome in the cell (NaN if not estimable).
    pooled
        Shape (k, p): True where ``s2`` is the arm's pooled value (a small or degenerate cell).
    cell_df
        Shape (k, p): degrees of freedom of a cell's own variance (``n - 1``; inf for binary).
    arm_df
        Shape (k,): degrees of freedom of each arm's pooled variance (inf for binary).
    """

    s2: FloatArray
    pooled: BoolArray
    cell_df: FloatArray
    arm_df: FloatArray


def cell_variances(cells: MetricCells, *, small_cell: int = SMALL_CELL) -> CellVariances:
    """Per-unit variances of the cells with the module's small-cell rules.

    Binary: ``p_hat (1 - p_hat)`` (the Wald / maximum-likelihood variance), or the arm's pooled
    ``r (1 - r)`` in cells with fewer than ``small_cell`` units or a rate of 0 or 1.
    Means: the sample variance ``SS / (n - 1)``, or the arm's pooled within-period variance
    ``sum_p SS_ap / sum_p (n_ap - 1)`` in cells with fewer than ``max(small_cell, 2)`` units.
    """
    n = cells.n
    with np.errstate(invalid="ignore", divide="ignore"):
        if cells.binary:
            rate = np.where(n > 0, cells.total / n, np.nan)
            arm_n = n.sum(axis=1)
            arm_rate = np.where(arm_n > 0, cells.total.sum(axis=1) / arm_n, np.nan)
            small = (n < small_cell) | (rate <= 0.0) | (rate >= 1.0)
            s2 = np.where(small, (arm_rate * (1.0 - arm_rate))[:, None], rate * (1.0 - rate))
            inf_k = np.full(cells.n_arms, np.inf)
            return CellVariances(s2, small & (n > 0), np.full(n.shape, np.inf), inf_k)
        # Within-cell sum of squares; clipped because the one-pass formula can dip below 0.
        ss = np.where(
            n > 0, np.maximum(cells.total_sq - cells.total**2 / np.where(n > 0, n, 1), 0.0), 0.0
        )
        own_df = np.maximum(n - 1.0, 0.0)
        arm_df = own_df.sum(axis=1)
        arm_s2 = np.where(arm_df > 0, ss.sum(axis=1) / arm_df, np.nan)
        small = n < max(small_cell, 2)
        s2 = np.where(small, arm_s2[:, None], ss / np.where(own_df > 0, own_df, 1.0))
        return CellVariances(s2, small & (n > 0), own_df, arm_df)


@dataclass(frozen=True, eq=False)
class StratifiedEstimate:
    """Post-stratified mean of each arm.

    Attributes
    ----------
    mean
        Shape (k,): ``sum_p w_p ybar_ap``; NaN for an arm with no matured unit.
    variance
        Shape (k,): ``sum_p w_p**2 s2_ap / n_ap`` (variance of ``mean``).
    weights
        Shape (p,): ``w_p = N_p / N`` over the support, 0 for dropped periods.
    """

    mean: FloatArray
    variance: FloatArray
    weights: FloatArray


def stratified_estimate(cells: MetricCells, *, small_cell: int = SMALL_CELL) -> StratifiedEstimate:
    """Post-stratified mean and its variance per arm (Miratrix, Sekhon & Yu 2013).

    Parameters
    ----------
    cells
        Shape (k, p) sufficient statistics; periods should already be grouped into strata
        (``cells.take_periods(group_periods(weights))``), though finer strata are also valid.
    small_cell
        Cells with fewer units borrow the arm's pooled variance (see module docstring).

    Returns
    -------
    StratifiedEstimate
        Means and variances of shape (k,) on the common support of all arms with data.
    """
    support = comparison_support(cells)
    w = period_weights(cells, support)
    var = cell_variances(cells, small_cell=small_cell)
    used = support[None, :] & (cells.n > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ybar = np.where(used, cells.total / np.where(used, cells.n, 1.0), 0.0)
        term_var = np.where(used, var.s2 / np.where(used, cells.n, 1.0), 0.0)
    has_data = cells.n.sum(axis=1) > 0
    mean = np.where(has_data, ybar @ w, np.nan)
    variance = np.where(has_data, term_var @ (w**2), np.nan)
    return StratifiedEstimate(mean=mean, variance=variance, weights=w)


@dataclass(frozen=True, eq=False)
class StratifiedDifference:
    """Stratified difference ``arm - reference`` on the pair's own support.

    Attributes
    ----------
    diff
        ``sum_p w_p (ybar_arm,p - ybar_ref,p)``; NaN when the pair shares no period.
    variance
        ``sum_p w_p**2 (s2_arm,p / n_arm,p + s2_ref,p / n_ref,p)``.
    df
        Welch-Satterthwaite degrees of freedom of ``variance`` (inf for a binary metric).
    weights
        Shape (p,): the pair's stratum weights (0 outside its support).
    """

    diff: float
    variance: float
    df: float
    weights: FloatArray


def stratified_difference(
    cells: MetricCells, *, arm: int, reference: int, small_cell: int = SMALL_CELL
) -> StratifiedDifference:
    """Difference of two arms' post-stratified means, with variance and Welch df.

    The support is that of the pair alone: a period where a third arm had no unit still counts.
    Degrees of freedom follow Welch (1947) / Satterthwaite (1946)::

        df = V**2 / (sum_own (c s2)**2 / (n - 1) + sum_arms (C_a s2_pooled_a)**2 / df_a)

    where own-variance cells enter one by one and the cells that share an arm's pooled
    variance enter as one term (they share one estimate, so their errors are not independent).
    With one stratum this is exactly Welch's unequal-variance t-test.
    """
    pair = cells.take_arms([arm, reference])
    est = stratified_estimate(pair, small_cell=small_cell)
    w = est.weights
    if not (np.isfinite(est.mean).all() and w.sum() > 0):
        return StratifiedDifference(np.nan, np.nan, np.nan, w)
    diff = float(est.mean[0] - est.mean[1])
    variance = float(est.variance.sum())
    if pair.binary:
        return StratifiedDifference(diff, variance, np.inf, w)
    var = cell_variances(pair, small_cell=small_cell)
    used = (w > 0)[None, :] & (pair.n > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        coef = np.where(used, w[None, :] ** 2 / np.where(used, pair.n, 1.0), 0.0)  # (2, p)
        own = used & ~var.pooled
        own_terms = np.where(own, coef * var.s2, 0.0)
        own_part = np.sum(np.where(own, own_terms**2 / np.where(own, var.cell_df, 1.0), 0.0))
        pooled_terms = np.sum(np.where(used & var.pooled, coef * var.s2, 0.0), axis=1)  # (2,)
        pooled_part = np.sum(np.where(pooled_terms > 0, pooled_terms**2 / var.arm_df, 0.0))
    denominator = float(own_part + pooled_part)
    df = variance**2 / denominator if denominator > 0 and np.isfinite(variance) else np.nan
    return StratifiedDifference(diff, variance, float(df), w)
