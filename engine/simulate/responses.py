"""Potential-outcome responses of debtors to their assigned arms (:func:`simulate_responses`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engine.simulate.debtors import DebtorBatch, _type_index
from engine.simulate.scenario import DEFAULT_SCENARIO, Scenario


@dataclass(frozen=True)
class Responses:
    """Potential-outcome draws for one treated batch; times in days after assignment.

    Attributes (all shape (n,))
    ---------------------------
    paid : bool
        Pays within the scenario's payment horizon.
    pay_delay_days : float64
        Days from assignment to payment; NaN when not paid.
    amount_paid : float64
        0 when not paid; ``amount_owed * (1 - discount)`` for a discount arm paid within the
        discount window, else ``amount_owed``; plus the arm's late fee, if any, for a payer.
    churned : bool
        Cancels the subscription within ``churn_horizon_days``.
    churn_delay_days : float64
        Days from assignment to churn; NaN when not churned.
    churn_time_days : float64
        Days from assignment to churn, also beyond the horizon (inf under a zero hazard): a
        customer who has churned is billed no more (:mod:`engine.simulate.cases`).
    reminder_sent : bool
        An SMS/reminder went out (``friendly_sms``, ``discount_nudge``).
    collection_case : bool
        A case was opened with the agency (``direct_collection``).
    """

    paid: NDArray[np.bool_]
    pay_delay_days: NDArray[np.float64]
    amount_paid: NDArray[np.float64]
    churned: NDArray[np.bool_]
    churn_delay_days: NDArray[np.float64]
    churn_time_days: NDArray[np.float64]
    reminder_sent: NDArray[np.bool_]
    collection_case: NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.paid.shape[0])


def _loglogistic_cdf(t: float, median: float, shape: float) -> float:
    """CDF of the log-logistic distribution at ``t`` days (0 for t <= 0)."""
    if t <= 0.0:
        return 0.0
    if math.isinf(t):
        return 1.0
    return 1.0 / (1.0 + math.pow(median / t, shape))


def simulate_responses(
    batch: DebtorBatch,
    arms: NDArray[np.str_] | str,
    *,
    rng: np.random.Generator,
    scenario: Scenario = DEFAULT_SCENARIO,
    churn_horizon_days: float = 90.0,
) -> Responses:
    """Draw each debtor's response to its assigned arm.

    Three latent uniforms per debtor (payment, delay, churn) are drawn in a fixed order that does
    not depend on the arms, so the same seed gives coupled potential outcomes under any
    assignment.

    Parameters
    ----------
    batch : DebtorBatch
        ``n`` debtors.
    arms : NDArray[np.str_], shape (n,), or str
        Arm key per debtor (a single string applies to all).
    rng : numpy.random.Generator
        The only source of randomness.
    scenario : Scenario
        Response models; an arm it does not know raises ``ValueError``.
    churn_horizon_days : float
        Churn later than this is not counted.

    Returns
    -------
    Responses
        Arrays of shape (n,).
    """
    n = len(batch)
    arm_arr = np.asarray(arms, dtype=np.str_)
    if arm_arr.ndim == 0:
        arm_arr = np.repeat(arm_arr, n)  # keeps the full string width
    if arm_arr.shape != (n,):
        raise ValueError(f"arms must have shape ({n},), got {arm_arr.shape}")
    if churn_horizon_days < 0.0:
        raise ValueError("churn_horizon_days must be >= 0")
    type_idx = _type_index(batch.debtor_type)

    # Per-arm parameter tables (loop over the arms present, vectorised over debtors).
    horizon = scenario.pay_horizon_days
    p_pay = np.empty(n, dtype=np.float64)
    median = np.empty(n, dtype=np.float64)
    shape = np.empty(n, dtype=np.float64)
    f_horizon = np.empty(n, dtype=np.float64)
    hazard = np.empty(n, dtype=np.float64)
    discount = np.empty(n, dtype=np.float64)
    fee = np.zeros(n, dtype=np.float64)
    reminder = np.zeros(n, dtype=np.bool_)
    case = np.zeros(n, dtype=np.bool_)
    for arm in np.unique(arm_arr).tolist():
        model = scenario.arm_model(str(arm))  # raises on an unknown arm
        mask = arm_arr == arm
        p_pay[mask] = scenario.pay_prob(arm)[type_idx[mask]]
        hazard[mask] = scenario.daily_churn_hazard(arm)[type_idx[mask]]
        median[mask] = model.delay_median_days
        shape[mask] = model.delay_shape
        f_horizon[mask] = _loglogistic_cdf(horizon, model.delay_median_days, model.delay_shape)
        discount[mask] = model.discount
        fee[mask] = model.fee
        reminder[mask] = model.sends_reminder
        case[mask] = model.opens_collection_case

    u_pay = rng.random(n)
    u_delay = rng.random(n)
    u_churn = rng.random(n)

    paid = u_pay < p_pay
    # Inverse CDF of the log-logistic truncated to (0, horizon]:
    # q = V * F(H), t = m * (q / (1 - q)) ** (1 / k).
    q = u_delay * f_horizon
    with np.errstate(divide="ignore"):
        delay = median * (q / (1.0 - q)) ** (1.0 / shape)
    # Guard float rounding at the boundary: the payment horizon is inclusive.
    delay = np.minimum(delay, horizon)
    pay_delay = np.where(paid, delay, np.nan)

    owed = batch.amount_owed
    in_window = paid & (delay <= scenario.discount_window_days)
    amount_paid = np.where(paid, np.where(in_window, owed * (1.0 - discount), owed) + fee, 0.0)
    amount_paid = np.round(amount_paid, 2)

    # Exponential churn time by inverse CDF; -log1p(-W) keeps precision for small W.
    with np.errstate(divide="ignore", invalid="ignore"):
        churn_time = -np.log1p(-u_churn) / hazard
    churned = churn_time <= churn_horizon_days
    churn_delay = np.where(churned, churn_time, np.nan)

    return Responses(
        paid=paid,
        pay_delay_days=pay_delay.astype(np.float64),
        amount_paid=amount_paid.astype(np.float64),
        churned=churned,
        churn_delay_days=churn_delay.astype(np.float64),
        churn_time_days=churn_time.astype(np.float64),
        reminder_sent=reminder,
        collection_case=case,
    )
