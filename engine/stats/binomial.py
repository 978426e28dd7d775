"""Beta-Binomial model for binary outcomes such as "paid within the window".

With a Beta(a, b) prior and ``s`` successes in ``n`` trials the posterior is
Beta(a + s, b + n - s) (conjugacy; Gelman et al., *Bayesian Data Analysis*, 3rd ed., sec. 2.4).
P(arm is best) and P(arm beats the champion) have no closed form for more than two arms, so they
are estimated from joint posterior draws made with an injected generator: the draws, hence the
weights derived from them, are reproducible from the stored seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as sps


@dataclass(frozen=True)
class BinomialStat:
    """Sufficient statistic of a binary outcome: ``successes`` out of ``n`` units."""

    n: int
    successes: int

    def __post_init__(self) -> None:
        if self.n < 0 or not 0 <= self.successes <= self.n:
            raise ValueError(
                f"need 0 <= successes <= n, got successes={self.successes}, n={self.n}"
            )

    def __add__(self, other: BinomialStat) -> BinomialStat:
        return BinomialStat(self.n + other.n, self.successes + other.successes)

    @property
    def failures(self) -> int:
        return self.n - self.successes

    @property
    def rate(self) -> float:
        """Observed share of successes; NaN with no units (there is no rate to report)."""
        return self.successes / self.n if self.n else float("nan")


@dataclass(frozen=True)
class BetaPosterior:
    """Beta(alpha, beta) posterior of a rate."""

    alpha: float
    beta: float

    @classmethod
    def from_stat(
        cls, stat: BinomialStat, *, prior_alpha: float = 1.0, prior_beta: float = 1.0
    ) -> BetaPosterior:
        return cls(prior_alpha + stat.successes, prior_beta + stat.failures)

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Equal-tailed credible interval."""
        tail = (1.0 - level) / 2.0
        low, high = sps.beta.ppf([tail, 1.0 - tail], self.alpha, self.beta)
        return float(low), float(high)


def posterior_draws(
    alpha: npt.ArrayLike, beta: npt.ArrayLike, *, draws: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """Joint draws from independent Beta posteriors.

    Parameters
    ----------
    alpha, beta
        Shape (k,), posterior parameters per arm.
    draws
        Number of Monte Carlo draws.
    rng
        Source of randomness (seeded by the caller).

    Returns
    -------
    numpy.ndarray
        Shape (draws, k).
    """
    a = np.asarray(alpha, dtype=np.float64)
    b = np.asarray(beta, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("alpha and beta must be 1-D arrays of the same length")
    if np.any(a <= 0) or np.any(b <= 0):
        raise ValueError("Beta parameters must be positive")
    result: npt.NDArray[np.float64] = rng.beta(a, b, size=(draws, a.size))
    return result


def prob_best(samples: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """P(each arm has the highest rate), shape (k,), from draws of shape (draws, k).

    Ties (possible only with identical draws) go to the lowest index, as ``argmax`` does.
    """
    winners = np.argmax(samples, axis=1)
    counts = np.bincount(winners, minlength=samples.shape[1]).astype(np.float64)
    result: npt.NDArray[np.float64] = counts / samples.shape[0]
    return result


def prob_beat(samples: npt.NDArray[np.float64], reference: int) -> npt.NDArray[np.float64]:
    """P(each arm's rate > the reference arm's rate), shape (k,); the reference gets 0."""
    result: npt.NDArray[np.float64] = np.mean(samples > samples[:, [reference]], axis=0)
    return result
