"""Per-segment Thompson sampling with shrinkage towards the pooled posterior (pure functions).

The best dunning arm differs by debtor type (PAIR Finance's 16 types), but most of the 16 cells
are small. Each segment's rate is therefore given a prior centred on the pooled rate of the arm
(all segments together) with a strength of ``kappa`` pseudo-units, the beta-binomial hierarchical
model (Gelman et al., *Bayesian Data Analysis*, 3rd ed., sec. 5.3)::

    m_a        = (a0 + S_a) / (a0 + b0 + N_a)            pooled posterior mean of arm a
    theta_sa   ~ Beta(kappa m_a + s_sa, kappa (1 - m_a) + f_sa)

A small segment stays near the pooled rate; a large one follows its own data. The weights of a
segment are P(arm is best | segment) by Monte Carlo, batch Thompson sampling (Thompson 1933)
within the segment, all segments in one vectorised draw.

Choice of kappa
---------------
``kappa`` is either fixed in the experiment's configuration or, by default, estimated by
empirical Bayes with the method of moments (Kleinman 1973, "Proportions with extraneous
variance", JASA 68): the spread of the segment rates around the pooled rate, minus the binomial
noise expected from the segment sizes, estimates the between-segment variance ``tau2_a``; a
Beta with mean ``m`` and variance ``tau2`` has ``kappa = m (1 - m) / tau2 - 1``. One ``kappa`` is
shared by all arms (the moment equations are pooled over arms, which is stabler with few
segments) and clipped to ``[kappa_min, kappa_max]``: segments that do not differ give
``kappa_max`` (near-complete pooling), segments that differ a lot give little shrinkage. The
pooled mean includes the segment's own data; with 16 segments the double counting is small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.assignment import unit_uniforms
from engine.policy.holdout import ConstrainedWeights, holdout_member
from engine.policy.thompson import DEFAULT_DRAWS, DEFAULT_PRIOR, Prior, beta_posterior

FloatArray = npt.NDArray[np.float64]

KAPPA_MIN = 2.0
KAPPA_MAX = 10_000.0
_MAX_CELL_DRAWS = 20_000_000  # draws * segments * arms held at once (~160 MB of float64)


@dataclass(frozen=True, eq=False)
class SegmentWeights:
    """Per-segment weights and the evidence behind them.

    Attributes
    ----------
    weights
        Shape (s, k): P(best | segment), each row summing to 1.
    p_best
        Shape (s, k): same as ``weights`` (kept apart for symmetry with other policies).
    alpha, beta
        Shape (s, k): shrunk Beta posterior parameters per segment and arm.
    pooled_mean
        Shape (k,): pooled posterior mean per arm, the centre of the segment priors.
    kappa
        Prior strength (pseudo-units) used.
    kappa_source
        ``"config"`` or ``"empirical-bayes"``.
    draws
        Joint posterior draws per segment.
    reason
        One line for the audit trail.
    """

    weights: FloatArray
    p_best: FloatArray
    alpha: FloatArray
    beta: FloatArray
    pooled_mean: FloatArray
    kappa: float
    kappa_source: str
    draws: int
    reason: str


def empirical_bayes_kappa(
    successes: npt.ArrayLike,
    failures: npt.ArrayLike,
    *,
    kappa_min: float = KAPPA_MIN,
    kappa_max: float = KAPPA_MAX,
) -> float:
    """Method-of-moments prior strength of the beta-binomial model (Kleinman 1973).

    Parameters
    ----------
    successes, failures
        Shape (s, k): counts per segment and arm.
    kappa_min, kappa_max
        Clip range of the estimate.

    Notes
    -----
    For arm ``a`` with segment weights ``w_s = n_s / N``, rates ``r_s`` and pooled rate ``m``,
    ``E[sum_s w_s (r_s - m)^2] = sum_s (w_s - w_s^2) Var(r_s)`` with
    ``Var(r_s) = tau2 (1 - 1/n_s) + m (1 - m) / n_s``; solving for ``tau2`` gives the estimate.
    Pooled over arms: ``kappa = sum_a m_a (1 - m_a) / sum_a tau2_a - 1``.
    """
    s = np.asarray(successes, dtype=np.float64)
    n = s + np.asarray(failures, dtype=np.float64)
    if s.ndim != 2:
        raise ValueError(f"counts must have shape (segments, arms), got {s.shape}")
    big_n = n.sum(axis=0)  # (k,)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.where(big_n > 0, s.sum(axis=0) / big_n, 0.0)
        w = np.where(big_n > 0, n / big_n, 0.0)
        r = np.where(n > 0, s / n, 0.0)
        inv_n = np.where(n > 0, 1.0 / n, 0.0)
    v = np.sum(w * (r - m) ** 2, axis=0)
    ww = w - w**2
    noise = m * (1 - m) * np.sum(ww * inv_n, axis=0)
    scale = np.sum(ww * (1.0 - inv_n), axis=0)
    usable = scale > 0
    tau2 = np.where(usable, (v - noise) / np.where(usable, scale, 1.0), 0.0)
    between = float(np.sum(np.maximum(tau2[usable], 0.0)))
    spread = float(np.sum((m * (1 - m))[usable]))
    if between <= 0.0 or spread <= 0.0:
        return float(kappa_max)
    return float(np.clip(spread / between - 1.0, kappa_min, kappa_max))


def segment_p_best(
    alpha: npt.NDArray[np.float64],
    beta: npt.NDArray[np.float64],
    *,
    draws: int,
    rng: np.random.Generator,
) -> FloatArray:
    """P(best) per segment from independent Beta posteriors, shape (s, k), vectorised.

    Draws are made in chunks of segments so at most ~20 million numbers are in memory.
    """
    n_seg, k = alpha.shape
    out = np.empty((n_seg, k), dtype=np.float64)
    step = max(1, _MAX_CELL_DRAWS // max(1, draws * k))
    for start in range(0, n_seg, step):
        a, b = alpha[start : start + step], beta[start : start + step]
        samples = rng.beta(a, b, size=(draws, *a.shape))  # (draws, chunk, k)
        winners = np.argmax(samples, axis=2)  # (draws, chunk)
        flat = winners + k * np.arange(a.shape[0])[None, :]
        counts = np.bincount(flat.ravel(), minlength=a.shape[0] * k)
        out[start : start + step] = counts.reshape(a.shape[0], k) / draws
    return out


def segment_weights(
    successes: npt.ArrayLike,
    failures: npt.ArrayLike,
    *,
    prior: Prior = DEFAULT_PRIOR,
    kappa: float | None = None,
    draws: int = DEFAULT_DRAWS,
    rng: np.random.Generator,
) -> SegmentWeights:
    """Thompson sampling per segment with shrinkage towards the pooled posterior.

    Parameters
    ----------
    successes, failures
        Shape (s, k): matured successes and failures per segment and arm.
    prior
        Beta(a0, b0) prior of the pooled rate of each arm.
    kappa
        Strength of the pooled prior in pseudo-units (> 0); None estimates it by empirical
        Bayes (:func:`empirical_bayes_kappa`).
    draws
        Joint posterior draws per segment.
    rng
        Generator seeded by the caller.

    Returns
    -------
    SegmentWeights
        Weights of shape (s, k); apply :func:`engine.policy.holdout.apply_constraints` (it
        accepts (s, k)) for floors.
    """
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    s = np.asarray(successes, dtype=np.float64)
    f = np.asarray(failures, dtype=np.float64)
    beta_posterior(s, f, prior=prior)  # validates counts and prior
    if s.ndim != 2:
        raise ValueError(f"successes must have shape (segments, arms), got {s.shape}")
    if kappa is not None and not (np.isfinite(kappa) and kappa > 0):
        raise ValueError(f"kappa must be > 0, got {kappa}")
    a0, b0 = prior
    pooled_mean = (a0 + s.sum(axis=0)) / (a0 + b0 + (s + f).sum(axis=0))
    source = "config" if kappa is not None else "empirical-bayes"
    k_used = float(kappa) if kappa is not None else empirical_bayes_kappa(s, f)
    alpha = k_used * pooled_mean[None, :] + s
    beta = k_used * (1.0 - pooled_mean)[None, :] + f
    p_best = segment_p_best(alpha, beta, draws=draws, rng=rng)
    reason = (
        f"per-segment thompson: {s.shape[0]} segments, {draws} draws each; shrinkage towards "
        f"the pooled posterior with kappa={k_used:.4g} ({source})"
    )
    return SegmentWeights(
        p_best.copy(), p_best, alpha, beta, pooled_mean, k_used, source, draws, reason
    )


def assign_segments(
    ids: npt.ArrayLike,
    segment: npt.ArrayLike,
    *,
    salt: str,
    constrained: ConstrainedWeights,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_], FloatArray]:
    """Assign a batch with one weight row per segment, vectorised over debtors.

    Parameters
    ----------
    ids
        Shape (n,): debtor ids.
    segment
        Shape (n,): segment index of each debtor, into the rows of ``constrained.bandit``.
    salt
        Experiment salt; the arm uses the same hash uniform as :func:`engine.assignment.assign`.
    constrained
        Weights of shape (s, k) from :func:`engine.policy.holdout.apply_constraints`.

    Returns
    -------
    (arm_index, holdout, propensity)
        Shape (n,) each; ``propensity`` is the overall probability of the debtor's arm in its
        segment (holdout membership included).
    """
    table = np.asarray(constrained.bandit, dtype=np.float64)
    if table.ndim != 2:
        raise ValueError("assign_segments needs weights of shape (segments, k)")
    seg = np.asarray(segment, dtype=np.intp)
    if seg.ndim != 1 or np.any(seg < 0) or np.any(seg >= table.shape[0]):
        raise ValueError(f"segment indices must be within 0..{table.shape[0] - 1}")
    u = unit_uniforms(ids, salt=salt)
    if u.shape != seg.shape:
        raise ValueError(f"{u.size} ids but {seg.size} segment indices")
    member = holdout_member(ids, salt=salt, share=constrained.holdout_share)
    rows = np.where(member[:, None], constrained.holdout[None, :], table[seg])
    edges = np.cumsum(rows, axis=1)
    edges[:, -1] = 1.0  # round-off guard, as in engine.assignment.arms_from_uniforms
    arm = np.sum(u[:, None] >= edges, axis=1).astype(np.intp)
    # An arm of weight 0 is never chosen: step back over zero-weight arms at the top end.
    last_positive = rows.shape[1] - 1 - np.argmax(rows[:, ::-1] > 0, axis=1)
    arm = np.minimum(arm, last_positive).astype(np.intp)
    overall = np.asarray(constrained.overall, dtype=np.float64)[seg]
    propensity: FloatArray = overall[np.arange(seg.size), arm]
    return arm, member, propensity


def segment_index(labels: npt.ArrayLike, segments: Sequence[str]) -> npt.NDArray[np.intp]:
    """Map labels (n,) to indices into ``segments``; ``ValueError`` on unknown labels."""
    lab = np.asarray(labels)
    keys = np.asarray(segments)
    order = np.argsort(keys)
    pos = np.searchsorted(keys[order], lab)
    pos = np.minimum(pos, keys.size - 1)
    found = keys[order][pos] == lab
    if not np.all(found):
        raise ValueError(f"unknown segments {sorted(set(lab[~found].tolist()))[:5]}")
    result: npt.NDArray[np.intp] = order[pos].astype(np.intp)
    return result
