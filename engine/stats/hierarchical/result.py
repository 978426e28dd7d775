"""Result of a hierarchical fit: :class:`SegmentFit` (with its JSON form), the refusal
:class:`NotConvergedError`, and P(best) from posterior draws (shared by every fitting path)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

Method = Literal["auto", "exact", "nuts", "nutpie"]
FloatArray = npt.NDArray[np.float64]


class NotConvergedError(RuntimeError):
    """The fit did not pass its convergence check; its numbers must not be shown.

    Attributes
    ----------
    reason : str
        Human-readable reason (which check failed, with the value and the threshold).
    diagnostics : Mapping[str, float]
        The diagnostics of the refused fit (see :class:`SegmentFit`).
    fit : SegmentFit
        The refused result, for debugging only (``converged=False``).
    """

    def __init__(self, fit: SegmentFit) -> None:
        super().__init__(f"hierarchical fit ({fit.method}) refused: {fit.reason}")
        self.reason: str = fit.reason or "not converged"
        self.diagnostics: Mapping[str, float] = fit.diagnostics
        self.fit: SegmentFit = fit


@dataclass(frozen=True)
class SegmentFit:
    """Posterior summary of the hierarchical model, per (segment, arm).

    Attributes
    ----------
    segments, arms : tuple[str, ...]
        Row and column labels (s segments, k arms).
    means : numpy.ndarray, shape (s, k)
        Posterior mean of the rate.
    low, high : numpy.ndarray, shape (s, k)
        Equal-tailed credible interval at ``level``.
    p_best : numpy.ndarray, shape (s, k)
        P(arm has the highest rate in the segment); rows sum to 1.
    best_arm : tuple[str, ...]
        Per segment, the arm with the highest ``p_best`` (the per-segment champion; ties go to
        the first arm).
    pooled_means : numpy.ndarray, shape (k,)
        Posterior mean of each arm's population mean ``mu`` (the estimate for a new segment).
    method : str
        ``"exact"``, ``"nuts"`` or ``"nutpie"``.
    seconds : float
        Wall-clock time of the fit.
    diagnostics : Mapping[str, float]
        MCMC: ``max_rhat``, ``min_ess_bulk``, ``min_ess_tail``, ``divergences``, ``chains``,
        ``draws``. Exact: ``grid_points`` (per arm), ``max_edge_density`` (relative to the peak),
        ``pbest_draws``.
    converged : bool
        Whether the convergence check passed.
    reason : str or None
        Why the check failed; ``None`` when converged.
    seed : int
        Seed of every random draw of the fit (sampler or P(best) draws).
    level : float
        Credible level of ``low``/``high``.
    """

    segments: tuple[str, ...]
    arms: tuple[str, ...]
    means: FloatArray
    low: FloatArray
    high: FloatArray
    p_best: FloatArray
    best_arm: tuple[str, ...]
    pooled_means: FloatArray
    method: str
    seconds: float
    diagnostics: Mapping[str, float] = field(default_factory=dict)
    converged: bool = True
    reason: str | None = None
    seed: int = 0
    level: float = 0.95

    def to_dict(self) -> dict[str, object]:
        """JSON-able form: one entry per segment with each arm's mean, interval and P(best)."""
        return {
            "schema_version": 1,
            "method": self.method,
            "level": self.level,
            "seed": self.seed,
            "converged": self.converged,
            "reason": self.reason,
            "diagnostics": {k: float(v) for k, v in self.diagnostics.items()},
            "pooled_means": dict(zip(self.arms, map(float, self.pooled_means), strict=True)),
            "segments": [
                {
                    "segment": segment,
                    "best_arm": self.best_arm[s],
                    "arms": {
                        arm: {
                            "mean": float(self.means[s, a]),
                            "low": float(self.low[s, a]),
                            "high": float(self.high[s, a]),
                            "prob_best": float(self.p_best[s, a]),
                        }
                        for a, arm in enumerate(self.arms)
                    },
                }
                for s, segment in enumerate(self.segments)
            ],
        }


def _p_best_from_draws(draws: FloatArray) -> FloatArray:
    """P(arm is best) per segment from draws of shape (d, s, k); ties go to the first arm."""
    winners = np.argmax(draws, axis=2)  # (d, s)
    k = draws.shape[2]
    counts = np.stack([(winners == j).sum(axis=0) for j in range(k)], axis=1)
    result: FloatArray = counts.astype(np.float64) / draws.shape[0]
    return result
