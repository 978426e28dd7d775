"""Drawing the arm of each new debtor: allocation weights (per segment if any), the randomized
holdout, then the contact rules. Pure: the service gives it the stored allocation and each
debtor's recent contacts, and stores what it returns.

Every step keeps the propensity equal to the probability of the arm the debtor actually got:
the overall weight of the arm in the debtor's segment (holdout included), adjusted by the
contact rules for a debtor who may not be contacted (:mod:`engine.compliance`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

from engine.compliance import apply_compliance
from engine.config import Experiment
from engine.policy.holdout import ConstrainedWeights, assign_with_holdout


@dataclass(frozen=True)
class AllocationWeights:
    """One allocation version: pooled weights, and per-segment ones if the policy has them.

    ``overall`` is the probability of each arm for a new debtor (holdout included), ``bandit``
    the split outside the holdout; a segment missing from ``segment_overall`` uses the pooled
    weights.
    """

    arms: tuple[str, ...]
    champion: str
    overall: Mapping[str, float]
    bandit: Mapping[str, float]
    holdout_share: float = 0.0
    segment_overall: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    segment_bandit: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def for_segment(self, segment: str | None) -> tuple[Mapping[str, float], Mapping[str, float]]:
        """(overall, bandit) weights for debtors of ``segment``."""
        if segment is not None and segment in self.segment_overall:
            return self.segment_overall[segment], self.segment_bandit[segment]
        return self.overall, self.bandit


@dataclass(frozen=True)
class DrawnArms:
    """Shape (n,) each: arm index into ``AllocationWeights.arms``, propensity, holdout
    membership and the reason when the debtor did not get the drawn arm."""

    arm_index: npt.NDArray[np.intp]
    propensity: npt.NDArray[np.float64]
    holdout: npt.NDArray[np.bool_]
    reason: npt.NDArray[np.object_]


def draw_arms(
    ids: npt.NDArray[np.object_],
    segments: npt.NDArray[np.object_],
    *,
    experiment: Experiment,
    allocation: AllocationWeights,
    contacts_7d: npt.NDArray[np.int64],
    now: datetime,
) -> DrawnArms:
    """Arms for new debtors ``ids`` (shape (n,)) of ``segments`` (shape (n,), None allowed).

    Deterministic in (salt, id, weights, contacts, time); one vectorised draw per segment.
    """
    arms = list(allocation.arms)
    n = len(ids)
    arm_index = np.zeros(n, dtype=np.intp)
    propensity = np.zeros(n)
    holdout = np.zeros(n, dtype=bool)
    reason = np.full(n, None, dtype=object)
    rules = experiment.compliance
    quiet = rules is not None and rules.quiet_hours is not None and rules.quiet_hours.contains(now)
    keys = np.array(["" if s is None else str(s) for s in segments], dtype=object)
    for key in np.unique(keys) if n else []:  # a handful of segments, vectorised within each
        rows = np.flatnonzero(keys == key)
        overall, bandit = allocation.for_segment(key or None)
        batch = assign_with_holdout(
            ids[rows],
            salt=experiment.assignment_salt,
            constrained=ConstrainedWeights(
                bandit=np.array([bandit[a] for a in arms]),
                holdout=np.array([1.0 if a == allocation.champion else 0.0 for a in arms]),
                overall=np.array([overall[a] for a in arms]),
                holdout_share=allocation.holdout_share,
                reasons=(),
            ),
        )
        arm_index[rows], propensity[rows] = batch.arm_index, batch.propensity
        holdout[rows] = batch.holdout
        if rules is not None:
            checked = apply_compliance(
                batch.arm_index,
                weights=[overall[a] for a in arms],
                contacting=[experiment.arm(a).contacts_debtor for a in arms],
                fallback=arms.index(rules.fallback_arm),
                contacts_7d=contacts_7d[rows],
                cap=rules.contact_cap_per_7_days,
                quiet=quiet,
                fallback_name=rules.fallback_arm,
            )
            arm_index[rows], propensity[rows] = checked.arm_index, checked.propensity
            reason[rows] = checked.reason
    return DrawnArms(arm_index, propensity, holdout, reason)
