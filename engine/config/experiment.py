"""An experiment file: identity, layer, arms and the blocks of the other modules, with the
rules that involve several blocks."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Annotated

from pydantic import Field, model_validator

from engine.config.allocation import Allocation
from engine.config.arms import Arm
from engine.config.base import (
    COLUMN_PATTERN,
    KEY_PATTERN,
    WEIGHT_SUM_TOLERANCE,
    ObjectiveName,
    Status,
    _Frozen,
    _invalid,
    _invalid_all,
    did_you_mean,
)
from engine.config.compliance import Compliance
from engine.config.eligibility import EligibilityRule
from engine.config.metrics import Clv, Metrics
from engine.config.promotion import Promotion
from engine.config.routers import router_problem
from engine.uplift.stored import RoutingModel


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


class CaseUnit(_Frozen):
    """``unit: {customer: debtor_id, case: invoice_id}``: the debtor file carries one row per
    dunning case; the customer stays the randomisation unit (one arm per customer, sticky),
    each case is an observation of its own (``dunning_case``)."""

    customer: Annotated[
        str,
        Field(
            pattern=COLUMN_PATTERN,
            description="Input column that identifies the customer (one arm per value).",
        ),
    ]
    case: Annotated[
        str,
        Field(
            pattern=COLUMN_PATTERN,
            description="Input column that identifies the case (an invoice or dunning-case id), "
            "unique per file and never reused for another customer.",
        ),
    ]

    @model_validator(mode="after")
    def _distinct(self) -> CaseUnit:
        if self.customer == self.case:
            raise _invalid("case", f"case names the customer column {self.customer!r}")
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
    unit: (
        Annotated[
            str,
            Field(
                pattern=COLUMN_PATTERN,
                description="Input column that identifies a randomization unit (one arm per "
                "value), one case per unit.",
            ),
        ]
        | CaseUnit
    ) = Field(
        default="debtor_id",
        description="The debtor file's id column, or {customer, case} when a customer may be "
        "late several times (one arm per customer, one outcome row per case).",
    )
    segment: (
        Annotated[str, Field(pattern=COLUMN_PATTERN)]
        | Annotated[tuple[Annotated[str, Field(pattern=COLUMN_PATTERN)], ...], Field(min_length=1)]
    ) = Field(
        default="debtor_type",
        description="Debtor attribute(s) that split reporting and per-segment allocation; with "
        "several, e.g. [debtor_type, country], a segment is one combination of their values.",
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
        "net value per debtor (collected - cost - churn x residual CLV, see clv), or "
        "late_again: fewer cases followed by another within metrics.late_again_days "
        "(needs unit.case).",
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
        problems = [
            *self._arm_problems(),
            *self._allocation_problems(),
            *self._date_problems(),
            *self._case_problems(),
        ]
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
                        f"unknown arm {fallback!r}; arms are: {', '.join(keys)}"
                        + did_you_mean(fallback, keys),
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
        columns = self.segment_columns
        if len(set(columns)) != len(columns):
            problems.append(("segment", f"segment repeats an attribute: {', '.join(columns)}"))
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
                    f"weight for unknown arm {k!r}; arms are: {', '.join(keys)}"
                    + did_you_mean(k, keys),
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

    def _case_problems(self) -> list[tuple[str, str]]:
        if self.case_column is not None:
            return []
        problems = [
            (
                f"metrics.{field}",
                f"{metric} needs unit.case: the debtor file must carry a case id",
            )
            for field, metric in self.metrics.case_metric_fields()
        ]
        if self.objective == "late_again":
            problems.append(
                ("objective", "late_again needs unit.case: the debtor file must carry a case id")
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
    def customer_column(self) -> str:
        """The debtor file's column naming the customer: the randomisation unit."""
        return self.unit if isinstance(self.unit, str) else self.unit.customer

    @property
    def case_column(self) -> str | None:
        """The debtor file's column naming the case; None with one case per customer."""
        return None if isinstance(self.unit, str) else self.unit.case

    @property
    def late_again_window(self) -> int | None:
        """N of the late-again metric (``metrics.late_again_days``) when the experiment has
        repeat cases; None with one case per customer (no case sums are read then)."""
        return self.metrics.late_again_days if self.case_column is not None else None

    @property
    def arm_keys(self) -> tuple[str, ...]:
        return tuple(arm.key for arm in self.arms)

    @property
    def champion(self) -> str:
        return next(arm.key for arm in self.arms if arm.champion)

    @property
    def segment_columns(self) -> tuple[str, ...]:
        """The attribute(s) forming a debtor's segment, in the order their values are joined."""
        return (self.segment,) if isinstance(self.segment, str) else self.segment

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
