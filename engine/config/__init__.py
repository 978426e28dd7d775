"""Frozen models of an experiment as analysts write it in YAML, one module per block.

Validation happens here, once, at the boundary: every model forbids unknown keys and is frozen,
so the rest of the engine can trust an :class:`Experiment` without re-checking it. Cross-field
rules (exactly one champion, weights that sum to one, floors that fit, a guardrail on a known
metric, a cron expression that parses) live in model validators so that :mod:`engine.loader`
reports each with the file, line and field it concerns. The language is documented field by
field in ``docs/experiment-language.md``.
"""

from engine.config.allocation import Allocation
from engine.config.arms import Arm, Router
from engine.config.base import (
    CASE_METRICS,
    COLUMN_PATTERN,
    CONTACT_CHANNELS,
    KEY_PATTERN,
    SEGMENT_SEPARATOR,
    WEIGHT_SUM_TOLERANCE,
    ArmKey,
    Cadence,
    Channel,
    ExperimentKey,
    MetricName,
    ObjectiveName,
    PolicyName,
    PrimaryMetric,
    Status,
)
from engine.config.compliance import Compliance, QuietHours
from engine.config.eligibility import EligibilityRule
from engine.config.experiment import CaseUnit, Experiment, Layer
from engine.config.metrics import Clv, Metrics
from engine.config.promotion import GUARDRAIL_METRICS, Guardrail, Promotion, PromotionMethod

__all__ = [
    "CASE_METRICS",
    "COLUMN_PATTERN",
    "CONTACT_CHANNELS",
    "GUARDRAIL_METRICS",
    "KEY_PATTERN",
    "SEGMENT_SEPARATOR",
    "WEIGHT_SUM_TOLERANCE",
    "Allocation",
    "Arm",
    "ArmKey",
    "Cadence",
    "CaseUnit",
    "Channel",
    "Clv",
    "Compliance",
    "EligibilityRule",
    "Experiment",
    "ExperimentKey",
    "Guardrail",
    "Layer",
    "MetricName",
    "Metrics",
    "ObjectiveName",
    "PolicyName",
    "PrimaryMetric",
    "Promotion",
    "PromotionMethod",
    "QuietHours",
    "Router",
    "Status",
]
