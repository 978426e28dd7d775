"""Sufficient statistics of one metric in (arm, period) cells: :class:`MetricCells`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


def _as_float_array(value: npt.ArrayLike) -> FloatArray:
    array = np.array(value, dtype=np.float64)  # a copy: the caller may mutate its own array
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class MetricCells:
    """Sufficient statistics of one metric in (arm, period) cells; matured units only.

    Attributes
    ----------
    n, total, total_sq
        Float64 arrays of shape (k, p): units, sum of y, sum of y**2 per arm and period.
    binary
        y is 0/1 (a rate); ``total_sq`` then equals ``total``.

    All input errors are reported at once in one ``ValueError``.
    """

    n: FloatArray
    total: FloatArray
    total_sq: FloatArray
    binary: bool

    def __post_init__(self) -> None:
        n, total, total_sq = (_as_float_array(a) for a in (self.n, self.total, self.total_sq))
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "total", total)
        object.__setattr__(self, "total_sq", total_sq)
        errors: list[str] = []
        if n.ndim != 2:
            errors.append(f"n must have shape (arms, periods), got shape {n.shape}")
        if total.shape != n.shape or total_sq.shape != n.shape:
            errors.append(
                f"n, total and total_sq must share one shape, got {n.shape}, {total.shape}, "
                f"{total_sq.shape}"
            )
        if errors:
            raise ValueError("; ".join(errors))
        if n.size == 0:
            raise ValueError(f"need at least one arm and one period, got shape {n.shape}")
        if not (np.isfinite(n).all() and np.isfinite(total).all() and np.isfinite(total_sq).all()):
            raise ValueError("n, total and total_sq must be finite")
        if np.any(n < 0):
            errors.append("n must be >= 0")
        if np.any(n != np.round(n)):
            errors.append("n must hold whole numbers of units")
        empty = n == 0
        if np.any(empty & ((total != 0) | (total_sq != 0))):
            errors.append("a cell with n = 0 must have total = total_sq = 0")
        if self.binary:
            if np.any(total < 0) or np.any(total > n):
                errors.append("binary metric needs 0 <= total <= n")
            if np.any(total_sq != total):
                errors.append("binary metric needs total_sq == total (y**2 == y for 0/1)")
        else:
            if np.any(total_sq < 0):
                errors.append("total_sq must be >= 0")
            # Cauchy-Schwarz: n * sum(y^2) >= (sum y)^2; a violation means swapped columns.
            slack = 1e-9 * np.maximum(total**2, 1.0)
            if np.any(n * total_sq < total**2 - slack):
                errors.append("need n * total_sq >= total**2 (Cauchy-Schwarz)")
        if errors:
            raise ValueError("; ".join(errors))

    @classmethod
    def from_counts(cls, n: npt.ArrayLike, successes: npt.ArrayLike) -> MetricCells:
        """Binary cells from units ``n`` and ``successes``, both shape (k, p)."""
        return cls(
            n=np.asarray(n),
            total=np.asarray(successes),
            total_sq=np.asarray(successes),
            binary=True,
        )

    @property
    def n_arms(self) -> int:
        return int(self.n.shape[0])

    @property
    def n_periods(self) -> int:
        return int(self.n.shape[1])

    def __add__(self, other: object) -> MetricCells:
        """Pool two segments cell by cell (same arms, same periods, same kind of metric)."""
        if not isinstance(other, MetricCells):
            return NotImplemented
        if other.n.shape != self.n.shape:
            raise ValueError(f"cannot add cells of shapes {self.n.shape} and {other.n.shape}")
        if other.binary != self.binary:
            raise ValueError("cannot add a binary metric to a non-binary one")
        return MetricCells(
            self.n + other.n, self.total + other.total, self.total_sq + other.total_sq, self.binary
        )

    def pooled(self) -> MetricCells:
        """All periods in one, shape (k, 1): the naive (unstratified) estimate."""
        return MetricCells(
            self.n.sum(axis=1, keepdims=True),
            self.total.sum(axis=1, keepdims=True),
            self.total_sq.sum(axis=1, keepdims=True),
            self.binary,
        )

    def take_periods(self, labels: npt.ArrayLike) -> MetricCells:
        """Merge periods that share a label (sums), shape (k, g) with g distinct labels.

        Parameters
        ----------
        labels
            Shape (p,), one label per period, e.g. from :func:`group_periods`. Merged periods
            appear in the order of each label's first occurrence.
        """
        codes = np.asarray(labels)
        if codes.shape != (self.n_periods,):
            raise ValueError(f"labels must have shape ({self.n_periods},), got {codes.shape}")
        _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
        order = np.argsort(first)  # np.unique sorts labels; keep the order of appearance
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        onehot = (rank[inverse.reshape(-1)][:, None] == np.arange(order.size)).astype(np.float64)
        return MetricCells(
            self.n @ onehot, self.total @ onehot, self.total_sq @ onehot, self.binary
        )

    def take_arms(self, arms: Sequence[int]) -> MetricCells:
        """Cells of the listed arms only, in that order, shape (len(arms), p)."""
        index = np.asarray(arms, dtype=np.int64)
        if index.ndim != 1 or np.any(index < -self.n_arms) or np.any(index >= self.n_arms):
            raise ValueError(f"arm indices must be within 0..{self.n_arms - 1}, got {arms!r}")
        return MetricCells(self.n[index], self.total[index], self.total_sq[index], self.binary)

    def cell_means(self) -> FloatArray:
        """Shape (k, p) cell means; NaN where a cell has no unit."""
        with np.errstate(invalid="ignore", divide="ignore"):
            result: FloatArray = np.where(self.n > 0, self.total / self.n, np.nan)
        return result
