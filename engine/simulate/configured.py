"""Response models for arms the calibration does not name, from what the experiment file says.

The calibrated arms (:mod:`engine.simulate.arms`) are keyed by name. An analyst's experiment may
call its arms anything (``sms_discount_10``); this module gives each such arm the calibrated
model its configuration resembles, so ``dunning demo --experiment FILE`` can simulate any file:

* a collection agency (``channel: agency`` or ``opens_collection_case``) -> ``direct_collection``;
* a contacting arm with a discount ``d`` -> ``discount_nudge`` with the offer's effect scaled by
  ``d / 5%`` on the log-odds of paying and of repeat lateness (assumption: a linear
  dose-response around the published 5% offer of Cadena & Schoar 2011; no study pins the
  slope) and the discount ``d`` granted to early payers;
* a contacting arm without a discount -> ``friendly_sms``;
* anything else -> ``no_action``.

A late ``fee`` is added to what a payer pays, and changes nothing else (assumption: no
published effect of a fee on the decision to pay).

Arms the calibration names keep their calibrated model, and router arms need none (debtors
respond to the treatment the router gives).
"""

from __future__ import annotations

import dataclasses

from engine.config import Arm, Experiment
from engine.simulate.arms import ArmModel
from engine.simulate.calibration import (
    DEBTOR_TYPES,
    _discount_late_again_shift,
    _discount_shift,
    _sms_late_again_shift,
    _sms_shift,
)
from engine.simulate.scenario import Scenario

#: The discount of the calibrated ``discount_nudge`` arm, the unit of the dose-response.
CALIBRATED_DISCOUNT = 0.05


def model_for(arm: Arm, scenario: Scenario) -> ArmModel:
    """The response model of ``arm``: its calibrated one if the scenario names it, else the
    calibrated model its configuration resembles (see the module docstring); a late fee is
    added to what its payers pay."""
    return dataclasses.replace(_resembled(arm, scenario), fee=arm.fee)


def _resembled(arm: Arm, scenario: Scenario) -> ArmModel:
    if arm.key in scenario.arms:
        return scenario.arms[arm.key]
    if arm.opens_collection_case:
        return scenario.arms["direct_collection"]
    if arm.contacts_debtor and arm.discount > 0:
        dose = arm.discount / CALIBRATED_DISCOUNT
        shift = {
            t: _sms_shift(t) + dose * (_discount_shift(t) - _sms_shift(t)) for t in DEBTOR_TYPES
        }
        # The same dose-response on repeat lateness (engine.simulate.cases).
        late_again = {
            t: _sms_late_again_shift(t)
            + dose * (_discount_late_again_shift(t) - _sms_late_again_shift(t))
            for t in DEBTOR_TYPES
        }
        return dataclasses.replace(
            scenario.arms["discount_nudge"],
            pay_log_odds_shift=shift,
            late_again_log_odds_shift=late_again,
            discount=arm.discount,
        )
    if arm.contacts_debtor:
        return scenario.arms["friendly_sms"]
    return scenario.arms["no_action"]


def scenario_for(experiment: Experiment, scenario: Scenario) -> Scenario:
    """``scenario`` with a response model for every non-router arm of ``experiment``."""
    arms = dict(scenario.arms)
    for arm in experiment.arms:
        if arm.router is None:
            arms[arm.key] = model_for(arm, scenario)
    return dataclasses.replace(scenario, arms=arms)
