"""Outcome sums laid out as (cell, arm) arrays with each arm's assignment probability, and
the metrics read from them (one table: the analysis and the promotion rule use the same)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass, fields

import numpy as np
import numpy.typing as npt

from engine.metrics import ArmTotals
from engine.stats.comparison import Cells

#: A cell key: an allocation version, or (segment, version) under per-segment allocation,
#: where the split differs by segment within a period. Sortable: a segment's periods stay in
#: order. Under per-segment allocation the segments are the strata of the estimand.
Stratum = int | tuple[str, int]

FloatArray = npt.NDArray[np.float64]
_FIELDS = tuple(f.name for f in fields(ArmTotals))


@dataclass(frozen=True)
class MetricSpec:
    """Where a metric's sums live in :class:`ArmTotals`: its units, sum and sum of squares
    (None for a 0/1 rate), and the scale it is shown in (e.g. per 1,000 debtors).

    ``cases``/``cases_sq``/``cross``: a per-case metric whose unit (the customer) carries
    several cases; the sums are per customer (:meth:`Cells.clustered`) and ``binary`` says
    whether the per-case outcome is 0/1.
    """

    units: str
    total: str
    total_sq: str | None = None
    scale: float = 1.0
    cases: str | None = None
    cases_sq: str | None = None
    cross: str | None = None
    binary: bool = False


#: The metrics compared directly on their per-debtor outcome. Net value and CLV are derived
#: (:meth:`StrataGrid.net_value_cells`, :mod:`engine.analysis.clv`).
METRICS: dict[str, MetricSpec] = {
    "pay_on_time": MetricSpec("pay_matured", "paid"),
    "churn": MetricSpec("churn_matured", "churned"),
    "collected_per_debtor": MetricSpec("pay_matured", "collected", "collected_sq"),
    "cases_per_1000": MetricSpec("assigned", "collection_cases", "collection_cases_sq", 1000.0),
    "reminders_per_1000": MetricSpec("assigned", "reminders", "reminders_sq", 1000.0),
}
#: The metrics of repeat dunning cases (experiments with ``unit.case`` only, see
#: :data:`CASE_METRICS`): late again per case, clustered by customer; cases per churn-matured
#: customer, a plain per-customer mean.
LATE_AGAIN = MetricSpec(
    "late_customers", "late_again", "late_again_sq",
    cases="late_cases", cases_sq="late_cases_sq", cross="late_cross", binary=True,
)  # fmt: skip
CASE_METRICS: dict[str, MetricSpec] = {
    "late_again": LATE_AGAIN,
    "cases_per_customer": MetricSpec("cpc_customers", "cpc_cases", "cpc_cases_sq"),
}
#: Guardrail metrics of the experiment language -> their spec, per debtor (the margins of
#: ``metrics.guardrails`` are per debtor: ``max_absolute_increase: 0.01`` is 10 per 1,000).
GUARDRAILS: dict[str, MetricSpec] = {
    "churn": METRICS["churn"],
    "collection_cases": MetricSpec("assigned", "collection_cases", "collection_cases_sq"),
    "reminders": MetricSpec("assigned", "reminders", "reminders_sq"),
    "late_again": LATE_AGAIN,
}


@dataclass(frozen=True)
class StrataGrid:
    """Every :class:`ArmTotals` field as a (C, K) array of randomised units, the arms'
    assignment probabilities (C, K), and each cell's stratum (C,) named in ``strata``."""

    fields: dict[str, FloatArray]
    prob: FloatArray
    stratum: npt.NDArray[np.int64]
    strata: tuple[str, ...]

    @property
    def n_cells(self) -> int:
        return int(self.prob.shape[0])

    def cells(self, spec: MetricSpec) -> Cells:
        """One metric's :class:`~engine.stats.comparison.Cells`."""
        sums = self.fields[spec.total] * spec.scale
        n = self.fields[spec.units]
        if spec.cases is not None and spec.cases_sq is not None and spec.cross is not None:
            f = self.fields
            squares = f[spec.total_sq or spec.total] * spec.scale**2
            return Cells.clustered(
                n, f[spec.cases], f[spec.cases_sq], sums, squares, f[spec.cross] * spec.scale,
                self.prob, self.stratum, binary=spec.binary,
            )  # fmt: skip
        if spec.total_sq is None:
            return Cells(n, sums, sums, self.prob, self.stratum, binary=True)
        squares = self.fields[spec.total_sq] * spec.scale**2
        return Cells(n, sums, squares, self.prob, self.stratum, binary=False)

    def net_value_cells(self, residual_value: float) -> Cells:
        """Per churn-matured debtor: collected - treatment cost - churned x ``residual_value``.

        Its sum of squares comes from the cross sums, so the covariance of paying and
        churning within a debtor is in the variance.
        """
        f, v = self.fields, residual_value
        total = f["nv_collected"] - f["nv_cost"] - v * f["churned"]
        squares = (
            f["nv_collected_sq"]
            + f["nv_cost_sq"]
            + v * v * f["churned"]
            - 2.0 * f["nv_collected_cost"]
            - 2.0 * v * f["nv_collected_churned"]
            + 2.0 * v * f["nv_cost_churned"]
        )
        # The expansion can land a hair below the Cauchy-Schwarz bound by rounding.
        n = f["churn_matured"]
        with np.errstate(invalid="ignore", divide="ignore"):
            floor = np.where(n > 0, total**2 / np.where(n > 0, n, 1.0), 0.0)
        return Cells(n, total, np.maximum(squares, floor), self.prob, self.stratum, binary=False)


def strata_grid(
    arms: Sequence[str],
    totals: Mapping[tuple[str, Stratum], ArmTotals],
    weights: Mapping[Stratum, Mapping[str, float]],
) -> StrataGrid:
    """Lay ``totals`` out by cell and arm.

    Consecutive cells of one segment with the same split merge (within them the split is
    fixed, so pooling them changes no estimate and keeps the arrays small). Under per-segment
    allocation (tuple keys) each segment is a stratum; otherwise there is one stratum.
    """
    keys = sorted({key for _, key in totals})
    if not keys:
        keys = [max(weights)] if weights else []
    missing = [key for key in keys if key not in weights]
    if missing:
        raise ValueError(f"no weights for allocation cell(s) {missing}")
    k, c = len(arms), len(keys)
    prob = np.array([[weights[key].get(arm, 0.0) for arm in arms] for key in keys], dtype=float)
    empty = astuple(ArmTotals())
    table = np.array(
        [
            [astuple(totals[(arm, key)]) if (arm, key) in totals else empty for arm in arms]
            for key in keys
        ],
        dtype=float,
    ).reshape(c, k, len(_FIELDS))
    names = [key[0] if isinstance(key, tuple) else "" for key in keys]
    strata = tuple(dict.fromkeys(names))
    label = np.array([strata.index(name) for name in names], dtype=np.int64)
    if c == 0:
        return StrataGrid(
            {n: table[:, :, i] for i, n in enumerate(_FIELDS)}, prob.reshape(0, k), label, strata
        )
    # A new run starts where the segment or the split changes.
    changed = np.r_[
        True, (label[1:] != label[:-1]) | np.any(np.abs(np.diff(prob, axis=0)) > 1e-12, axis=1)
    ]
    starts = np.flatnonzero(changed)
    merged = np.add.reduceat(table, starts, axis=0)
    return StrataGrid(
        {n: merged[:, :, i] for i, n in enumerate(_FIELDS)}, prob[starts], label[starts], strata
    )
