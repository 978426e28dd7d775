"""The promotion block and the guardrails of an experiment file (see :mod:`engine.promotion`).

Validation happens here, at load time, like every other block.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import Field, model_validator

from engine.config.base import _Frozen, _invalid
from engine.cron import CronError, parse_cron

PromotionMethod = Literal["sequential", "horizon"]

#: KPIs a guardrail can watch: per matured debtor, lower is better for each (an increase is
#: harm). ``churn`` is a rate among churn-matured debtors; ``late_again`` the share of matured
#: cases whose customer is late again within ``metrics.late_again_days`` (needs ``unit.case``);
#: the others are counts per assigned debtor (as ingested so far).
GUARDRAIL_METRICS = ("churn", "collection_cases", "reminders", "late_again")


class Guardrail(_Frozen):
    """A KPI a challenger must not make worse than a margin (non-inferiority).

    The tolerated increase over the champion is ``max_relative_increase`` x the champion's
    value and/or ``max_absolute_increase``; with both, the smaller (stricter) one applies.
    """

    metric: str = Field(description=f"One of: {', '.join(GUARDRAIL_METRICS)}.")
    max_relative_increase: Annotated[float | None, Field(gt=0, le=10)] = None
    max_absolute_increase: Annotated[float | None, Field(gt=0)] = None

    @model_validator(mode="after")
    def _has_margin(self) -> Guardrail:
        if self.max_relative_increase is None and self.max_absolute_increase is None:
            raise _invalid(
                "metric",
                "a guardrail needs max_relative_increase and/or max_absolute_increase",
            )
        return self

    def margin(self, champion_value: float) -> float:
        """The tolerated increase over a champion whose value is ``champion_value``."""
        margins = [
            m
            for m in (
                None
                if self.max_relative_increase is None
                else self.max_relative_increase * champion_value,
                self.max_absolute_increase,
            )
            if m is not None
        ]
        return min(margins)


class Promotion(_Frozen):
    """When a challenger replaces the champion (see :mod:`engine.promotion`)."""

    min_prob_beat_champion: Annotated[float, Field(gt=0.5, lt=1)] = 0.95
    min_units_per_arm: Annotated[
        int, Field(ge=1, description="Matured units required in champion and challenger.")
    ] = 1_000
    min_days: Annotated[
        int, Field(ge=0, description="Days the current champion must have held the title.")
    ] = 21
    alpha: Annotated[
        float,
        Field(
            gt=0,
            lt=0.5,
            description="Largest tolerated false promotion rate over all daily looks.",
        ),
    ] = 0.05
    method: PromotionMethod = Field(
        default="sequential",
        description="sequential: promote at any look once an always-valid confidence "
        "sequence excludes no effect; horizon: promote only at horizon_days (fixed-horizon "
        "test); both stop harmful arms at any look.",
    )
    max_expected_loss: Annotated[
        float,
        Field(gt=0, description="Largest expected loss in the primary rate when promoting."),
    ] = 0.005
    mixture_sd: Annotated[
        float,
        Field(
            gt=0,
            le=1,
            description="Spread of the effect sizes the sequential test is tuned for "
            "(normal mixture of the mSPRT), in rate units.",
        ),
    ] = 0.03
    horizon_days: Annotated[
        int | None,
        Field(ge=1, description="Planned length: afterwards an undecided test is inconclusive."),
    ] = None
    min_ess_share: Annotated[
        float | None,
        Field(
            gt=0,
            le=1,
            description="Policy challengers: least effective sample size of the off-policy "
            "estimate, as a share of the logged decisions.",
        ),
    ] = None
    schedule: str = Field(
        default="0 6 * * *", description="Cron expression (UTC) for `dunning schedule`."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Promotion:
        try:
            parse_cron(self.schedule).next_after(datetime(2000, 1, 1, tzinfo=UTC))
        except CronError as exc:
            raise _invalid("schedule", f"invalid cron expression: {exc}") from None
        if self.method == "horizon" and self.horizon_days is None:
            raise _invalid("method", "method: horizon needs horizon_days")
        if self.horizon_days is not None and self.horizon_days < self.min_days:
            raise _invalid(
                "horizon_days",
                f"horizon_days ({self.horizon_days}) is shorter than min_days ({self.min_days})",
            )
        return self
