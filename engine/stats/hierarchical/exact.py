"""Exact path of the hierarchical model: hyperparameters on a grid, theta a Beta mixture.

See the "Fitting methods" section of :mod:`engine.stats.hierarchical` (BDA3 sec. 5.3).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from engine.stats.hierarchical.result import FloatArray, _p_best_from_draws

# Agreement of the exact path with MCMC on the same model, checked by the slow tests.
MEAN_TOLERANCE = 0.005
INTERVAL_TOLERANCE = 0.01

# Grid of the exact path: points per axis, the relative density allowed on an open edge, and the
# support of log v (v = kappa^-1/2 in [1e-5, 1], i.e. 1 <= kappa <= 1e10).
GRID_POINTS = 48
EDGE_DENSITY_MAX = 1e-9
_LOG_EDGE = math.log(EDGE_DENSITY_MAX)
LOG_V_MIN = math.log(1e-5)
LOGIT_MU_MAX = 30.0
_MAX_GRID_ROUNDS = 12


# ---------------------------------------------------------------------------------------------
# Exact path: hyperparameters on a grid, theta a Beta mixture (BDA3 sec. 5.3)
# ---------------------------------------------------------------------------------------------


def _hyper(
    logit_mu: FloatArray, log_v: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(mu, kappa, alpha, beta) from the unconstrained coordinates."""
    mu = special.expit(logit_mu)
    kappa = np.exp(-2.0 * log_v)
    # expit(-x) rather than 1 - mu keeps beta accurate when mu is close to 1.
    return mu, kappa, mu * kappa, special.expit(-logit_mu) * kappa


def _log_posterior(
    logit_mu: FloatArray, log_v: FloatArray, y: FloatArray, n: FloatArray
) -> FloatArray:
    """Unnormalised log p(logit mu, log v | y) for one arm, shape of ``logit_mu``.

    BDA3 eq. 5.8: prod_s B(alpha + y_s, beta + n_s - y_s) / B(alpha, beta), times the flat prior
    on (mu, v) and the Jacobian mu (1 - mu) v of the change to (logit mu, log v).
    """
    _, _, alpha, beta = _hyper(logit_mu, log_v)
    a = alpha[..., None]
    b = beta[..., None]
    lik = special.betaln(a + y, b + n - y) - special.betaln(a, b)
    log_jac = -np.logaddexp(0.0, -logit_mu) - np.logaddexp(0.0, logit_mu) + log_v
    result: FloatArray = lik.sum(axis=-1) + log_jac
    return result


@dataclass(frozen=True)
class _ArmGrid:
    """Mixture representation of one arm's posterior: weights over grid points."""

    weights: FloatArray  # (G,)
    alpha: FloatArray  # (G, S) posterior Beta parameters per grid point and segment
    beta: FloatArray  # (G, S)
    mu: FloatArray  # (G,)
    edge_density: float  # largest relative density on an open edge
    ok: bool


def _curvature_sd(
    f: Callable[[FloatArray], float], x: FloatArray, i: int, lo: float, hi: float
) -> float:
    """Conditional posterior sd along coordinate ``i`` from the curvature at ``x``."""
    h = 1e-3
    xm, xp = x.copy(), x.copy()
    xm[i] = max(x[i] - h, lo)
    xp[i] = min(x[i] + h, hi)
    if xp[i] - xm[i] < h:  # at a bound: one-sided
        if xp[i] == x[i]:
            xm[i] = x[i] - 2 * h
        else:
            xp[i] = x[i] + 2 * h
    mid = 0.5 * (xm[i] + xp[i])
    xc = x.copy()
    xc[i] = mid
    step = 0.5 * (xp[i] - xm[i])
    second = (f(xp) - 2.0 * f(xc) + f(xm)) / step**2
    if not np.isfinite(second) or second >= -1e-12:
        return math.inf
    return float(1.0 / math.sqrt(-second))


def _fit_arm_exact(y: FloatArray, n: FloatArray, points: int) -> _ArmGrid:
    """Grid posterior of one arm's (logit mu, log v), placed and widened adaptively."""

    def neg(x: FloatArray) -> float:
        return -float(_log_posterior(np.array([x[0]]), np.array([x[1]]), y, n)[0])

    pooled = (y.sum() + 0.5) / (n.sum() + 1.0)
    bounds = [(-LOGIT_MU_MAX, LOGIT_MU_MAX), (LOG_V_MIN, 0.0)]
    x0 = np.array([special.logit(pooled), math.log(0.3)])
    # Nelder-Mead: two parameters, no gradient needed, and no BLAS threads to contend for.
    res = optimize.minimize(
        neg, x0, method="Nelder-Mead", bounds=bounds, options={"xatol": 1e-4, "fatol": 1e-6}
    )
    mode = np.asarray(res.x, dtype=np.float64)

    def logp(x: FloatArray) -> float:
        return -neg(x)

    box = []
    for i, (lo, hi) in enumerate(bounds):
        sd = _curvature_sd(logp, mode, i, lo, hi)
        width = 7.0 * sd if math.isfinite(sd) else hi - lo
        box.append([max(lo, mode[i] - width), min(hi, mode[i] + width)])

    edge = math.inf
    refined = False
    for _ in range(_MAX_GRID_ROUNDS):
        axes = [lo + (np.arange(points) + 0.5) * (hi - lo) / points for lo, hi in box]
        gm, gv = np.meshgrid(axes[0], axes[1], indexing="ij")
        lp = _log_posterior(gm, gv, y, n)
        peak = float(lp.max())
        rel = lp - peak
        # Open edges (not a support bound) must carry negligible density; else widen them.
        edge_vals = {
            (0, 0): rel[0, :].max(),
            (0, 1): rel[-1, :].max(),
            (1, 0): rel[:, 0].max(),
            (1, 1): rel[:, -1].max(),
        }
        grown = False
        edge = -math.inf
        for (axis, side), value in edge_vals.items():
            lo_bound, hi_bound = bounds[axis]
            at_bound = box[axis][side] == (lo_bound if side == 0 else hi_bound)
            if at_bound:
                continue
            edge = max(edge, float(value))
            if value > _LOG_EDGE:
                width = box[axis][1] - box[axis][0]
                if side == 0:
                    box[axis][0] = max(lo_bound, box[axis][0] - 0.5 * width)
                else:
                    box[axis][1] = min(hi_bound, box[axis][1] + 0.5 * width)
                grown = True
        # Resolution: a grid step must not exceed the posterior sd along either axis (the
        # midpoint rule on a smooth, fast-decaying integrand is then accurate to ~1e-8).
        # Widening only ever follows, so the two rules cannot oscillate.
        w = np.exp(rel)
        w /= w.sum()
        shrunk = False
        if not grown and not refined:
            for axis, grid in enumerate((gm, gv)):
                mean = float((w * grid).sum())
                sd = math.sqrt(max(float((w * (grid - mean) ** 2).sum()), 0.0))
                step = (box[axis][1] - box[axis][0]) / points
                if sd < step:
                    lo_bound, hi_bound = bounds[axis]
                    box[axis] = [max(lo_bound, mean - 8.0 * sd), min(hi_bound, mean + 8.0 * sd)]
                    shrunk = refined = True
        if not grown and not shrunk:
            break
    ok = edge <= _LOG_EDGE and not grown
    keep = rel.ravel() > -40.0  # weights below e^-40 of the peak change nothing
    mu, _, alpha, beta = _hyper(gm.ravel()[keep], gv.ravel()[keep])
    weights = np.exp(rel.ravel()[keep])
    weights /= weights.sum()
    return _ArmGrid(
        weights=weights,
        alpha=alpha[:, None] + y[None, :],
        beta=beta[:, None] + (n - y)[None, :],
        mu=mu,
        edge_density=math.exp(edge) if edge > -math.inf else 0.0,
        ok=ok,
    )


def _mixture_quantiles(grid: _ArmGrid, probs: FloatArray) -> FloatArray:
    """Quantiles of each segment's Beta mixture, shape (len(probs), S).

    Safeguarded Newton on F(x) = sum_g w_g I_x(alpha_g, beta_g): a Newton step that leaves the
    current bracket is replaced by bisection, so it always converges.
    """
    # Components below 1e-12 of the total weight move the CDF by < 1e-9 in all: drop them.
    keep = grid.weights > 1e-12
    w = grid.weights[keep, None, None]
    a = grid.alpha[keep, None, :]
    b = grid.beta[keep, None, :]
    q = probs[:, None]
    mean = (w * a / (a + b)).sum(axis=0)
    var = (w * (a * b / ((a + b) ** 2 * (a + b + 1.0)) + (a / (a + b)) ** 2)).sum(axis=0)
    sd = np.sqrt(np.maximum(var - mean**2, 0.0))
    x = np.clip(mean + special.ndtri(q) * sd, 1e-12, 1.0 - 1e-12)
    lo = np.zeros_like(x)
    hi = np.ones_like(x)
    log_norm = special.betaln(a, b)
    for _ in range(100):
        cdf = (w * special.betainc(a, b, x[None])).sum(axis=0)
        logpdf = (a - 1.0) * np.log(x[None]) + (b - 1.0) * np.log1p(-x[None]) - log_norm
        pdf = (w * np.exp(logpdf)).sum(axis=0)
        err = cdf - q
        done = np.abs(err) < 1e-9
        if np.all(done):
            break
        lo = np.where(err < 0, x, lo)
        hi = np.where(err > 0, x, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = x - err / pdf
        bad = ~np.isfinite(step) | (step < lo) | (step > hi)
        x = np.where(done, x, np.where(bad, 0.5 * (lo + hi), step))
        if not np.any(bad) and np.all(np.abs(err) < 1e-6):
            break  # Newton converges quadratically: this last step leaves an error << 1e-9
    result: FloatArray = x
    return result


def _fit_exact(
    y: FloatArray, n: FloatArray, *, seed: int, level: float, pbest_draws: int, points: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, dict[str, float], bool]:
    s, k = y.shape
    rng = np.random.default_rng(seed)
    tail = (1.0 - level) / 2.0
    probs = np.array([tail, 1.0 - tail])
    means = np.empty((s, k))
    low = np.empty((s, k))
    high = np.empty((s, k))
    pooled = np.empty(k)
    draws = np.empty((pbest_draws, s, k))
    edge = 0.0
    ok = True
    for j in range(k):
        grid = _fit_arm_exact(y[:, j], n[:, j], points)
        ok &= grid.ok
        edge = max(edge, grid.edge_density)
        means[:, j] = grid.weights @ (grid.alpha / (grid.alpha + grid.beta))
        low[:, j], high[:, j] = _mixture_quantiles(grid, probs)
        pooled[j] = float(grid.weights @ grid.mu)
        # Joint draws: a grid point by its posterior weight, then theta | point (conjugate Beta).
        idx = rng.choice(grid.weights.size, size=pbest_draws, p=grid.weights)
        draws[:, :, j] = rng.beta(grid.alpha[idx], grid.beta[idx])
    diagnostics = {
        "grid_points": float(points * points),
        "max_edge_density": edge,
        "pbest_draws": float(pbest_draws),
    }
    return means, low, high, _p_best_from_draws(draws), pooled, diagnostics, ok
