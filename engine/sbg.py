"""Shifted-beta-geometric (sBG) churn: CLV with heterogeneous customers, and its fitting.

Model (Fader & Hardie 2007, "How to project customer retention", J. Interactive Marketing
21(1)): at the end of each period (a month for monthly billing) a customer alive churns with
probability ``theta``, constant for the customer; ``theta ~ Beta(alpha, beta)`` across customers.
With ``B`` the beta function and ``t = 1, 2, ...`` the period in which a customer churns,

    P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)          (F&H 2007, eq. 5)
    S(t)     = P(T > t) = B(alpha, beta + t) / B(alpha, beta)        (F&H 2007, eq. 6)
    r_t      = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)   (F&H 2007, eq. 8)

Retention rises with tenure: the customers who stay have low ``theta``. A customer who has made
``n`` renewals has ``theta | n ~ Beta(alpha, beta + n)``, and Fader & Hardie (2010,
"Customer-base valuation in a contractual setting: the perils of ignoring heterogeneity",
Marketing Science 29(1), eq. 6) give the discounted expected residual lifetime

    DERL(d | alpha, beta, n) = (beta + n) / (alpha + beta + n)
                               * 2F1(1, beta + n + 1; alpha + beta + n + 1; 1 / (1 + d)),

the expected discounted number of future renewals, valued just before the next renewal decision
(the first renewal undiscounted).

Convention of this module: money values follow :func:`engine.clv.residual_clv` -- a customer
alive now pays the margin ``m`` at the end of each future period survived, discounted one period
per period, so the value is ``m * DERL / (1 + d)``; as ``alpha, beta -> infinity`` with
``beta / (alpha + beta) = r`` it tends to the constant-retention ``m r / (1 + d - r)``.

Fitting uses pymc-marketing's ``ShiftedBetaGeoModel`` (imported lazily: pymc is slow to import).
"""

from __future__ import annotations

import importlib
import itertools
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import integrate, special

FloatArray = npt.NDArray[np.float64]

#: Columns of a tenure table, as pymc-marketing's ``ShiftedBetaGeoModel`` expects them.
TENURE_COLUMNS = ("customer_id", "recency", "T", "cohort")

# Series for 2F1 stop when the bound on the remaining tail is below this share of the sum.
_SERIES_RTOL = 1e-17
_SERIES_CHUNK = 8192
_SERIES_MAX_TERMS = 50_000_000


def _check_shape_params(alpha: npt.ArrayLike, beta: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    a = np.asarray(alpha, dtype=np.float64)
    b = np.asarray(beta, dtype=np.float64)
    for name, value in (("alpha", a), ("beta", b)):
        if not np.all(np.isfinite(value) & (value > 0)):
            raise ValueError(f"{name} must be positive and finite, got {value}")
    return a, b


def _check_periods(t: npt.ArrayLike, *, minimum: int, name: str) -> FloatArray:
    periods = np.asarray(t, dtype=np.float64)
    if not np.all(np.isfinite(periods) & (periods == np.floor(periods)) & (periods >= minimum)):
        raise ValueError(f"{name} must be whole numbers >= {minimum}, got {periods}")
    return periods


def _check_money(*, margin: float, discount_rate: float) -> None:
    if not math.isfinite(margin):
        raise ValueError(f"margin must be finite, got {margin}")
    if not (math.isfinite(discount_rate) and discount_rate > 0):
        # With d = 0 the expected lifetime is infinite whenever alpha <= 1.
        raise ValueError(f"discount_rate must be positive and finite, got {discount_rate}")


def _check_renewals(renewals: int) -> None:
    if isinstance(renewals, bool) or not isinstance(renewals, int | np.integer) or renewals < 0:
        raise ValueError(f"renewals must be a whole number >= 0, got {renewals!r}")


def sbg_survival(alpha: npt.ArrayLike, beta: npt.ArrayLike, t: npt.ArrayLike) -> FloatArray:
    """Share of a cohort still alive after ``t`` periods, ``S(t) = B(a, b + t) / B(a, b)``.

    Fader & Hardie (2007), eq. 6; ``S(0) = 1``. Arguments broadcast; ``t`` whole numbers >= 0.
    """
    a, b = _check_shape_params(alpha, beta)
    periods = _check_periods(t, minimum=0, name="t")
    result: FloatArray = np.exp(special.betaln(a, b + periods) - special.betaln(a, b))
    return result


def sbg_retention(alpha: npt.ArrayLike, beta: npt.ArrayLike, t: npt.ArrayLike) -> FloatArray:
    """Retention rate in period ``t``, ``r_t = (b + t - 1) / (a + b + t - 1)``.

    Fader & Hardie (2007), eq. 8: the share of customers alive at ``t - 1`` still alive at
    ``t``; rises with ``t`` towards 1. Arguments broadcast; ``t`` whole numbers >= 1.
    """
    a, b = _check_shape_params(alpha, beta)
    periods = _check_periods(t, minimum=1, name="t")
    result: FloatArray = (b + periods - 1.0) / (a + b + periods - 1.0)
    return result


def _derl_series(alpha: float, beta_n: float, z: float) -> float:
    """``sum_{j>=0} z^j prod_{i<=j} (b + i) / (a + b + i) = b / (a + b) 2F1(1, b+1; a+b+1; z)``.

    The hypergeometric series itself, summed in log space in chunks. Each term is at most ``z``
    times the previous one, so after term ``t_J`` the tail is below ``t_J z / (1 - z)``.
    ``scipy.special.hyp2f1`` is not used: near ``z = 1`` it returns NaN for large ``b, c`` (e.g.
    alpha = 250, beta = 9750) and wrong values for some small ones (negative for alpha = 1,
    beta = 0.5, d = 0.001) in scipy 1.17.
    """
    log_z = math.log(z)
    total = 0.0
    log_prod = 0.0  # log prod_{i < start} (b + i) / (a + b + i)
    start = 0
    while start < _SERIES_MAX_TERMS:
        i = np.arange(start, start + _SERIES_CHUNK, dtype=np.float64)
        log_terms = i * log_z + log_prod - np.cumsum(np.log1p(alpha / (beta_n + i)))
        terms = np.exp(log_terms)
        total += float(terms.sum())
        last = float(terms[-1])
        if last * z / (1.0 - z) <= _SERIES_RTOL * total:
            return total
        log_prod = float(log_terms[-1]) - float(i[-1]) * log_z
        start += _SERIES_CHUNK
    raise ValueError("discount_rate too small: the DERL series does not converge in 5e7 terms")


def sbg_expected_residual_lifetime(
    alpha: float, beta: float, *, discount_rate: float, renewals: int = 0
) -> float:
    """Fader & Hardie's (2010, eq. 6) DERL: discounted expected number of future renewals.

    ``DERL = (b + n) / (a + b + n) * 2F1(1, b + n + 1; a + b + n + 1; 1 / (1 + d))`` for a
    customer who has made ``n = renewals`` renewals, valued just before the next renewal
    decision (first renewal undiscounted). Equals pymc-marketing's
    ``ShiftedBetaGeoModel.expected_residual_lifetime`` at ``T = renewals + 1``.
    """
    a, b = _check_shape_params(alpha, beta)
    _check_money(margin=0.0, discount_rate=discount_rate)
    _check_renewals(renewals)
    return _derl_series(float(a), float(b) + renewals, 1.0 / (1.0 + discount_rate))


def sbg_derl(
    alpha: float, beta: float, *, margin: float, discount_rate: float, renewals: int
) -> float:
    """Discounted expected residual lifetime value of a customer who has made ``renewals``.

    ``m * DERL(d | alpha, beta, n) / (1 + d)`` (Fader & Hardie 2010, eq. 6, see
    :func:`sbg_expected_residual_lifetime`), in the convention of
    :func:`engine.clv.residual_clv`: the customer is alive now, with ``theta ~ Beta(alpha,
    beta + n)``, and pays ``margin`` at the end of each future period survived, discounted
    ``(1 + d)`` per period. Equivalently ``sum_{t>=1} m S(n + t) / S(n) / (1 + d)^t``.

    Parameters
    ----------
    alpha, beta
        sBG shape parameters (> 0) of the customer's cohort.
    margin
        Margin per period (currency).
    discount_rate
        Discount rate per period (> 0).
    renewals
        Renewals already made (0 for a customer just acquired).

    Returns
    -------
    float
        Expected residual value (currency).
    """
    _check_money(margin=margin, discount_rate=discount_rate)
    erl = sbg_expected_residual_lifetime(
        alpha, beta, discount_rate=discount_rate, renewals=renewals
    )
    return margin * erl / (1.0 + discount_rate)


def _softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def sbg_clv_under_hazard_ratio(
    alpha: float,
    beta: float,
    hazard_ratio: float,
    *,
    margin: float,
    discount_rate: float,
    renewals: int = 0,
) -> float:
    """Expected residual value of a customer alive now under an arm with hazard ratio ``HR``.

    The customer has made ``renewals`` renewals under the champion, so ``theta ~ Beta(alpha,
    beta + n)``; from now on the arm multiplies the churn probability of each customer,
    ``theta' = min(HR theta, 1)``. Given ``theta'`` the value is
    ``sum_{t>=1} m (1 - theta')^t / (1 + d)^t = m (1 - theta') / (d + theta')``, so

        V(HR) = m * integral_0^1 (1 - theta') / (d + theta') Beta(theta; alpha, beta + n) dtheta.

    ``V(1) = sbg_derl(alpha, beta, margin=m, discount_rate=d, renewals=n)``; ``V(0) = m / d``;
    ``V`` decreases in ``HR``. The integral is taken in ``y = logit(theta)``, where the Beta
    density has no endpoint singularity (``alpha < 1``) and is log-concave with mode
    ``log(alpha / (beta + n))`` and scale ``sqrt(1/alpha + 1/(beta + n))``, with
    ``scipy.integrate.quad`` on the core and both tails; ``theta' = 1`` beyond
    ``theta = 1 / HR``, where the integrand is 0.

    Returns
    -------
    float
        Expected residual value (currency).
    """
    a_arr, b_arr = _check_shape_params(alpha, beta)
    _check_money(margin=margin, discount_rate=discount_rate)
    _check_renewals(renewals)
    hr = float(hazard_ratio)
    if not (math.isfinite(hr) and hr >= 0):
        raise ValueError(f"hazard_ratio must be >= 0 and finite, got {hazard_ratio}")
    a, b, d = float(a_arr), float(b_arr) + renewals, discount_rate
    if hr == 0.0:
        return margin / d
    log_norm = float(special.betaln(a, b))

    def integrand(y: float) -> float:
        # Beta density of theta = expit(y) times d theta / d y = theta (1 - theta).
        log_density = -a * _softplus(-y) - b * _softplus(y) - log_norm
        churn = hr * math.exp(-_softplus(-y))
        return (1.0 - churn) / (d + churn) * math.exp(log_density)

    upper = math.log(1.0 / (hr - 1.0)) if hr > 1.0 else math.inf  # logit(1 / HR)
    mode = math.log(a / b)
    scale = math.sqrt(1.0 / a + 1.0 / b)
    cuts = [-math.inf, mode - 10.0 * scale, mode + 10.0 * scale, math.inf]
    total = 0.0
    for lo, hi in itertools.pairwise(cuts):
        top = min(hi, upper)
        if lo < top:
            value, _ = integrate.quad(integrand, lo, top, epsabs=1e-15 / d, epsrel=1e-12, limit=200)
            total += value
    return margin * total


def sbg_clv_draws(
    alpha: float,
    beta: float,
    hazard_ratios: npt.ArrayLike,
    *,
    margin: float,
    discount_rate: float,
    grid_points: int = 96,
) -> FloatArray:
    """:func:`sbg_clv_under_hazard_ratio` for many hazard-ratio draws (any shape).

    One quadrature per draw would take minutes for 20,000 draws x arms; ``V(HR)`` is smooth
    and decreasing, so it is evaluated on a log-spaced grid spanning the draws and
    interpolated linearly in ``log HR`` (96 points keep the interpolation error far below the
    Monte Carlo error; a test checks 1e-4 relative).
    """
    hr = np.asarray(hazard_ratios, dtype=np.float64)
    if hr.size == 0:
        return hr.copy()
    if not np.all(np.isfinite(hr)) or np.any(hr <= 0):
        raise ValueError("hazard ratios must be finite and positive")
    low, high = float(hr.min()), float(hr.max())
    if high / low < 1 + 1e-9:
        value = sbg_clv_under_hazard_ratio(
            alpha, beta, low, margin=margin, discount_rate=discount_rate
        )
        return np.full(hr.shape, value)
    grid = np.geomspace(low, high, grid_points)
    values = np.array(
        [
            sbg_clv_under_hazard_ratio(alpha, beta, g, margin=margin, discount_rate=discount_rate)
            for g in grid  # a fixed number of quadratures, not one per draw
        ]
    )
    result: FloatArray = np.interp(np.log(hr), np.log(grid), values)
    return result


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


def _rows(mask: npt.ArrayLike, frame: pd.DataFrame) -> str:
    """``N row(s) (index a, b, ...)``: how many rows ``mask`` flags, and the first five labels."""
    flags = np.asarray(mask, dtype=bool)
    labels = [repr(label) for label in frame.index[flags][:5]]
    more = ", ..." if int(flags.sum()) > 5 else ""
    return f"{int(flags.sum())} row(s) (index {', '.join(labels)}{more})"


def validate_tenure_table(tenure: pd.DataFrame) -> None:
    """Check a subscriber tenure table; raise ``ValueError`` naming every problem found.

    One row per customer; columns (as pymc-marketing's ``ShiftedBetaGeoModel`` expects):

    - ``customer_id``: unique, not null;
    - ``T``: periods the customer's cohort has been observed, a whole number >= 2, the same
      for every customer of a cohort;
    - ``recency``: the last period in which the customer was active, a whole number with
      ``1 <= recency <= T``. ``recency == T``: still alive (lifetime >= T, censored; ``T - 1``
      renewals made); ``recency = t < T``: churned at the end of period ``t``;
    - ``cohort``: acquisition cohort label, not null.

    Other columns are ignored.
    """
    if not isinstance(tenure, pd.DataFrame):
        raise TypeError(f"tenure must be a pandas DataFrame, got {type(tenure).__name__}")
    missing = [column for column in TENURE_COLUMNS if column not in tenure.columns]
    if missing:
        raise ValueError(
            f"tenure table is missing column(s) {', '.join(map(repr, missing))}; "
            f"expected {', '.join(TENURE_COLUMNS)}"
        )
    if len(tenure) == 0:
        raise ValueError("tenure table has no rows")
    problems: list[str] = []
    ids = tenure["customer_id"]
    if ids.isna().any():
        problems.append(f"customer_id is missing in {_rows(ids.isna(), tenure)}")
    duplicated = ids.duplicated(keep=False) & ids.notna()
    if duplicated.any():
        problems.append(f"customer_id must be unique; repeated in {_rows(duplicated, tenure)}")
    whole: dict[str, bool] = {}
    for column in ("recency", "T"):
        values = tenure[column]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            problems.append(f"{column} must be numeric, got dtype {values.dtype}")
            whole[column] = False
            continue
        numbers = values.astype(np.float64)
        bad = ~np.isfinite(numbers) | (numbers != np.floor(numbers))
        if bad.any():
            problems.append(f"{column} must be a whole number; it is not in {_rows(bad, tenure)}")
        whole[column] = not bad.any()
    if whole["recency"] and (tenure["recency"] < 1).any():
        problems.append(f"recency must be >= 1; below 1 in {_rows(tenure['recency'] < 1, tenure)}")
    if whole["T"] and (tenure["T"] < 2).any():
        short = tenure["T"] < 2
        problems.append(
            f"T must be >= 2 (a renewal must be observable); below 2 in {_rows(short, tenure)}"
        )
    if whole["recency"] and whole["T"]:
        late = tenure["recency"] > tenure["T"]
        if late.any():
            problems.append(f"recency must not exceed T; it does in {_rows(late, tenure)}")
    cohorts = tenure["cohort"]
    if cohorts.isna().any():
        problems.append(f"cohort is missing in {_rows(cohorts.isna(), tenure)}")
    elif whole["T"]:
        counts = tenure.groupby("cohort", sort=True)["T"].nunique()
        mixed = [str(label) for label in counts.index[counts.to_numpy() > 1]]
        if mixed:
            problems.append(
                "T must be the same for every customer of a cohort; cohort(s) with several T: "
                + ", ".join(mixed[:5])
                + (", ..." if len(mixed) > 5 else "")
            )
    if problems:
        raise ValueError("invalid tenure table: " + "; ".join(problems))


def simulate_tenure_table(
    *,
    alpha: float,
    beta: float,
    customers: int,
    periods: int,
    rng: np.random.Generator,
    cohort: str = "cohort-0",
    first_id: int = 0,
) -> pd.DataFrame:
    """Simulate one cohort's tenure table from the sBG model.

    Each customer draws ``theta ~ Beta(alpha, beta)`` and a churn period
    ``t ~ Geometric(theta)`` on ``1, 2, ...`` (F&H 2007, eq. 1); the table records
    ``recency = min(t, periods)`` and ``T = periods``. Concatenate tables (with distinct
    ``first_id``) for several cohorts.

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id`` (``first_id``, ``first_id + 1``, ...), ``recency``, ``T``,
        ``cohort``; see :func:`validate_tenure_table`.
    """
    _check_shape_params(alpha, beta)
    if customers < 1:
        raise ValueError(f"customers must be >= 1, got {customers}")
    if periods < 2:
        raise ValueError(f"periods must be >= 2, got {periods}")
    theta = rng.beta(alpha, beta, size=customers)
    uniform = 1.0 - rng.random(customers)  # in (0, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        # Inverse CDF of the geometric: P(t > k) = (1 - theta)^k. theta = 0 (underflow for
        # tiny alpha) never churns; theta = 1 churns in period 1.
        lifetime = np.ceil(np.log(uniform) / np.log1p(-theta))
    lifetime = np.where(theta > 0, lifetime, periods)
    recency = np.clip(np.nan_to_num(lifetime, nan=1.0), 1, periods).astype(np.int64)
    return pd.DataFrame(
        {
            "customer_id": np.arange(first_id, first_id + customers, dtype=np.int64),
            "recency": recency,
            "T": np.full(customers, periods, dtype=np.int64),
            "cohort": cohort,
        }
    )


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
