"""MCMC paths of the hierarchical model (PyMC NUTS, nutpie) and their convergence check.

PyMC, ArviZ and nutpie are imported lazily inside the functions that need them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from engine.stats.hierarchical.model import _nutpie_compiled, build_model
from engine.stats.hierarchical.result import FloatArray, _p_best_from_draws

# Convergence thresholds (Vehtari et al. 2021, sec. 4-5): split R-hat <= 1.01, bulk and tail ESS
# >= 400 (100 per chain for 4 chains), and no divergent transition (a divergence means the sampler
# missed part of the posterior, Betancourt 2017).
RHAT_MAX = 1.01
ESS_MIN = 400.0


# ---------------------------------------------------------------------------------------------
# MCMC paths (PyMC NUTS, nutpie) on the same model
# ---------------------------------------------------------------------------------------------


def _diagnose(idata: Any, *, chains: int) -> tuple[dict[str, float], str | None]:
    """Vehtari et al. (2021) checks on mu, v and theta; the reason of the first failure."""
    import arviz as az

    names = ["mu", "v", "theta"]
    rhat = az.rhat(idata, var_names=names)  # type: ignore[no-untyped-call]
    bulk = az.ess(idata, var_names=names, method="bulk")  # type: ignore[no-untyped-call]
    tail = az.ess(idata, var_names=names, method="tail")  # type: ignore[no-untyped-call]

    def extreme(ds: Any, fn: Any) -> float:
        values = [float(fn(np.asarray(ds[name]))) for name in names]
        return float(fn(np.array(values)))

    max_rhat = extreme(rhat, np.nanmax) if chains > 1 else math.nan
    min_bulk = extreme(bulk, np.nanmin)
    min_tail = extreme(tail, np.nanmin)
    divergences = int(np.asarray(idata.sample_stats["diverging"]).sum())
    diagnostics = {
        "max_rhat": max_rhat,
        "min_ess_bulk": min_bulk,
        "min_ess_tail": min_tail,
        "divergences": float(divergences),
    }
    if chains < 2:
        return diagnostics, "R-hat needs at least 2 chains"
    if not max_rhat <= RHAT_MAX:  # also catches NaN
        return diagnostics, f"max R-hat {max_rhat:.3f} > {RHAT_MAX}"
    if not min_bulk >= ESS_MIN:
        return diagnostics, f"min bulk ESS {min_bulk:.0f} < {ESS_MIN:.0f}"
    if not min_tail >= ESS_MIN:
        return diagnostics, f"min tail ESS {min_tail:.0f} < {ESS_MIN:.0f}"
    if divergences > 0:
        return diagnostics, f"{divergences} divergent transitions (need 0)"
    return diagnostics, None


def _fit_mcmc(
    y: FloatArray,
    n: FloatArray,
    *,
    segments: Sequence[str],
    arms: Sequence[str],
    method: Literal["nuts", "nutpie"],
    seed: int,
    level: float,
    draws: int,
    tune: int,
    chains: int,
    cores: int | None,
) -> tuple[
    FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, dict[str, float], str | None
]:
    if method == "nutpie":
        import nutpie  # type: ignore[import-untyped]

        compiled = _nutpie_compiled(*y.shape).with_data(
            successes=y.astype(np.int64), n=n.astype(np.int64)
        )
        idata = nutpie.sample(
            compiled,
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            seed=seed,
            progress_bar=False,
        )
    else:
        import pymc as pm

        with build_model(y, n, segments=segments, arms=arms):
            idata = pm.sample(
                draws=draws,
                tune=tune,
                chains=chains,
                cores=cores,
                random_seed=seed,
                progressbar=False,
                compute_convergence_checks=False,
            )
    diagnostics, reason = _diagnose(idata, chains=chains)
    diagnostics.update(chains=float(chains), draws=float(draws))
    theta = np.asarray(idata.posterior["theta"], dtype=np.float64)  # (chain, draw, s, k)
    theta = theta.reshape(-1, *y.shape)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(theta, [tail, 1.0 - tail], axis=0)
    pooled = np.asarray(idata.posterior["mu"], dtype=np.float64).reshape(-1, y.shape[1])
    return (
        theta.mean(axis=0),
        low,
        high,
        _p_best_from_draws(theta),
        pooled.mean(axis=0),
        diagnostics,
        reason,
    )
