"""Experiment files into the database, versioned by content hash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from engine.config import Experiment
from engine.loader import LoadedExperiment
from engine.policy import decide_allocation
from engine.service.common import (
    ServiceError,
    UnknownExperimentError,
    latest_version,
)
from engine.store import queries
from engine.store.db import transaction
from engine.store.tables import (
    AllocationVersion,
    ExperimentVersion,
)
from engine.versioning import config_changes, unsafe_changes


@dataclass(frozen=True)
class SyncResult:
    key: str
    version: int
    content_hash: str
    created: bool
    changes: tuple[str, ...] = ()
    forced: tuple[str, ...] = ()


class UnsafeChangeError(ServiceError):
    """An edit that would corrupt a running experiment; ``sync --force`` accepts it."""

    def __init__(self, path: str, key: str, problems: list[str]) -> None:
        self.problems = tuple(problems)
        listed = "".join(f"\n  - {p}" for p in problems)
        super().__init__(
            f"{path}: refusing unsafe change(s) to experiment {key!r}, which has assigned "
            f"debtors:{listed}\nStart a new experiment key, or pass --force to accept them "
            "(recorded in `dunning history`)."
        )


def _layer_conflicts(session: Session, experiment: Experiment) -> list[str]:
    """Other live experiments that take an overlapping range of the same layer."""
    if experiment.layer is None:
        return []
    clashes = []
    for row in queries.latest_versions(session):
        if row.experiment_key == experiment.key:
            continue
        other = Experiment.model_validate(row.config)
        live = other.status != "stopped" and other.layer is not None
        if live and other.layer is not None and experiment.layer.overlaps(other.layer):
            lo, hi = other.layer.range
            clashes.append(f"{other.key} takes [{lo:g}, {hi:g})")
    return clashes


def sync_experiment(
    engine: Engine, loaded: LoadedExperiment, *, now: datetime, force: bool = False
) -> SyncResult:
    """Store the experiment as a new version unless this exact content is already stored.

    A first version also gets allocation version 1: the configured split and champion. A new
    version records what changed since the previous one; an unsafe change (see
    :mod:`engine.versioning`) is refused once debtors are assigned, unless ``force``.

    Raises
    ------
    UnsafeChangeError
        The edit would corrupt the assignments already made (and ``force`` is False).
    ServiceError
        The experiment's layer range overlaps another live experiment of the same layer.
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
        clashes = _layer_conflicts(session, experiment)
        if clashes:
            assert experiment.layer is not None
            lo, hi = experiment.layer.range
            raise ServiceError(
                f"{loaded.path}: layer {experiment.layer.key!r} range [{lo:g}, {hi:g}) overlaps "
                f"{'; '.join(clashes)}: experiments of a layer must take disjoint ranges"
            )
        latest = latest_version(session, experiment.key)
        changes: list[str] = []
        forced: list[str] = []
        if latest is not None:
            before = Experiment.model_validate(latest.config)
            changes = [
                str(c) for c in config_changes(latest.config, experiment.model_dump(mode="json"))
            ]
            problems = unsafe_changes(
                before,
                experiment,
                arms_with_assignments=queries.arms_in_use(session, experiment_key=experiment.key),
            )
            if problems and not force:
                raise UnsafeChangeError(str(loaded.path), experiment.key, problems)
            forced = problems
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
                forced=forced,
                created_at=now,
            )
        )
        current = queries.latest_allocation(session, experiment_key=experiment.key)
        if current is None or set(current.weights) != set(experiment.arm_keys):
            _write_initial_allocation(session, experiment, version, current, now=now)
        return SyncResult(
            experiment.key,
            version,
            digest,
            created=True,
            changes=tuple(changes),
            forced=tuple(forced),
        )


def _write_initial_allocation(
    session: Session,
    experiment: Experiment,
    version: int,
    current: AllocationVersion | None,
    *,
    now: datetime,
) -> None:
    """The starting split as configured; the holdout and champion floor apply from the first
    debtor on. Also written when the arms change (a challenger added, or removed by force)."""
    first = decide_allocation(
        config=experiment.allocation.model_copy(update={"policy": "fixed"}),
        arm_keys=experiment.arm_keys,
        champion=experiment.champion,
        stats={},
        configured_weights=experiment.initial_weights(),
        rng=np.random.default_rng(0),
    )
    session.add(
        AllocationVersion(
            experiment_key=experiment.key,
            version=1 if current is None else current.version + 1,
            experiment_version=version,
            kind="initial",
            champion=experiment.champion,
            weights=dict(first.weights),
            bandit_weights=dict(first.bandit),
            holdout_share=first.holdout_share,
            p_best={},
            seed=None,
            reason=f"initial split from experiment file (version {version})",
            created_at=now,
        )
    )


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
            raise UnknownExperimentError(
                f"experiment {experiment_key!r} is not in the database; run `dunning sync` first"
            )
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
