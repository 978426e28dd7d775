"""Analytic truth of the simulation: exact pay, churn and late-again rates, "would have paid
anyway" share."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from engine.simulate.calibration import DEBTOR_TYPES
from engine.simulate.responses import _loglogistic_cdf
from engine.simulate.scenario import DEFAULT_SCENARIO, Scenario


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
    """
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
    return float(_weights(scenario, debtor_type) @ rate)
