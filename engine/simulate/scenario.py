"""The :class:`Scenario` value type: all behavioural parameters, their validation and tables."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from engine.simulate.arms import ArmModel, _default_arms
from engine.simulate.calibration import (
    DEBTOR_TYPES,
    PAY_ON_TIME_WINDOW_DAYS,
    _default_amount_multiplier,
    _default_base_late_again_prob,
    _default_base_pay_prob,
    _default_type_shares,
    _expit,
    _logit,
)


def _freeze(m: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType({str(k): float(v) for k, v in m.items()})


@dataclass(frozen=True)
class Scenario:
    """All behavioural parameters; defaults calibrated on DOMAIN.md. Frozen; ``replace()`` to vary.

    Attributes
    ----------
    type_shares : Mapping[str, float]
        Population share of each of the 16 types; sums to 1.
    base_pay_prob : Mapping[str, float]
        P(pay within ``pay_horizon_days`` | ``no_action``) per type, in (0, 1).
    arms : Mapping[str, ArmModel]
        Response model per arm key (log-odds shifts, delay, churn hazard ratio, discount).
    pay_horizon_days : float
        Payments later than this are not simulated (the debtor counts as not paying).
    base_monthly_churn : float
        Monthly churn hazard of late payers under ``no_action``.
    days_per_month : float
        Converts the monthly hazard to a daily one.
    type_churn_multiplier : Mapping[str, float]
        Per-type multiplier of the churn hazard (missing type means 1).
    amount_median, amount_sigma : float
        Lognormal invoice amount: median (currency units) and log-scale sigma.
    type_amount_multiplier : Mapping[str, float]
        Per-type multiplier of the amount median (missing type means 1).
    discount_window_days : float
        A discount arm grants its discount only to payers within this many days.
    billing_period_days : int
        Days between a customer's invoices (monthly); whole days, so a repeat case falls on a
        daily batch.
    base_late_again_prob : Mapping[str, float]
        P(next invoice overdue | this one was) per type under ``no_action``, in (0, 1).
    relapse_log_odds_gap : float
        How much less likely (log-odds) an invoice is overdue when the one before it was paid
        on time, than when the one before was overdue too; >= 0.
    """

    type_shares: Mapping[str, float] = field(default_factory=_default_type_shares)
    base_pay_prob: Mapping[str, float] = field(default_factory=_default_base_pay_prob)
    arms: Mapping[str, ArmModel] = field(default_factory=_default_arms)
    # DOMAIN.md: payment is known days later; 60 days covers agency deadlines.
    pay_horizon_days: float = 60.0
    # Base monthly churn hazard of late payers ~2.5% (brief; subscription telecom order of size).
    base_monthly_churn: float = 0.025
    days_per_month: float = 365.25 / 12.0
    type_churn_multiplier: Mapping[str, float] = field(
        default_factory=lambda: dict.fromkeys(DEBTOR_TYPES, 1.0)
    )
    # Monthly subscription invoices: median ~45, mean ~60 overall (brief). With sigma 0.72 the
    # lognormal mean is 44 * exp(0.72^2 / 2) = 57; the DICR multiplier lifts it to ~61.
    amount_median: float = 44.0
    amount_sigma: float = 0.72
    type_amount_multiplier: Mapping[str, float] = field(default_factory=_default_amount_multiplier)
    discount_window_days: float = PAY_ON_TIME_WINDOW_DAYS
    billing_period_days: int = 30
    base_late_again_prob: Mapping[str, float] = field(default_factory=_default_base_late_again_prob)
    # Assumption (engine.simulate.calibration): a relapse is e^2 ~ 7x less likely in odds.
    relapse_log_odds_gap: float = 2.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "type_shares", _freeze(self.type_shares))
        object.__setattr__(self, "base_pay_prob", _freeze(self.base_pay_prob))
        object.__setattr__(self, "base_late_again_prob", _freeze(self.base_late_again_prob))
        object.__setattr__(self, "type_churn_multiplier", _freeze(self.type_churn_multiplier))
        object.__setattr__(self, "type_amount_multiplier", _freeze(self.type_amount_multiplier))
        object.__setattr__(self, "arms", MappingProxyType(dict(self.arms)))
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` with a clear message on inconsistent parameters."""
        known = set(DEBTOR_TYPES)

        def exact_keys(name: str, m: Mapping[str, object]) -> None:
            missing, extra = known - set(m), set(m) - known
            if missing or extra:
                raise ValueError(
                    f"{name}: keys must be the 16 debtor types; "
                    f"missing {sorted(missing)}, unknown {sorted(extra)}"
                )

        def subset_keys(name: str, m: Mapping[str, object]) -> None:
            extra = set(m) - known
            if extra:
                raise ValueError(f"{name}: unknown debtor types {sorted(extra)}")

        exact_keys("type_shares", self.type_shares)
        shares = list(self.type_shares.values())
        if any(not math.isfinite(s) or s < 0.0 for s in shares):
            raise ValueError("type_shares: every share must be finite and >= 0")
        if not math.isclose(math.fsum(shares), 1.0, abs_tol=1e-6):
            raise ValueError(f"type_shares must sum to 1, got {math.fsum(shares):.6f}")
        for name, probs in (
            ("base_pay_prob", self.base_pay_prob),
            ("base_late_again_prob", self.base_late_again_prob),
        ):
            exact_keys(name, probs)
            for t, p in probs.items():
                if not 0.0 < p < 1.0:
                    raise ValueError(f"{name}[{t!r}] must be in (0, 1), got {p}")
        if not self.arms:
            raise ValueError("arms: at least one arm is required")
        for key, arm in self.arms.items():
            if not isinstance(arm, ArmModel):
                raise ValueError(f"arms[{key!r}] must be an ArmModel, got {type(arm).__name__}")
            subset_keys(f"arms[{key!r}].pay_log_odds_shift", arm.pay_log_odds_shift)
            subset_keys(f"arms[{key!r}].late_again_log_odds_shift", arm.late_again_log_odds_shift)
            for shifts in ("pay_log_odds_shift", "late_again_log_odds_shift"):
                if any(not math.isfinite(v) for v in getattr(arm, shifts).values()):
                    raise ValueError(f"arms[{key!r}].{shifts} must be finite")
            if not (arm.delay_median_days > 0.0 and arm.delay_shape > 0.0):
                raise ValueError(f"arms[{key!r}]: delay median and shape must be > 0")
            if not (math.isfinite(arm.churn_hazard_ratio) and arm.churn_hazard_ratio >= 0.0):
                raise ValueError(f"arms[{key!r}].churn_hazard_ratio must be finite and >= 0")
            if not (math.isfinite(arm.fee) and arm.fee >= 0.0):
                raise ValueError(f"arms[{key!r}].fee must be finite and >= 0, got {arm.fee}")
            if not 0.0 <= arm.discount < 1.0:
                raise ValueError(f"arms[{key!r}].discount must be in [0, 1), got {arm.discount}")
        if not (math.isfinite(self.pay_horizon_days) and self.pay_horizon_days > 0.0):
            raise ValueError("pay_horizon_days must be finite and > 0")
        if not (math.isfinite(self.base_monthly_churn) and self.base_monthly_churn >= 0.0):
            raise ValueError("base_monthly_churn must be finite and >= 0")
        if not self.days_per_month > 0.0:
            raise ValueError("days_per_month must be > 0")
        for name, m in (
            ("type_churn_multiplier", self.type_churn_multiplier),
            ("type_amount_multiplier", self.type_amount_multiplier),
        ):
            subset_keys(name, m)
            if any(not (math.isfinite(v) and v > 0.0) for v in m.values()):
                raise ValueError(f"{name}: multipliers must be finite and > 0")
        if not (self.amount_median > 0.0 and self.amount_sigma >= 0.0):
            raise ValueError("amount_median must be > 0 and amount_sigma >= 0")
        if not self.discount_window_days >= 0.0:
            raise ValueError("discount_window_days must be >= 0")
        if not (isinstance(self.billing_period_days, int) and self.billing_period_days >= 1):
            raise ValueError(
                f"billing_period_days must be a whole number of days >= 1, got "
                f"{self.billing_period_days!r}"
            )
        if not (math.isfinite(self.relapse_log_odds_gap) and self.relapse_log_odds_gap >= 0.0):
            raise ValueError("relapse_log_odds_gap must be finite and >= 0")

    # Vectorised parameter tables --------------------------------------------------------------

    def arm_model(self, arm: str) -> ArmModel:
        """Return the arm's model; ``ValueError`` naming the arm and the known ones if absent."""
        try:
            return self.arms[arm]
        except KeyError:
            raise ValueError(
                f"unknown arm {arm!r}; the scenario has response models for {sorted(self.arms)}"
            ) from None

    def pay_prob(self, arm: str) -> NDArray[np.float64]:
        """P(pay within the payment horizon) under ``arm``, shape (16,) in DEBTOR_TYPES order."""
        model = self.arm_model(arm)
        return np.array(
            [
                _expit(_logit(self.base_pay_prob[t]) + model.pay_log_odds_shift.get(t, 0.0))
                for t in DEBTOR_TYPES
            ],
            dtype=np.float64,
        )

    def late_again_prob(self, arm: str, *, relapse: bool = False) -> NDArray[np.float64]:
        """P(an invoice is overdue) under ``arm``, shape (16,) in DEBTOR_TYPES order: after an
        overdue invoice, or after one paid on time (``relapse``)."""
        model = self.arm_model(arm)
        gap = self.relapse_log_odds_gap if relapse else 0.0
        return np.array(
            [
                _expit(
                    _logit(self.base_late_again_prob[t])
                    + model.late_again_log_odds_shift.get(t, 0.0)
                    - gap
                )
                for t in DEBTOR_TYPES
            ],
            dtype=np.float64,
        )

    def shares(self) -> NDArray[np.float64]:
        """Type shares, shape (16,) in DEBTOR_TYPES order."""
        return np.array([self.type_shares[t] for t in DEBTOR_TYPES], dtype=np.float64)

    def daily_churn_hazard(self, arm: str) -> NDArray[np.float64]:
        """Daily churn hazard under ``arm``, shape (16,) in DEBTOR_TYPES order."""
        hr = self.arm_model(arm).churn_hazard_ratio
        base = self.base_monthly_churn / self.days_per_month
        return np.array(
            [base * hr * self.type_churn_multiplier.get(t, 1.0) for t in DEBTOR_TYPES],
            dtype=np.float64,
        )


DEFAULT_SCENARIO: Scenario = Scenario()
