"""Who may enter an experiment on a day: its status and dates, its layer's range, then its
eligibility rules, first reason first (the assignment's entry criterion)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from engine.config import Experiment
from engine.eligibility import columns_used, ineligibility
from engine.layers import outside_layer
from engine.service.common import ServiceError


def entry_refusals(
    experiment: Experiment,
    ids: npt.NDArray[np.object_],
    segments: npt.NDArray[np.object_],
    amounts_owed: npt.NDArray[np.float64],
    attributes: Mapping[str, npt.ArrayLike] | None,
    *,
    now: datetime,
) -> npt.NDArray[np.object_]:
    """Per debtor, why they may not enter (None: eligible), first reason first: the
    experiment's status and dates, its layer range, then the eligibility rules."""
    n = len(segments)
    closed = experiment.accepts_assignments_on(now.astimezone(UTC).date())
    if closed is not None:
        return np.full(n, closed, dtype=object)
    reasons = np.full(n, None, dtype=object)
    if experiment.layer is not None:
        lo, hi = experiment.layer.range
        reasons[outside_layer(ids, experiment.layer)] = (
            f"in another experiment's part of layer {experiment.layer.key} "
            f"(this one takes [{lo:g}, {hi:g}))"
        )
    if not experiment.eligibility:
        return reasons
    # The segment and the amount owed are columns too; a column given explicitly wins.
    columns: dict[str, npt.ArrayLike] = {"amount_owed": amounts_owed}
    if len(experiment.segment_columns) == 1:  # several: their cells come in ``attributes``
        columns[experiment.segment_columns[0]] = segments
    columns.update(attributes or {})
    missing = [c for c in columns_used(experiment.eligibility) if c not in columns]
    if missing:
        raise ServiceError(
            f"experiment {experiment.key!r} has eligibility rules on {', '.join(missing)}, "
            "which the debtors do not have"
        )
    try:
        by_rules = ineligibility(experiment.eligibility, columns)
    except ValueError as exc:
        raise ServiceError(f"cannot evaluate eligibility: {exc}") from None
    return np.where(reasons == None, by_rules, reasons)  # noqa: E711 - elementwise
