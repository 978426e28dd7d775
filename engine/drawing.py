"""Drawing the arm of each new debtor: allocation weights (per segment if any), the randomized
holdout, then the contact rules. Pure: the service gives it the stored allocation and each
debtor's recent contacts, and stores what it returns.

Every step keeps the propensity equal to the probability of the arm the debtor actually got:
the overall weight of the arm in the debtor's segment (holdout included), adjusted by the
contact rules for a debtor who may not be contacted (:mod:`engine.compliance`).

Router arms (``router:`` in the YAML) give each debtor who draws them the treatment of one of
their listed arms, chosen by the stored model from the debtor's covariates. The choice is a
deterministic function of the covariates, so the propensity of the router arm is its weight, as
for any arm; what changes is the treatment, and with it whether the debtor is contacted: a
debtor who may not be contacted and draws a router that routes them to a contacting treatment
gets the fallback arm, exactly like a debtor who draws that treatment's own arm. Besides the
arm, experiments with a router record each debtor's treatment and its probability,
``sum of the weights of the arms that would have given this debtor this treatment`` (needed to
evaluate a router off-policy on the logs, :mod:`engine.uplift.logged`).
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
    #: A contact rule bound for the debtor (whatever arm they drew): not randomised between
    #: the contacting and the other arms, so left out of every comparison.
    constrained: npt.NDArray[np.bool_]
    # With a router arm only (else None): the treatment applied, an index into the arms (a
    # plain arm's own index), and the probability of that treatment for the debtor.
    treatment: npt.NDArray[np.intp] | None = None
    treatment_propensity: npt.NDArray[np.float64] | None = None


def routed_treatments(
    experiment: Experiment,
    arms: list[str],
    segments: npt.NDArray[np.object_],
    amounts: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """Treatment each arm would give each debtor, and where a router lacked inputs.

    Returns
    -------
    tuple
        ``(treat (m, k), invalid (m, k))``: ``treat[i, j]`` is the index of the treatment arm
        ``arms[j]`` gives debtor ``i`` (``j`` itself for a plain arm); ``invalid[i, j]`` is True
        where router ``j`` could not encode debtor ``i``'s inputs (default treatment given).
    """
    m, k = len(segments), len(arms)
    treat = np.broadcast_to(np.arange(k, dtype=np.intp), (m, k)).copy()
    invalid = np.zeros((m, k), dtype=bool)
    inputs = {experiment.segment_columns[0]: segments, "amount_owed": amounts}
    for key, model in experiment.routers.items():  # a router or two, each vectorised
        j = arms.index(key)
        routed = model.route(inputs, m)
        options = np.array([arms.index(t) for t in model.treatments], dtype=np.intp)
        treat[:, j] = options[routed.choice]
        invalid[:, j] = ~routed.valid
    return treat, invalid


def draw_arms(
    ids: npt.NDArray[np.object_],
    segments: npt.NDArray[np.object_],
    *,
    experiment: Experiment,
    allocation: AllocationWeights,
    contacts_7d: npt.NDArray[np.int64],
    now: datetime,
    amounts: npt.NDArray[np.float64] | None = None,
) -> DrawnArms:
    """Arms for new debtors ``ids`` (shape (n,)) of ``segments`` (shape (n,), None allowed);
    ``amounts`` (n,) owed, NaN when unknown, feed router arms.

    Deterministic in (salt, id, weights, contacts, time); one vectorised draw per segment.
    """
    arms = list(allocation.arms)
    n = len(ids)
    arm_index = np.zeros(n, dtype=np.intp)
    propensity = np.zeros(n)
    holdout = np.zeros(n, dtype=bool)
    reason = np.full(n, None, dtype=object)
    constrained = np.zeros(n, dtype=bool)
    routers = bool(experiment.routers)
    treatment = np.zeros(n, dtype=np.intp) if routers else None
    treatment_p = np.zeros(n) if routers else None
    owed = np.full(n, np.nan) if amounts is None else np.asarray(amounts, dtype=np.float64)
    contacts = np.array([experiment.arm(a).contacts_debtor for a in arms], dtype=bool)
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
        weights = np.array([overall[a] for a in arms])
        if routers:
            treat, invalid = routed_treatments(experiment, arms, segments[rows], owed[rows])
            contacting = contacts[treat]  # (m, k): per debtor, as their treatment decides
        if rules is not None:
            checked = apply_compliance(
                batch.arm_index,
                weights=weights,
                contacting=contacting if routers else contacts,
                fallback=arms.index(rules.fallback_arm),
                contacts_7d=contacts_7d[rows],
                cap=rules.contact_cap_per_7_days,
                quiet=quiet,
                fallback_name=rules.fallback_arm,
            )
            arm_index[rows], propensity[rows] = checked.arm_index, checked.propensity
            reason[rows] = checked.reason
            constrained[rows] = checked.blocked
        if treatment is not None and treatment_p is not None:
            blocked = checked.blocked if rules is not None else np.zeros(len(rows), dtype=bool)
            fallback = arms.index(rules.fallback_arm) if rules is not None else 0
            # What each arm would finally give each debtor, the contact rules applied.
            final = np.where(blocked[:, None] & contacting, fallback, treat)
            local = np.arange(len(rows))
            given = final[local, batch.arm_index]
            treatment[rows] = given
            treatment_p[rows] = np.where(final == given[:, None], weights, 0.0).sum(axis=1)
            defaulted = invalid[local, arm_index[rows]] & (reason[rows] == None)  # noqa: E711
            reason[rows[defaulted]] = np.char.add(
                "router: inputs missing or unknown; default treatment ",
                np.array(arms)[given[defaulted]],
            )
    return DrawnArms(arm_index, propensity, holdout, reason, constrained, treatment, treatment_p)
