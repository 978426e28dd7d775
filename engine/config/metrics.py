"""What is measured (metrics, guardrails live in :mod:`engine.config.promotion`) and the
CLV parameters behind CLV uplift and net value."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from engine.config.base import (
    CASE_METRICS,
    MetricName,
    PrimaryMetric,
    _Frozen,
    _invalid,
    did_you_mean,
)
from engine.config.promotion import GUARDRAIL_METRICS, Guardrail


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
    late_again_days: Annotated[int, Field(ge=1, le=365)] = Field(
        default=45,
        description="N of late_again: a case is late again when its customer's next case "
        "opens within N days of it.",
    )
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
                    f"known: {', '.join(GUARDRAIL_METRICS)}"
                    + did_you_mean(guardrail.metric, GUARDRAIL_METRICS),
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

    def case_metric_fields(self) -> list[tuple[str, str]]:
        """(field, metric) of every metric named here that is measured per case."""
        found: list[tuple[str, str]] = [
            (f"secondary.{index}", name)
            for index, name in enumerate(self.secondary)
            if name in CASE_METRICS
        ]
        found.extend(
            (f"guardrails.{index}.metric", guardrail.metric)
            for index, guardrail in enumerate(self.guardrails)
            if guardrail.metric in CASE_METRICS
        )
        return found


class Clv(_Frozen):
    """Customer lifetime value parameters (constant-retention model, Fader & Hardie 2007)."""

    monthly_margin: Annotated[float, Field(gt=0, description="Margin per customer-month.")]
    monthly_retention: Annotated[
        float, Field(gt=0, lt=1, description="Monthly retention of debtors under the champion.")
    ]
    monthly_discount_rate: Annotated[float, Field(ge=0, lt=1)] = 0.01
    effect_persistence_months: Annotated[
        int | None,
        Field(
            ge=0,
            le=600,
            description="How long a treatment's effect on churn is assumed to last beyond the "
            "churn horizon, in months. 0 (the default) values only the churn observed within "
            "the horizon: each extra churner costs the residual CLV of a customer who stays. "
            "N: the arm's churn hazard ratio also applies for N more months, then the "
            "champion's hazard. null: for the customer's whole life (the most optimistic or "
            "pessimistic reading).",
        ),
    ] = 0

    def residual_value(self) -> float:
        """Residual CLV of a subscriber under the champion, ``m r / (1 + d - r)``."""
        # Imported here: the config is loaded by every verb, and engine.clv loads numpy.
        from engine.clv import residual_clv

        return float(
            residual_clv(
                margin=self.monthly_margin,
                retention=self.monthly_retention,
                discount_rate=self.monthly_discount_rate,
            )
        )
