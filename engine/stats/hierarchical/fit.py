"""Public entry point of the hierarchical model: :func:`fit_segments`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import MappingProxyType
from typing import Literal

import numpy as np
import numpy.typing as npt

from engine.stats.hierarchical.exact import EDGE_DENSITY_MAX, GRID_POINTS, _fit_exact
from engine.stats.hierarchical.mcmc import _fit_mcmc
from engine.stats.hierarchical.model import _validate
from engine.stats.hierarchical.result import Method, NotConvergedError, SegmentFit

# ---------------------------------------------------------------------------------------------
# Public entry point
# ---------------------------------------------------------------------------------------------


def fit_segments(
    successes: npt.ArrayLike,
    n: npt.ArrayLike,
    *,
    segments: Sequence[str],
    arms: Sequence[str],
    seed: int,
    method: Method = "auto",
    level: float = 0.95,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    cores: int | None = None,
    pbest_draws: int = 20_000,
    grid_points: int = GRID_POINTS,
    on_failure: Literal["raise", "return"] = "raise",
) -> SegmentFit:
    """Fit the hierarchical Beta-Binomial model (module docstring) to a segment x arm table.

    Parameters
    ----------
    successes, n : array_like, shape (s, k)
        Whole-number counts per (segment, arm): payers on time and matured units. Empty cells
        (``n = 0``) are allowed and get the arm's pooled estimate.
    segments, arms : sequence of str
        Labels of the rows (e.g. the 16 debtor types) and columns (arms); unique.
    seed : int
        Seed of every random draw (sampler, P(best) draws); recorded in the result.
    method : {"auto", "exact", "nuts", "nutpie"}
        ``"auto"`` is ``"exact"`` (grid integration of the hyperparameters, conjugate thetas).
        ``"nuts"``: PyMC's NUTS; ``"nutpie"``: nutpie (needs the optional ``nutpie`` package).
    level : float
        Credible level of the equal-tailed intervals.
    draws, tune, chains, cores : int
        MCMC settings (ignored by the exact path).
    pbest_draws : int
        Exact path: Monte Carlo draws for P(best) (standard error <= 0.5 / sqrt(draws)).
    grid_points : int
        Exact path: grid points per hyperparameter axis (two axes per arm).
    on_failure : {"raise", "return"}
        What to do with a fit that failed its convergence check: raise
        :class:`NotConvergedError` (default), or return it with ``converged=False`` and
        ``reason`` set, for a batch job that must carry on (the caller must check).

    Returns
    -------
    SegmentFit

    Raises
    ------
    ValueError
        On inconsistent input (shapes, counts, labels, settings).
    NotConvergedError
        When the fit did not converge and ``on_failure="raise"``.
    """
    start = time.perf_counter()
    y, m = _validate(successes, n, segments, arms)
    if method not in ("auto", "exact", "nuts", "nutpie"):
        raise ValueError(f"unknown method {method!r}; use auto, exact, nuts or nutpie")
    if not 0.0 < level < 1.0:
        raise ValueError("level must be in (0, 1)")
    if seed < 0:
        raise ValueError("seed must be >= 0")
    if on_failure not in ("raise", "return"):
        raise ValueError("on_failure must be 'raise' or 'return'")
    if method in ("auto", "exact"):
        if pbest_draws < 1 or grid_points < 8:
            raise ValueError("need pbest_draws >= 1 and grid_points >= 8")
        means, low, high, p_best, pooled, diagnostics, ok = _fit_exact(
            y, m, seed=seed, level=level, pbest_draws=pbest_draws, points=grid_points
        )
        used = "exact"
        reason = (
            None
            if ok
            else (
                f"hyperparameter grid did not capture the posterior (edge density "
                f"{diagnostics['max_edge_density']:.1e} > {EDGE_DENSITY_MAX:.0e} of the peak)"
            )
        )
    else:
        if draws < 1 or tune < 0 or chains < 1:
            raise ValueError("need draws >= 1, tune >= 0, chains >= 1")
        means, low, high, p_best, pooled, diagnostics, reason = _fit_mcmc(
            y,
            m,
            segments=segments,
            arms=arms,
            method="nutpie" if method == "nutpie" else "nuts",
            seed=seed,
            level=level,
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
        )
        used = method
    best = tuple(arms[int(i)] for i in np.argmax(p_best, axis=1))
    for array in (means, low, high, p_best, pooled):
        array.flags.writeable = False  # the result is a frozen value
    fit = SegmentFit(
        segments=tuple(segments),
        arms=tuple(arms),
        means=means,
        low=low,
        high=high,
        p_best=p_best,
        best_arm=best,
        pooled_means=pooled,
        method=used,
        seconds=time.perf_counter() - start,
        diagnostics=MappingProxyType(diagnostics),
        converged=reason is None,
        reason=reason,
        seed=seed,
        level=level,
    )
    if reason is not None and on_failure == "raise":
        raise NotConvergedError(fit)
    return fit
