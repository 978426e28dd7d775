"""Assigning debtors to arms: sticky, salted, with the propensity stored.

With ``unit: {customer, case}`` each row is a case of a customer: the customer's first case
draws the arm (the ``assignment`` row, its propensity), every case of the customer gets that
arm and a ``dunning_case`` row opened at the run's time (:mod:`engine.store.queries.cases`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
from sqlalchemy import Engine
from sqlmodel import Session

from engine.drawing import AllocationWeights, draw_arms
from engine.service.answers import Answers, AssignResult, positions
from engine.service.cases import checked_case_ids, open_cases
from engine.service.clock import ensure_forward
from engine.service.common import (
    ServiceError,
    load_current,
)
from engine.service.entry import entry_refusals
from engine.store import queries
from engine.store.db import transaction
from engine.store.tables import AllocationVersion


def allocation_weights(row: AllocationVersion) -> AllocationWeights:
    """The weights of a stored allocation, as the pure drawing step takes them."""
    return AllocationWeights(
        arms=tuple(row.weights),
        champion=row.champion,
        overall=dict(row.weights),
        bandit=dict(row.bandit_weights or row.weights),
        holdout_share=row.holdout_share,
        segment_overall={k: dict(v) for k, v in row.segment_weights.items()},
        segment_bandit={k: dict(v) for k, v in row.segment_bandit_weights.items()},
    )


@dataclass(frozen=True)
class Drawn:
    """The new debtors of a chunk, drawn: the staged rows and what the caller is told."""

    rows: pa.Table
    arm: npt.NDArray[np.object_]
    propensity: npt.NDArray[np.float64]
    holdout: npt.NDArray[np.bool_]
    reason: npt.NDArray[np.object_]
    treatment: npt.NDArray[np.object_]


class AssignmentJob:
    """Assigning one batch, chunk by chunk, inside one transaction (see :func:`assignment_job`).

    Every chunk is assigned as :func:`assign_debtors` describes; a debtor assigned by an earlier
    chunk of the same job is sticky like any other.
    """

    def __init__(self, session: Session, *, experiment_key: str, now: datetime) -> None:
        self.session, self.key, self.now = session, experiment_key, now
        self.experiment, version = load_current(session, experiment_key)
        ensure_forward(session, experiment_key=experiment_key, now=now)
        allocation = queries.latest_allocation(session, experiment_key=experiment_key)
        if allocation is None:  # pragma: no cover - sync always writes one
            raise ServiceError(f"experiment {experiment_key!r} has no allocation")
        self.allocation, self.weights = allocation, allocation_weights(allocation)
        self.arms = np.asarray(list(allocation.weights), dtype=object)
        metrics = self.experiment.metrics
        self.constants = {
            "experiment_key": experiment_key,
            "experiment_version": version.version,
            "allocation_version": allocation.version,
            "assigned_at": now,
            "pay_due_at": now + timedelta(days=metrics.pay_window_days),
            "churn_due_at": now + timedelta(days=metrics.churn_horizon_days),
        }
        cost_of = {arm.key: arm.cost for arm in self.experiment.arms}
        self.costs = np.array([cost_of[str(a)] for a in self.arms], dtype=np.float64)
        self.case_constants = {
            "experiment_key": experiment_key,
            "opened_at": now,
            "pay_due_at": self.constants["pay_due_at"],
        }
        #: Case ids of the chunk being checked that the experiment stored for their customer.
        self._stored_cases = pa.array([], pa.string())

    def foreign_cases(
        self, case_ids: npt.NDArray[np.object_], debtor_ids: npt.NDArray[np.object_]
    ) -> npt.NDArray[np.bool_]:
        """Which case ids this experiment stored for another customer: such rows are refused
        (the debtor file reader sets them aside). The ones it stored for the same customer are
        remembered, so that :meth:`assign` does not send them to the store again (a sticky
        re-run of a file would otherwise insert every case a second time, for nothing)."""
        foreign, known = queries.stored_cases(
            self.session, experiment_key=self.key, case_ids=case_ids, debtor_ids=debtor_ids
        )
        # Cases are never removed while the job holds the experiment's lock: a remembered id
        # stays stored, whichever chunk it came from.
        self._stored_cases = pa.array(np.asarray(case_ids, dtype=object)[known], pa.string())
        return foreign

    def _draw(
        self,
        ids: npt.NDArray[np.object_],
        seg: npt.NDArray[np.object_],
        owed: npt.NDArray[np.float64],
    ) -> Drawn:
        rules = self.experiment.compliance
        contacts = np.zeros(len(ids), dtype=np.int64)
        if rules is not None and rules.contact_cap_per_7_days is not None and len(ids):
            history = queries.recent_contacts(
                self.session,
                debtor_ids=[str(d) for d in ids],
                since=self.now - timedelta(days=7),
                until=self.now,
            )
            contacts = np.array([history.get(str(d), 0) for d in ids], dtype=np.int64)
        drawn = draw_arms(
            ids,
            seg,
            experiment=self.experiment,
            allocation=self.weights,
            contacts_7d=contacts,
            now=self.now,
            amounts=owed,
        )
        routed = drawn.treatment is not None and drawn.treatment_propensity is not None
        given = drawn.treatment if drawn.treatment is not None else drawn.arm_index
        arm = self.arms[drawn.arm_index]
        treatment = self.arms[given]
        rows = pa.table(
            {
                "debtor_id": pa.array(ids, type=pa.string()),
                "arm": pa.array(arm, type=pa.string()),
                "propensity": pa.array(drawn.propensity, type=pa.float64()),
                "segment": pa.array(seg, type=pa.string(), from_pandas=True),
                "amount_owed": pa.array(owed, type=pa.float64(), from_pandas=True),
                "holdout": pa.array(drawn.holdout, type=pa.bool_()),
                "reason": pa.array(drawn.reason, type=pa.string(), from_pandas=True),
                "constrained": pa.array(drawn.constrained, type=pa.bool_()),
                "treatment": pa.array(treatment if routed else [None] * len(ids), pa.string()),
                "treatment_propensity": pa.array(
                    drawn.treatment_propensity if routed else [None] * len(ids), pa.float64()
                ),
                "treatment_cost": pa.array(self.costs[given], type=pa.float64()),
            }
        )
        return Drawn(rows, arm, drawn.propensity, drawn.holdout, drawn.reason, treatment)

    def assign(
        self,
        debtor_ids: Sequence[str] | npt.NDArray[Any],
        segments: Sequence[str | None] | npt.NDArray[Any] | None = None,
        amounts_owed: Sequence[float] | npt.NDArray[np.float64] | None = None,
        attributes: Mapping[str, npt.ArrayLike] | None = None,
        case_ids: Sequence[str] | npt.NDArray[Any] | None = None,
        *,
        cases_screened: bool = False,
    ) -> AssignResult:
        """Assign one chunk; the result has one row per id of the chunk (input order).

        ``case_ids`` (required with ``unit.case``, refused without): one per row, unique; a
        customer may have several rows, all get the customer's arm. ``cases_screened``: the
        caller has set aside, in this transaction, the rows whose case id :meth:`foreign_cases`
        refuses (a debtor file reader does), so the store is not asked twice.

        Raises
        ------
        ServiceError
            Case ids missing, given to an experiment without ``unit.case``, repeated, empty,
            or stored for another customer.
        """
        ids = np.asarray(debtor_ids, dtype=object)
        n = len(ids)
        cases = checked_case_ids(
            self.experiment, ids, case_ids, None if cases_screened else self.foreign_cases
        )
        seg = np.asarray(segments if segments is not None else [None] * n, dtype=object)
        owed = np.asarray(amounts_owed if amounts_owed is not None else [np.nan] * n, float)
        if len(seg) != n or len(owed) != n:
            raise ValueError("debtor_ids, segments and amounts_owed must have the same length")
        excluded = entry_refusals(self.experiment, ids, seg, owed, attributes, now=self.now)
        # Only the first occurrence of an id is a candidate; repeats get its answer.
        keys = np.array([str(d) for d in ids], dtype=object) if n else ids
        # Hash-based (pandas), not a sort of Python strings: codes number the distinct ids in
        # order of first appearance, so code k's first row is first[k].
        inverse, _ = pd.factorize(keys)
        first = np.flatnonzero(~pd.Series(inverse).duplicated().to_numpy())
        # Who is assigned already (sticky, whether or not they would pass the rules now).
        stored = queries.stored_assignments(
            self.session, experiment_key=self.key, debtor_ids=pa.array(keys[first], pa.string())
        )
        found = positions(keys[first], stored)
        eligible = excluded[first] == None  # noqa: E711 - elementwise on an object array
        new = np.flatnonzero((found < 0) & eligible)
        out = Answers(excluded[first])
        if len(new):
            drawn = self._draw(keys[first][new], seg[first][new], owed[first][new])
            inserted = queries.insert_assignments(self.session, drawn.rows, self.constants)
            out.put_new(new[inserted], drawn, inserted, self.constants)
            if not inserted.all():  # a concurrent writer got there first: its arm stands
                late = new[~inserted]
                stored = pa.concat_tables(
                    [
                        stored,
                        queries.stored_assignments(
                            self.session,
                            experiment_key=self.key,
                            debtor_ids=pa.array(keys[first][late], pa.string()),
                        ),
                    ]
                )
                found = positions(keys[first], stored)
        out.put_stored(np.flatnonzero(found >= 0), stored, found[found >= 0])
        is_new = out.new[inverse]
        is_new[np.setdiff1d(np.arange(n), first)] = False  # repeats are never new
        result = out.result(ids, inverse, is_new)
        if cases is None:
            return result
        opened = open_cases(
            self.session, result, cases, owed, self.case_constants, self._stored_cases
        )
        return replace(result, case_id=cases, new_cases=opened)


@contextmanager
def assignment_job(
    engine: Engine, *, experiment_key: str, now: datetime
) -> Iterator[AssignmentJob]:
    """One transaction that assigns a batch in chunks: the caller calls
    :meth:`AssignmentJob.assign` per chunk; on leaving, the outcomes of new debtors who already
    have events are refreshed and everything commits, or nothing does if anything raised.

    Concurrent jobs of one experiment take turns (:func:`engine.store.queries.lock_writes`).

    Raises
    ------
    engine.service.clock.BackdatedWriteError
        If ``now`` precedes the experiment's latest stored fact.
    """
    with transaction(engine) as session:
        queries.lock_writes(session, experiment_key=experiment_key)
        yield AssignmentJob(session, experiment_key=experiment_key, now=now)
        # Events may have arrived before the assignment (a payment the same morning).
        queries.refresh_outcomes(session)


def assign_debtors(
    engine: Engine,
    *,
    experiment_key: str,
    debtor_ids: Sequence[str] | npt.NDArray[Any],
    segments: Sequence[str | None] | npt.NDArray[Any] | None = None,
    amounts_owed: Sequence[float] | npt.NDArray[np.float64] | None = None,
    attributes: Mapping[str, npt.ArrayLike] | None = None,
    case_ids: Sequence[str] | npt.NDArray[Any] | None = None,
    now: datetime,
) -> AssignResult:
    """Assign a batch of debtors under the current allocation, in one transaction.

    Debtors already assigned keep their arm. New ones pass the experiment's eligibility rules
    (over ``segments``, ``amounts_owed`` and the columns in ``attributes``, one value per
    debtor) and get the arm of the salted hash under the current weights; the row stores the
    experiment and allocation versions and the propensity. Ineligible debtors are not stored.
    Eligibility is an entry criterion: a debtor assigned earlier keeps their arm even if they
    would no longer pass the rules (intent to treat).
    A debtor drawn to a router arm gets the treatment its model routes them to, from their
    segment (e.g. debtor type) and amount owed; see :mod:`engine.drawing`. With ``unit.case``
    every row is a case (``case_ids``, one per row): see :meth:`AssignmentJob.assign`.

    Raises
    ------
    engine.service.clock.BackdatedWriteError
        If ``now`` precedes the experiment's latest stored fact.
    """
    with assignment_job(engine, experiment_key=experiment_key, now=now) as job:
        return job.assign(debtor_ids, segments, amounts_owed, attributes, case_ids)
