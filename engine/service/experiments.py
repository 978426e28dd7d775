"""Experiment files into the database, versioned by content hash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Engine, select
from sqlmodel import col

from engine.config import Experiment
from engine.loader import LoadedExperiment
from engine.policy import decide_allocation
from engine.service.common import (
    ServiceError,
    has_assignments_in,
    latest_version,
)
from engine.store import queries
from engine.store.db import transaction
from engine.store.tables import (
    AllocationVersion,
    ExperimentVersion,
)


@dataclass(frozen=True)
class SyncResult:
    key: str
    version: int
    content_hash: str
    created: bool


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
        latest = latest_version(session, experiment.key)
        if latest is not None:
            before = Experiment.model_validate(latest.config).arm_keys
            if set(before) != set(experiment.arm_keys) and has_assignments_in(
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
            # The starting split as configured; the holdout and champion floor apply from the
            # first debtor on.
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
        return SyncResult(experiment.key, version, digest, created=True)
