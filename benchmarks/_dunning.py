"""The dunning scenario shared by the bandit benchmarks: 90 days, 2,000 debtors a day, 4 arms.

Every replicate draws its debtors and their *potential* outcomes under all four arms once
(:func:`engine.simulate.simulate_responses` draws its latent uniforms in an order that does not
depend on the arm, so the same day seed gives coupled outcomes under every arm). Every policy
then runs on the same debtors and the same potential outcomes: common random numbers, so the
differences between policies are differences of policy, not of luck.

The reward is "paid within the 14-day window". An outcome is *matured* once its window has
closed: a debtor assigned on day ``c`` is learned from on day ``c + 14`` (daily updates at the
start of each day). Regret is the pseudo-regret ``sum_i (mu* - mu_{A_i})`` with the exact
pay-within-14 rates of :func:`engine.simulate.true_pay_rate`: against the best single arm for
the global policies, against the best arm of the debtor's type for the per-type ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.assignment import assign
from engine.simulate import (
    ARMS,
    DEBTOR_TYPES,
    PAY_ON_TIME_WINDOW_DAYS,
    sample_debtors,
    simulate_responses,
    true_pay_rate,
)

DAYS = 90
PER_DAY = 2_000
WINDOW = int(PAY_ON_TIME_WINDOW_DAYS)  # 14 days
K = len(ARMS)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

#: Exact pay-within-14 rates, population (k,) and per type (16, k).
MU: FloatArray = np.array([true_pay_rate(a, window_days=WINDOW) for a in ARMS])
MU_TYPE: FloatArray = np.array(
    [[true_pay_rate(a, window_days=WINDOW, debtor_type=t) for a in ARMS] for t in DEBTOR_TYPES]
)


@dataclass(frozen=True, eq=False)
class World:
    """One replicate: debtors and potential outcomes, shape (days, n[, k])."""

    ids: npt.NDArray[np.str_]
    type_index: IntArray
    delay: FloatArray  # days to payment under each arm; inf when not paid within the horizon
    seed: int

    @property
    def paid14(self) -> npt.NDArray[np.bool_]:
        result: npt.NDArray[np.bool_] = self.delay <= WINDOW
        return result


def make_world(seed: int, *, days: int = DAYS, per_day: int = PER_DAY) -> World:
    """Debtors and their coupled potential outcomes under all arms for one replicate."""
    ids = np.empty((days, per_day), dtype="<U10")
    types = np.empty((days, per_day), dtype=np.intp)
    delay = np.empty((days, per_day, K), dtype=np.float64)
    lookup = {t: i for i, t in enumerate(DEBTOR_TYPES)}
    for d in range(days):
        batch = sample_debtors(
            per_day, rng=np.random.default_rng([seed, d]), start_index=d * per_day
        )
        ids[d] = batch.debtor_id
        types[d] = np.vectorize(lookup.__getitem__, otypes=[np.intp])(batch.debtor_type)
        for a, arm in enumerate(ARMS):
            r = simulate_responses(batch, arm, rng=np.random.default_rng([seed, d, 1]))
            delay[d, :, a] = np.where(r.paid, r.pay_delay_days, np.inf)
    return World(ids, types, delay, seed)


Decide = Callable[[int, FloatArray, FloatArray], FloatArray]
"""(day, successes (k,), failures (k,)) -> weights (k,) for the day's batch."""


@dataclass(frozen=True, eq=False)
class Run:
    """What a policy did in one replicate."""

    regret: float
    arms: IntArray  # (days, n)
    successes: FloatArray  # (k,) the counts the policy saw on its last update
    failures: FloatArray
    weights: FloatArray  # (k,) its last weights


def learned_counts(
    world: World, arms: IntArray, day: int, *, naive: bool
) -> tuple[FloatArray, FloatArray]:
    """Successes and failures per arm known at the start of ``day``.

    Matured-only: cohorts ``c <= day - 14``, success = paid within 14 days. Naive ("not paid
    yet = did not pay"): every cohort ``c < day`` counts, success = paid within
    ``min(14, day - c)`` days, i.e. payers known so far.
    """
    if naive:
        last = day
        age = (day - np.arange(last))[:, None]
        horizon = np.minimum(WINDOW, age)
    else:
        last = max(0, day - WINDOW + 1)
        horizon = np.full((last, 1), WINDOW)
    if last == 0:
        return np.zeros(K), np.zeros(K)
    chosen = arms[:last]
    d = np.take_along_axis(world.delay[:last], chosen[..., None], axis=2)[..., 0]
    success = d <= horizon
    n = np.bincount(chosen.ravel(), minlength=K).astype(np.float64)
    s = np.bincount(chosen.ravel(), weights=success.ravel(), minlength=K).astype(np.float64)
    return s, n - s


def learned_cells(world: World, arms: IntArray, day: int) -> tuple[FloatArray, FloatArray]:
    """Matured successes and failures per (debtor type, arm), shape (16, k) each."""
    last = max(0, day - WINDOW + 1)
    cells = len(DEBTOR_TYPES) * K
    if last == 0:
        zero = np.zeros((len(DEBTOR_TYPES), K))
        return zero, zero.copy()
    chosen = arms[:last]
    success = np.take_along_axis(world.paid14[:last], chosen[..., None], axis=2)[..., 0]
    cell = (world.type_index[:last] * K + chosen).ravel()
    n = np.bincount(cell, minlength=cells).astype(np.float64).reshape(-1, K)
    s = np.bincount(cell, weights=success.ravel(), minlength=cells).astype(np.float64)
    s = s.reshape(-1, K)
    return s, n - s


def run_batched(world: World, decide: Decide, *, salt: str, naive: bool = False) -> Run:
    """A non-contextual batched policy: weights once a day, hash assignment of the batch."""
    days, n = world.ids.shape
    arms = np.zeros((days, n), dtype=np.intp)
    gaps = MU.max() - MU
    regret = 0.0
    s, f = np.zeros(K), np.zeros(K)
    w = np.full(K, 1.0 / K)
    for day in range(days):
        s, f = learned_counts(world, arms, day, naive=naive)
        w = decide(day, s, f)
        arms[day] = assign(world.ids[day], salt=salt, arm_keys=ARMS, weights=w).arm_index
        regret += float(gaps[arms[day]].sum())
    return Run(regret, arms, s, f, w)


def run_mabwiser(world: World, *, seed: int) -> Run:
    """MABWiser's Thompson sampling fed the same matured outcomes, one ``predict`` per debtor."""
    from mabwiser.mab import MAB, LearningPolicy  # type: ignore[import-untyped]

    days, n = world.ids.shape
    arms = np.zeros((days, n), dtype=np.intp)
    gaps = MU.max() - MU
    paid14 = world.paid14
    mab = MAB(arms=list(range(K)), learning_policy=LearningPolicy.ThompsonSampling(), seed=seed)
    mab.fit(decisions=np.array([], dtype=np.intp), rewards=np.array([], dtype=np.float64))
    regret = 0.0
    contexts = np.zeros((n, 1))
    for day in range(days):
        cohort = day - WINDOW
        if cohort >= 0:  # the cohort whose window closed today
            chosen = arms[cohort]
            mab.partial_fit(decisions=chosen, rewards=paid14[cohort, np.arange(n), chosen])
        arms[day] = np.asarray(mab.predict(contexts), dtype=np.intp)
        regret += float(gaps[arms[day]].sum())
    return Run(regret, arms, np.zeros(K), np.zeros(K), np.zeros(K))


DecideSegments = Callable[[int, FloatArray, FloatArray], FloatArray]
"""(day, successes (16, k), failures (16, k)) -> weights (16, k), one row per debtor type."""


def run_segmented(world: World, decide: DecideSegments, *, salt: str) -> float:
    """A per-type batched policy; returns its regret against the per-type best arm."""
    from engine.policy.holdout import apply_constraints
    from engine.policy.segments import assign_segments

    days, n = world.ids.shape
    arms = np.zeros((days, n), dtype=np.intp)
    gaps = MU_TYPE.max(axis=1, keepdims=True) - MU_TYPE  # (16, k)
    regret = 0.0
    for day in range(days):
        s, f = learned_cells(world, arms, day)
        table = apply_constraints(decide(day, s, f))
        arms[day] = assign_segments(
            world.ids[day], world.type_index[day], salt=salt, constrained=table
        )[0]
        regret += float(gaps[world.type_index[day], arms[day]].sum())
    return regret


def run_mabwiser_segmented(world: World, *, seed: int) -> float:
    """One MABWiser Thompson sampling model per debtor type, fed the same matured outcomes."""
    from mabwiser.mab import MAB, LearningPolicy

    days, n = world.ids.shape
    arms = np.zeros((days, n), dtype=np.intp)
    gaps = MU_TYPE.max(axis=1, keepdims=True) - MU_TYPE
    paid14 = world.paid14
    models = []
    for t in range(len(DEBTOR_TYPES)):
        mab = MAB(list(range(K)), LearningPolicy.ThompsonSampling(), seed=seed * 100 + t)
        mab.fit(decisions=np.array([], dtype=np.intp), rewards=np.array([], dtype=np.float64))
        models.append(mab)
    regret = 0.0
    for day in range(days):
        types = world.type_index[day]
        cohort = day - WINDOW
        for t, mab in enumerate(models):
            if cohort >= 0:
                mask = world.type_index[cohort] == t
                chosen = arms[cohort][mask]
                if chosen.size:
                    mab.partial_fit(
                        decisions=chosen,
                        rewards=paid14[cohort][mask][np.arange(chosen.size), chosen],
                    )
            here = np.flatnonzero(types == t)
            if here.size:
                pred = mab.predict(np.zeros((here.size, 1)))
                arms[day, here] = np.atleast_1d(np.asarray(pred, dtype=np.intp))
        regret += float(gaps[types, arms[day]].sum())
    return regret
