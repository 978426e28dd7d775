"""What the promotion rule sees, read from the database: the comparison cells of the primary
metric and of each guardrail, the SRM p-value, the stopped arms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np
from sqlmodel import Session

from engine.analysis import GUARDRAILS, METRICS
from engine.config import Experiment
from engine.promotion import Evidence
from engine.service.strata import stratified_totals
from engine.stats.srm import srm_check
from engine.store.queries import OutcomeCell
from engine.store.tables import AllocationVersion


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
    """The rule's input for one experiment: the same cells as the analysis
    (:func:`engine.service.strata.stratified_totals`), so the rule decides on the estimate
    every report shows."""
    arms = experiment.arm_keys
    totals = stratified_totals(
        session,
        experiment_key=experiment.key,
        history=history,
        now=now,
        cells=cells,
        cases=experiment.late_again_window,
    )
    grid = totals.grid(experiment)
    # Randomised debtors only: those a contact rule assigned are not part of the check.
    srm = srm_check(grid.fields["assigned"].T, grid.prob.T, method="multinomial")
    stopped = set(history[-1].stopped_arms or [])
    ess = ess_share or {}
    return Evidence(
        primary=grid.cells(METRICS[experiment.metrics.primary]),
        guardrails=tuple(grid.cells(GUARDRAILS[g.metric]) for g in experiment.metrics.guardrails),
        days_as_champion=np.asarray(days_as_champion, dtype=np.float64),
        stopped=np.array([a in stopped for a in arms]),
        srm_p_value=np.asarray(srm.p_value, dtype=np.float64),
        ess_share=np.array([ess.get(a, np.nan) for a in arms], dtype=np.float64),
    )
