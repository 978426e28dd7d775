"""Sample-ratio mismatch (SRM) check that knows about changing traffic weights.

A broken assignment (rows lost in an export, a filter applied to one arm only, a crash in
one channel) shows up as arm counts that do not match the traffic weights; every comparison on
such data is suspect (Fabijan et al. 2019, "Diagnosing sample ratio mismatch in online
controlled experiments", KDD). Under a bandit the weights change between allocation periods,
so the expected count of arm ``a`` is::

    E_a = sum_p N_p * w_ap

with ``N_p`` the units assigned in period ``p`` (GrowthBook's bandit SRM). Pearson's chi-square
of the observed against these expected counts, on ``k - 1`` degrees of freedom, flags below
``threshold`` (0.001 by convention, because the check runs on every update).

Given the period totals, the counts are a sum of independent multinomials; their variance
``sum_p N_p w_ap (1 - w_ap)`` is at most the single-multinomial variance ``N pbar_a (1 - pbar_a)``
that Pearson's statistic assumes (concavity of ``x (1 - x)``), so under changing weights the
test is conservative: false alarms stay at or below the nominal level, at a cost in power.

``method="multinomial"`` uses the exact covariance of that sum instead,
``S = sum_p N_p (diag(w_p) - w_p w_p')``, and the Wald statistic ``d' S^+ d`` with
``d = observed - expected`` (``S^+`` the Moore-Penrose inverse), chi-square on ``rank(S)``
degrees of freedom. With one period it *is* Pearson's statistic (the multinomial covariance's
generalised inverse is ``diag(1 / (N w))`` on vectors summing to 0); under a bandit it keeps the
nominal level and gains power (see the simulation study in ``tests/stats``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

FloatArray = npt.NDArray[np.float64]

SRM_THRESHOLD = 0.001
SrmMethod = Literal["pearson", "multinomial"]

_RANK_RTOL = 1e-9  # eigenvalues below this share of the largest count as zero


@dataclass(frozen=True, eq=False)
class SrmResult:
    """Outcome of the SRM check.

    Attributes
    ----------
    observed, expected
        Shape (k,): units per arm and their expectation under the weights.
    chi2, dof, p_value
        Pearson statistic, its degrees of freedom and p-value (inf / 0 when an arm with zero
        weight received units; NaN when there is nothing to test).
    flagged
        True when ``p_value < threshold`` (or an arm got units it had no weight for).
    reason
        Why it flagged or why nothing was tested; empty for a plain pass.
    """

    observed: FloatArray
    expected: FloatArray
    chi2: float
    dof: int
    p_value: float
    flagged: bool
    reason: str = ""


_WEIGHT_SUM_TOL = 1e-6


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


def expected_counts(assigned: npt.ArrayLike, weights: npt.ArrayLike) -> FloatArray:
    """``E_a = sum_p N_p w_ap``, shape (k,), from assigned (k, p) and weights (k, p)."""
    counts = _validate_assigned(assigned)
    w = validate_weights(weights)
    if w.shape != counts.shape:
        raise ValueError(f"assigned {counts.shape} and weights {w.shape} must share one shape")
    result: FloatArray = w @ counts.sum(axis=0)
    return result


def srm_check(
    assigned: npt.ArrayLike,
    weights: npt.ArrayLike,
    *,
    threshold: float = SRM_THRESHOLD,
    method: SrmMethod = "pearson",
) -> SrmResult:
    """Chi-square test of assigned counts against period-weighted expectations.

    Parameters
    ----------
    assigned
        Shape (k, p): units assigned per arm and allocation period (matured or not).
    weights
        Shape (k, p): traffic weight of each arm in each period; columns sum to 1.
    threshold
        Flag when the p-value is below it.
    method
        ``"pearson"`` (chi-square of pooled counts; conservative under changing weights) or
        ``"multinomial"`` (exact covariance of the per-period multinomials; see module doc).

    Returns
    -------
    SrmResult
        Per segment, call it once per segment.

    Notes
    -----
    Units in a cell whose weight is 0 (an arm that had no traffic in that period, e.g. a
    zero-weight arm) are an automatic flag with ``chi2 = inf`` and ``p_value = 0``: no sampling
    noise explains them. Arms with zero expected and zero observed count are left out of the
    test.
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    if method not in ("pearson", "multinomial"):
        raise ValueError(f"method must be 'pearson' or 'multinomial', got {method!r}")
    counts = _validate_assigned(assigned)
    expected = expected_counts(counts, weights)
    observed = counts.sum(axis=1)
    # Checked per cell, not per arm: units in a period where the arm had weight 0 are
    # impossible even if the arm had traffic in other periods.
    impossible = (validate_weights(weights) <= 0) & (counts > 0)
    if impossible.any():
        arms, periods = np.nonzero(impossible)
        return SrmResult(
            observed,
            expected,
            np.inf,
            max(int(np.count_nonzero(expected > 0)) - 1, 0),
            0.0,
            True,
            reason=(
                f"arms {sorted(set(arms.tolist()))} received units in periods "
                f"{sorted(set(periods.tolist()))} where their traffic weight was 0"
            ),
        )
    tested = expected > 0
    dof = int(tested.sum()) - 1
    if observed.sum() == 0 or dof < 1:
        return SrmResult(
            observed,
            expected,
            np.nan,
            max(dof, 0),
            np.nan,
            False,
            reason="nothing to test (no units or a single arm with traffic)",
        )
    if method == "pearson":
        chi2, p_value = sps.chisquare(observed[tested], expected[tested])
    else:
        chi2, dof, p_value = _multinomial_wald(counts, weights, observed, expected, tested)
        if dof < 1:
            return SrmResult(
                observed,
                expected,
                np.nan,
                0,
                np.nan,
                False,
                reason="nothing to test (the weights leave no freedom in the counts)",
            )
    flagged = bool(p_value < threshold)
    reason = f"p = {p_value:.3g} < {threshold:g}" if flagged else ""
    return SrmResult(observed, expected, float(chi2), dof, float(p_value), flagged, reason)


def _multinomial_wald(
    counts: FloatArray,
    weights: npt.ArrayLike,
    observed: FloatArray,
    expected: FloatArray,
    tested: npt.NDArray[np.bool_],
) -> tuple[float, int, float]:
    """Wald statistic ``d' S^+ d`` on ``rank(S)`` degrees of freedom (module docstring)."""
    w = validate_weights(weights)[tested]  # (m, p)
    units = counts.sum(axis=0)  # (p,)
    cov = np.diag(w @ units) - np.einsum("ap,bp,p->ab", w, w, units)  # (m, m)
    d = (observed - expected)[tested]
    # Eigen-decomposition instead of matrix_rank/pinv defaults: S is singular by construction
    # (counts sum to N), and its null eigenvalue comes out as rounding noise that a
    # machine-epsilon tolerance may count as a dimension.
    values, vectors = np.linalg.eigh(cov)
    keep = values > _RANK_RTOL * max(float(values.max()), 0.0)
    dof = int(keep.sum())
    if dof < 1:
        return np.nan, 0, np.nan
    projected = vectors[:, keep].T @ d
    chi2 = float(np.sum(projected**2 / values[keep]))
    return chi2, dof, float(sps.chi2.sf(chi2, dof))


def _validate_assigned(assigned: npt.ArrayLike) -> FloatArray:
    counts = np.asarray(assigned, dtype=np.float64)
    if counts.ndim != 2 or counts.size == 0:
        raise ValueError(f"assigned must have shape (arms, periods), got shape {counts.shape}")
    if not np.isfinite(counts).all() or np.any(counts < 0) or np.any(counts != np.round(counts)):
        raise ValueError("assigned must hold whole, non-negative numbers of units")
    return counts
