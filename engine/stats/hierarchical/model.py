"""The hierarchical Beta-Binomial model (see :mod:`engine.stats.hierarchical`): input
validation, the PyMC model with its priors, and nutpie's compiled model cached per shape.

PyMC and nutpie are imported lazily inside the functions that need them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from engine.stats.hierarchical.result import FloatArray

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pymc as pm


# ---------------------------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------------------------


def _validate(
    successes: npt.ArrayLike,
    n: npt.ArrayLike,
    segments: Sequence[str],
    arms: Sequence[str],
) -> tuple[FloatArray, FloatArray]:
    y = np.asarray(successes, dtype=np.float64)
    m = np.asarray(n, dtype=np.float64)
    shape = (len(segments), len(arms))
    problems: list[str] = []
    if len(segments) == 0 or len(arms) == 0:
        problems.append("need at least one segment and one arm")
    if len(set(segments)) != len(segments):
        problems.append("segment names must be unique")
    if len(set(arms)) != len(arms):
        problems.append("arm names must be unique")
    if y.shape != shape or m.shape != shape:
        problems.append(
            f"successes and n must have shape (segments, arms) = {shape}, "
            f"got {y.shape} and {m.shape}"
        )
    if problems:
        raise ValueError("; ".join(problems))
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(m))):
        raise ValueError("successes and n must be finite")
    if np.any(y != np.round(y)) or np.any(m != np.round(m)):
        raise ValueError("successes and n must be whole numbers (counts)")
    if np.any(m < 0) or np.any(y < 0) or np.any(y > m):
        raise ValueError("need 0 <= successes <= n in every cell")
    return y, m


# ---------------------------------------------------------------------------------------------
# MCMC paths (PyMC NUTS, nutpie) on the same model
# ---------------------------------------------------------------------------------------------


def build_model(
    successes: npt.ArrayLike,
    n: npt.ArrayLike,
    *,
    segments: Sequence[str],
    arms: Sequence[str],
) -> pm.Model:
    """The hierarchical Beta-Binomial model (module docstring) as a PyMC model.

    Centred: ``theta ~ Beta(mu kappa, (1 - mu) kappa)``, PyMC's natural way to write it. The
    counts are ``pm.Data`` containers named ``successes`` and ``n``, so a compiled model can be
    reused with new counts of the same shape.

    Returns
    -------
    pymc.Model
        Free variables ``mu`` (k,), ``v`` (k,), ``theta`` (s, k); deterministic ``kappa``.
    """
    import pymc as pm

    y, m = _validate(successes, n, segments, arms)
    coords = {"segment": list(segments), "arm": list(arms)}
    with pm.Model(coords=coords) as model:
        y_data = pm.Data("successes", y.astype(np.int64), dims=("segment", "arm"))
        n_data = pm.Data("n", m.astype(np.int64), dims=("segment", "arm"))
        mu = pm.Beta("mu", alpha=1.0, beta=1.0, dims="arm")
        v = pm.Uniform("v", lower=0.0, upper=1.0, dims="arm")
        kappa = pm.Deterministic("kappa", v**-2.0, dims="arm")
        theta = pm.Beta("theta", alpha=mu * kappa, beta=(1.0 - mu) * kappa, dims=("segment", "arm"))
        pm.Binomial("y", n=n_data, p=theta, observed=y_data, dims=("segment", "arm"))
    return model


@functools.lru_cache(maxsize=8)
def _nutpie_compiled(s: int, k: int) -> Any:
    """nutpie's compiled model for an (s, k) table, built once per process and shape."""
    try:
        import nutpie  # type: ignore[import-untyped]
    except ImportError as exc:  # optional: not a declared dependency of the engine
        raise ImportError("method='nutpie' needs the nutpie package (pip install nutpie)") from exc

    model = build_model(
        np.zeros((s, k)),
        np.ones((s, k)),
        segments=[f"s{i}" for i in range(s)],
        arms=[f"a{j}" for j in range(k)],
    )
    return nutpie.compile_pymc_model(model)
