"""Per-decision logs for off-policy evaluation (one row per matured assignment)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import and_, func, select
from sqlmodel import Session

from engine.store.tables import Assignment


@dataclass(frozen=True)
class DecisionLog:
    """Shape (n,) each: treatment given, its probability, paid within the window, segment and
    amount owed (NaN when unknown) of every assignment whose pay window has closed."""

    treatment: npt.NDArray[np.object_]
    propensity: npt.NDArray[np.float64]
    paid: npt.NDArray[np.float64]
    segment: npt.NDArray[np.object_]
    amount_owed: npt.NDArray[np.float64]


def decision_log(
    session: Session,
    *,
    experiment_key: str,
    now: datetime,
    min_experiment_version: int | None = None,
) -> DecisionLog:
    """The matured decisions of an experiment as known at ``now``, in assignment order (only
    those made under ``min_experiment_version`` or later, if given: the current definition).

    Where no treatment was recorded (experiments without a router) the treatment is the arm and
    its probability the arm's propensity.
    """
    a = Assignment.__table__.c  # type: ignore[attr-defined]
    paid = and_(a.paid_at.is_not(None), a.paid_at <= a.pay_due_at)
    statement = (
        select(
            func.coalesce(a.treatment, a.arm),
            func.coalesce(a.treatment_propensity, a.propensity),
            paid,
            a.segment,
            a.amount_owed,
        )
        .where(
            a.experiment_key == experiment_key,
            a.pay_due_at <= now,
            a.experiment_version >= (min_experiment_version or 0),
        )
        .order_by(a.assigned_at, a.id)
    )
    rows = session.execute(statement).all()
    columns = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
    return DecisionLog(
        treatment=np.array(columns[0], dtype=object),
        propensity=np.array(columns[1], dtype=np.float64),
        paid=np.array([bool(v) for v in columns[2]], dtype=np.float64),
        segment=np.array(columns[3], dtype=object),
        amount_owed=np.array([np.nan if v is None else v for v in columns[4]], dtype=np.float64),
    )
