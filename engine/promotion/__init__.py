"""The promotion decision: does a challenger replace the champion, or must an arm stop?

Pure core: :mod:`~engine.promotion.sequential` (always-valid confidence sequences on the
estimand of :mod:`engine.stats.comparison`), :mod:`~engine.promotion.rule` (the rule,
vectorised over experiments),
:mod:`~engine.promotion.decision` (one experiment's decision with its explanation) and
:mod:`~engine.promotion.study` (the simulation study of the rule under daily looks).
"""

from engine.promotion.decision import Action, PromotionDecision, decide_promotion
from engine.promotion.rule import (
    ACTIONS,
    MIN_UNITS_TO_STOP,
    REASONS,
    SRM_THRESHOLD,
    Evidence,
    RuleResult,
    evaluate_rule,
)
from engine.promotion.sequential import (
    Difference,
    always_valid,
    cs_radius,
    pearson_srm_p_value,
)

__all__ = [
    "ACTIONS",
    "MIN_UNITS_TO_STOP",
    "REASONS",
    "SRM_THRESHOLD",
    "Action",
    "Difference",
    "Evidence",
    "PromotionDecision",
    "RuleResult",
    "always_valid",
    "cs_radius",
    "decide_promotion",
    "evaluate_rule",
    "pearson_srm_p_value",
]
