"""Analytic truth of the simulation: exact pay, churn and late-again rates, "would have paid
anyway" share."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from engine.simulate.calibration import DEBTOR_TYPES
from engine.simulate.responses import _loglogistic_cdf
from engine.simulate.scenario import DEFAULT_SCENARIO, Scenario

FloatArray = NDArray[np.float64]


def _weights(scenario: Scenario, debtor_type: str | None) -> NDArray[np.float64]:
    """Type weights (16,): the shares, or a one-hot vector for ``debtor_type``."""
    if debtor_type is None:
        return scenario.shares()
    if debtor_type not in DEBTOR_TYPES:
        raise ValueError(f"unknown debtor type {debtor_type!r}; known: {list(DEBTOR_TYPES)}")
    w = np.zeros(len(DEBTOR_TYPES), dtype=np.float64)
    w[DEBTOR_TYPES.index(debtor_type)] = 1.0
    return w


def _pay_within_fraction(scenario: Scenario, arm: str, window_days: float) -> float:
    """P(delay <= window | paid) under ``arm``: F(min(w, H)) / F(H)."""
    model = scenario.arm_model(arm)
    h = scenario.pay_horizon_days
    m, k = model.delay_median_days, model.delay_shape
    return _loglogistic_cdf(min(window_days, h), m, k) / _loglogistic_cdf(h, m, k)


def true_pay_rate(
    arm: str,
    *,
    window_days: float,
    scenario: Scenario = DEFAULT_SCENARIO,
    debtor_type: str | None = None,
) -> float:
    """Exact P(pay within ``window_days``) under ``arm``.

    Population-averaged over ``type_shares``, or for one ``debtor_type``. Analytic, no sampling.
    """
    p = scenario.pay_prob(arm)
    w = _weights(scenario, debtor_type)
    return float(w @ p) * _pay_within_fraction(scenario, arm, window_days)


def true_churn_rate(
    arm: str,
    *,
    horizon_days: float,
    scenario: Scenario = DEFAULT_SCENARIO,
    debtor_type: str | None = None,
) -> float:
    """Exact P(churn within ``horizon_days``) under ``arm`` (population or one type)."""
    lam = scenario.daily_churn_hazard(arm)
    w = _weights(scenario, debtor_type)
    return float(w @ -np.expm1(-lam * max(horizon_days, 0.0)))


def would_have_paid_anyway_share(
    *, scenario: Scenario = DEFAULT_SCENARIO, horizon_days: float = 60.0
) -> float:
    """Share of ``direct_collection`` payers (within ``horizon_days``) who would also have paid
    within ``horizon_days`` under ``no_action``.

    Exact under the coupling of :func:`simulate_responses`: a debtor pays within ``h`` under arm
    ``a`` iff ``U < p[a, t]`` and ``V <= r_a(h)`` with ``r_a(h) = F_a(min(h, H)) / F_a(H)``, so
    the joint probability is ``min(p_dc, p_na) * min(r_dc, r_na)``.
    """
    dc, na = "direct_collection", "no_action"
    p_dc, p_na = scenario.pay_prob(dc), scenario.pay_prob(na)
    r_dc = _pay_within_fraction(scenario, dc, horizon_days)
    r_na = _pay_within_fraction(scenario, na, horizon_days)
    s = scenario.shares()
    denom = float(s @ p_dc) * r_dc
    if denom <= 0.0:
        raise ValueError("direct_collection has no payers within the horizon")
    return float(s @ np.minimum(p_dc, p_na)) * min(r_dc, r_na) / denom


def _late_again_by_type(arm: str, window_days: float, scenario: Scenario) -> NDArray[np.float64]:
    """Per type (16,), P(a case is late again within ``window_days``): the same for every case
    of a customer (see :func:`true_late_again_rate`)."""
    period = scenario.billing_period_days
    bills = int(max(window_days, 0.0) // period)
    alive = np.exp(-scenario.daily_churn_hazard(arm) * period)
    q = scenario.late_again_prob(arm)
    p = scenario.late_again_prob(arm, relapse=True)
    rate = np.zeros(len(DEBTOR_TYPES), dtype=np.float64)
    reach = alive * (1.0 - q)  # alive at bill k - 1 and no case since: the relapse paths
    for k in range(1, bills + 1):
        if k == 1:
            rate += alive * q
        else:
            rate += reach * alive * p
            reach = reach * alive * (1.0 - p)
    return rate


def true_late_again_rate(
    arm: str,
    *,
    window_days: float,
    scenario: Scenario = DEFAULT_SCENARIO,
    debtor_type: str | None = None,
) -> float:
    """Exact P(a case is late again: the customer's next case opens within ``window_days``)
    under ``arm`` (population or one type), for every case of a customer (see
    :mod:`engine.simulate.cases`).

    With ``S`` the chance to be alive at the next bill (constant hazard, so the same after every
    case), ``q`` the overdue probability after an overdue invoice and ``p`` after one paid on
    time, the next case is the k-th bill with probability ``S q`` for k = 1 and
    ``S (1 - q) (S (1 - p))^(k - 2) S p`` for k >= 2; bills k <= ``window_days / period`` count.
    The population figure weighs the types by their customers; the share of cases late again
    weighs them by their cases (:func:`true_case_late_again_rate`).
    """
    rate = _late_again_by_type(arm, window_days, scenario)
    return float(_weights(scenario, debtor_type) @ rate)


def expected_cases(arm: str, *, bills: int, scenario: Scenario = DEFAULT_SCENARIO) -> FloatArray:
    """Shape (16, ``bills``): P(the k-th bill after a customer's first case is a case), k = 0
    (the first case itself, 1) to ``bills - 1``, per type, for a customer on ``arm`` for good.

    A two-state chain over the bills: after a case the next bill is a case with probability
    ``S q``, after an invoice paid on time with ``S p`` (``S``, ``q``, ``p`` as in
    :func:`true_late_again_rate`); a churned customer is billed no more.
    """
    alive = np.exp(-scenario.daily_churn_hazard(arm) * scenario.billing_period_days)
    q = scenario.late_again_prob(arm)
    p = scenario.late_again_prob(arm, relapse=True)
    out = np.zeros((len(DEBTOR_TYPES), max(bills, 0)), dtype=np.float64)
    case = np.ones(len(DEBTOR_TYPES))  # P(bill k is a case)
    paid = np.zeros(len(DEBTOR_TYPES))  # P(alive at bill k and it was paid on time)
    for k in range(max(bills, 0)):
        out[:, k] = case
        case, paid = alive * (case * q + paid * p), alive * (case * (1 - q) + paid * (1 - p))
    return out


def true_case_late_again_rate(
    arm: str,
    *,
    window_days: float,
    entry_day: NDArray[np.float64],
    type_index: NDArray[np.intp],
    as_of_day: float,
    scenario: Scenario = DEFAULT_SCENARIO,
) -> float:
    """Exact expected share of matured cases late again, had every customer been on ``arm``:
    the estimand of the engine's late-again rate (cases pooled within one stratum, inverse
    propensity weighted to all customers), for the customers who entered.

    ``entry_day`` (n,) is when each customer's first case opened (days, fractions allowed),
    ``type_index`` (n,) its type in DEBTOR_TYPES order. A case is matured once its window has
    closed (``opened + window_days <= as_of_day``); the customer's k-th bill opens at
    ``entry + k * period``, so it has matured bills k = 0 .. K - 1. Every case of a type is late
    again with the same probability ``r[t]``, so the expected cases late again over the
    expected matured cases is ``sum_i r[t_i] C_i / sum_i C_i``, ``C_i`` the customer's expected
    matured cases (:func:`expected_cases`). Types late more often have more cases, so this
    exceeds the customer-weighted :func:`true_late_again_rate` when lateness persists. The
    entries are the design (who entered when), not an outcome: conditioning on them is exact.
    NaN when no case has matured.
    """
    entry = np.asarray(entry_day, dtype=np.float64)
    types = np.asarray(type_index, dtype=np.intp)
    if entry.shape != types.shape or entry.ndim != 1:
        raise ValueError("entry_day and type_index must be 1-D of one length")
    period = scenario.billing_period_days
    with np.errstate(invalid="ignore"):
        matured = np.floor((as_of_day - window_days - entry) / period) + 1.0
    bills = np.clip(np.nan_to_num(matured, nan=0.0), 0, None).astype(np.int64)
    most = int(bills.max(initial=0))
    if most == 0:
        return float("nan")
    # cumulative[t, K]: expected cases among a type-t customer's first K bills.
    cumulative = np.concatenate(
        [
            np.zeros((len(DEBTOR_TYPES), 1)),
            np.cumsum(expected_cases(arm, bills=most, scenario=scenario), axis=1),
        ],
        axis=1,
    )
    cases = cumulative[types, bills]
    rate = _late_again_by_type(arm, window_days, scenario)
    return float((rate[types] * cases).sum() / cases.sum())
