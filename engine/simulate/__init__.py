"""Synthetic debtor population and potential-outcome responses to dunning arms.

Pure core: numpy only, no I/O. Every random draw comes from an injected
``numpy.random.Generator`` so a seed reproduces a population and its responses exactly.

Model (numbers calibrated on the DOMAIN notes summarised in the README; see each constant)
------------------------------------------------------------------------------------------
Debtors belong to one of the 16 PAIR Finance types (Ghaffari, Kaniewicz & Stricker 2021) and owe
one lognormal invoice amount.

Payment. Each type ``t`` has a base probability ``base_pay_prob[t]`` of paying within the payment
horizon (``pay_horizon_days``, 60 days) under ``no_action``. Arm ``a`` shifts it on the log-odds
scale: ``p[a, t] = expit(logit(base_pay_prob[t]) + pay_log_odds_shift[a][t])``. Each debtor draws
ONE latent uniform ``U`` and pays under arm ``a`` iff ``U < p[a, t]``. Potential outcomes are
therefore coupled monotonically across arms, so "would the debtor have paid anyway under
``no_action``" is well defined and computable (:func:`would_have_paid_anyway_share`).

Payment delay. Given payment, the delay follows a log-logistic distribution (median ``m_a``,
shape ``k_a``; CDF ``F(t) = t^k / (m^k + t^k)``) truncated to the payment horizon. It is sampled by
inverse CDF from a second per-debtor latent uniform ``V`` (the same ``V`` under every arm, so a
debtor who is quick under one arm is quick under all). The log-logistic has closed-form CDF and
quantile, so :func:`true_pay_rate` is exact:
``P(pay within w) = p[a, t] * F_a(min(w, H)) / F_a(H)``.

Churn. A constant hazard ``base_monthly_churn / days_per_month`` per day, times the arm's hazard
ratio and an optional per-type multiplier. A third latent uniform ``W`` gives the churn time by
inverse CDF of the exponential distribution (coupled across arms too); ``churned`` means
``churn time <= churn_horizon_days``. Churn is independent of payment (a simplification).

Assumptions (documented modelling choices, not published facts)
---------------------------------------------------------------
* ``direct_collection`` is slow: handover to the agency, then a demand letter with a deadline.
  Its delays have a median of 14 days, so its pay-within-14 rate is BELOW ``friendly_sms`` and
  ``discount_nudge`` (and even ``no_action``), while its pay-within-60 rate is the highest of all
  arms. Billogram/Hallon report the 80% "would have paid anyway" share, not the timing.
* The hazard ratio of an arm applies for the whole churn horizon (no decay after the treatment).
* ``discount_nudge``'s churn hazard ratio of 1.8 (a post-due reminder, 2.0 per Billogram,
  softened by the offer) is an assumption; no published figure.
* The 5% discount is granted only to debtors who pay within ``discount_window_days`` (14 days),
  the promise the nudge makes; later payers pay the full amount.
* Effects act on the eventual-payment log-odds and on the delay distribution of each arm; the
  delay distribution does not depend on the debtor type.

Repeat cases. Customers are billed monthly; after a case the next invoice is overdue (a new
case of the same customer, who keeps the arm) with a per-type probability that the arms shift
on the log-odds scale, as for payment; a churned customer is billed no more. Friction raises
repeat lateness (an agency case), a reminder or a discount lowers it: assumptions stated in
:mod:`~engine.simulate.cases` and :mod:`~engine.simulate.calibration`.

Submodules: :mod:`~engine.simulate.calibration` (debtor types, arms, calibrated defaults),
:mod:`~engine.simulate.arms` (:class:`ArmModel`), :mod:`~engine.simulate.configured` (models
for an experiment's own arms; imported on its own, as it reads :mod:`engine.config`),
:mod:`~engine.simulate.scenario` (:class:`Scenario`, validation),
:mod:`~engine.simulate.debtors` (sampling debtors), :mod:`~engine.simulate.responses`
(simulating responses), :mod:`~engine.simulate.truth` (analytic truths),
:mod:`~engine.simulate.randomised` (a randomised phase's log), :mod:`~engine.simulate.cases`
(monthly bills and repeat cases: :class:`Biller`, :func:`case_log`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine import lazy

# Names are imported on first use (PEP 562): the config's uplift features need DEBTOR_TYPES,
# not the response model and pandas (start-up time of `dunning validate`).
if TYPE_CHECKING:
    from engine.simulate.arms import ArmModel
    from engine.simulate.calibration import ARMS, DEBTOR_TYPES, PAY_ON_TIME_WINDOW_DAYS
    from engine.simulate.cases import Biller, CaseBatch, CaseLog, case_log, first_cases
    from engine.simulate.debtors import DebtorBatch, sample_debtors
    from engine.simulate.randomised import randomised_log
    from engine.simulate.responses import Responses, simulate_responses
    from engine.simulate.scenario import DEFAULT_SCENARIO, Scenario
    from engine.simulate.truth import (
        expected_cases,
        true_case_late_again_rate,
        true_churn_rate,
        true_late_again_rate,
        true_pay_rate,
        would_have_paid_anyway_share,
    )

_EXPORTS: dict[str, str] = {
    "ArmModel": "engine.simulate.arms",
    "ARMS": "engine.simulate.calibration",
    "DEBTOR_TYPES": "engine.simulate.calibration",
    "PAY_ON_TIME_WINDOW_DAYS": "engine.simulate.calibration",
    "Biller": "engine.simulate.cases",
    "CaseBatch": "engine.simulate.cases",
    "CaseLog": "engine.simulate.cases",
    "case_log": "engine.simulate.cases",
    "first_cases": "engine.simulate.cases",
    "DebtorBatch": "engine.simulate.debtors",
    "sample_debtors": "engine.simulate.debtors",
    "randomised_log": "engine.simulate.randomised",
    "Responses": "engine.simulate.responses",
    "simulate_responses": "engine.simulate.responses",
    "DEFAULT_SCENARIO": "engine.simulate.scenario",
    "Scenario": "engine.simulate.scenario",
    "expected_cases": "engine.simulate.truth",
    "true_case_late_again_rate": "engine.simulate.truth",
    "true_churn_rate": "engine.simulate.truth",
    "true_late_again_rate": "engine.simulate.truth",
    "true_pay_rate": "engine.simulate.truth",
    "would_have_paid_anyway_share": "engine.simulate.truth",
}

__all__ = [
    "ARMS",
    "DEBTOR_TYPES",
    "DEFAULT_SCENARIO",
    "PAY_ON_TIME_WINDOW_DAYS",
    "ArmModel",
    "Biller",
    "CaseBatch",
    "CaseLog",
    "DebtorBatch",
    "Responses",
    "Scenario",
    "case_log",
    "expected_cases",
    "first_cases",
    "randomised_log",
    "sample_debtors",
    "simulate_responses",
    "true_case_late_again_rate",
    "true_churn_rate",
    "true_late_again_rate",
    "true_pay_rate",
    "would_have_paid_anyway_share",
]

__getattr__, __dir__ = lazy.exports(__name__, _EXPORTS)
