"""Frozen models of an experiment as analysts write it in YAML.

Validation happens here, once, at the boundary: every model forbids unknown keys and is frozen,
so the rest of the engine can trust an :class:`Experiment` without re-checking it. Cross-field
rules (exactly one champion, weights that sum to one, floors that fit) live in model validators
so that :mod:`engine.loader` reports them with the file, line and field they concern.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime
from typing import Annotated, Literal, NewType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, model_validator

from engine.clv import residual_clv
from engine.config_base import _Frozen, _invalid
from engine.config_promotion import GUARDRAIL_METRICS, Guardrail, Promotion, PromotionMethod

__all__ = [
    "GUARDRAIL_METRICS",
    "Allocation",
    "Arm",
    "Clv",
    "Compliance",
    "Experiment",
    "Guardrail",
    "Metrics",
    "Promotion",
    "PromotionMethod",
    "QuietHours",
]

ExperimentKey = NewType("ExperimentKey", str)
ArmKey = NewType("ArmKey", str)

#: Keys are used in file names, SQL rows and URLs: keep them boring.
KEY_PATTERN = r"^[a-z][a-z0-9_\-]{0,62}$"

#: Tolerance for "weights sum to one": YAML decimals such as 0.1 + 0.2 are not exact in binary.
WEIGHT_SUM_TOLERANCE = 1e-6

PrimaryMetric = Literal["pay_on_time"]
PolicyName = Literal["fixed", "thompson", "top_two"]
RewardName = Literal["pay_on_time", "net_value"]


class Arm(_Frozen):
    """One treatment arm, e.g. ``friendly_sms``."""

    key: Annotated[str, Field(pattern=KEY_PATTERN, description="Stable identifier of the arm.")]
    label: str | None = Field(default=None, description="Human-readable name for reports.")
    champion: bool = Field(
        default=False, description="True for exactly one arm: the current strategy."
    )
    cost: Annotated[float, Field(ge=0, description="Cost per treated debtor, in the currency.")] = (
        0.0
    )
    discount: Annotated[
        float,
        Field(ge=0, lt=1, description="Share of the amount owed waived when paid in the window."),
    ] = 0.0
    contacts_debtor: bool = Field(
        default=False, description="The arm sends a message to the debtor (reminder, offer)."
    )
    opens_collection_case: bool = Field(
        default=False, description="The arm hands the case to a collection agency."
    )

    @property
    def display_name(self) -> str:
        return self.label or self.key


class Metrics(_Frozen):
    """What is measured and when an outcome is mature."""

    primary: PrimaryMetric = "pay_on_time"
    pay_window_days: Annotated[int, Field(ge=1, le=365)] = 14
    churn_horizon_days: Annotated[int, Field(ge=1, le=730)] = 90
    guardrails: tuple[Guardrail, ...] = Field(
        default=(), description="KPIs a challenger must not worsen beyond a margin."
    )

    @model_validator(mode="after")
    def _window_fits_horizon(self) -> Metrics:
        seen: list[str] = []
        for index, guardrail in enumerate(self.guardrails):
            if guardrail.metric not in GUARDRAIL_METRICS:
                raise _invalid(
                    f"guardrails.{index}.metric",
                    f"unknown guardrail metric {guardrail.metric!r}; "
                    f"known: {', '.join(GUARDRAIL_METRICS)}",
                )
            if guardrail.metric in seen:
                raise _invalid(
                    f"guardrails.{index}.metric", f"duplicate guardrail {guardrail.metric!r}"
                )
            seen.append(guardrail.metric)
        if self.pay_window_days > self.churn_horizon_days:
            raise _invalid(
                "pay_window_days",
                f"pay_window_days ({self.pay_window_days}) must not exceed "
                f"churn_horizon_days ({self.churn_horizon_days})",
            )
        return self


class Clv(_Frozen):
    """Customer lifetime value parameters (constant-retention model, Fader & Hardie 2007)."""

    monthly_margin: Annotated[float, Field(gt=0, description="Margin per customer-month.")]
    monthly_retention: Annotated[
        float, Field(gt=0, lt=1, description="Monthly retention of debtors under the champion.")
    ]
    monthly_discount_rate: Annotated[float, Field(ge=0, lt=1)] = 0.01

    def residual_value(self) -> float:
        """Residual CLV of a subscriber under the champion, ``m r / (1 + d - r)``."""
        return float(
            residual_clv(
                margin=self.monthly_margin,
                retention=self.monthly_retention,
                discount_rate=self.monthly_discount_rate,
            )
        )


class Allocation(_Frozen):
    """How traffic is split between arms."""

    policy: PolicyName = "thompson"
    weights: dict[str, Annotated[float, Field(ge=0, le=1)]] | None = Field(
        default=None,
        description="Fixed split (policy: fixed) or the starting split (thompson). Default: equal.",
    )
    min_share: Annotated[
        float, Field(ge=0, lt=1, description="Every arm keeps at least this share of traffic.")
    ] = 0.05
    draws: Annotated[
        int, Field(ge=1_000, le=1_000_000, description="Monte Carlo draws for P(best).")
    ] = 20_000
    prior_alpha: Annotated[float, Field(gt=0)] = 1.0
    prior_beta: Annotated[float, Field(gt=0)] = 1.0
    reward: RewardName = Field(
        default="pay_on_time",
        description="What the bandit maximises: pay-on-time, or net value (collected - cost - "
        "churn x residual CLV).",
    )
    top_two_beta: Annotated[
        float, Field(gt=0, lt=1, description="Top-two Thompson sampling: P(play the leader).")
    ] = 0.5
    champion_floor: Annotated[
        float, Field(ge=0, le=1, description="The champion keeps at least this share of all.")
    ] = 0.0
    burn_in_units: Annotated[
        int, Field(ge=0, description="Matured units before the weights may move.")
    ] = 0
    burn_in_days: Annotated[int, Field(ge=0, description="Days before the weights may move.")] = 0
    per_segment: bool = Field(
        default=False,
        description="Thompson sampling per segment (e.g. debtor type), shrunk towards the "
        "pooled posterior: each segment gets its own champion-in-waiting.",
    )
    segment_strength: Annotated[
        float | None,
        Field(
            gt=0,
            description="Pseudo-units of the pooled posterior in each segment's prior; "
            "default: estimated from the data (empirical Bayes).",
        ),
    ] = None
    holdout_share: Annotated[
        float,
        Field(
            ge=0,
            le=0.5,
            description="Share of debtors in a randomized holdout that gets the champion and "
            "never trains the bandit (the bandit is judged against it).",
        ),
    ] = 0.0

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> Allocation:
        if self.per_segment and (self.policy != "thompson" or self.reward != "pay_on_time"):
            raise _invalid(
                "per_segment",
                "per_segment allocation works with policy: thompson and reward: pay_on_time",
            )
        if self.weights is not None:
            total = sum(self.weights.values())
            if not math.isclose(total, 1.0, abs_tol=WEIGHT_SUM_TOLERANCE):
                raise _invalid("weights", f"weights must sum to 1, they sum to {total:g}")
        return self


class QuietHours(_Frozen):
    """No contact between ``start`` and ``end`` local time (may wrap midnight)."""

    start: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "21:00"
    end: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "08:00"
    timezone: str = Field(default="UTC", description="IANA time zone, e.g. Europe/Stockholm.")

    @model_validator(mode="after")
    def _known_zone(self) -> QuietHours:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise _invalid("timezone", f"unknown time zone {self.timezone!r}") from None
        return self

    def contains(self, when: datetime) -> bool:
        """Whether the aware time ``when`` falls in the quiet hours, in their time zone."""
        local = when.astimezone(ZoneInfo(self.timezone)).strftime("%H:%M")
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # wraps midnight


class Compliance(_Frozen):
    """Contact rules checked at assignment (e.g. US Regulation F: 7 calls in 7 days)."""

    contact_cap_per_7_days: Annotated[
        int | None, Field(ge=0, description="Most contacts in any rolling 7 days.")
    ] = None
    quiet_hours: QuietHours | None = None
    fallback_arm: str = Field(
        description="Arm given instead when a contacting arm would break a rule; must not "
        "contact the debtor."
    )


class Experiment(_Frozen):
    """A champion/challenger experiment: one YAML file."""

    key: Annotated[str, Field(pattern=KEY_PATTERN)]
    name: str
    description: str = ""
    salt: str | None = Field(
        default=None, description="Hash salt for assignment; defaults to the key. Never change it."
    )
    segment: str = Field(
        default="debtor_type", description="Debtor attribute used for per-segment reporting."
    )
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "EUR"
    arms: Annotated[tuple[Arm, ...], Field(min_length=2)]
    metrics: Metrics = Metrics()
    clv: Clv
    allocation: Allocation = Allocation()
    promotion: Promotion = Promotion()
    compliance: Compliance | None = None

    @model_validator(mode="after")
    def _check_arms(self) -> Experiment:
        keys = [arm.key for arm in self.arms]
        for index, key in enumerate(keys):
            if key in keys[:index]:
                raise _invalid(
                    f"arms.{index}.key",
                    f"duplicate arm key {key!r} (also arm {keys.index(key)})",
                )
        champions = [index for index, arm in enumerate(self.arms) if arm.champion]
        if len(champions) != 1:
            where = "arms" if not champions else f"arms.{champions[1]}.champion"
            found = ", ".join(keys[i] for i in champions) if champions else "none"
            raise _invalid(where, f"exactly one arm must have champion: true (found: {found})")
        if self.compliance is not None:
            fallback = self.compliance.fallback_arm
            if fallback not in keys:
                raise _invalid(
                    "compliance.fallback_arm",
                    f"unknown arm {fallback!r}; arms are: {', '.join(keys)}",
                )
            if self.arm(fallback).contacts_debtor:
                raise _invalid(
                    "compliance.fallback_arm", f"fallback arm {fallback!r} contacts the debtor"
                )
        alloc = self.allocation
        if alloc.min_share * len(self.arms) > 1 + WEIGHT_SUM_TOLERANCE:
            raise _invalid(
                "allocation.min_share",
                f"min_share {alloc.min_share:g} x {len(self.arms)} arms exceeds 1",
            )
        others = alloc.min_share * (len(self.arms) - 1) * (1 - alloc.holdout_share)
        if alloc.champion_floor + others > 1 + WEIGHT_SUM_TOLERANCE:
            raise _invalid(
                "allocation.champion_floor",
                f"champion_floor {alloc.champion_floor:g} plus the other arms' min_share "
                f"({others:g}) exceeds 1",
            )
        if alloc.weights is not None:
            unknown = [k for k in alloc.weights if k not in keys]
            if unknown:
                raise _invalid(
                    f"allocation.weights.{unknown[0]}",
                    f"weight for unknown arm {unknown[0]!r}; arms are: {', '.join(keys)}",
                )
            missing = [k for k in keys if k not in alloc.weights]
            if missing:
                raise _invalid("allocation.weights", f"no weight for arm(s): {', '.join(missing)}")
            if alloc.policy == "fixed":
                low = [k for k, w in alloc.weights.items() if w < alloc.min_share]
                if low:
                    raise _invalid(
                        f"allocation.weights.{low[0]}",
                        f"weight below min_share {alloc.min_share:g}: {', '.join(low)}",
                    )
        return self

    # -- derived values -------------------------------------------------------------------
    @property
    def arm_keys(self) -> tuple[str, ...]:
        return tuple(arm.key for arm in self.arms)

    @property
    def champion(self) -> str:
        return next(arm.key for arm in self.arms if arm.champion)

    @property
    def assignment_salt(self) -> str:
        return self.salt if self.salt is not None else self.key

    def arm(self, key: str) -> Arm:
        for arm in self.arms:
            if arm.key == key:
                return arm
        raise KeyError(f"experiment {self.key!r} has no arm {key!r}")

    def initial_weights(self) -> dict[str, float]:
        """The split before any data: the configured weights, or equal shares."""
        if self.allocation.weights is not None:
            return {k: float(self.allocation.weights[k]) for k in self.arm_keys}
        share = 1.0 / len(self.arms)
        return dict.fromkeys(self.arm_keys, share)

    def content_hash(self) -> str:
        """SHA-256 of the validated content.

        Hashing the canonical JSON of the model (not the file bytes) means comments, key order
        and formatting do not create new versions; any change of meaning does.
        """
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
