"""The persisted router: a fitted uplift model and its routing rule as a small, versioned JSON.

A router deployed as a challenger arm (``router:`` in the experiment YAML) decides, per debtor,
a treatment with legal weight (GDPR Art. 22): the exact model must be on record. The file holds
everything needed to route without the training code and nothing that changes between
identical fits:

``format``, ``schema_version``  ``"dunning-router"``, 1.
``kind``          ``"t_learner_logit"``: one logistic regression of P(pay) per arm
                  (:mod:`engine.uplift.model`).
``arms``          the arms the model was fitted on (the logged actions).
``features``      the covariates in design order, each with its encoding from input columns
                  (:mod:`engine.uplift.features`).
``coef``          arm -> [intercept, one coefficient per feature].
``rule``          the routing rule: ``{kind: threshold, soft_arm, default_arm, threshold}``:
                  ``soft_arm`` when predicted ``P(pay | soft_arm) >= threshold``, else
                  ``default_arm`` (also for debtors whose inputs cannot be encoded).
``training``      summary of the log it was fitted on (file name and SHA-256, decisions and pay
                  rate per arm).
``evaluation``    cross-fitted off-policy estimate of the router on that log (or null).
``content_hash``  SHA-256 of the canonical JSON of all other fields; checked on load, so a
                  hand-edited coefficient is refused instead of silently deployed.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from engine.uplift.features import Feature, check_features, encode, input_columns

# A router is part of the experiment config (validate, sync, assign load it); numpy and the
# model are imported when it routes or is turned into a model.
if TYPE_CHECKING:
    import numpy.typing as npt

    from engine.uplift.covariates import IntArray
    from engine.uplift.features import BoolArray
    from engine.uplift.model import UpliftModel

FORMAT: Final = "dunning-router"
SCHEMA_VERSION: Final = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class ThresholdRule(_Frozen):
    """Billogram's rule: the soft arm to debtors likely to pay under it, the default arm to the
    rest (:func:`engine.uplift.route`)."""

    kind: Literal["threshold"] = "threshold"
    soft_arm: str
    default_arm: str
    threshold: Annotated[float, Field(ge=0, le=1)]


class TrainingSummary(_Frozen):
    """What the model was fitted on."""

    source: str = Field(description="File name of the log (no directories).")
    source_sha256: str
    reward: str = Field(description="The binary reward modelled, e.g. paid within 14 days.")
    n: Annotated[int, Field(ge=1)]
    n_per_arm: dict[str, int]
    pay_rate_per_arm: dict[str, float]


class EstimateSummary(_Frozen):
    """One off-policy estimate, as stored (see :class:`engine.ope.OpeEstimate`)."""

    value: float
    ci_low: float
    ci_high: float
    ess_share: float


class EvaluationSummary(_Frozen):
    """Cross-fitted off-policy estimate of the router on its training log."""

    estimator: str
    level: float
    n_folds: int
    seed: int | None
    router: EstimateSummary
    baselines: dict[str, EstimateSummary] = Field(
        description="Each 'every debtor gets this arm' policy, same reward model and folds."
    )
    routed_share: dict[str, float] = Field(description="Share of the log routed to each arm.")


class RoutingModel(_Frozen):
    """A stored router; see the module docstring for the fields."""

    format: Literal["dunning-router"] = FORMAT
    schema_version: Literal[1] = SCHEMA_VERSION
    kind: Literal["t_learner_logit"] = "t_learner_logit"
    arms: Annotated[tuple[str, ...], Field(min_length=2)]
    features: Annotated[tuple[Feature, ...], Field(min_length=1)]
    coef: dict[str, tuple[float, ...]]
    rule: ThresholdRule
    training: TrainingSummary
    evaluation: EvaluationSummary | None = None
    content_hash: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> RoutingModel:
        try:
            check_features(self.features)
        except ValueError as exc:
            raise ValueError(f"features: {exc}") from None
        if len(set(self.arms)) != len(self.arms):
            raise ValueError(f"arms must be unique, got {list(self.arms)}")
        if set(self.coef) != set(self.arms):
            raise ValueError(f"coef must have one row per arm {list(self.arms)}")
        width = 1 + len(self.features)
        for arm, row in self.coef.items():
            if len(row) != width or not all(math.isfinite(x) for x in row):
                raise ValueError(f"coef.{arm}: expected {width} finite numbers")
        for name in ("soft_arm", "default_arm"):
            arm = getattr(self.rule, name)
            if arm not in self.arms:
                raise ValueError(f"rule.{name}: {arm!r} is not an arm of the model {self.arms}")
        if self.rule.soft_arm == self.rule.default_arm:
            raise ValueError("rule: soft_arm and default_arm must differ")
        expected = _hash(self)
        if not self.content_hash:
            object.__setattr__(self, "content_hash", expected)
        elif self.content_hash != expected:
            raise ValueError(
                f"content_hash {self.content_hash[:12]}... does not match the content "
                f"({expected[:12]}...): the file was edited after it was fitted"
            )
        return self

    # -- derived values ---------------------------------------------------------------------
    @property
    def treatments(self) -> tuple[str, str]:
        """The arms the router can give: (default_arm, soft_arm)."""
        return (self.rule.default_arm, self.rule.soft_arm)

    @property
    def inputs(self) -> tuple[str, ...]:
        """Input columns the router reads (e.g. ``debtor_type``, ``amount_owed``)."""
        return input_columns(self.features)

    def uplift_model(self) -> UpliftModel:
        """The fitted T-learner as :class:`engine.uplift.UpliftModel`."""
        import numpy as np

        from engine.uplift.model import UpliftModel

        return UpliftModel(
            arms=self.arms,
            columns=tuple(f.name for f in self.features),
            coef=np.array([self.coef[a] for a in self.arms], dtype=np.float64),
            n_obs=tuple(self.training.n_per_arm.get(a, 0) for a in self.arms),
        )

    def route(self, inputs: Mapping[str, npt.ArrayLike], n: int) -> RoutedDebtors:
        """Route ``n`` debtors from their input columns (shape (n,) each); vectorised."""
        import numpy as np

        covariates, valid = encode(self.features, inputs, n)
        model = self.uplift_model()
        p_soft = model.predict(covariates)[:, model.arm_index(self.rule.soft_arm)]
        soft = valid & (p_soft >= self.rule.threshold)
        # Index into ``treatments``: 0 = default_arm, 1 = soft_arm.
        return RoutedDebtors(choice=soft.astype(np.intp), valid=valid)


@dataclass(frozen=True)
class RoutedDebtors:
    """Routing of n debtors: ``choice`` (n,) index into :attr:`RoutingModel.treatments`,
    ``valid`` (n,) False where the inputs could not be encoded (default treatment given)."""

    choice: IntArray
    valid: BoolArray


def _hash(model: RoutingModel) -> str:
    content = model.model_dump(mode="json", exclude={"content_hash"})
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def dump_routing_model(model: RoutingModel) -> str:
    """The JSON text of a stored router (indented, stable key order, newline-terminated)."""
    return json.dumps(model.model_dump(mode="json"), indent=2, allow_nan=False) + "\n"


def parse_routing_model(data: str | Mapping[str, Any]) -> RoutingModel:
    """Validate a stored router from its JSON text or parsed mapping.

    Raises
    ------
    ValueError
        With every problem as ``field: message`` (not JSON, wrong format, unknown fields,
        inconsistent coefficients, content hash mismatch).
    """
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON: {exc.msg} at line {exc.lineno}") from None
        except RecursionError:  # the parser recurses per level of nesting
            raise ValueError("not a router model: JSON nested too deeply") from None
    if not isinstance(data, Mapping):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    if data.get("format") != FORMAT:
        raise ValueError(f"format: expected {FORMAT!r}, got {data.get('format')!r}")
    try:
        return RoutingModel.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'model'}: "
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        ]
        raise ValueError("; ".join(problems)) from None
