"""Off-policy evaluation of a router arm on its experiment's logs (for the promotion gate)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
from sqlalchemy import Engine
from sqlmodel import Session

from engine.config import Experiment
from engine.service.common import ServiceError, load_current
from engine.service.definitions import pooled_since
from engine.store.logs import DecisionLog, decision_log
from engine.uplift.logged import PolicyOpe, router_policy_value


def policy_ope(
    engine: Engine, experiment_key: str, arm: str, now: datetime, *, seed: int = 0
) -> PolicyOpe:
    """DR value (interval, ESS share of the log) of router ``arm`` had it routed every matured
    debtor of the experiment, next to the all-champion policy. Reads only.

    Raises
    ------
    ServiceError
        If ``arm`` is not a router arm, the champion is one, or no decision has matured.
    """
    with Session(engine) as session:
        experiment, _ = load_current(session, experiment_key)
        since = pooled_since(session, experiment_key=experiment_key)
        log = decision_log(
            session, experiment_key=experiment_key, now=now, min_experiment_version=since
        )
    return _router_ope(experiment, log, arm, now, seed=seed)


def router_ess_shares(
    session: Session, experiment: Experiment, *, now: datetime
) -> dict[str, float]:
    """Router arm -> ESS share of its off-policy estimate on the matured log of the current
    outcome definition (0 when nothing has matured yet): the input of the promotion rule's
    ``min_ess_share`` gate."""
    since = pooled_since(session, experiment_key=experiment.key)
    log = decision_log(  # read once for all router arms
        session, experiment_key=experiment.key, now=now, min_experiment_version=since
    )
    shares = {}
    for arm in experiment.routers:
        try:
            shares[arm] = _router_ope(experiment, log, arm, now, seed=0).ess_share
        except ServiceError:
            shares[arm] = 0.0  # no matured decision: no evidence, the gate stays closed
    return shares


def _router_ope(
    experiment: Experiment, log: DecisionLog, arm: str, now: datetime, *, seed: int
) -> PolicyOpe:
    routers = experiment.routers
    if arm not in routers:
        raise ServiceError(f"arm {arm!r} of {experiment.key!r} is not a router arm")
    champion = experiment.champion
    if champion in routers:
        raise ServiceError(f"the champion {champion!r} is a router; compare with a plain arm")
    if log.treatment.size == 0:
        raise ServiceError(f"no decision of {experiment.key!r} has matured by {now:%Y-%m-%d}")
    plain = [key for key in experiment.arm_keys if key not in routers]
    index = {key: j for j, key in enumerate(plain)}
    return router_policy_value(
        routers[arm],
        arm=arm,
        champion=champion,
        treatments=plain,
        actions=np.array([index[str(t)] for t in log.treatment], dtype=np.intp),
        rewards=log.paid,
        propensities=log.propensity,
        inputs={experiment.segment_columns[0]: log.segment, "amount_owed": log.amount_owed},
        rng=np.random.default_rng(seed),
    )
