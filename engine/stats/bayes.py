"""Bayesian comparison of arms on period-stratified posteriors.

Posteriors
----------
*Rates* (pay-on-time, churn): each (arm, stratum) cell has a conjugate Beta posterior
(Gelman et al., *Bayesian Data Analysis*, 3rd ed., sec. 2.4). The prior Beta(a, b) is split
across the P strata as Beta(a / P, b / P) per cell, so the prior information in total is that
of one Beta(a, b) whatever the number of strata (otherwise a bandit with 60 allocation periods
would carry 60 priors' worth of pseudo-units). An arm's stratified rate is the weighted sum of
its cell draws, ``theta_a = sum_p w_p theta_ap``, with the weights of :mod:`engine.stats.strata`.

*Means* (amount collected, net value, cost): the stratified mean ``m_a`` and its variance ``V_a``
from :func:`engine.stats.strata.stratified_estimate` define a normal likelihood with plug-in
variance, ``m_a | mu_a ~ N(mu_a, V_a)`` (by the central limit theorem; the approach of
GrowthBook's gbstats for means), and a conjugate prior ``mu_a ~ N(prior_mean, prior_sd**2)``
gives ``mu_a | data ~ N((m_a / V_a + prior_mean / prior_sd**2) / prec, 1 / prec)`` with
``prec = 1 / V_a + 1 / prior_sd**2`` (BDA sec. 2.5).

Default priors are weakly informative: Beta(1, 1) for rates; for means a normal prior centred
on the grand mean of all arms (so no arm is favoured) with ``prior_sd`` ten times the standard
deviation of one unit's outcome: it carries the information of 1/100 of one unit.

Arms with no matured unit get draws from the prior (there is nothing else to say about them).

Decisions
---------
:func:`compare` turns joint draws into what a manager reads: credible intervals, absolute and
relative uplift against the champion, P(beat champion), P(best) and expected loss in the
metric's unit (Stucchio 2015, "Bayesian A/B testing at VWO"; GrowthBook's "risk").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.stats.strata import (
    SMALL_CELL,
    MetricCells,
    comparison_support,
    period_weights,
    stratified_estimate,
)

FloatArray = npt.NDArray[np.float64]

DEFAULT_DRAWS = 10_000
PRIOR_SD_SCALE = 10.0
"""Default ``prior_sd`` for means in units of the outcome's standard deviation (see module doc)."""

_MAX_CELL_DRAWS = 20_000_000  # cap on draws * arms * strata held in memory at once (~160 MB)


def rate_draws(
    cells: MetricCells,
    *,
    rng: np.random.Generator,
    draws: int = DEFAULT_DRAWS,
    prior_alpha: float = 1.0,
    prior_beta: float = 1.0,
) -> FloatArray:
    """Posterior draws of each arm's stratified rate.

    Parameters
    ----------
    cells
        Binary metric, shape (k, p) with periods grouped into strata.
    rng
        Source of randomness (seeded and recorded by the caller).
    draws
        Number of joint draws.
    prior_alpha, prior_beta
        Total prior Beta(a, b) of an arm's rate, split as Beta(a / P, b / P) over P strata.

    Returns
    -------
    numpy.ndarray
        Shape (draws, k): ``theta_a = sum_p w_p theta_ap`` with ``theta_ap`` ~
        Beta(a / P + s_ap, b / P + n_ap - s_ap) independently.
    """
    if not cells.binary:
        raise ValueError("rate_draws needs a binary metric; use mean_draws for amounts")
    _check_draws(draws)
    if prior_alpha <= 0 or prior_beta <= 0:
        raise ValueError(f"prior Beta parameters must be > 0, got ({prior_alpha}, {prior_beta})")
    support = comparison_support(cells)
    w = period_weights(cells, support)[support]  # shape (P,)
    has_data = cells.n.sum(axis=1) > 0
    k, strata = cells.n_arms, int(support.sum())
    result = np.empty((draws, k), dtype=np.float64)
    if strata > 0 and has_data.any():
        s = cells.total[has_data][:, support]
        f = cells.n[has_data][:, support] - s
        alpha = prior_alpha / strata + s  # shape (k_data, P)
        beta = prior_beta / strata + f
        chunk = max(1, _MAX_CELL_DRAWS // (alpha.size or 1))
        out = np.empty((draws, int(has_data.sum())), dtype=np.float64)
        for start in range(0, draws, chunk):  # chunks of draws bound the memory, not a unit loop
            stop = min(draws, start + chunk)
            out[start:stop] = rng.beta(alpha, beta, size=(stop - start, *alpha.shape)) @ w
        result[:, has_data] = out
    missing = ~has_data
    if missing.any():
        result[:, missing] = rng.beta(prior_alpha, prior_beta, size=(draws, int(missing.sum())))
    return result


def default_mean_prior(cells: MetricCells) -> tuple[float, float]:
    """Weakly informative ``(prior_mean, prior_sd)`` for a mean metric (see module docstring).

    The centre is the grand mean over all arms and periods; the scale ``PRIOR_SD_SCALE`` times
    the standard deviation of one unit's outcome, falling back to ``max(|mean|, 1)`` when every
    unit has the same value or there are no units.
    """
    units = float(cells.n.sum())
    if units == 0:
        return 0.0, PRIOR_SD_SCALE
    grand = float(cells.total.sum()) / units
    spread = max(float(cells.total_sq.sum()) / units - grand**2, 0.0) ** 0.5
    scale = spread if spread > 0 else max(abs(grand), 1.0)
    return grand, PRIOR_SD_SCALE * scale


def mean_draws(
    cells: MetricCells,
    *,
    rng: np.random.Generator,
    draws: int = DEFAULT_DRAWS,
    prior_mean: float | None = None,
    prior_sd: float | None = None,
    small_cell: int = SMALL_CELL,
) -> FloatArray:
    """Posterior draws of each arm's stratified mean (normal likelihood, conjugate normal prior).

    Parameters
    ----------
    cells
        Shape (k, p) with periods grouped into strata (any metric; for rates prefer
        :func:`rate_draws`).
    rng
        Source of randomness.
    draws
        Number of draws.
    prior_mean, prior_sd
        Normal prior on each arm's mean; ``None`` takes :func:`default_mean_prior`.
    small_cell
        Small-cell variance rule of :mod:`engine.stats.strata`.

    Returns
    -------
    numpy.ndarray
        Shape (draws, k), independent normal draws per arm. An arm without data, or whose
        variance cannot be estimated (fewer than two units), is drawn from the prior.
    """
    _check_draws(draws)
    default_mu, default_sd = default_mean_prior(cells)
    mu0 = default_mu if prior_mean is None else float(prior_mean)
    sd0 = default_sd if prior_sd is None else float(prior_sd)
    if not (np.isfinite(mu0) and np.isfinite(sd0) and sd0 > 0):
        raise ValueError(f"prior needs a finite mean and sd > 0, got ({mu0}, {sd0})")
    est = stratified_estimate(cells, small_cell=small_cell)
    known = np.isfinite(est.mean) & np.isfinite(est.variance)
    prior_prec = 1.0 / sd0**2
    with np.errstate(divide="ignore", invalid="ignore"):
        # A zero plug-in variance (all units equal) makes the likelihood a point mass:
        # the posterior sits on the estimate.
        data_prec = np.where(known, 1.0 / est.variance, 0.0)
        post_var = np.where(np.isinf(data_prec), 0.0, 1.0 / (data_prec + prior_prec))
        post_mean = np.where(
            np.isinf(data_prec),
            est.mean,
            (np.where(known, est.mean * data_prec, 0.0) + mu0 * prior_prec) * post_var,
        )
    result: FloatArray = post_mean + np.sqrt(post_var) * rng.standard_normal((draws, cells.n_arms))
    return result


def metric_draws(
    cells: MetricCells,
    *,
    rng: np.random.Generator,
    draws: int = DEFAULT_DRAWS,
    prior_alpha: float = 1.0,
    prior_beta: float = 1.0,
    prior_mean: float | None = None,
    prior_sd: float | None = None,
) -> FloatArray:
    """Shape (draws, k): :func:`rate_draws` for a binary metric, else :func:`mean_draws`."""
    if cells.binary:
        return rate_draws(
            cells, rng=rng, draws=draws, prior_alpha=prior_alpha, prior_beta=prior_beta
        )
    return mean_draws(cells, rng=rng, draws=draws, prior_mean=prior_mean, prior_sd=prior_sd)


@dataclass(frozen=True)
class ArmComparison:
    """One arm against the champion, from joint posterior draws.

    Uplifts are ``arm - champion`` in the metric's unit whatever the direction of "better";
    relative uplift is ``(arm - champion) / |champion|``, NaN when the champion's draws change
    sign (a ratio to something that may be zero means nothing).

    Attributes
    ----------
    arm
        Index of the arm.
    mean, low, high
        Posterior mean and equal-tailed credible interval of the arm's metric.
    uplift, uplift_low, uplift_high
        Absolute uplift vs the champion (0 for the champion).
    rel_uplift, rel_uplift_low, rel_uplift_high
        Relative uplift vs the champion (0 for the champion).
    p_beat
        P(arm is better than the champion); NaN for the champion.
    p_best
        P(arm is the best of all arms).
    expected_loss
        Expected loss of replacing the champion by this arm, ``E[max(champion - arm, 0)]``
        (higher is better) in the metric's unit; 0 for the champion.
    expected_loss_vs_best
        Expected loss of choosing this arm instead of the (unknown) best,
        ``E[max_j theta_j - theta_arm]``; for the champion it is the risk of staying.
    """

    arm: int
    mean: float
    low: float
    high: float
    uplift: float
    uplift_low: float
    uplift_high: float
    rel_uplift: float
    rel_uplift_low: float
    rel_uplift_high: float
    p_beat: float
    p_best: float
    expected_loss: float
    expected_loss_vs_best: float


def compare(
    draws: npt.ArrayLike,
    *,
    champion: int,
    higher_is_better: bool = True,
    level: float = 0.95,
) -> list[ArmComparison]:
    """Compare every arm with the champion from joint posterior draws.

    Parameters
    ----------
    draws
        Shape (draws, k): joint posterior draws of each arm's metric (e.g. :func:`rate_draws`).
    champion
        Index of the champion arm.
    higher_is_better
        False for metrics to minimise (churn, cost): P(beat), P(best) and losses flip.
    level
        Credible level of the equal-tailed intervals.

    Returns
    -------
    list of ArmComparison
        One per arm, in index order.

    Notes
    -----
    Expected loss (Stucchio 2015; GrowthBook's "risk"): with ``d = theta_arm - theta_champion``
    signed so that positive is better, the loss of choosing the arm is ``E[max(-d, 0)]``: how
    much is given up, on average over the posterior, in the worlds where the switch was a
    mistake. ``p_best`` shares a tie (identical draws) equally between the tied arms.
    """
    theta = np.asarray(draws, dtype=np.float64)
    if theta.ndim != 2 or theta.shape[0] < 2 or theta.shape[1] < 1:
        raise ValueError(f"draws must have shape (draws >= 2, arms >= 1), got {theta.shape}")
    if not np.isfinite(theta).all():
        raise ValueError("draws must be finite")
    k = theta.shape[1]
    if not 0 <= champion < k:
        raise ValueError(f"champion must be an arm index in 0..{k - 1}, got {champion}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    tails = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    sign = 1.0 if higher_is_better else -1.0

    base = theta[:, [champion]]
    uplift = theta - base  # (draws, k)
    if np.all(base > 0) or np.all(base < 0):
        with np.errstate(over="ignore", invalid="ignore"):
            relative = uplift / np.abs(base)
        # A champion with draws at ~0 (e.g. 1e-308) has no meaningful relative uplift: NaN,
        # not inf or the warnings of quantiles over infinities.
        finite = np.isfinite(relative).all(axis=0)
        safe = np.where(finite, relative, 0.0)
        rel_mean = np.where(finite, safe.mean(axis=0), np.nan)
        rel_q = np.where(finite, np.quantile(safe, tails, axis=0), np.nan)
    else:
        rel_mean = np.full(k, np.nan)
        rel_q = np.full((2, k), np.nan)
    better = sign * uplift  # > 0 where the arm beats the champion
    p_beat = np.mean(better > 0, axis=0)
    # Ties share the win: a metric that is exactly 0 for several arms (no collection case
    # outside the collection arm) must not crown the first of them.
    signed = sign * theta
    at_max = signed == signed.max(axis=1, keepdims=True)
    p_best = np.mean(at_max / at_max.sum(axis=1, keepdims=True), axis=0)
    loss = np.mean(np.maximum(-better, 0.0), axis=0)
    loss_vs_best = np.mean(np.max(sign * theta, axis=1, keepdims=True) - sign * theta, axis=0)
    mean = theta.mean(axis=0)
    q = np.quantile(theta, tails, axis=0)
    up_q = np.quantile(uplift, tails, axis=0)

    rows = []
    for a in range(k):  # a handful of arms
        is_champion = a == champion
        rows.append(
            ArmComparison(
                arm=a,
                mean=float(mean[a]),
                low=float(q[0, a]),
                high=float(q[1, a]),
                uplift=0.0 if is_champion else float(uplift[:, a].mean()),
                uplift_low=0.0 if is_champion else float(up_q[0, a]),
                uplift_high=0.0 if is_champion else float(up_q[1, a]),
                rel_uplift=0.0 if is_champion else float(rel_mean[a]),
                rel_uplift_low=0.0 if is_champion else float(rel_q[0, a]),
                rel_uplift_high=0.0 if is_champion else float(rel_q[1, a]),
                p_beat=float("nan") if is_champion else float(p_beat[a]),
                p_best=float(p_best[a]),
                expected_loss=0.0 if is_champion else float(loss[a]),
                expected_loss_vs_best=float(loss_vs_best[a]),
            )
        )
    return rows


def _check_draws(draws: int) -> None:
    if draws < 2:
        raise ValueError(f"need at least 2 draws, got {draws}")
