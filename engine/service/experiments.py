"""Experiment files into the database, versioned by content hash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from engine.config import Experiment
from engine.lifecycle import transition_problem
from engine.loader import LoadedExperiment
from engine.policy import decide_allocation
from engine.service.clock import ensure_forward
from engine.service.common import (
    ServiceError,
    latest_version,
    load_current,
    unknown_experiment,
)
from engine.service.definitions import describe_definition
from engine.service.lifecycle import record_status
from engine.store import queries
from engine.store.db import transaction
from engine.store.tables import (
    AllocationVersion,
    ExperimentVersion,
)
from engine.versioning import LiveState, Review, Safety, config_changes, field_of, review_changes


@dataclass(frozen=True)
class SyncResult:
    """What a sync stored for one file.

    ``forced`` are the refused changes ``--force`` accepted; ``notes`` the accepted changes that
    do nothing while the bandit runs; ``new_definition`` is True when this version measures
    outcomes differently (a new definition epoch), ``not_pooled`` the debtors assigned under
    earlier versions that the bandit, the promotion rule and the analysis leave out from now
    on; ``allocation_version`` the starting split the sync put in force, if any; ``status`` the
    status change the file made (before, after), if any.
    """

    key: str
    version: int
    content_hash: str
    created: bool
    changes: tuple[str, ...] = ()
    forced: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    new_definition: bool = False
    not_pooled: int = 0
    allocation_version: int | None = None
    status: tuple[str, str] | None = None


class UnsafeChangeError(ServiceError):
    """An edit that would corrupt a running experiment; ``sync --force`` accepts it."""

    def __init__(self, path: str, key: str, problems: list[str], *, definition: bool) -> None:
        self.problems = tuple(problems)
        listed = "".join(f"\n  - {p}" for p in problems)
        pooling = (
            " With --force, the debtors assigned so far are kept but no longer pooled with new "
            "ones: the bandit, the promotion rule and the analysis use only debtors measured "
            "on the new definition."
            if definition
            else ""
        )
        super().__init__(
            f"{path}: refusing change(s) to experiment {key!r}, which has assigned "
            f"debtors:{listed}\nStart a new experiment key, or pass --force to accept them "
            f"(recorded in `dunning history`).{pooling}"
        )


def _layer_conflicts(session: Session, experiment: Experiment) -> list[str]:
    """Other live experiments that take an overlapping range of the same layer."""
    if experiment.layer is None:
        return []
    clashes = []
    for row in queries.latest_versions(session):
        if row.experiment_key == experiment.key:
            continue
        other, _ = load_current(session, row.experiment_key)  # the status in force
        live = other.status != "stopped" and other.layer is not None
        if live and other.layer is not None and experiment.layer.overlaps(other.layer):
            lo, hi = other.layer.range
            clashes.append(f"{other.key} takes [{lo:g}, {hi:g})")
    return clashes


def _restarts_split(
    experiment: Experiment, current: AllocationVersion | None, review: Review | None
) -> bool:
    """Whether the sync puts the configured split in force: for a new experiment, when the
    arms changed, and when the starting weights or the policy changed while the configured
    split is the one in force (``policy: fixed``, or the bandit has not moved yet)."""
    if current is None or review is None or set(current.weights) != set(experiment.arm_keys):
        return True
    changed = {field_of(c.path) for c in review.changes}
    configured = experiment.allocation.policy == "fixed" or not current.p_best
    return configured and bool(changed & {"allocation.weights", "allocation.policy"})


def sync_experiment(
    engine: Engine,
    loaded: LoadedExperiment,
    *,
    now: datetime,
    force: bool = False,
    by: str | None = None,
) -> SyncResult:
    """Store the experiment as a new version unless this exact content is already stored.

    A first version also gets allocation version 1: the configured split and champion. A new
    version records what changed since the previous one, classified by
    :mod:`engine.versioning.fields`: once debtors are assigned, definition and identity changes
    are refused unless ``force``; a forced definition change starts a new definition epoch.
    A changed ``status`` is recorded as a status change by ``by`` (a stopped experiment stays
    stopped).

    Raises
    ------
    UnsafeChangeError
        The edit would corrupt the assignments already made (and ``force`` is False).
    ServiceError
        The layer range overlaps another live experiment of the same layer, the status change
        is not allowed, or ``now`` precedes the experiment's latest stored fact.
    """
    experiment = loaded.experiment
    digest = experiment.content_hash()
    config = experiment.model_dump(mode="json")
    with transaction(engine) as session:
        queries.lock_experiment(session, experiment_key=experiment.key)
        existing = session.scalars(
            select(ExperimentVersion).where(
                col(ExperimentVersion.experiment_key) == experiment.key,
                col(ExperimentVersion.content_hash) == digest,
            )
        ).first()
        if existing is not None:
            return SyncResult(experiment.key, existing.version, digest, created=False)
        ensure_forward(session, experiment_key=experiment.key, now=now)
        clashes = _layer_conflicts(session, experiment)
        if clashes:
            assert experiment.layer is not None
            lo, hi = experiment.layer.range
            raise ServiceError(
                f"{loaded.path}: layer {experiment.layer.key!r} range [{lo:g}, {hi:g}) overlaps "
                f"{'; '.join(clashes)}: experiments of a layer must take disjoint ranges"
            )
        latest = latest_version(session, experiment.key)
        current = queries.latest_allocation(session, experiment_key=experiment.key)
        review: Review | None = None
        status: tuple[str, str] | None = None
        if latest is not None:
            state = LiveState(
                assigned_arms=queries.arms_in_use(session, experiment_key=experiment.key),
                champion=current.champion if current is not None else None,
                bandit_moved=current is not None and bool(current.p_best),
            )
            review = review_changes(latest.config, config, state=state)
            if review.refused and not force:
                definition = any(f.safety is Safety.DEFINITION for f in review.findings)
                raise UnsafeChangeError(
                    str(loaded.path), experiment.key, list(review.refused), definition=definition
                )
            status = _status_change(session, loaded, latest)
        version = 1 if latest is None else latest.version + 1
        session.add(
            ExperimentVersion(
                experiment_key=experiment.key,
                version=version,
                content_hash=digest,
                name=experiment.name,
                config=config,
                source_yaml=loaded.source,
                source_path=str(loaded.path),
                forced=list(review.refused) if review is not None else [],
                created_at=now,
            )
        )
        allocation_version = None
        if _restarts_split(experiment, current, review):
            allocation_version = _write_initial_allocation(
                session, experiment, version, current, now=now
            )
        if status is not None:
            record_status(
                session,
                experiment_key=experiment.key,
                experiment_version=version,
                before=status[0],
                after=status[1],
                now=now,
                by=by,
                note="",
                source=f"status in {loaded.path}, experiment version {version}",
            )
        new_definition = review is not None and review.new_definition
        return SyncResult(
            experiment.key,
            version,
            digest,
            created=True,
            changes=tuple(str(c) for c in review.changes) if review is not None else (),
            forced=review.refused if review is not None else (),
            notes=review.notes if review is not None else (),
            new_definition=new_definition,
            not_pooled=(
                describe_definition(session, experiment_key=experiment.key).not_pooled
                if new_definition
                else 0
            ),
            allocation_version=allocation_version,
            status=status,
        )


def _status_change(
    session: Session, loaded: LoadedExperiment, latest: ExperimentVersion
) -> tuple[str, str] | None:
    """(status in force, new status) when the file's ``status`` was edited, else None.

    Raises
    ------
    ServiceError
        If the experiment is stopped and the file would reopen it.
    """
    after = loaded.experiment.status
    if after == latest.config.get("status"):
        return None  # not edited: a status set by `dunning pause|resume|stop` stays in force
    before = load_current(session, loaded.experiment.key)[0].status
    if before == after:
        return None
    problem = transition_problem(before, after)
    if problem is not None:
        raise ServiceError(
            f"{loaded.path}: cannot make {loaded.experiment.key!r} {after}: {problem}"
        )
    return before, after


def _write_initial_allocation(
    session: Session,
    experiment: Experiment,
    version: int,
    current: AllocationVersion | None,
    *,
    now: datetime,
) -> int:
    """The starting split as configured; the holdout and champion floor apply from the first
    debtor on. Also written when the arms change (a challenger added, or removed by force) and
    when the configured split changes while it is the one in force. The champion in force and
    the arms stopped by a guardrail stay as they are: only promotions and rollbacks change
    them. Returns the new allocation version."""
    champion = experiment.champion
    stopped: list[str] = []
    if current is not None:
        if current.champion in experiment.arm_keys:
            champion = current.champion
        stopped = [a for a in current.stopped_arms or [] if a in experiment.arm_keys]
    first = decide_allocation(
        config=experiment.allocation.model_copy(update={"policy": "fixed"}),
        arm_keys=experiment.arm_keys,
        champion=champion,
        stats={},
        configured_weights=experiment.initial_weights(),
        rng=np.random.default_rng(0),
        stopped=stopped,
    )
    number = 1 if current is None else current.version + 1
    session.add(
        AllocationVersion(
            experiment_key=experiment.key,
            version=number,
            experiment_version=version,
            kind="initial",
            champion=champion,
            weights=dict(first.weights),
            bandit_weights=dict(first.bandit),
            holdout_share=first.holdout_share,
            p_best={},
            stopped_arms=stopped,
            seed=None,
            reason=f"starting split from the experiment file (version {version})",
            created_at=now,
        )
    )
    return number


@dataclass(frozen=True)
class VersionEntry:
    """One version in an experiment's history."""

    version: int
    content_hash: str
    created_at: datetime
    source_path: str | None
    changes: tuple[str, ...]
    forced: tuple[str, ...]


def experiment_history(engine: Engine, *, experiment_key: str) -> list[VersionEntry]:
    """Every stored version of the experiment, oldest first, with what each one changed."""
    with Session(engine) as session:
        rows = queries.experiment_versions(session, experiment_key=experiment_key)
        if not rows:
            raise unknown_experiment(session, experiment_key)
        previous: list[dict[str, object]] = [{}, *(row.config for row in rows[:-1])]
        return [
            VersionEntry(
                row.version,
                row.content_hash,
                row.created_at,
                row.source_path,
                # The first version has nothing to differ from.
                tuple(str(c) for c in config_changes(before, row.config)) if before else (),
                tuple(row.forced),
            )
            for row, before in zip(rows, previous, strict=True)
        ]
