"""The value type of an off-policy estimate, the estimator names and the array aliases of
:mod:`engine.ope`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

Estimator = Literal["ipw", "snips", "dr"]
ESTIMATORS: tuple[Estimator, ...] = ("ipw", "snips", "dr")


@dataclass(frozen=True)
class OpeEstimate:
    """An off-policy (or on-policy) estimate of a policy's mean reward per decision.

    Attributes
    ----------
    estimator
        ``"ipw"``, ``"snips"``, ``"dr"`` or ``"on_policy"``.
    value
        Estimated mean reward per decision under the target policy.
    std_error
        Analytic standard error (see :mod:`engine.ope.bootstrap`).
    ci_low, ci_high
        Bootstrap percentile interval at ``level``.
    level
        Coverage level of the interval, e.g. 0.95.
    ess
        Kish effective sample size of the (clipped) importance weights.
    n_clipped
        Number of weights above ``clip`` (replaced by ``clip``).
    clip
        The weight cap, ``None`` for no clipping.
    n
        Number of logged decisions.
    """

    estimator: str
    value: float
    std_error: float
    ci_low: float
    ci_high: float
    level: float
    ess: float
    n_clipped: int
    clip: float | None
    n: int

    @property
    def ess_share(self) -> float:
        """Effective sample size as a share of the log, in [0, 1]."""
        return self.ess / self.n if self.n else 0.0
