"""What the promotion rule sees, read from the database: matured outcomes per (stratum, arm)
of the primary metric and of each guardrail, the SRM p-value, the stopped arms."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import numpy as np
from sqlmodel import Session

from engine.analysis import Stratum
from engine.config import Experiment
from engine.metrics import ArmTotals
from engine.promotion import Evidence, MetricStrata
from engine.service.strata import stratified_totals
from engine.stats.srm import srm_check
from engine.store.queries import OutcomeCell
from engine.store.tables import AllocationVersion

#: Guardrail metric -> (units, sum, sum of squares or None for a rate) of an arm's totals.
_GUARDRAIL_SUMS: dict[str, Callable[[ArmTotals], tuple[float, float, float | None]]] = {
    "churn": lambda t: (t.churn_matured, t.churned, None),
    "collection_cases": lambda t: (t.assigned, t.collection_cases, t.collection_cases_sq),
    "reminders": lambda t: (t.assigned, t.reminders, t.reminders_sq),
}


def _strata_arrays(
    totals: Mapping[tuple[str, Stratum], ArmTotals],
    strata: Sequence[Stratum],
    arms: Sequence[str],
    sums: Callable[[ArmTotals], tuple[float, float, float | None]],
) -> MetricStrata:
    shape = (len(strata), len(arms))
    n, total, total_sq = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    binary = True
    for i, stratum in enumerate(strata):
        for j, arm in enumerate(arms):
            cell = totals.get((arm, stratum))
            if cell is None:
                continue
            units, value, square = sums(cell)
            n[i, j], total[i, j] = units, value
            if square is not None:
                binary = False
                total_sq[i, j] = square
    return MetricStrata(n, total, None if binary else total_sq)


def promotion_evidence(
    session: Session,
    experiment: Experiment,
    history: Sequence[AllocationVersion],
    *,
    now: datetime,
    days_as_champion: float,
    ess_share: Mapping[str, float] | None = None,
    cells: Sequence[OutcomeCell] | None = None,
) -> Evidence:
    """The rule's input for one experiment, strata as in :func:`stratified_totals`
    (allocation periods, or (segment, period) pairs under per-segment allocation)."""
    arms = experiment.arm_keys
    strata_totals = stratified_totals(
        session, experiment_key=experiment.key, history=history, now=now, cells=cells
    )
    strata = list(strata_totals.weights)
    totals = strata_totals.totals
    primary = _strata_arrays(totals, strata, arms, lambda t: (t.pay_matured, t.paid, None))
    guardrails = tuple(
        _strata_arrays(totals, strata, arms, _GUARDRAIL_SUMS[g.metric])
        for g in experiment.metrics.guardrails
    )
    assigned = _strata_arrays(totals, strata, arms, lambda t: (t.assigned, 0, None)).n
    weights = np.array([[strata_totals.weights[s].get(a, 0.0) for s in strata] for a in arms])
    srm = srm_check(assigned.T, weights, method="multinomial")
    stopped = set(history[-1].stopped_arms or [])
    ess = ess_share or {}
    return Evidence(
        primary=primary,
        guardrails=guardrails,
        days_as_champion=np.asarray(days_as_champion, dtype=np.float64),
        stopped=np.array([a in stopped for a in arms]),
        srm_p_value=np.asarray(srm.p_value, dtype=np.float64),
        ess_share=np.array([ess.get(a, np.nan) for a in arms], dtype=np.float64),
    )
