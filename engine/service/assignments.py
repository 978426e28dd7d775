"""Assigning debtors to arms: sticky, salted, with the propensity stored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine

from engine.config import Experiment
from engine.drawing import AllocationWeights, draw_arms
from engine.eligibility import columns_used, ineligibility
from engine.layers import outside_layer
from engine.service.clock import ensure_forward
from engine.service.common import (
    ServiceError,
    load_current,
)
from engine.store import queries
from engine.store.db import transaction
from engine.store.tables import AllocationVersion, Assignment


@dataclass(frozen=True)
class AssignResult:
    """One row per requested debtor (input order).

    ``new`` is False for debtors who already had an arm (sticky assignment), for repeats of an
    id within the batch and for ineligible debtors. An ineligible debtor (``eligible`` False)
    has no arm (None), propensity NaN, versions 0, and the eligibility reason in ``reason``.
    """

    debtor_id: npt.NDArray[np.object_]
    arm: npt.NDArray[np.object_]
    propensity: npt.NDArray[np.float64]
    allocation_version: npt.NDArray[np.int64]
    new: npt.NDArray[np.bool_]
    holdout: npt.NDArray[np.bool_]  # in the randomized holdout
    #: Assigned: None, or why the debtor did not get the drawn arm (compliance);
    #: ineligible: why the debtor was left out.
    reason: npt.NDArray[np.object_]
    eligible: npt.NDArray[np.bool_]
    experiment_version: npt.NDArray[np.int64]
    treatment: npt.NDArray[np.object_]  # what to do: the arm, or the arm a router chose

    @property
    def new_count(self) -> int:
        return int(self.new.sum())

    @property
    def ineligible_count(self) -> int:
        return int((~self.eligible).sum())


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


def _ineligibility(
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


def assign_debtors(
    engine: Engine,
    *,
    experiment_key: str,
    debtor_ids: Sequence[str] | npt.NDArray[Any],
    segments: Sequence[str | None] | npt.NDArray[Any] | None = None,
    amounts_owed: Sequence[float] | npt.NDArray[np.float64] | None = None,
    attributes: Mapping[str, npt.ArrayLike] | None = None,
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
    segment (e.g. debtor type) and amount owed; see :mod:`engine.drawing`.

    Raises
    ------
    engine.service.clock.BackdatedWriteError
        If ``now`` precedes the experiment's latest stored fact.
    """
    ids = np.asarray(debtor_ids, dtype=object)
    n = len(ids)
    seg = np.asarray(segments if segments is not None else [None] * n, dtype=object)
    owed = np.asarray(amounts_owed if amounts_owed is not None else [np.nan] * n, dtype=float)
    if len(seg) != n or len(owed) != n:
        raise ValueError("debtor_ids, segments and amounts_owed must have the same length")

    # Only the first occurrence of an id in the batch is a candidate; repeats get its answer.
    _, first_seen = np.unique(ids, return_index=True)
    first = np.sort(first_seen)
    with transaction(engine) as session:
        experiment, version = load_current(session, experiment_key)
        ensure_forward(session, experiment_key=experiment_key, now=now)
        allocation = queries.latest_allocation(session, experiment_key=experiment_key)
        if allocation is None:  # pragma: no cover - sync always writes one
            raise ServiceError(f"experiment {experiment_key!r} has no allocation")
        excluded = _ineligibility(experiment, ids, seg, owed, attributes, now=now)
        out = first[excluded[first] != None]  # noqa: E711 - elementwise on an object array
        kept = queries.assigned_arms(
            session, experiment_key=experiment_key, debtor_ids=[str(d) for d in ids[out]]
        )
        left_out = {str(d): excluded[i] for d, i in zip(ids[out], out, strict=True)}
        for debtor in kept:
            del left_out[debtor]
        candidates = np.array([i for i in first if str(ids[i]) not in left_out], dtype=np.intp)
        arms = list(allocation.weights)
        rules = experiment.compliance
        history: dict[str, int] = {}
        if rules is not None and rules.contact_cap_per_7_days is not None:
            history = queries.recent_contacts(
                session,
                debtor_ids=[str(d) for d in ids[candidates]],
                since=now - timedelta(days=7),
                until=now,
            )
        drawn = draw_arms(
            ids[candidates],
            seg[candidates],
            experiment=experiment,
            allocation=allocation_weights(allocation),
            contacts_7d=np.array([history.get(str(d), 0) for d in ids[candidates]]),
            now=now,
            amounts=owed[candidates],
        )
        arm_index, propensity, reasons = drawn.arm_index, drawn.propensity, drawn.reason
        arm_keys = np.asarray(arms, dtype=object)[arm_index]
        routed = drawn.treatment is not None and drawn.treatment_propensity is not None
        treatments = np.asarray(arms, dtype=object)[
            drawn.treatment if drawn.treatment is not None else arm_index
        ]
        treatment_p = (
            drawn.treatment_propensity
            if drawn.treatment_propensity is not None
            else np.full(len(candidates), np.nan)
        )
        cost_of = {arm.key: arm.cost for arm in experiment.arms}
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
                "holdout": bool(holdout),
                "reason": reason,
                "constrained": bool(blocked),
                "treatment": str(treatment) if routed else None,
                "treatment_propensity": float(tp) if routed else None,
                "treatment_cost": cost_of[str(treatment)],
                "assigned_at": now,
                "pay_due_at": now + window,
                "churn_due_at": now + horizon,
            }
            for debtor, arm, p, segment, amount, holdout, reason, blocked, treatment, tp in zip(
                ids[candidates],
                arm_keys,
                propensity,
                seg[candidates],
                owed[candidates],
                drawn.holdout,
                reasons,
                drawn.constrained,
                treatments,
                treatment_p,
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
        arm_of: dict[str, queries.AssignedRow] = {
            row["debtor_id"]: queries.AssignedRow(
                row["arm"],
                row["propensity"],
                allocation.version,
                row["holdout"],
                row["reason"],
                row["treatment"] or row["arm"],
                version.version,
            )
            for row in rows
            if row["debtor_id"] in inserted
        }
        sticky = [str(d) for d in ids[candidates] if str(d) not in inserted]
        arm_of.update(
            queries.assigned_arms(session, experiment_key=experiment_key, debtor_ids=sticky)
        )
    is_new = np.zeros(n, dtype=bool)
    is_new[candidates] = [str(d) in inserted for d in ids[candidates]]
    # Ineligible debtors: no arm, no propensity, version 0, the reason they were left out.
    arm_of.update(
        {
            d: queries.AssignedRow(None, np.nan, 0, False, why, None, 0)
            for d, why in left_out.items()
        }
    )
    keys = [str(d) for d in ids]
    return AssignResult(
        debtor_id=ids,
        arm=np.array([arm_of[k].arm for k in keys], dtype=object),
        propensity=np.array([arm_of[k].propensity for k in keys], dtype=np.float64),
        allocation_version=np.array([arm_of[k].allocation_version for k in keys], dtype=np.int64),
        new=is_new,
        holdout=np.array([arm_of[k].holdout for k in keys], dtype=bool),
        reason=np.array([arm_of[k].reason for k in keys], dtype=object),
        treatment=np.array([arm_of[k].treatment for k in keys], dtype=object),
        eligible=np.array([k not in left_out for k in keys], dtype=bool),
        experiment_version=np.array([arm_of[k].experiment_version for k in keys], dtype=np.int64),
    )
