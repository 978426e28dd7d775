"""Thompson sampling and top-two Thompson sampling as batch weights (pure functions).

Batch Thompson sampling
-----------------------
Thompson (1933) plays each arm with the posterior probability that it is the best. A dunning
engine assigns a day's file at once and learns once a day, so the per-unit random draw is
replaced by its expectation: the share of the batch each arm receives is P(best | data), estimated
from joint posterior draws (Scott 2010; Chapelle & Li 2011, "An empirical evaluation of Thompson
sampling", NeurIPS, sec. 4, show that Thompson sampling keeps its performance when updates are
batched and delayed). Regret of per-round Thompson sampling on Bernoulli arms attains the
Lai & Robbins (1985) lower bound ``sum_a (mu* - mu_a) / KL(mu_a, mu*)`` per ``ln T``
(Agrawal & Goyal 2012, COLT; 2013, AISTATS; Kaufmann, Korda & Munos 2012).

Top-two Thompson sampling
-------------------------
For *identifying* the champion rather than minimising regret, Russo (2016, COLT; 2020,
Operations Research 68(6), "Simple Bayesian algorithms for best arm identification") plays the
Thompson leader ``I`` only with probability ``beta`` and otherwise a challenger ``J``: posterior
samples are redrawn until their argmax differs from ``I``. With ``pi = P(best)`` the challenger
given leader ``i`` is distributed as ``pi_j / (1 - pi_i)`` (``j != i``), so the probability that
arm ``a`` is played is::

    psi_a = beta * pi_a + (1 - beta) * sum_{i != a} pi_i * pi_a / (1 - pi_i)

Both ``pi`` and the challenger distribution come from the same Monte Carlo draws. ``beta = 0.5``
is Russo's default; it is within a factor 2 of the optimal exponent of the posterior
convergence rate whatever the optimal ``beta`` (Russo 2020, thm. 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.stats.binomial import posterior_draws, prob_best

FloatArray = npt.NDArray[np.float64]
Prior = tuple[float, float]

DEFAULT_DRAWS = 20_000
DEFAULT_PRIOR: Prior = (1.0, 1.0)


@dataclass(frozen=True, eq=False)
class ArmWeights:
    """Traffic weights of one allocation and the evidence behind them.

    Attributes
    ----------
    weights
        Shape (k,): share of the next batch per arm, summing to 1 (before any constraint).
    p_best
        Shape (k,): posterior probability that each arm is the best (Monte Carlo).
    alpha, beta
        Shape (k,): the Beta posterior parameters the draws came from.
    draws
        Number of joint posterior draws.
    reason
        One line for the audit trail.
    """

    weights: FloatArray
    p_best: FloatArray
    alpha: FloatArray
    beta: FloatArray
    draws: int
    reason: str


def beta_posterior(
    successes: npt.ArrayLike, failures: npt.ArrayLike, *, prior: Prior = DEFAULT_PRIOR
) -> tuple[FloatArray, FloatArray]:
    """Conjugate Beta posterior ``(a0 + s, b0 + f)`` of each arm, each shape of the inputs.

    Raises ``ValueError`` on negative or non-finite counts, mismatched shapes or a prior <= 0.
    """
    s = np.asarray(successes, dtype=np.float64)
    f = np.asarray(failures, dtype=np.float64)
    if s.shape != f.shape or s.ndim == 0 or s.shape[-1] == 0:
        raise ValueError(f"successes and failures need one shape (..., k): {s.shape}, {f.shape}")
    if not (np.isfinite(s).all() and np.isfinite(f).all()) or np.any(s < 0) or np.any(f < 0):
        raise ValueError("successes and failures must be finite and >= 0")
    a0, b0 = prior
    if not (a0 > 0 and b0 > 0):
        raise ValueError(f"prior parameters must be > 0, got {prior}")
    return a0 + s, b0 + f


def _check_draws(draws: int) -> None:
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")


def thompson_weights(
    successes: npt.ArrayLike,
    failures: npt.ArrayLike,
    *,
    prior: Prior = DEFAULT_PRIOR,
    draws: int = DEFAULT_DRAWS,
    rng: np.random.Generator,
) -> ArmWeights:
    """Batch Thompson sampling: weights = P(arm is best), by Monte Carlo (Thompson 1933).

    Parameters
    ----------
    successes, failures
        Shape (k,): matured successes and failures per arm (immature units are left out).
    prior
        Beta(a0, b0) prior of every arm's rate.
    draws
        Joint posterior draws; the Monte Carlo standard error of a weight is at most
        ``0.5 / sqrt(draws)``.
    rng
        Generator seeded by the caller, who stores the seed with the allocation.

    Returns
    -------
    ArmWeights
        ``weights == p_best``; apply :func:`engine.policy.holdout.apply_constraints` for floors.
    """
    _check_draws(draws)
    alpha, beta = beta_posterior(successes, failures, prior=prior)
    if alpha.ndim != 1:
        raise ValueError(f"successes must have shape (k,), got {alpha.shape}")
    p_best = prob_best(posterior_draws(alpha, beta, draws=draws, rng=rng))
    leader = int(np.argmax(p_best))
    reason = (
        f"thompson: P(best) from {draws} posterior draws; leader arm {leader} "
        f"(P(best)={p_best[leader]:.3f})"
    )
    return ArmWeights(p_best.copy(), p_best, alpha, beta, draws, reason)


def top_two_play_probabilities(
    samples: npt.NDArray[np.float64], *, beta: float = 0.5
) -> tuple[FloatArray, FloatArray]:
    """Probability that top-two Thompson sampling plays each arm, from joint draws.

    Parameters
    ----------
    samples
        Shape (draws, k): joint posterior draws.
    beta
        Probability of playing the leader (Russo 2020); in [0, 1].

    Returns
    -------
    (psi, pi)
        Shape (k,) each: play probabilities and P(best).

    Notes
    -----
    The challenger given leader ``i`` is ``argmax`` of a draw whose argmax is not ``i``; its
    distribution is estimated by the winners among the draws that ``i`` did not win. When ``i``
    won every draw (a resample would almost never end), the challenger is the runner-up, the
    argmax over the other arms in the same draws, the limit of the redraw rule.
    """
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be within [0, 1], got {beta}")
    draws, k = samples.shape
    pi = prob_best(samples)
    if k == 1:
        return np.ones(1), pi
    wins = pi * draws
    others = draws - wins  # draws not won by each arm, shape (k,)
    # challenger[i, j] = P(J = j | I = i) = pi_j / (1 - pi_i) for j != i.
    with np.errstate(divide="ignore", invalid="ignore"):
        challenger = np.where(others[:, None] > 0, wins[None, :] / others[:, None], 0.0)
    np.fill_diagonal(challenger, 0.0)
    for i in np.flatnonzero(others == 0):  # at most one arm: it won every draw
        masked = samples.copy()
        masked[:, i] = -np.inf
        challenger[i] = prob_best(masked)
    psi: FloatArray = beta * pi + (1.0 - beta) * (pi @ challenger)
    return psi / psi.sum(), pi


def top_two_weights(
    successes: npt.ArrayLike,
    failures: npt.ArrayLike,
    *,
    prior: Prior = DEFAULT_PRIOR,
    beta: float = 0.5,
    draws: int = DEFAULT_DRAWS,
    rng: np.random.Generator,
) -> ArmWeights:
    """Top-two Thompson sampling (Russo 2016/2020) as batch weights.

    Parameters
    ----------
    successes, failures
        Shape (k,): matured successes and failures per arm.
    prior
        Beta(a0, b0) prior of every arm's rate.
    beta
        Probability of playing the Thompson leader; 0.5 by default (Russo's recommendation).
    draws
        Joint posterior draws shared by P(best) and the challenger distribution.
    rng
        Generator seeded by the caller.

    Returns
    -------
    ArmWeights
        ``weights`` = probability that TTTS plays each arm; ``p_best`` = P(best).
    """
    _check_draws(draws)
    alpha, b = beta_posterior(successes, failures, prior=prior)
    if alpha.ndim != 1:
        raise ValueError(f"successes must have shape (k,), got {alpha.shape}")
    psi, pi = top_two_play_probabilities(posterior_draws(alpha, b, draws=draws, rng=rng), beta=beta)
    leader = int(np.argmax(pi))
    reason = (
        f"top-two thompson (beta={beta:g}): from {draws} posterior draws; leader arm {leader} "
        f"(P(best)={pi[leader]:.3f}) plays {psi[leader]:.3f}"
    )
    return ArmWeights(psi, pi, alpha, b, draws, reason)


def bernoulli_kl(p: npt.ArrayLike, q: npt.ArrayLike) -> FloatArray:
    """Kullback-Leibler divergence KL(Bernoulli(p) || Bernoulli(q)), elementwise."""
    pa = np.asarray(p, dtype=np.float64)
    qa = np.asarray(q, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(pa > 0, pa * np.log(pa / qa), 0.0)
        right = np.where(pa < 1, (1 - pa) * np.log((1 - pa) / (1 - qa)), 0.0)
    result: FloatArray = left + right
    return result


def lai_robbins_constant(means: npt.ArrayLike) -> float:
    """``sum_{a: mu_a < mu*} (mu* - mu_a) / KL(mu_a || mu*)`` for Bernoulli arms.

    Lai & Robbins (1985), "Asymptotically efficient adaptive allocation rules", Adv. Appl. Math.
    6: any uniformly good policy has ``liminf regret(T) / ln T >=`` this constant.
    """
    mu = np.asarray(means, dtype=np.float64)
    best = mu.max()
    sub = mu[mu < best]
    return float(np.sum((best - sub) / bernoulli_kl(sub, best)))
