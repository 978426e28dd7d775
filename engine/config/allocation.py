"""How traffic is split between arms."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import Field, model_validator

from engine.config.base import WEIGHT_SUM_TOLERANCE, Cadence, PolicyName, _Frozen, _invalid


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
