"""The input of every comparison: matured outcome sums per (cell, arm) with the arm's assignment
probability in the cell, and the stratum each cell belongs to."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def _frozen(value: npt.ArrayLike) -> FloatArray:
    array = np.array(value, dtype=np.float64)  # a copy: the caller may mutate its own array
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Cells:
    """Sufficient statistics of one metric, matured randomised units only.

    A *cell* holds the units that shared one assignment distribution: an allocation period, or
    a (segment, period) pair when the split depends on the segment. Cells are grouped into the
    *strata* of the estimand (the segments, or one stratum); see :mod:`engine.stats.comparison`.

    Attributes
    ----------
    n, total, total_sq
        Shape (..., C, K): matured units, sum of y and sum of y**2 per cell and arm. Leading
        axes index independent experiments (the simulation study evaluates hundreds at once).
    prob
        Shape (..., C, K) (or broadcastable to it): the probability that a unit of the cell
        was assigned to the arm, i.e. the propensity stored with each assignment; 0 where the
        arm had no traffic (not yet added, or stopped). Units in a cell where their arm had
        probability 0 cannot be weighted and are ignored (the sample-ratio check flags them).
    stratum
        Shape (C,): integer stratum label of each cell, 0 .. S-1 (shared by the leading axes).
    binary
        y is 0/1 (a rate): ``total_sq`` then equals ``total``.
    cases, cases_sq, cross
        Repeat cases (:meth:`clustered`): when a unit of randomisation (a customer) contributes
        several observations (its dunning cases), ``n`` counts the units, ``cases`` the sum of
        their case counts ``M``, ``cases_sq`` the sum of ``M**2``, ``total`` and ``total_sq`` the
        sum of each unit's outcome total ``Y`` and of ``Y**2``, and ``cross`` the sum of
        ``Y * M``. The estimand is then the mean per case, and its variance treats the unit,
        not the case, as the independent draw (the cluster-robust linearisation of the ratio).
        ``None`` (the default) means one case per unit: ``cases = cases_sq = n``,
        ``cross = total``.

    All input errors are reported at once in one ``ValueError``.
    """

    n: FloatArray
    total: FloatArray
    total_sq: FloatArray
    prob: FloatArray
    stratum: IntArray
    binary: bool
    cases: FloatArray | None = None
    cases_sq: FloatArray | None = None
    cross: FloatArray | None = None

    def __post_init__(self) -> None:
        n, total, total_sq = (_frozen(a) for a in (self.n, self.total, self.total_sq))
        errors: list[str] = []
        clustered = self._clustered_sums(n, total, errors)
        if n.ndim < 2 or n.shape[-1] == 0 or n.shape[-2] == 0:
            raise ValueError(f"n must have shape (..., cells, arms) with both > 0, got {n.shape}")
        if total.shape != n.shape or total_sq.shape != n.shape:
            raise ValueError(
                f"n, total and total_sq must share one shape, got {n.shape}, {total.shape}, "
                f"{total_sq.shape}"
            )
        try:
            prob = _frozen(np.broadcast_to(np.asarray(self.prob, dtype=np.float64), n.shape))
        except ValueError:
            raise ValueError(
                f"prob of shape {np.shape(self.prob)} does not broadcast to {n.shape}"
            ) from None
        stratum = np.array(self.stratum, dtype=np.int64)
        stratum.setflags(write=False)
        if stratum.shape != (n.shape[-2],):
            errors.append(f"stratum must have shape ({n.shape[-2]},), got {stratum.shape}")
        elif stratum.min() < 0:
            errors.append("stratum labels must be >= 0")
        arrays = (n, total, total_sq, prob)
        if not all(np.isfinite(a).all() for a in arrays):
            raise ValueError("n, total, total_sq and prob must be finite")
        if np.any(n < 0) or np.any(n != np.round(n)):
            errors.append("n must hold whole, non-negative numbers of units")
        if np.any((prob < 0) | (prob > 1)):
            errors.append("prob must lie in [0, 1]")
        if np.any((n == 0) & ((total != 0) | (total_sq != 0))):
            errors.append("a cell with n = 0 must have total = total_sq = 0")
        if self.binary and clustered is not None:
            if np.any(total < 0) or np.any(total > clustered[0]):
                errors.append("binary metric needs 0 <= total <= cases")
            if np.any(total_sq < total) or np.any(n * total_sq < total**2 - 1e-9 * total**2):
                errors.append("need total_sq >= total and n * total_sq >= total**2")
        elif self.binary:
            if np.any(total < 0) or np.any(total > n):
                errors.append("binary metric needs 0 <= total <= n")
            if np.any(total_sq != total):
                errors.append("binary metric needs total_sq == total (y**2 == y for 0/1)")
        else:
            # Cauchy-Schwarz: n * sum(y^2) >= (sum y)^2; a violation means swapped columns.
            slack = 1e-9 * np.maximum(total**2, 1.0)
            if np.any(total_sq < 0) or np.any(n * total_sq < total**2 - slack):
                errors.append("need total_sq >= 0 and n * total_sq >= total**2")
        if errors:
            raise ValueError("; ".join(errors))
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "total", total)
        object.__setattr__(self, "total_sq", total_sq)
        object.__setattr__(self, "prob", prob)
        object.__setattr__(self, "stratum", stratum)
        if clustered is not None:
            for name, array in zip(("cases", "cases_sq", "cross"), clustered, strict=True):
                object.__setattr__(self, name, array)

    def _clustered_sums(
        self, n: FloatArray, total: FloatArray, errors: list[str]
    ) -> tuple[FloatArray, FloatArray, FloatArray] | None:
        given = [a for a in (self.cases, self.cases_sq, self.cross) if a is not None]
        if not given:
            return None
        if len(given) < 3:
            raise ValueError("cases, cases_sq and cross go together: give all three or none")
        cases, cases_sq, cross = (_frozen(a) for a in given)
        if any(a.shape != n.shape for a in (cases, cases_sq, cross)):
            raise ValueError("cases, cases_sq and cross must have the shape of n")
        if not all(np.isfinite(a).all() for a in (cases, cases_sq, cross)):
            raise ValueError("cases, cases_sq and cross must be finite")
        if np.any(cases < n) or np.any((n == 0) & (cases != 0)):
            errors.append("every unit has at least one case: need cases >= n, and 0 where n = 0")
        # Each unit has M >= 1, so M**2 >= M, and by Cauchy-Schwarz n * sum(M**2) >= (sum M)**2.
        slack = 1e-9 * np.maximum(cases**2, 1.0)
        if np.any(cases_sq < cases) or np.any(n * cases_sq < cases**2 - slack):
            errors.append("need cases_sq >= cases and n * cases_sq >= cases**2")
        return cases, cases_sq, cross

    @classmethod
    def rate(
        cls,
        n: npt.ArrayLike,
        successes: npt.ArrayLike,
        prob: npt.ArrayLike,
        stratum: npt.ArrayLike | None = None,
    ) -> Cells:
        """Binary cells from units and successes (..., C, K); one stratum unless given."""
        return cls._of(n, successes, successes, prob, stratum, binary=True)

    @classmethod
    def mean(
        cls,
        n: npt.ArrayLike,
        total: npt.ArrayLike,
        total_sq: npt.ArrayLike,
        prob: npt.ArrayLike,
        stratum: npt.ArrayLike | None = None,
    ) -> Cells:
        """Cells of a metric with any values (amounts, counts); one stratum unless given."""
        return cls._of(n, total, total_sq, prob, stratum, binary=False)

    @classmethod
    def _of(
        cls,
        n: npt.ArrayLike,
        total: npt.ArrayLike,
        total_sq: npt.ArrayLike,
        prob: npt.ArrayLike,
        stratum: npt.ArrayLike | None,
        *,
        binary: bool,
    ) -> Cells:
        units = np.asarray(n, dtype=np.float64)
        labels = np.zeros(units.shape[-2], dtype=np.int64) if stratum is None else stratum
        arrays = (np.asarray(total), np.asarray(total_sq), np.asarray(prob))
        return cls(units, *arrays, np.asarray(labels), binary)

    @classmethod
    def clustered(
        cls,
        n: npt.ArrayLike,
        cases: npt.ArrayLike,
        cases_sq: npt.ArrayLike,
        total: npt.ArrayLike,
        total_sq: npt.ArrayLike,
        cross: npt.ArrayLike,
        prob: npt.ArrayLike,
        stratum: npt.ArrayLike | None = None,
        *,
        binary: bool,
    ) -> Cells:
        """Cells whose units (customers) carry several cases each; see the class attributes.

        ``binary`` says the per-case outcome is 0/1 (late again, paid on time), so that the
        small-stratum rule can use a rate's variance.
        """
        units = np.asarray(n, dtype=np.float64)
        labels = np.zeros(units.shape[-2], dtype=np.int64) if stratum is None else stratum
        return cls(
            units, np.asarray(total), np.asarray(total_sq), np.asarray(prob),
            np.asarray(labels), binary, np.asarray(cases), np.asarray(cases_sq),
            np.asarray(cross),
        )  # fmt: skip

    def case_sums(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(cases, cases_sq, cross)``: with one case per unit, ``(n, n, total)``."""
        if self.cases is None or self.cases_sq is None or self.cross is None:
            return self.n, self.n, self.total
        return self.cases, self.cases_sq, self.cross

    @property
    def n_arms(self) -> int:
        return int(self.n.shape[-1])

    @property
    def n_strata(self) -> int:
        return int(self.stratum.max()) + 1

    def units(self) -> FloatArray:
        """Shape (..., K): matured units per arm (all cells)."""
        result: FloatArray = self.n.sum(axis=-2)
        return result

    def onehot(self) -> FloatArray:
        """Shape (C, S): 1 where cell c belongs to stratum s."""
        result: FloatArray = (self.stratum[:, None] == np.arange(self.n_strata)).astype(np.float64)
        return result
