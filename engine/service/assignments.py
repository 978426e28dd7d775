"""Assigning debtors to arms: sticky, salted, with the propensity stored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine

from engine.assignment import assign
from engine.service.common import (
    ServiceError,
    load_current,
)
from engine.store import queries
from engine.store.db import transaction
from engine.store.tables import (
    Assignment,
)


@dataclass(frozen=True)
class AssignResult:
    """One row per requested debtor (input order).

    ``new`` is False for debtors who already had an arm (sticky assignment) and for repeats of
    an id within the batch.
    """

    debtor_id: npt.NDArray[np.object_]
    arm: npt.NDArray[np.object_]
    propensity: npt.NDArray[np.float64]
    allocation_version: npt.NDArray[np.int64]
    new: npt.NDArray[np.bool_]

    @property
    def new_count(self) -> int:
        return int(self.new.sum())


def assign_debtors(
    engine: Engine,
    *,
    experiment_key: str,
    debtor_ids: Sequence[str] | npt.NDArray[Any],
    segments: Sequence[str | None] | npt.NDArray[Any] | None = None,
    amounts_owed: Sequence[float] | npt.NDArray[np.float64] | None = None,
    now: datetime,
) -> AssignResult:
    """Assign a batch of debtors under the current allocation, in one transaction.

    Debtors already assigned keep their arm. New ones get the arm of the salted hash under the
    current weights; the row stores the experiment and allocation versions and the propensity.
    """
    ids = np.asarray(debtor_ids, dtype=object)
    n = len(ids)
    seg = np.asarray(segments if segments is not None else [None] * n, dtype=object)
    owed = np.asarray(amounts_owed if amounts_owed is not None else [np.nan] * n, dtype=float)
    if len(seg) != n or len(owed) != n:
        raise ValueError("debtor_ids, segments and amounts_owed must have the same length")

    # Only the first occurrence of an id in the batch is a candidate; repeats get its arm.
    _, first_seen = np.unique(ids, return_index=True)
    candidates = np.sort(first_seen)
    with transaction(engine) as session:
        experiment, version = load_current(session, experiment_key)
        allocation = queries.latest_allocation(session, experiment_key=experiment_key)
        if allocation is None:  # pragma: no cover - sync always writes one
            raise ServiceError(f"experiment {experiment_key!r} has no allocation")
        arms = list(allocation.weights)
        batch = assign(
            ids[candidates],
            salt=experiment.assignment_salt,
            arm_keys=arms,
            weights=[allocation.weights[a] for a in arms],
        )
        window = timedelta(days=experiment.metrics.pay_window_days)
        horizon = timedelta(days=experiment.metrics.churn_horizon_days)
        rows = [
            {
                "experiment_key": experiment_key,
                "debtor_id": str(debtor),
                "arm": str(arm),
                "propensity": float(p),
                "experiment_version": version.version,
                "allocation_version": allocation.version,
                "segment": None if segment is None else str(segment),
                "amount_owed": None if np.isnan(amount) else float(amount),
                "assigned_at": now,
                "pay_due_at": now + window,
                "churn_due_at": now + horizon,
            }
            for debtor, arm, p, segment, amount in zip(
                ids[candidates],
                batch.arm,
                batch.propensity,
                seg[candidates],
                owed[candidates],
                strict=True,
            )
        ]
        # ON CONFLICT DO NOTHING: a debtor assigned earlier (or by a concurrent job) keeps
        # the first arm; RETURNING tells which rows are ours.
        inserted = set(
            queries.insert_ignoring_duplicates(
                session,
                Assignment.__table__,  # type: ignore[attr-defined]
                rows,
                returning="debtor_id",
            )
        )
        # Events may have arrived before the assignment (a payment the same morning).
        queries.refresh_outcomes(session, sorted(inserted))
        arm_of = {
            row["debtor_id"]: (row["arm"], row["propensity"], allocation.version)
            for row in rows
            if row["debtor_id"] in inserted
        }
        sticky = [str(d) for d in ids[candidates] if str(d) not in inserted]
        arm_of.update(
            queries.assigned_arms(session, experiment_key=experiment_key, debtor_ids=sticky)
        )
    is_new = np.zeros(n, dtype=bool)
    is_new[candidates] = [str(d) in inserted for d in ids[candidates]]
    keys = [str(d) for d in ids]
    return AssignResult(
        debtor_id=ids,
        arm=np.array([arm_of[k][0] for k in keys], dtype=object),
        propensity=np.array([arm_of[k][1] for k in keys], dtype=np.float64),
        allocation_version=np.array([arm_of[k][2] for k in keys], dtype=np.int64),
        new=is_new,
    )
