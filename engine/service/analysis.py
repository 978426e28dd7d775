"""The statistical analysis read models: stratified KPIs, churn model, segment model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Literal

import numpy as np
import pandas as pd
from sqlalchemy import Engine
from sqlmodel import Session

from engine.analysis import Analysis, ResidualValue, analyze
from engine.config import Clv
from engine.sbg import SbgFit, fit_sbg
from engine.service.common import (
    ServiceError,
    UnknownSegmentError,
    load_current,
)
from engine.service.strata import arm_maturity, pooled_snapshot, stratified_totals
from engine.stats.hierarchical import SegmentFit, fit_segments
from engine.store import queries

#: Seed of the analysis' Monte Carlo draws unless one is given: the same data always gives the
#: same figures, which is what a manager comparing two printouts expects.
ANALYSIS_SEED = 20_260_101

#: ``step(done, rows, status)``: the share of the work done, the assignments read so far and a
#: few words on the step (what :class:`engine.progress.Progress` shows).
Step = Callable[[float, int, str], None]


def _quiet(done: float, rows: int, status: str) -> None:
    """No one listens."""


def analyze_experiment(
    engine: Engine,
    *,
    experiment_key: str,
    now: datetime,
    segments: Sequence[str] | None = None,
    seed: int = ANALYSIS_SEED,
    draws: int = 20_000,
    churn_model: SbgFit | None = None,
    tenure: pd.DataFrame | None = None,
    cohort: str | None = None,
    step: Step | None = None,
    written_since: bool = False,
) -> Analysis:
    """Full analysis of an experiment (or of some segments) as of ``now``. Reads only.

    Outcome sums are aggregated in SQL per arm and cell; the statistics are
    :func:`engine.analysis.analyze`. With ``churn_model`` (see :func:`fit_churn_model`) fitted
    on ``tenure``, CLV values churn at the sBG residual value of ``cohort``'s active
    subscribers (their tenure), with the parameters' uncertainty, instead of the configured
    constant retention. ``step(done, rows, status)`` hears where the work stands (the CLI's
    progress): the aggregate over every assignment is the long part at scale.
    ``written_since``: read the last scheduled cycle's snapshot if it was taken as of ``now``,
    even with writes after it (the dashboard, :func:`engine.service.reading.dashboard_reading`).
    """
    report = step if step is not None else _quiet
    with Session(engine) as session:
        report(0.0, 0, "reading the experiment")
        experiment, version = load_current(session, experiment_key)
        history = queries.allocations(session, experiment_key=experiment_key)
        # Never pool two outcome definitions (engine.versioning.epochs).
        # The scheduled cycle's snapshot of the cells, while nothing was written since: the
        # same sums without a scan of every assignment (engine.store.queries.snapshots).
        since, snapshot = pooled_snapshot(
            session, experiment_key=experiment_key, now=now, written_since=written_since
        )
        if segments is not None:
            # The segments the cells know: the snapshot's when it answers (a distinct scan of
            # every assignment otherwise).
            known = set(
                (queries.snapshot_segments(session, experiment_key=experiment_key) or [])
                if snapshot is not None
                else queries.segment_values(session, experiment_key=experiment_key)
            )
            unknown = sorted(set(segments) - known)
            if unknown:
                raise UnknownSegmentError(
                    f"no debtors of segment(s) {', '.join(unknown)} in {experiment_key!r}; "
                    f"segments: {', '.join(sorted(known)) or 'none'}"
                )
        cases = experiment.late_again_window
        report(0.05, 0, "aggregating outcomes" if snapshot is None else "reading the snapshot")
        strata = stratified_totals(
            session,
            experiment_key=experiment_key,
            history=history,
            now=now,
            segments=segments,
            net_value=True,
            min_experiment_version=since,
            snapshot=snapshot,
            cases=cases,
        )
        assigned = sum(t.assigned for t in strata.totals.values())
        report(0.7, assigned, "maturity dates")
        maturity = arm_maturity(
            session,
            experiment_key=experiment_key,
            now=now,
            min_experiment_version=since,
            snapshot=snapshot,
            cases=cases,
        )
    current = history[-1]
    value = None
    if churn_model is not None:
        value = sbg_residual_value(experiment.clv, churn_model, tenure, cohort=cohort, seed=seed)
    groups = strata.holdout_groups
    report(0.85, assigned, "estimating")
    return analyze(
        experiment,
        champion=current.champion,
        totals=strata.totals,
        weights=strata.weights,
        current_weights=current.weights,
        experiment_version=version.version,
        as_of=now,
        seed=seed,
        segments=segments,
        draws=draws,
        residual_value=value,
        holdout=(groups[False], groups[True]) if groups[True].assigned else None,
        constrained=strata.constrained,
        maturity=maturity,
    )


def sbg_residual_value(
    clv: Clv, fit: SbgFit, tenure: pd.DataFrame | None, *, cohort: str | None, seed: int
) -> ResidualValue:
    """The residual value of a customer who stays, from the sBG posterior of ``cohort`` at the
    tenure of its active subscribers (``recency == T``: ``T - 1`` renewals made)."""
    label = cohort if cohort is not None else fit.cohorts[0]
    if cohort is None and len(fit.cohorts) != 1:
        raise ServiceError(f"several cohorts were fitted ({', '.join(fit.cohorts)}): name one")
    if label not in fit.cohorts:
        raise ServiceError(f"cohort {label!r} was not fitted; cohorts: {', '.join(fit.cohorts)}")
    index = fit.cohorts.index(label)
    if tenure is None:
        raise ServiceError("the tenure table the churn model was fitted on is needed for CLV")
    rows = tenure[tenure["cohort"].astype(str) == label]
    alive = rows[rows["recency"] == rows["T"]]
    if alive.empty:
        raise ServiceError(f"cohort {label!r} has no active subscriber (recency == T) to value")
    return ResidualValue.from_sbg(
        fit.alpha_draws[:, index],
        fit.beta_draws[:, index],
        renewals=(alive["T"].to_numpy() - 1).astype(np.int64),
        clv=clv,
        rng=np.random.default_rng(seed),
        label=f"cohort {label}",
    )


def fit_churn_model(tenure: pd.DataFrame, *, seed: int = ANALYSIS_SEED) -> SbgFit:
    """Fit the shifted-beta-geometric churn model to a subscriber tenure table (MCMC).

    Raises
    ------
    ServiceError
        If the sampler did not converge: its numbers must not reach a report.
    """
    fit = fit_sbg(tenure, seed=seed)
    if not fit.converged:
        d = fit.diagnostics
        raise ServiceError(
            "the churn model did not converge (max r-hat "
            f"{d.get('max_rhat', float('nan')):.3f}, min ESS {d.get('min_ess', 0):.0f}, "
            f"{d.get('divergences', 0):.0f} divergences); CLV would be unreliable"
        )
    return fit


def segment_model(
    engine: Engine,
    *,
    experiment_key: str,
    now: datetime,
    method: Literal["exact", "nuts", "nutpie"] = "exact",
    seed: int = ANALYSIS_SEED,
    written_since: bool = False,
) -> SegmentFit:
    """Pay-on-time per (segment, arm) with partial pooling across segments (the per-segment
    champions and the dashboard's type x arm view). Reads only.

    Counts are pooled over allocation periods: per-segment shares are small and stratifying
    them by period as well would leave most cells empty. Under a bandit with a drifting
    baseline this carries the bias :func:`analyze_experiment` removes; read it as a ranking
    of arms within each segment. ``written_since`` as in :func:`analyze_experiment`.

    Raises
    ------
    engine.stats.hierarchical.NotConvergedError
        If an MCMC method did not converge (the reason says which diagnostic failed).
    """
    with Session(engine) as session:
        experiment, _ = load_current(session, experiment_key)
        since, snapshot = pooled_snapshot(
            session, experiment_key=experiment_key, now=now, written_since=written_since
        )
        cells = (
            queries.outcome_cells(
                session,
                experiment_key=experiment_key,
                now=now,
                by_segment=True,
                min_experiment_version=since,
            )
            if snapshot is None
            else queries.coarsen(snapshot.cells, by_period=False, by_segment=True, by_holdout=False)
        )
    segments = sorted({c.segment for c in cells if c.segment is not None})
    if not segments:
        raise ServiceError(f"{experiment_key!r} has no debtors with a segment yet")
    arms = experiment.arm_keys
    paid = np.zeros((len(segments), len(arms)))
    matured = np.zeros((len(segments), len(arms)))
    for cell in cells:
        if cell.segment is None:
            continue
        row, column = segments.index(cell.segment), arms.index(cell.arm)
        paid[row, column] += cell.totals.paid
        matured[row, column] += cell.totals.pay_matured
    return fit_segments(paid, matured, segments=segments, arms=arms, seed=seed, method=method)


def experiment_segments(
    engine: Engine, *, experiment_key: str, written_since: bool = False
) -> list[str]:
    """The segment values seen among an experiment's debtors; ``written_since``: as of the
    last scheduled cycle's snapshot even with writes since (as :func:`analyze_experiment`)."""
    with Session(engine) as session:
        load_current(session, experiment_key)
        cached = (
            queries.snapshot_segments(session, experiment_key=experiment_key)
            if written_since
            else queries.fresh_segments(session, experiment_key=experiment_key)
        )
        if cached is not None:  # the cycle's snapshot, while nothing was written since
            return cached
        return queries.segment_values(session, experiment_key=experiment_key)
