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
from datetime import date, datetime
from typing import Annotated, Any, Literal, NewType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from engine.clv import residual_clv
from engine.router_rules import router_problem
from engine.uplift.stored import RoutingModel

ExperimentKey = NewType("ExperimentKey", str)
ArmKey = NewType("ArmKey", str)

#: Keys are used in file names, SQL rows and URLs: keep them boring.
KEY_PATTERN = r"^[a-z][a-z0-9_\-]{0,62}$"

#: Tolerance for "weights sum to one": YAML decimals such as 0.1 + 0.2 are not exact in binary.
WEIGHT_SUM_TOLERANCE = 1e-6

PrimaryMetric = Literal["pay_on_time"]
#: Every KPI the engine measures per arm (see :mod:`engine.metrics`).
MetricName = Literal[
    "pay_on_time", "collected", "collection_cases", "reminders", "inquiries", "churn", "net_value"
]
PolicyName = Literal["fixed", "thompson", "top_two"]
ObjectiveName = Literal["pay_on_time", "net_value"]
Status = Literal["draft", "running", "paused", "stopped"]
Channel = Literal["none", "sms", "email", "letter", "phone", "agency"]
Cadence = Literal["hourly", "daily", "weekly"]

#: Channels that reach the debtor, so contact caps and quiet hours apply to them.
CONTACT_CHANNELS = frozenset({"sms", "email", "letter", "phone"})


def _invalid(field: str, message: str) -> PydanticCustomError:
    """A cross-field error that the loader can pin to ``field`` (dotted, relative to the model).

    Model validators only know the model's own location; passing the field in the context lets
    :mod:`engine.loader` point at the line that holds it instead of the top of the mapping.
    """
    return PydanticCustomError("cross_field", "{message}", {"message": message, "field": field})


def _invalid_all(problems: list[tuple[str, str]]) -> PydanticCustomError:
    """Several cross-field errors at once, so an analyst sees all of them in one run.

    A model validator can raise only one error; the loader unpacks ``problems`` into one issue
    per (field, message) pair, each with its own line.
    """
    message = "; ".join(f"{field}: {text}" for field, text in problems)
    return PydanticCustomError(
        "cross_field",
        "{message}",
        {"message": message, "field": problems[0][0], "problems": problems},
    )


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Router(_Frozen):
    """``router: {model: models/router.json, treatments: [direct_collection, friendly_sms]}``."""

    model: str = Field(
        min_length=1,
        description="Router model file written by `dunning uplift fit` (JSON), relative to the "
        "experiment file.",
    )
    treatments: Annotated[tuple[str, ...], Field(min_length=2)] = Field(
        description="The arms whose treatments the router gives: exactly those of its rule."
    )
    # Hidden from the JSON Schema: editors must not suggest writing it by hand.
    fitted: SkipJsonSchema[RoutingModel | None] = Field(
        default=None,
        description="The model file's content, read by the loader (not written in YAML); part "
        "of the experiment's content hash, so a new model is a new experiment version.",
    )


class Arm(_Frozen):
    """One treatment arm, e.g. ``friendly_sms``."""

    key: Annotated[str, Field(pattern=KEY_PATTERN, description="Stable identifier of the arm.")]
    label: str | None = Field(default=None, description="Human-readable name for reports.")
    champion: bool = Field(
        default=False, description="True for exactly one arm: the current strategy."
    )
    channel: Channel = Field(
        default="none",
        description="How the treatment reaches the debtor: sms, email, letter and phone contact "
        "the debtor (contact caps and quiet hours apply), agency hands the case to a collection "
        "agency, none does nothing.",
    )
    cost: Annotated[float, Field(ge=0, description="Cost per treated debtor, in the currency.")] = (
        0.0
    )
    discount: Annotated[
        float,
        Field(ge=0, lt=1, description="Share of the amount owed waived when paid in the window."),
    ] = 0.0
    fee: Annotated[
        float,
        Field(ge=0, description="Late fee added to the amount owed, in the currency."),
    ] = 0.0
    contacts_debtor: bool = Field(
        default=False,
        description="The arm sends a message to the debtor (reminder, offer); defaults to "
        "whether the channel contacts the debtor.",
    )
    opens_collection_case: bool = Field(
        default=False,
        description="The arm hands the case to a collection agency; defaults to channel: agency.",
    )

    router: Router | None = Field(
        default=None,
        description="A policy arm: each debtor who draws it gets one of the listed arms' "
        "treatments, chosen by a stored fitted routing model from the debtor's covariates.",
    )

    @model_validator(mode="before")
    @classmethod
    def _flags_from_channel(cls, data: Any) -> Any:
        # The channel implies the flags; writing them as well is allowed when they agree.
        if isinstance(data, dict) and isinstance(data.get("channel"), str):
            data = dict(data)
            data.setdefault("contacts_debtor", data["channel"] in CONTACT_CHANNELS)
            data.setdefault("opens_collection_case", data["channel"] == "agency")
        return data

    @model_validator(mode="after")
    def _flags_agree(self) -> Arm:
        problems = []
        if self.channel != "none" and self.contacts_debtor != (self.channel in CONTACT_CHANNELS):
            problems.append(
                (
                    "contacts_debtor",
                    f"contacts_debtor: {self.contacts_debtor} contradicts channel: {self.channel}",
                )
            )
        if self.channel != "none" and self.opens_collection_case != (self.channel == "agency"):
            problems.append(
                (
                    "opens_collection_case",
                    f"opens_collection_case: {self.opens_collection_case} "
                    f"contradicts channel: {self.channel}",
                )
            )
        if self.router is not None:
            # Cost, contacts and collection cases are those of the treatment each debtor gets.
            problems.extend(
                (
                    name,
                    f"a router arm has no treatment of its own; {name} comes from the "
                    "treatment each debtor is routed to",
                )
                for name in (
                    "channel",
                    "cost",
                    "discount",
                    "fee",
                    "contacts_debtor",
                    "opens_collection_case",
                )
                if getattr(self, name) not in (0, False, "none")
            )
        if problems:
            raise _invalid_all(problems)
        return self

    @property
    def display_name(self) -> str:
        return self.label or self.key


class Metrics(_Frozen):
    """What is measured and when an outcome is mature."""

    primary: PrimaryMetric = Field(
        default="pay_on_time", description="The metric the experiment is decided on."
    )
    secondary: tuple[MetricName, ...] = Field(
        default=(), description="Further KPIs reported beside the primary one."
    )
    pay_window_days: Annotated[int, Field(ge=1, le=365)] = 14
    churn_horizon_days: Annotated[int, Field(ge=1, le=730)] = 90

    @model_validator(mode="after")
    def _window_fits_horizon(self) -> Metrics:
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
    update_cadence: Cadence = Field(
        default="daily",
        description="How often the weights may move: at most one bandit update per UTC hour, "
        "day or ISO week; `dunning update` run more often changes nothing.",
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
        if self.per_segment and self.policy != "thompson":
            raise _invalid("per_segment", "per_segment allocation works with policy: thompson")
        if self.weights is not None:
            total = sum(self.weights.values())
            if not math.isclose(total, 1.0, abs_tol=WEIGHT_SUM_TOLERANCE):
                raise _invalid("weights", f"weights must sum to 1, they sum to {total:g}")
        return self


class Promotion(_Frozen):
    """When a challenger replaces the champion."""

    min_prob_beat_champion: Annotated[float, Field(gt=0.5, lt=1)] = 0.95
    min_units_per_arm: Annotated[
        int, Field(ge=1, description="Matured units required in champion and challenger.")
    ] = 1_000
    min_days: Annotated[
        int, Field(ge=0, description="Days the current champion must have held the title.")
    ] = 21


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


class Layer(_Frozen):
    """Experiments in one layer are mutually exclusive: each takes a disjoint range of it.

    A debtor's position in the layer is a hash of its id and the layer key, uniform in [0, 1);
    the debtor may enter only the experiment whose range holds that position. The position does
    not depend on the experiment, so disjoint ranges can never share a debtor.
    """

    key: Annotated[str, Field(pattern=KEY_PATTERN, description="Name of the layer.")]
    range: tuple[Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=0, le=1)]] = Field(
        default=(0.0, 1.0),
        description="[start, end) of the layer this experiment takes, e.g. [0, 0.5].",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Layer:
        if not self.range[0] < self.range[1]:
            raise _invalid(
                "range", f"range start {self.range[0]:g} must be below end {self.range[1]:g}"
            )
        return self

    def overlaps(self, other: Layer) -> bool:
        return self.key == other.key and max(self.range[0], other.range[0]) < min(
            self.range[1], other.range[1]
        )


class EligibilityRule(_Frozen):
    """One filter on a debtor attribute (a column of the debtor file); a debtor enters the
    experiment only if every rule passes.

    ``min``/``max`` compare numbers (inclusive); ``one_of``/``none_of`` compare the text of the
    cell exactly (case-sensitive). A missing value (an empty cell, a null) fails the rule unless
    ``when_missing: include``. Evaluated by :mod:`engine.eligibility`.
    """

    column: Annotated[
        str, Field(min_length=1, description="Column of the debtor file, e.g. amount_owed.")
    ]
    min: Annotated[
        float | None, Field(allow_inf_nan=False, description="Smallest allowed value, inclusive.")
    ] = None
    max: Annotated[
        float | None, Field(allow_inf_nan=False, description="Largest allowed value, inclusive.")
    ] = None
    one_of: Annotated[
        tuple[str, ...] | None,
        Field(min_length=1, description="Allowed values, e.g. [DE, AT]."),
    ] = None
    none_of: Annotated[
        tuple[str, ...] | None,
        Field(min_length=1, description="Excluded values."),
    ] = None
    when_missing: Literal["exclude", "include"] = Field(
        default="exclude",
        description="A debtor without a value in the column: exclude (default) or include.",
    )

    @field_validator("one_of", "none_of", mode="before")
    @classmethod
    def _integers_as_text(cls, value: object) -> object:
        # `one_of: [1, 2]` for a code column: YAML reads integers; the file holds their text.
        if isinstance(value, list | tuple):
            if any(isinstance(v, bool) for v in value):
                raise ValueError('quote yes/no values ("no"): YAML reads them as true/false')
            return [str(v) if isinstance(v, int) else v for v in value]
        return value

    @model_validator(mode="after")
    def _check_conditions(self) -> EligibilityRule:
        numeric = self.min is not None or self.max is not None
        text = self.one_of is not None or self.none_of is not None
        if not numeric and not text:
            raise _invalid("column", "a rule needs a condition: min, max, one_of or none_of")
        if numeric and text:
            raise _invalid(
                "one_of" if self.one_of is not None else "none_of",
                "a rule compares numbers (min, max) or values (one_of, none_of), not both; "
                "write two rules",
            )
        if self.one_of is not None and self.none_of is not None:
            raise _invalid("none_of", "use one_of or none_of, not both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise _invalid("max", f"max {self.max:g} is below min {self.min:g}")
        return self


class Experiment(_Frozen):
    """A champion/challenger experiment: one YAML file."""

    key: Annotated[str, Field(pattern=KEY_PATTERN, description="Stable identifier; never reuse.")]
    name: str = Field(description="Title shown in reports and the dashboard.")
    description: str = ""
    owner: str | None = Field(default=None, description="Who answers for it (name, team, e-mail).")
    status: Status = Field(
        default="running",
        description="draft and paused assign nobody and skip scheduled jobs; stopped ends the "
        "experiment for good; running is live.",
    )
    start_date: date | None = Field(
        default=None, description="First day (UTC) debtors may be assigned; default: at once."
    )
    end_date: date | None = Field(
        default=None,
        description="Last day (UTC) debtors may be assigned; outcomes keep maturing afterwards.",
    )
    salt: str | None = Field(
        default=None, description="Hash salt for assignment; defaults to the key. Never change it."
    )
    unit: Annotated[
        str,
        Field(
            pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
            description="Input column that identifies a randomization unit (one arm per value).",
        ),
    ] = "debtor_id"
    segment: str = Field(
        default="debtor_type",
        description="Debtor attribute that splits reporting and per-segment allocation.",
    )
    layer: Layer | None = Field(
        default=None, description="Mutually exclusive experiments share a layer."
    )
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "EUR"
    arms: Annotated[tuple[Arm, ...], Field(min_length=2)]
    metrics: Metrics = Metrics()
    objective: ObjectiveName = Field(
        default="pay_on_time",
        description="What the experiment maximises and the bandit learns: the pay-on-time rate, "
        "or net value per debtor (collected - cost - churn x residual CLV, see clv).",
    )
    clv: Clv
    allocation: Allocation = Allocation()
    promotion: Promotion = Promotion()
    compliance: Compliance | None = None
    eligibility: tuple[EligibilityRule, ...] = Field(
        default=(),
        description="Filters a debtor must pass to enter the experiment (all of them).",
    )

    @model_validator(mode="after")
    def _cross_field(self) -> Experiment:
        problems = [*self._arm_problems(), *self._allocation_problems(), *self._date_problems()]
        if problems:
            raise _invalid_all(problems)
        return self

    def _arm_problems(self) -> list[tuple[str, str]]:
        problems = []
        keys = [arm.key for arm in self.arms]
        for index, key in enumerate(keys):
            if key in keys[:index]:
                problems.append(
                    (f"arms.{index}.key", f"duplicate arm key {key!r} (also arm {keys.index(key)})")
                )
        champions = [index for index, arm in enumerate(self.arms) if arm.champion]
        if len(champions) != 1:
            where = "arms" if not champions else f"arms.{champions[1]}.champion"
            found = ", ".join(keys[i] for i in champions) if champions else "none"
            problems.append((where, f"exactly one arm must have champion: true (found: {found})"))
        if self.compliance is not None:
            fallback = self.compliance.fallback_arm
            if fallback not in keys:
                problems.append(
                    (
                        "compliance.fallback_arm",
                        f"unknown arm {fallback!r}; arms are: {', '.join(keys)}",
                    )
                )
            elif self.arm(fallback).contacts_debtor:
                problems.append(
                    ("compliance.fallback_arm", f"fallback arm {fallback!r} contacts the debtor")
                )
        return problems

    def _allocation_problems(self) -> list[tuple[str, str]]:
        problems = []
        keys = self.arm_keys
        alloc = self.allocation
        if alloc.per_segment and self.objective != "pay_on_time":
            problems.append(
                (
                    "allocation.per_segment",
                    "per_segment allocation works with objective: pay_on_time",
                )
            )
        if alloc.min_share * len(self.arms) > 1 + WEIGHT_SUM_TOLERANCE:
            problems.append(
                (
                    "allocation.min_share",
                    f"min_share {alloc.min_share:g} x {len(self.arms)} arms exceeds 1",
                )
            )
        others = alloc.min_share * (len(self.arms) - 1) * (1 - alloc.holdout_share)
        if alloc.champion_floor + others > 1 + WEIGHT_SUM_TOLERANCE:
            problems.append(
                (
                    "allocation.champion_floor",
                    f"champion_floor {alloc.champion_floor:g} plus the other arms' min_share "
                    f"({others:g}) exceeds 1",
                )
            )
        if alloc.weights is not None:
            unknown = [k for k in alloc.weights if k not in keys]
            problems.extend(
                (
                    f"allocation.weights.{k}",
                    f"weight for unknown arm {k!r}; arms are: {', '.join(keys)}",
                )
                for k in unknown
            )
            missing = [k for k in keys if k not in alloc.weights]
            if missing:
                problems.append(
                    ("allocation.weights", f"no weight for arm(s): {', '.join(missing)}")
                )
            if alloc.policy == "fixed":
                problems.extend(
                    (f"allocation.weights.{k}", f"weight {w:g} below min_share {alloc.min_share:g}")
                    for k, w in alloc.weights.items()
                    if w < alloc.min_share
                )
        return problems

    def _date_problems(self) -> list[tuple[str, str]]:
        if self.start_date is None or self.end_date is None:
            return []
        if self.end_date < self.start_date:
            return [
                (
                    "end_date",
                    f"end_date {self.end_date} is before start_date {self.start_date}",
                )
            ]
        days = (self.end_date - self.start_date).days + 1
        if days < self.promotion.min_days:
            return [
                (
                    "end_date",
                    f"the experiment runs {days} day(s), shorter than promotion.min_days "
                    f"({self.promotion.min_days}): no challenger could ever be promoted",
                )
            ]
        return []

    @model_validator(mode="after")
    def _check_routers(self) -> Experiment:
        problem = router_problem(self)
        if problem is not None:
            raise _invalid(*problem)
        return self

    # -- derived values -------------------------------------------------------------------
    @property
    def routers(self) -> dict[str, RoutingModel]:
        """Router arm key -> its fitted model (empty when no arm is a router)."""
        return {
            arm.key: arm.router.fitted
            for arm in self.arms
            if arm.router is not None and arm.router.fitted is not None
        }

    @property
    def arm_keys(self) -> tuple[str, ...]:
        return tuple(arm.key for arm in self.arms)

    @property
    def champion(self) -> str:
        return next(arm.key for arm in self.arms if arm.champion)

    @property
    def segment_columns(self) -> tuple[str, ...]:
        """The attribute(s) forming a debtor's segment, in the order their values are joined."""
        return (self.segment,)

    def accepts_assignments_on(self, day: date) -> str | None:
        """Why no debtor may enter on ``day`` (UTC), or None when assignment is open."""
        if self.status != "running":
            return f"experiment is {self.status}"
        if self.start_date is not None and day < self.start_date:
            return f"experiment starts on {self.start_date}"
        if self.end_date is not None and day > self.end_date:
            return f"experiment ended on {self.end_date}"
        return None

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
