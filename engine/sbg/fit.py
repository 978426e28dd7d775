"""The sBG fit with pymc-marketing's ``ShiftedBetaGeoModel`` (NUTS) and its result :class:`SbgFit`.

pymc, pymc-marketing and arviz are imported lazily inside :func:`fit_sbg` (pymc is slow to import).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine.sbg.closed_form import FloatArray
from engine.sbg.tenure import TENURE_COLUMNS, validate_tenure_table


@dataclass(frozen=True, eq=False)
class SbgFit:
    """Posterior of the sBG parameters of each cohort, fitted by MCMC (NUTS).

    Attributes
    ----------
    cohorts
        Cohort labels (``str`` of the table's values), in the order of the columns below.
    alpha_draws, beta_draws
        Posterior draws, shape ``(chains * draws, len(cohorts))``.
    alpha, beta
        Posterior means, shape ``(len(cohorts),)``.
    diagnostics
        ``max_rhat`` (rank-normalised split R-hat, Vehtari et al. 2021, over all parameters),
        ``min_ess`` (smallest bulk effective sample size), ``min_ess_tail``, ``divergences``.
    converged
        ``max_rhat <= 1.01``, ``min_ess >= 100 * chains``, and no divergent transitions.
    seconds
        Wall time of building the model and sampling.
    seed, draws, tune, chains
        The sampler's settings, recorded so the fit can be reproduced.
    """

    cohorts: tuple[str, ...]
    alpha_draws: FloatArray
    beta_draws: FloatArray
    alpha: FloatArray
    beta: FloatArray
    diagnostics: Mapping[str, float]
    converged: bool
    seconds: float
    seed: int
    draws: int
    tune: int
    chains: int

    def params(self, cohort: str | None = None) -> tuple[float, float]:
        """Posterior means ``(alpha, beta)`` of ``cohort`` (may be omitted if only one)."""
        if cohort is None:
            if len(self.cohorts) != 1:
                raise ValueError(f"several cohorts were fitted, name one of {self.cohorts}")
            index = 0
        elif cohort in self.cohorts:
            index = self.cohorts.index(cohort)
        else:
            raise ValueError(f"unknown cohort {cohort!r}, fitted cohorts are {self.cohorts}")
        return float(self.alpha[index]), float(self.beta[index])


def fit_sbg(
    tenure: pd.DataFrame,
    *,
    seed: int,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    cores: int | None = None,
    target_accept: float = 0.8,
    model_config: Mapping[str, object] | None = None,
) -> SbgFit:
    """Fit the sBG model to a tenure table with pymc-marketing's ``ShiftedBetaGeoModel`` (NUTS).

    Each cohort gets its own ``(alpha, beta)``. Default priors are pymc-marketing's:
    ``alpha = phi kappa``, ``beta = (1 - phi) kappa`` with ``phi ~ Uniform(0, 1)`` and
    ``kappa ~ Pareto(1, 1)``, which implies ``alpha + beta >= 1``; pass ``model_config``
    (pymc-extras ``Prior`` objects with ``dims="cohort"``) to change them.

    Parameters
    ----------
    tenure
        Tenure table, see :func:`validate_tenure_table` (checked first).
    seed
        Random seed of the sampler (recorded in the result).
    draws, tune, chains
        Posterior draws and tuning steps per chain; ``chains >= 2`` (R-hat needs them).
    cores
        Processes for the chains (PyMC's default when ``None``).
    target_accept
        NUTS target acceptance rate.
    model_config
        Passed to ``ShiftedBetaGeoModel``.

    Returns
    -------
    SbgFit
        Posterior draws and means per cohort, convergence diagnostics and wall time.
    """
    validate_tenure_table(tenure)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")
    if draws < 1 or tune < 0:
        raise ValueError(f"draws must be >= 1 and tune >= 0, got draws={draws}, tune={tune}")
    if chains < 2:
        raise ValueError(f"chains must be >= 2 to compute R-hat, got {chains}")
    if cores is not None and cores < 1:
        raise ValueError(f"cores must be >= 1, got {cores}")
    if not 0 < target_accept < 1:
        raise ValueError(f"target_accept must lie in (0, 1), got {target_accept}")

    # Lazy: pymc and its stack take seconds to import. Untyped, hence Any.
    az: Any = importlib.import_module("arviz")
    clv: Any = importlib.import_module("pymc_marketing.clv")

    data = tenure.loc[:, list(TENURE_COLUMNS)].reset_index(drop=True)
    start = time.perf_counter()
    model = clv.ShiftedBetaGeoModel(model_config=dict(model_config) if model_config else None)
    idata: Any = model.fit(
        data=data,
        method="mcmc",
        draws=draws,
        tune=tune,
        chains=chains,
        cores=cores,
        random_seed=int(seed),
        target_accept=target_accept,
        progressbar=False,
        compute_convergence_checks=False,
    )
    seconds = time.perf_counter() - start

    posterior = idata.posterior
    alpha_da = posterior["alpha"].transpose("chain", "draw", "cohort")
    beta_da = posterior["beta"].transpose("chain", "draw", "cohort")
    cohorts = tuple(str(label) for label in alpha_da.coords["cohort"].values)
    alpha_draws = np.asarray(alpha_da.values, dtype=np.float64).reshape(-1, len(cohorts))
    beta_draws = np.asarray(beta_da.values, dtype=np.float64).reshape(-1, len(cohorts))

    rhat = az.rhat(posterior)
    ess_bulk = az.ess(posterior, method="bulk")
    ess_tail = az.ess(posterior, method="tail")
    diagnostics = {
        "max_rhat": max(float(np.max(rhat[name].values)) for name in rhat.data_vars),
        "min_ess": min(float(np.min(ess_bulk[name].values)) for name in ess_bulk.data_vars),
        "min_ess_tail": min(float(np.min(ess_tail[name].values)) for name in ess_tail.data_vars),
        "divergences": float(idata.sample_stats["diverging"].values.sum()),
    }
    converged = (
        diagnostics["max_rhat"] <= 1.01
        and diagnostics["min_ess"] >= 100 * chains
        and diagnostics["divergences"] == 0
    )
    return SbgFit(
        cohorts=cohorts,
        alpha_draws=alpha_draws,
        beta_draws=beta_draws,
        alpha=alpha_draws.mean(axis=0),
        beta=beta_draws.mean(axis=0),
        diagnostics=diagnostics,
        converged=bool(converged),
        seconds=seconds,
        seed=int(seed),
        draws=draws,
        tune=tune,
        chains=chains,
    )
