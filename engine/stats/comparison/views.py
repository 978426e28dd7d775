"""What each school reads off the one estimate: Holm-adjusted p-values across challengers
(frequentist) and P(best) across arms (Bayesian), both from :class:`Comparison`."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.stats.comparison.cells import FloatArray
from engine.stats.comparison.estimate import Comparison


def holm(p_values: npt.ArrayLike) -> FloatArray:
    """Holm-adjusted p-values, shape (m,), in the input order (Holm 1979, "A simple
    sequentially rejective multiple test procedure", Scand. J. Statist. 6).

    With the p-values sorted, ``p_holm_(i) = min(1, max_{j <= i} (m - j + 1) p_(j))``. Equal to
    ``statsmodels.stats.multitest.multipletests(p, method="holm")[1]`` (tested), written out
    because statsmodels' Holm branch runs ``gc.collect()`` on every call.
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must be a 1-D array of numbers in [0, 1]")
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * np.arange(p.size, 0, -1))
    result = np.empty(p.size, dtype=np.float64)
    result[order] = np.minimum(stepped, 1.0)
    return result


def holm_adjusted(comparison: Comparison) -> FloatArray:
    """Shape (K,): Holm-adjusted p-values over the challengers with figures; NaN elsewhere."""
    p = comparison.p_value()
    if p.ndim != 1:
        raise ValueError("holm_adjusted takes one experiment (no batch axis)")
    tested = np.isfinite(p)
    result = np.full(p.shape, np.nan)
    if tested.any():
        result[tested] = holm(p[tested])
    return result


def prob_best(
    comparison: Comparison,
    *,
    champion: int,
    higher_is_better: bool = True,
    rng: np.random.Generator,
    draws: int = 20_000,
) -> FloatArray:
    """Shape (K,): posterior probability that each arm is the best, NaN for arms without figures.

    The challengers' estimates are jointly normal; two of them are correlated through the
    champion's per-stratum means they share, ``Cov(theta_j, theta_k) = sum_s w_js w_ks V_cs``
    (``V_cs`` the champion's variance in stratum ``s``), which the draws respect. The champion's
    value is 0 (every estimate is relative to it). Ties share the win.
    """
    est = comparison.estimate
    if est.ndim != 1:
        raise ValueError("prob_best takes one experiment (no batch axis)")
    arms = np.flatnonzero(comparison.informative)
    result = np.full(est.shape, np.nan)
    if arms.size == 0:
        return result
    w = comparison.weights[:, arms]  # (S, m)
    v = comparison.champion_variance[:, arms]
    shared = np.sqrt(v[:, :, None] * v[:, None, :])  # same stratum, both pairs' champion
    cov = np.einsum("sj,sk,sjk->jk", w, w, shared)
    np.fill_diagonal(cov, comparison.variance[arms])
    values, vectors = np.linalg.eigh(cov)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))  # cov = root @ root.T, PSD-safe
    sample = est[arms] + rng.standard_normal((draws, arms.size)) @ root.T
    sign = 1.0 if higher_is_better else -1.0
    table = np.column_stack([np.zeros(draws), sign * sample])  # column 0: the champion
    top = table == table.max(axis=1, keepdims=True)
    wins = (top / top.sum(axis=1, keepdims=True)).mean(axis=0)
    result[champion] = wins[0]
    result[arms] = wins[1:]
    return result
