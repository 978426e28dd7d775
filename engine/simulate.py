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
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ARMS",
    "DEBTOR_TYPES",
    "DEFAULT_SCENARIO",
    "PAY_ON_TIME_WINDOW_DAYS",
    "ArmModel",
    "DebtorBatch",
    "Responses",
    "Scenario",
    "sample_debtors",
    "simulate_responses",
    "true_churn_rate",
    "true_pay_rate",
    "would_have_paid_anyway_share",
]

# The 16 PAIR Finance types (DOMAIN.md, Ghaffari, Kaniewicz & Stricker 2021): willing/defiant,
# able/insolvent, organised/chaotic, emotional/rational. Order: W before D, A before I, ...
DEBTOR_TYPES: tuple[str, ...] = tuple("".join(c) for c in itertools.product("WD", "AI", "OC", "ER"))

ARMS: tuple[str, ...] = ("direct_collection", "friendly_sms", "no_action", "discount_nudge")

# Primary KPI "pay-on-time": paid within 14 days after entering the experiment (DOMAIN.md, KPIs).
PAY_ON_TIME_WINDOW_DAYS: float = 14.0

_ID_DIGITS = 9  # "D000000123": prefix + zero-padded index


def _flags(t: str) -> tuple[bool, bool, bool, bool]:
    """Return (willing, able, organised, emotional) for a 4-letter type code."""
    return t[0] == "W", t[1] == "A", t[2] == "O", t[3] == "E"


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


# ---------------------------------------------------------------------------------------------
# Default calibration
# ---------------------------------------------------------------------------------------------


def _default_type_shares() -> dict[str, float]:
    # DOMAIN.md (PAIR Finance study, ~400,000 debtors): five types cover about 63% of debtors.
    # Shares of the five are illustrative but realistic; they sum to 0.63.
    big = {"WAOE": 0.16, "WACE": 0.14, "WAOR": 0.13, "DICE": 0.11, "DICR": 0.09}
    rest = [t for t in DEBTOR_TYPES if t not in big]
    # The other 11 types share the remaining 37% equally (no published split).
    shares = {t: (1.0 - sum(big.values())) / len(rest) for t in rest}
    shares.update(big)
    return {t: shares[t] for t in DEBTOR_TYPES}


def _default_base_pay_prob() -> dict[str, float]:
    # P(pay within 60 days | no_action) per type, additive on the log-odds scale over the four
    # dimensions. Calibrated so that overall pay-within-14 under no_action is ~0.54 (Tulsa RCT:
    # 48% paid on time without a text; late payers of subscriptions are largely forgetful or
    # organised-late and pay by themselves, DOMAIN.md "many debtors pay anyway"), willing/able/
    # organised types pay far more than defiant/insolvent/chaotic ones, and DICE/DICR rarely pay
    # (~0.14 within 14 days; DOMAIN.md: "rejects every solution, no contact").
    out: dict[str, float] = {}
    for t in DEBTOR_TYPES:
        willing, able, organised, _ = _flags(t)
        x = -1.35 + 1.5 * willing + 1.5 * able + 0.6 * organised
        if not willing and not able:
            x -= 0.3  # defiant AND insolvent: no contact at all (DOMAIN.md, DICE/DICR)
        out[t] = _expit(x)
    return out


def _sms_shift(t: str) -> float:
    willing, able, organised, _ = _flags(t)
    if not willing and not able:
        # Defiant-insolvent types ignore reminders (DOMAIN.md DICE/DICR; Karlan, Morten & Zinman
        # 2016 and Bursztyn et al. 2019: a plain reminder can do nothing).
        return 0.0
    # Small eventual-payment lift, larger for chaotic/forgetful types whom a reminder reminds.
    # Most of the SMS effect on pay-within-14 comes from faster payment (delay median 3.8 vs 5
    # days). Result: +5 to +9 pp per non-DI type, ~+5 pp overall (DOMAIN.md: +3 to +12 pp,
    # mode ~+5; Tulsa 48% -> 60%; Cadena & Schoar 2011 +7-9%).
    return 0.03 + 0.22 * (not organised)


def _discount_shift(t: str) -> float:
    willing, able, _, emotional = _flags(t)
    if not willing and not able:
        # DICE "rejects every solution ... even with fee reductions" (DOMAIN.md): no extra effect.
        return _sms_shift(t)
    # The nudge is a reminder (same lift as the SMS) plus an offer that works on rational debtors,
    # most on rational AND able ones (Cadena & Schoar 2011: discount about as effective as SMS,
    # strongest for rational, able payers; DOMAIN.md WAOR "responds to discount offers").
    # Result: overall ~+2.3 pp over friendly_sms on pay-within-14, WAOR +5.3 pp.
    return _sms_shift(t) + (not emotional) * (0.10 + 0.90 * able)


def _collection_shift(t: str) -> float:
    willing, able, _, _ = _flags(t)
    # Collection converts part of the would-not-pay debtors. Calibrated so that among collection
    # payers ~80% would have paid anyway under no_action (Billogram/Hallon, DOMAIN.md); a bit
    # stronger on defiant-insolvent debtors, whom only enforcement moves.
    return 0.85 + 0.45 * (not willing and not able)


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
    sends_reminder, opens_collection_case : bool
        Whether the arm sends a reminder / opens an agency case (collection counts KPI).
    """

    pay_log_odds_shift: Mapping[str, float]
    delay_median_days: float
    delay_shape: float
    churn_hazard_ratio: float = 1.0
    discount: float = 0.0
    sends_reminder: bool = False
    opens_collection_case: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "pay_log_odds_shift", MappingProxyType(dict(self.pay_log_odds_shift))
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
        ),
        "friendly_sms": ArmModel(
            pay_log_odds_shift={t: _sms_shift(t) for t in DEBTOR_TYPES},
            # Reminders act fast: most payers pay within the first week (median 3.8 days).
            delay_median_days=3.8,
            delay_shape=2.0,
            churn_hazard_ratio=2.0,  # Billogram: churn ~2x after a post-due reminder (DOMAIN.md)
            sends_reminder=True,
        ),
        "discount_nudge": ArmModel(
            pay_log_odds_shift={t: _discount_shift(t) for t in DEBTOR_TYPES},
            delay_median_days=3.8,  # a reminder too: same speed as the SMS
            delay_shape=2.0,
            # Assumption: a post-due reminder (2x, Billogram) softened by the offer.
            churn_hazard_ratio=1.8,
            discount=0.05,  # 5% for paying within the window (brief; Cadena & Schoar 2011)
            sends_reminder=True,
        ),
        "direct_collection": ArmModel(
            pay_log_odds_shift={t: _collection_shift(t) for t in DEBTOR_TYPES},
            # Assumption: agency handover then a demand letter with a deadline -> median 14 days,
            # concentrated around the deadline (shape 3).
            delay_median_days=14.0,
            delay_shape=3.0,
            churn_hazard_ratio=5.0,  # Billogram: churn ~5x after a collection case (DOMAIN.md)
            opens_collection_case=True,
        ),
    }


def _default_amount_multiplier() -> dict[str, float]:
    # DICR "refuses solutions, large debts" (DOMAIN.md): median amount 1.8x the others.
    return {t: (1.8 if t == "DICR" else 1.0) for t in DEBTOR_TYPES}


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "type_shares", _freeze(self.type_shares))
        object.__setattr__(self, "base_pay_prob", _freeze(self.base_pay_prob))
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
        exact_keys("base_pay_prob", self.base_pay_prob)
        for t, p in self.base_pay_prob.items():
            if not 0.0 < p < 1.0:
                raise ValueError(f"base_pay_prob[{t!r}] must be in (0, 1), got {p}")
        if not self.arms:
            raise ValueError("arms: at least one arm is required")
        for key, arm in self.arms.items():
            if not isinstance(arm, ArmModel):
                raise ValueError(f"arms[{key!r}] must be an ArmModel, got {type(arm).__name__}")
            subset_keys(f"arms[{key!r}].pay_log_odds_shift", arm.pay_log_odds_shift)
            if any(not math.isfinite(v) for v in arm.pay_log_odds_shift.values()):
                raise ValueError(f"arms[{key!r}].pay_log_odds_shift must be finite")
            if not (arm.delay_median_days > 0.0 and arm.delay_shape > 0.0):
                raise ValueError(f"arms[{key!r}]: delay median and shape must be > 0")
            if not (math.isfinite(arm.churn_hazard_ratio) and arm.churn_hazard_ratio >= 0.0):
                raise ValueError(f"arms[{key!r}].churn_hazard_ratio must be finite and >= 0")
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


# ---------------------------------------------------------------------------------------------
# Debtors
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DebtorBatch:
    """A batch of ``n`` synthetic debtors.

    Attributes
    ----------
    debtor_id : NDArray[np.str_], shape (n,)
        Unique ids, prefix + zero-padded index, e.g. ``"D000000123"``.
    debtor_type : NDArray[np.str_], shape (n,)
        One of ``DEBTOR_TYPES``.
    amount_owed : NDArray[np.float64], shape (n,)
        Invoice amount in currency units, > 0, rounded to cents.
    """

    debtor_id: NDArray[np.str_]
    debtor_type: NDArray[np.str_]
    amount_owed: NDArray[np.float64]

    def __post_init__(self) -> None:
        n = self.debtor_id.shape
        if len(n) != 1 or self.debtor_type.shape != n or self.amount_owed.shape != n:
            raise ValueError(
                "DebtorBatch arrays must be 1-D of equal length, got shapes "
                f"{self.debtor_id.shape}, {self.debtor_type.shape}, {self.amount_owed.shape}"
            )

    def __len__(self) -> int:
        return int(self.debtor_id.shape[0])


def _type_index(debtor_type: NDArray[np.str_]) -> NDArray[np.intp]:
    """Map type codes (n,) to indices into DEBTOR_TYPES (n,); ValueError on unknown codes."""
    idx = np.full(debtor_type.shape, -1, dtype=np.intp)
    for i, t in enumerate(DEBTOR_TYPES):  # loop over 16 types, vectorised over debtors
        idx[debtor_type == t] = i
    if np.any(idx < 0):
        bad = sorted(set(np.unique(debtor_type[idx < 0]).tolist()))
        raise ValueError(f"unknown debtor types {bad}; known: {list(DEBTOR_TYPES)}")
    return idx


def sample_debtors(
    n: int,
    *,
    rng: np.random.Generator,
    start_index: int = 0,
    prefix: str = "D",
    scenario: Scenario = DEFAULT_SCENARIO,
) -> DebtorBatch:
    """Draw ``n`` debtors: ids ``start_index .. start_index + n - 1``, types, amounts.

    Parameters
    ----------
    n : int
        Number of debtors (>= 0).
    rng : numpy.random.Generator
        The only source of randomness.
    start_index : int
        Index of the first debtor (ids are consecutive, so batches can be chained).
    prefix : str
        Id prefix.
    scenario : Scenario
        Type shares and amount distribution.

    Returns
    -------
    DebtorBatch
        Arrays of shape (n,).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if start_index < 0:
        raise ValueError(f"start_index must be >= 0, got {start_index}")
    index = np.arange(start_index, start_index + n, dtype=np.int64)
    if n == 0:  # np.char.zfill fails on empty input
        ids = np.empty(0, dtype=np.str_)
    else:
        ids = np.char.add(prefix, np.char.zfill(index.astype(np.str_), _ID_DIGITS))
    type_idx = rng.choice(len(DEBTOR_TYPES), size=n, p=scenario.shares())
    types = np.array(DEBTOR_TYPES, dtype=np.str_)[type_idx]
    mult = np.array(
        [scenario.type_amount_multiplier.get(t, 1.0) for t in DEBTOR_TYPES], dtype=np.float64
    )
    raw = rng.lognormal(
        mean=np.log(scenario.amount_median * mult[type_idx]), sigma=scenario.amount_sigma
    )
    amount = np.maximum(np.round(raw, 2), 0.01)  # cents; never a zero invoice
    return DebtorBatch(
        debtor_id=np.asarray(ids, dtype=np.str_),
        debtor_type=types,
        amount_owed=np.asarray(amount, dtype=np.float64),
    )


# ---------------------------------------------------------------------------------------------
# Responses
# ---------------------------------------------------------------------------------------------


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
        discount window, else ``amount_owed``.
    churned : bool
        Cancels the subscription within ``churn_horizon_days``.
    churn_delay_days : float64
        Days from assignment to churn; NaN when not churned.
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
    amount_paid = np.where(paid, np.where(in_window, owed * (1.0 - discount), owed), 0.0)
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
        reminder_sent=reminder,
        collection_case=case,
    )


# ---------------------------------------------------------------------------------------------
# Analytic truth
# ---------------------------------------------------------------------------------------------


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
