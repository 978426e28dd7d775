"""Use cases: each is one transaction composed from the pure core and the store.

The CLI, the scheduler and the dashboard call only these functions. Each takes the database
engine and an explicit ``now`` (so the demo can run simulated days and a rerun can reproduce
a decision), and returns plain value objects, never ORM rows.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from engine.analysis import Analysis, analyze
from engine.assignment import assign
from engine.config import Experiment
from engine.events import EventBatch, to_datetimes
from engine.loader import LoadedExperiment
from engine.metrics import ArmKpis, ArmTotals, arm_kpis, totals_by_arm
from engine.policy import decide_allocation
from engine.promotion import PromotionDecision, decide_promotion
from engine.sbg import SbgFit, fit_sbg
from engine.stats.binomial import BinomialStat
from engine.stats.hierarchical import SegmentFit, fit_segments
from engine.store import queries
from engine.store.db import create_schema, make_db, transaction
from engine.store.tables import (
    AllocationVersion,
    Assignment,
    ExperimentVersion,
    OutcomeEvent,
    PromotionAudit,
)

#: The database handle every use case takes; the edges treat it as opaque.
Database = Engine
#: Raised by any use case when the database cannot be read or written (unreachable server,
#: a file that is not a database, ...): edges catch it without importing SQLAlchemy.
StorageError = SQLAlchemyError


class ServiceError(Exception):
    """A request the engine refuses, with a message meant for the user (no traceback)."""


class UnknownExperimentError(ServiceError):
    pass


class UnknownSegmentError(ServiceError):
    pass


def open_db(url: str) -> Engine:
    """Engine for ``url`` with the schema in place."""
    engine = make_db(url)
    create_schema(engine)
    return engine


def missing_database_file(url: str) -> Path | None:
    """The path of the SQLite file ``url`` names if it does not exist, else None."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


def connect_db(url: str) -> Engine:
    """Engine for reading an existing database: creates neither the file nor the schema.

    Raises
    ------
    ServiceError
        If ``url`` names a SQLite file that does not exist.
    """
    missing = missing_database_file(url)
    if missing is not None:
        raise ServiceError(f"database file {missing} does not exist")
    return make_db(url)


def display_url(url: str) -> str:
    """``url`` with its password hidden, for display."""
    return make_url(url).render_as_string(hide_password=True)


def utc_now() -> datetime:
    """Current time, timezone-aware UTC: the engine's convention for every stored time."""
    return datetime.now(UTC)


def new_seed() -> int:
    """A fresh 63-bit seed (fits a signed BIGINT), stored with whatever it drives."""
    return secrets.randbits(63)


# -- experiments ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncResult:
    key: str
    version: int
    content_hash: str
    created: bool


def _latest_version(session: Session, key: str) -> ExperimentVersion | None:
    statement = (
        select(ExperimentVersion)
        .where(col(ExperimentVersion.experiment_key) == key)
        .order_by(col(ExperimentVersion.version).desc())
        .limit(1)
    )
    return session.scalars(statement).first()


def _current(session: Session, key: str) -> tuple[Experiment, ExperimentVersion]:
    row = _latest_version(session, key)
    if row is None:
        raise UnknownExperimentError(
            f"experiment {key!r} is not in the database; run `dunning sync` first"
        )
    return Experiment.model_validate(row.config), row


def _has_assignments(session: Session, key: str) -> bool:
    a = Assignment.__table__.c  # type: ignore[attr-defined]
    return session.scalar(select(a.id).where(a.experiment_key == key).limit(1)) is not None


def current_experiment(engine: Engine, *, experiment_key: str) -> Experiment:
    """The newest stored version of an experiment."""
    with Session(engine) as session:
        return _current(session, experiment_key)[0]


def has_assignments(engine: Engine, *, experiment_key: str) -> bool:
    with Session(engine) as session:
        return _has_assignments(session, experiment_key)


def sync_experiment(engine: Engine, loaded: LoadedExperiment, *, now: datetime) -> SyncResult:
    """Store the experiment as a new version unless this exact content is already stored.

    A first version also gets allocation version 1: the configured split and champion. A new
    version that changes the set of arms is refused once debtors have been assigned, because
    their arms would no longer exist.
    """
    experiment = loaded.experiment
    digest = experiment.content_hash()
    with transaction(engine) as session:
        existing = session.scalars(
            select(ExperimentVersion).where(
                col(ExperimentVersion.experiment_key) == experiment.key,
                col(ExperimentVersion.content_hash) == digest,
            )
        ).first()
        if existing is not None:
            return SyncResult(experiment.key, existing.version, digest, created=False)
        latest = _latest_version(session, experiment.key)
        if latest is not None:
            before = Experiment.model_validate(latest.config).arm_keys
            if set(before) != set(experiment.arm_keys) and _has_assignments(
                session, experiment.key
            ):
                raise ServiceError(
                    f"{loaded.path}: the arms of running experiment {experiment.key!r} changed "
                    f"({', '.join(before)} -> {', '.join(experiment.arm_keys)}); debtors are "
                    "assigned to the old arms. Start a new experiment key instead."
                )
        version = 1 if latest is None else latest.version + 1
        session.add(
            ExperimentVersion(
                experiment_key=experiment.key,
                version=version,
                content_hash=digest,
                name=experiment.name,
                config=experiment.model_dump(mode="json"),
                source_yaml=loaded.source,
                source_path=str(loaded.path),
                created_at=now,
            )
        )
        current = queries.latest_allocation(session, experiment_key=experiment.key)
        if current is None or set(current.weights) != set(experiment.arm_keys):
            session.add(
                AllocationVersion(
                    experiment_key=experiment.key,
                    version=1 if current is None else current.version + 1,
                    experiment_version=version,
                    kind="initial",
                    champion=experiment.champion,
                    weights=experiment.initial_weights(),
                    p_best={},
                    seed=None,
                    reason=f"initial split from experiment file (version {version})",
                    created_at=now,
                )
            )
        return SyncResult(experiment.key, version, digest, created=True)


# -- assignment ----------------------------------------------------------------------------


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
        experiment, version = _current(session, experiment_key)
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


# -- outcome events ------------------------------------------------------------------------


@dataclass(frozen=True)
class IngestResult:
    received: int
    inserted: int
    duplicates: int


def ingest_events(engine: Engine, events: EventBatch, *, now: datetime) -> IngestResult:
    """Store outcome events once each, in one transaction, and refresh the outcomes of the
    debtors they concern. A re-sent event id (in this or an earlier batch) changes nothing."""
    rows = [
        {
            "event_id": str(event_id),
            "debtor_id": str(debtor_id),
            "kind": str(kind),
            "amount": None if np.isnan(amount) else float(amount),
            "occurred_at": when,
            "ingested_at": now,
        }
        for event_id, debtor_id, kind, amount, when in zip(
            events.event_id,
            events.debtor_id,
            events.kind,
            events.amount,
            to_datetimes(events.occurred_at),
            strict=True,
        )
    ]
    with transaction(engine) as session:
        inserted = queries.insert_ignoring_duplicates(
            session,
            OutcomeEvent.__table__,  # type: ignore[attr-defined]
            rows,
            returning="debtor_id",
        )
        queries.refresh_outcomes(session, inserted)
    return IngestResult(
        received=len(events), inserted=len(inserted), duplicates=len(events) - len(inserted)
    )


# -- bandit update ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AllocationInfo:
    """One allocation version as the audit trail and the dashboard show it."""

    experiment_key: str
    version: int
    experiment_version: int
    kind: str
    champion: str
    weights: dict[str, float]
    p_best: dict[str, float]
    seed: int | None
    matured_units: int
    reason: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: AllocationVersion) -> AllocationInfo:
        return cls(
            experiment_key=row.experiment_key,
            version=row.version,
            experiment_version=row.experiment_version,
            kind=row.kind,
            champion=row.champion,
            weights=dict(row.weights),
            p_best=dict(row.p_best),
            seed=row.seed,
            matured_units=row.matured_units,
            reason=row.reason,
            created_at=row.created_at,
        )


def _pay_stats(
    session: Session, experiment: Experiment, now: datetime
) -> tuple[dict[str, ArmTotals], dict[str, BinomialStat]]:
    cells = queries.outcome_cells(session, experiment_key=experiment.key, now=now)
    totals = totals_by_arm(experiment.arm_keys, ((c.arm, c.totals) for c in cells))
    return totals, {arm: t.pay_stat for arm, t in totals.items()}


def _write_update(
    session: Session,
    experiment: Experiment,
    version: ExperimentVersion,
    stats: dict[str, BinomialStat],
    *,
    now: datetime,
    seed: int,
) -> AllocationInfo:
    current = queries.latest_allocation(session, experiment_key=experiment.key)
    if current is None:  # pragma: no cover - sync always writes one
        raise ServiceError(f"experiment {experiment.key!r} has no allocation")
    decision = decide_allocation(
        config=experiment.allocation,
        arm_keys=experiment.arm_keys,
        stats=stats,
        configured_weights=experiment.initial_weights(),
        rng=np.random.default_rng(seed),
    )
    row = AllocationVersion(
        experiment_key=experiment.key,
        version=current.version + 1,
        experiment_version=version.version,
        kind="update",
        champion=current.champion,
        weights=dict(decision.weights),
        p_best=dict(decision.p_best),
        seed=seed,
        matured_units=sum(s.n for s in stats.values()),
        reason=decision.reason,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return AllocationInfo.from_row(row)


def update_allocation(
    engine: Engine, *, experiment_key: str, now: datetime, seed: int | None = None
) -> AllocationInfo:
    """Recompute the weights from matured outcomes and store them as a new allocation version.

    The Monte Carlo seed is drawn fresh unless given, and stored with the allocation, so the
    weights can be recomputed exactly from the database.
    """
    with transaction(engine) as session:
        experiment, version = _current(session, experiment_key)
        _, stats = _pay_stats(session, experiment, now)
        return _write_update(
            session, experiment, version, stats, now=now, seed=new_seed() if seed is None else seed
        )


# -- promotion -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PromotionResult:
    decision: PromotionDecision
    audit_id: int | None
    allocation_version: int | None
    dry_run: bool


def _champion_since(history: Sequence[AllocationVersion]) -> datetime:
    """When the current champion took the title: walk back until the champion differs."""
    since = history[-1].created_at
    for row in reversed(history):
        if row.champion != history[-1].champion:
            break
        since = row.created_at
    return since


def _write_promotion(
    session: Session,
    experiment: Experiment,
    version: ExperimentVersion,
    stats: dict[str, BinomialStat],
    *,
    now: datetime,
    seed: int,
    dry_run: bool,
) -> PromotionResult:
    history = queries.allocations(session, experiment_key=experiment.key)
    current = history[-1]
    decision = decide_promotion(
        rule=experiment.promotion,
        champion=current.champion,
        stats=stats,
        days_as_champion=(now - _champion_since(history)).total_seconds() / 86_400,
        rng=np.random.default_rng(seed),
        prior_alpha=experiment.allocation.prior_alpha,
        prior_beta=experiment.allocation.prior_beta,
        draws=experiment.allocation.draws,
    )
    if dry_run:
        return PromotionResult(decision, None, None, dry_run=True)
    new_version: int | None = None
    if decision.action == "promote" and decision.new_champion is not None:
        new_version = current.version + 1
        session.add(
            AllocationVersion(
                experiment_key=experiment.key,
                version=new_version,
                experiment_version=version.version,
                kind="promotion",
                champion=decision.new_champion,
                weights=dict(current.weights),
                p_best=dict(current.p_best),
                seed=seed,
                matured_units=sum(s.n for s in stats.values()),
                reason=f"promotion: {decision.explanation}",
                created_at=now,
            )
        )
    audit = PromotionAudit(
        experiment_key=experiment.key,
        experiment_version=version.version,
        decided_at=now,
        action=decision.action,
        reason=decision.reason,
        champion_before=current.champion,
        champion_after=decision.new_champion or current.champion,
        allocation_version=new_version,
        seed=seed,
        dry_run=False,
        rule=experiment.promotion.model_dump(mode="json"),
        numbers=decision.numbers(),
        explanation=decision.explanation,
    )
    session.add(audit)
    session.flush()
    return PromotionResult(decision, audit.id, new_version, dry_run=False)


def evaluate_promotion(
    engine: Engine,
    *,
    experiment_key: str,
    now: datetime,
    seed: int | None = None,
    dry_run: bool = False,
) -> PromotionResult:
    """Apply the promotion rule; on ``promote`` switch the champion through a new allocation
    version. Every evaluation (dry runs excepted) leaves an audit record with its numbers; the
    allocation and the record are written in the same transaction, so neither exists alone.
    """
    with transaction(engine) as session:
        experiment, version = _current(session, experiment_key)
        _, stats = _pay_stats(session, experiment, now)
        return _write_promotion(
            session,
            experiment,
            version,
            stats,
            now=now,
            seed=new_seed() if seed is None else seed,
            dry_run=dry_run,
        )


@dataclass(frozen=True)
class CycleResult:
    allocation: AllocationInfo
    promotion: PromotionResult


def run_cycle(
    engine: Engine,
    *,
    experiment_key: str,
    now: datetime,
    update_seed: int | None = None,
    promotion_seed: int | None = None,
) -> CycleResult:
    """The scheduled job for one experiment: update the allocation, then evaluate promotion.

    Both steps read the same matured outcomes (aggregated once) and commit together.
    """
    with transaction(engine) as session:
        experiment, version = _current(session, experiment_key)
        _, stats = _pay_stats(session, experiment, now)
        allocation = _write_update(
            session,
            experiment,
            version,
            stats,
            now=now,
            seed=new_seed() if update_seed is None else update_seed,
        )
        promotion = _write_promotion(
            session,
            experiment,
            version,
            stats,
            now=now,
            seed=new_seed() if promotion_seed is None else promotion_seed,
            dry_run=False,
        )
        return CycleResult(allocation, promotion)


# -- read models ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PromotionRecord:
    id: int
    decided_at: datetime
    action: str
    reason: str
    champion_before: str
    champion_after: str
    allocation_version: int | None
    experiment_version: int
    explanation: str
    numbers: dict[str, Any]


@dataclass(frozen=True)
class ExperimentSummary:
    key: str
    name: str
    version: int
    champion: str
    assigned: int
    allocation_version: int
    updated_at: datetime


@dataclass(frozen=True)
class ExperimentReport:
    """Everything the dashboard and ``dunning report`` show for one experiment."""

    key: str
    name: str
    description: str
    experiment_version: int
    currency: str
    as_of: datetime
    champion: str
    pay_window_days: int
    churn_horizon_days: int
    kpis: list[ArmKpis]
    allocations: list[AllocationInfo]
    promotions: list[PromotionRecord] = field(default_factory=list)


def experiment_report(
    engine: Engine, *, experiment_key: str, now: datetime, only_promotions: bool = False
) -> ExperimentReport:
    """Read model of one experiment as of ``now``. Reads only."""
    with Session(engine) as session:
        experiment, version = _current(session, experiment_key)
        history = queries.allocations(session, experiment_key=experiment_key)
        current = history[-1]
        totals, _ = _pay_stats(session, experiment, now)
        kpis = arm_kpis(
            experiment,
            totals,
            champion=current.champion,
            weights=current.weights,
            p_best=current.p_best,
        )
        audits = queries.promotions(
            session,
            experiment_key=experiment_key,
            actions=("promote",) if only_promotions else None,
        )
        return ExperimentReport(
            key=experiment.key,
            name=experiment.name,
            description=experiment.description,
            experiment_version=version.version,
            currency=experiment.currency,
            as_of=now,
            champion=current.champion,
            pay_window_days=experiment.metrics.pay_window_days,
            churn_horizon_days=experiment.metrics.churn_horizon_days,
            kpis=kpis,
            allocations=[AllocationInfo.from_row(row) for row in history],
            promotions=[
                PromotionRecord(
                    id=row.id or 0,
                    decided_at=row.decided_at,
                    action=row.action,
                    reason=row.reason,
                    champion_before=row.champion_before,
                    champion_after=row.champion_after,
                    allocation_version=row.allocation_version,
                    experiment_version=row.experiment_version,
                    explanation=row.explanation,
                    numbers=dict(row.numbers),
                )
                for row in audits
            ],
        )


#: Seed of the analysis' Monte Carlo draws unless one is given: the same data always gives the
#: same figures, which is what a manager comparing two printouts expects.
ANALYSIS_SEED = 20_260_101


def analyze_experiment(
    engine: Engine,
    *,
    experiment_key: str,
    now: datetime,
    segments: Sequence[str] | None = None,
    seed: int = ANALYSIS_SEED,
    draws: int = 20_000,
    churn_model: SbgFit | None = None,
    cohort: str | None = None,
) -> Analysis:
    """Full analysis of an experiment (or of some segments) as of ``now``. Reads only.

    Outcome sums are aggregated in SQL per arm and allocation period; the statistics are
    :func:`engine.analysis.analyze`. With ``churn_model`` (see :func:`fit_churn_model`), CLV
    uses the shifted-beta-geometric parameters of ``cohort`` instead of constant retention.
    """
    sbg = churn_model.params(cohort) if churn_model is not None else None
    with Session(engine) as session:
        experiment, version = _current(session, experiment_key)
        history = queries.allocations(session, experiment_key=experiment_key)
        cells = queries.outcome_cells(
            session, experiment_key=experiment_key, now=now, by_period=True, segments=segments
        )
        if segments is not None:
            known = set(queries.segment_values(session, experiment_key=experiment_key))
            unknown = sorted(set(segments) - known)
            if unknown:
                raise UnknownSegmentError(
                    f"no debtors of segment(s) {', '.join(unknown)} in {experiment_key!r}; "
                    f"segments: {', '.join(sorted(known)) or 'none'}"
                )
    current = history[-1]
    return analyze(
        experiment,
        champion=current.champion,
        totals={(c.arm, int(c.allocation_version or 0)): c.totals for c in cells},
        weights={row.version: row.weights for row in history},
        current_weights=current.weights,
        experiment_version=version.version,
        as_of=now,
        seed=seed,
        segments=segments,
        draws=draws,
        sbg=sbg,
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
) -> SegmentFit:
    """Pay-on-time per (segment, arm) with partial pooling across segments (the per-segment
    champions and the dashboard's type x arm view). Reads only.

    Counts are pooled over allocation periods: per-segment shares are small and stratifying
    them by period as well would leave most cells empty. Under a bandit with a drifting
    baseline this carries the bias :func:`analyze_experiment` removes; read it as a ranking
    of arms within each segment.

    Raises
    ------
    engine.stats.hierarchical.NotConvergedError
        If an MCMC method did not converge (the reason says which diagnostic failed).
    """
    with Session(engine) as session:
        experiment, _ = _current(session, experiment_key)
        cells = queries.outcome_cells(
            session, experiment_key=experiment_key, now=now, by_segment=True
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


def experiment_segments(engine: Engine, *, experiment_key: str) -> list[str]:
    """The segment values seen among an experiment's debtors."""
    with Session(engine) as session:
        _current(session, experiment_key)
        return queries.segment_values(session, experiment_key=experiment_key)


@dataclass(frozen=True)
class DebtorOutcome:
    """One assignment with its outcomes, treatment cost and CLV, for explaining a decision.

    ``clv`` is the residual CLV of a subscriber at the arm's estimated monthly retention
    (:mod:`engine.clv`), 0 once the debtor churned within the horizon, NaN while the arm has no
    matured churn outcomes.
    """

    outcome: queries.AssignmentOutcome
    treatment_cost: float
    clv: float


def assignment_outcomes(
    engine: Engine,
    *,
    experiment_key: str,
    now: datetime,
    debtor_ids: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[DebtorOutcome]:
    """Per-assignment outcomes as known at ``now``. Reads only."""
    with Session(engine) as session:
        experiment, _ = _current(session, experiment_key)
        current = queries.allocations(session, experiment_key=experiment_key)[-1]
        totals, _ = _pay_stats(session, experiment, now)
        rows = queries.assignment_outcomes(
            session, experiment_key=experiment_key, now=now, debtor_ids=debtor_ids, limit=limit
        )
    kpis = arm_kpis(
        experiment, totals, champion=current.champion, weights=current.weights, p_best={}
    )
    clv_of = {row.arm: row.clv_per_debtor for row in kpis}
    return [
        DebtorOutcome(
            outcome=row,
            treatment_cost=experiment.arm(row.arm).cost,
            clv=0.0 if row.churned_in_horizon else clv_of[row.arm],
        )
        for row in rows
    ]


def list_experiments(engine: Engine) -> list[ExperimentSummary]:
    """One line per experiment in the database, newest version of each."""
    a = Assignment.__table__.c  # type: ignore[attr-defined]
    with Session(engine) as session:
        keys = session.scalars(
            select(ExperimentVersion.experiment_key)  # type: ignore[call-overload]
            .distinct()
            .order_by(ExperimentVersion.experiment_key)
        ).all()
        result = []
        for key in keys:
            experiment, version = _current(session, key)
            allocation = queries.latest_allocation(session, experiment_key=key)
            assigned = session.scalar(select(func.count()).where(a.experiment_key == key)) or 0
            result.append(
                ExperimentSummary(
                    key=key,
                    name=experiment.name,
                    version=version.version,
                    champion=allocation.champion if allocation else experiment.champion,
                    assigned=int(assigned),
                    allocation_version=allocation.version if allocation else 0,
                    updated_at=allocation.created_at if allocation else version.created_at,
                )
            )
        return result


def latest_activity(engine: Engine, *, experiment_key: str) -> datetime | None:
    """The time of the newest write for an experiment (assignment, allocation, decision or
    ingested event), or None if nothing was ever written.

    Reports default to ``min(now, latest_activity)``: "as of the latest data". A unit whose
    window closed after the last ingestion has not had its events delivered yet, so treating it
    as mature would count missing payments as non-payments. It also keeps a demo database,
    whose clock was simulated, readable later.
    """
    a = Assignment.__table__.c  # type: ignore[attr-defined]
    al = AllocationVersion.__table__.c  # type: ignore[attr-defined]
    e = OutcomeEvent.__table__.c  # type: ignore[attr-defined]
    with Session(engine) as session:
        times = [
            session.scalar(
                select(func.max(a.assigned_at)).where(a.experiment_key == experiment_key)
            ),
            session.scalar(
                select(func.max(al.created_at)).where(al.experiment_key == experiment_key)
            ),
            session.scalar(select(func.max(e.ingested_at))),
        ]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def default_as_of(engine: Engine, *, experiment_key: str) -> datetime:
    """``min(now, latest activity)``; see :func:`latest_activity`."""
    latest = latest_activity(engine, experiment_key=experiment_key)
    now = utc_now()
    return now if latest is None else min(now, latest)
