"""Response model of one arm (:class:`ArmModel`) and the calibrated default arms."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from engine.simulate.calibration import (
    DEBTOR_TYPES,
    _collection_late_again_shift,
    _collection_shift,
    _discount_late_again_shift,
    _discount_shift,
    _sms_late_again_shift,
    _sms_shift,
)


@dataclass(frozen=True)
class ArmModel:
    """Response model of one arm.

    Attributes
    ----------
    pay_log_odds_shift : Mapping[str, float]
        Per-type shift of the log-odds of paying within the payment horizon, relative to
        ``no_action``; a missing type means 0.
    delay_median_days, delay_shape : float
        Median (days) and shape of the log-logistic payment delay, truncated to the horizon.
    churn_hazard_ratio : float
        Multiplier of the base churn hazard while under this arm.
    discount : float
        Share of the amount waived for paying within ``Scenario.discount_window_days``.
    fee : float
        Late fee added to what a payer pays (assumption: a fee changes the amount, not the
        decision to pay; no published effect size to calibrate a deterrent on).
    sends_reminder, opens_collection_case : bool
        Whether the arm sends a reminder / opens an agency case (collection counts KPI).
    late_again_log_odds_shift : Mapping[str, float]
        Per-type shift of the log-odds that the customer's next monthly invoice is overdue too
        (a repeat case, :mod:`engine.simulate.cases`), relative to ``no_action``; missing means 0.
    """

    pay_log_odds_shift: Mapping[str, float]
    delay_median_days: float
    delay_shape: float
    churn_hazard_ratio: float = 1.0
    discount: float = 0.0
    fee: float = 0.0
    sends_reminder: bool = False
    opens_collection_case: bool = False
    late_again_log_odds_shift: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "pay_log_odds_shift", MappingProxyType(dict(self.pay_log_odds_shift))
        )
        object.__setattr__(
            self,
            "late_again_log_odds_shift",
            MappingProxyType(dict(self.late_again_log_odds_shift)),
        )


def _default_arms() -> dict[str, ArmModel]:
    return {
        "no_action": ArmModel(
            pay_log_odds_shift=dict.fromkeys(DEBTOR_TYPES, 0.0),
            # Spontaneous payers pay over the following weeks, a bit slower than after an SMS
            # (DOMAIN.md: forgetful and organised payers pay anyway). Median 5 days.
            delay_median_days=5.0,
            delay_shape=1.8,
            churn_hazard_ratio=1.0,  # reference hazard
            late_again_log_odds_shift=dict.fromkeys(DEBTOR_TYPES, 0.0),  # reference
        ),
        "friendly_sms": ArmModel(
            pay_log_odds_shift={t: _sms_shift(t) for t in DEBTOR_TYPES},
            # Reminders act fast: most payers pay within the first week (median 3.8 days).
            delay_median_days=3.8,
            delay_shape=2.0,
            churn_hazard_ratio=2.0,  # Billogram: churn ~2x after a post-due reminder (DOMAIN.md)
            sends_reminder=True,
            late_again_log_odds_shift={t: _sms_late_again_shift(t) for t in DEBTOR_TYPES},
        ),
        "discount_nudge": ArmModel(
            pay_log_odds_shift={t: _discount_shift(t) for t in DEBTOR_TYPES},
            delay_median_days=3.8,  # a reminder too: same speed as the SMS
            delay_shape=2.0,
            # Assumption: a post-due reminder (2x, Billogram) softened by the offer.
            churn_hazard_ratio=1.8,
            discount=0.05,  # 5% for paying within the window (brief; Cadena & Schoar 2011)
            sends_reminder=True,
            late_again_log_odds_shift={t: _discount_late_again_shift(t) for t in DEBTOR_TYPES},
        ),
        "direct_collection": ArmModel(
            pay_log_odds_shift={t: _collection_shift(t) for t in DEBTOR_TYPES},
            # Assumption: agency handover then a demand letter with a deadline -> median 14 days,
            # concentrated around the deadline (shape 3).
            delay_median_days=14.0,
            delay_shape=3.0,
            churn_hazard_ratio=5.0,  # Billogram: churn ~5x after a collection case (DOMAIN.md)
            opens_collection_case=True,
            late_again_log_odds_shift={t: _collection_late_again_shift(t) for t in DEBTOR_TYPES},
        ),
    }
