"""Which edits of a running experiment are safe: every field of the language, classified by
what a change does to the data already collected.

* **live**: safe to change at any time; it applies from the next assignment, update or
  evaluation on (thresholds, labels, rules, CLV parameters, a new challenger).
* **definition**: changes what a collected outcome means (a window, a horizon, the primary
  metric, what an arm does). Refused once debtors are assigned, unless ``sync --force``; a forced
  change starts a new *definition epoch* (:mod:`engine.versioning.epochs`): the bandit, the
  promotion rule and the analysis then use only the debtors assigned under the new definition.
* **identity**: changes which arm a stored debtor belongs to, or who decides it (the salt, the
  unit, the layer, the segment, the champion, removing an arm). Refused once debtors are
  assigned, unless ``--force``; a forced change is recorded and the stored arms stay.
* **starting**: only sets the split before the bandit has learnt anything; accepted, with a
  note that the bandit's split stays in force.

The table is the single source: ``sync`` applies it, ``docs/experiment-language.md`` prints
it (:func:`safety_table_markdown`, checked by a test) and a test walks every field of the JSON
Schema to prove each is classified. Paths are field paths with ``*`` for a list position or an
arm; a block that is switched on or off (``layer: null`` -> a layer) takes the strictest class
of its fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Safety(StrEnum):
    """What a change of a field does to a running experiment (see the module docstring)."""

    LIVE = "live"
    STARTING = "starting"
    DEFINITION = "definition"
    IDENTITY = "identity"


#: Strictest last: a block switched on or off takes the strictest class of its fields.
STRICTNESS = (Safety.LIVE, Safety.STARTING, Safety.DEFINITION, Safety.IDENTITY)


@dataclass(frozen=True)
class FieldSafety:
    """The class of one field and why, as the user reads it in ``sync`` and in the docs.

    ``unless`` is the class the field takes in the exception its ``why`` names (see
    :func:`engine.versioning.safety.review_changes`).
    """

    safety: Safety
    why: str
    unless: Safety | None = None


def _live(why: str) -> FieldSafety:
    return FieldSafety(Safety.LIVE, why)


def _definition(why: str) -> FieldSafety:
    return FieldSafety(Safety.DEFINITION, why)


def _identity(why: str) -> FieldSafety:
    return FieldSafety(Safety.IDENTITY, why)


_RULE = "the rule is read afresh at every evaluation, over all matured debtors"
_NEXT_UPDATE = "applies from the next bandit update on"
_NEW_DEBTORS = "applies to debtors assigned from now on"
_REPORTING = "a label; nothing stored depends on it"
_CLV = "CLV is computed when read, from the parameters in force, for every debtor alike"
_WHAT_ARM_DOES = "changes what the arm does to a debtor: its earlier debtors got another treatment"

FIELDS: dict[str, FieldSafety] = {
    # -- identity ------------------------------------------------------------------------
    "key": _identity("a new key is a new experiment"),
    "name": _live(_REPORTING),
    "description": _live(_REPORTING),
    "owner": _live(_REPORTING),
    "status": _live(
        "a lifecycle change, audited like `dunning pause`, `resume` and `stop`; a stopped "
        "experiment stays stopped"
    ),
    "start_date": _live(_NEW_DEBTORS),
    "end_date": _live(_NEW_DEBTORS),
    "salt": _identity(
        "every debtor would hash to another arm, while the stored debtors keep theirs"
    ),
    "unit.customer": _identity("the stored assignments are per unit of the old column"),
    "unit.case": _identity(
        "the stored cases are per id of the old column; switching cases on or off changes "
        "what a row of the debtor file is"
    ),
    "segment": _identity(
        "each debtor's segment is stored at assignment; reports by segment and per-segment "
        "weights would mix values of two attributes"
    ),
    "layer.key": _identity("debtors already in could belong to another experiment of a layer"),
    "layer.range": _identity("debtors already in could belong to another experiment of a layer"),
    "currency": _definition("collected amounts are stored in the currency of their time"),
    # -- arms (adding an arm is live, removing one with debtors is identity) ---------------
    "arms.*.key": _identity("the debtors of a removed or renamed arm would lose their arm"),
    "arms.*.label": _live(_REPORTING),
    "arms.*.champion": FieldSafety(
        Safety.IDENTITY,
        "the champion is changed by `dunning promote` or `dunning rollback`, which audit it; "
        "writing the champion already in force into the file is live",
        unless=Safety.LIVE,
    ),
    "arms.*.channel": _definition(_WHAT_ARM_DOES),
    "arms.*.cost": _live(
        "each debtor's treatment cost is stored at assignment, so earlier debtors keep theirs"
    ),
    "arms.*.discount": _definition(_WHAT_ARM_DOES),
    "arms.*.fee": _definition(_WHAT_ARM_DOES),
    "arms.*.contacts_debtor": _definition(_WHAT_ARM_DOES),
    "arms.*.opens_collection_case": _definition(_WHAT_ARM_DOES),
    "arms.*.router.model": _definition("a new routing model routes debtors differently"),
    "arms.*.router.treatments": _definition("a new routing model routes debtors differently"),
    # The model file's content (read by the loader, not in the JSON Schema).
    "arms.*.router.fitted": _definition("a new routing model routes debtors differently"),
    # -- who enters ----------------------------------------------------------------------
    **{
        f"eligibility.*.{name}": _live(_NEW_DEBTORS)
        for name in ("column", "min", "max", "one_of", "none_of", "when_missing")
    },
    # -- what is measured ----------------------------------------------------------------
    "metrics.primary": _definition("the outcome every decision is taken on"),
    "metrics.secondary": _live(_REPORTING),
    "metrics.pay_window_days": _definition(
        "each debtor's pay window is fixed at assignment: earlier debtors are measured on the "
        "old window"
    ),
    "metrics.churn_horizon_days": _definition(
        "each debtor's churn horizon is fixed at assignment: earlier debtors are measured on "
        "the old horizon"
    ),
    "metrics.late_again_days": _live(
        "late_again is computed when read, from each case's entry time, for every case alike"
    ),
    **{
        f"metrics.guardrails.*.{name}": _live(_RULE)
        for name in ("metric", "max_relative_increase", "max_absolute_increase")
    },
    "objective": _live(
        "what the bandit maximises; every stored outcome serves both objectives, so the next "
        "update learns the new one from all of them"
    ),
    "clv.monthly_margin": _live(_CLV),
    "clv.monthly_retention": _live(_CLV),
    "clv.monthly_discount_rate": _live(_CLV),
    "clv.effect_persistence_months": _live(_CLV),
    # -- allocation ----------------------------------------------------------------------
    "allocation.policy": _live(_NEXT_UPDATE),
    "allocation.weights": FieldSafety(
        Safety.STARTING,
        "the starting split: once the bandit has set the split from outcomes, it keeps "
        "setting it and the weights in the file change nothing; live under policy: fixed, "
        "before the bandit's first move and during the burn-in",
        unless=Safety.LIVE,
    ),
    **{
        f"allocation.{name}": _live(_NEXT_UPDATE)
        for name in (
            "min_share",
            "draws",
            "prior_alpha",
            "prior_beta",
            "update_cadence",
            "top_two_beta",
            "champion_floor",
            "burn_in_units",
            "burn_in_days",
            "per_segment",
            "segment_strength",
            "holdout_share",
        )
    },
    # -- promotion and compliance --------------------------------------------------------
    **{
        f"promotion.{name}": _live(_RULE)
        for name in (
            "min_prob_beat_champion",
            "min_units_per_arm",
            "min_days",
            "alpha",
            "method",
            "max_expected_loss",
            "mixture_sd",
            "horizon_days",
            "min_ess_share",
        )
    },
    "promotion.schedule": _live("`dunning schedule` reads the schedules every minute"),
    **{
        f"compliance.{name}": _live(_NEW_DEBTORS)
        for name in (
            "contact_cap_per_7_days",
            "fallback_arm",
            "quiet_hours.start",
            "quiet_hours.end",
            "quiet_hours.timezone",
        )
    },
}

#: Fields whose value is a whole mapping or whose content comes from another file: a change
#: below them is a change of the field.
_OPAQUE = ("allocation.weights", "arms.*.router.fitted")


def field_of(path: str) -> str:
    """The table's name of a changed leaf: arm keys and list positions become ``*``.

    ``arms.friendly_sms.cost`` -> ``arms.*.cost``; ``allocation.weights.no_action`` ->
    ``allocation.weights``; ``eligibility.0.min`` -> ``eligibility.*.min``.
    """
    parts = path.split(".")
    out: list[str] = []
    for index, part in enumerate(parts):
        arm_key = index == 1 and parts[0] == "arms"
        out.append("*" if arm_key or part.isdigit() else part)
        if ".".join(out) in _OPAQUE:
            break
    return ".".join(out)


def safety_of(field: str) -> FieldSafety:
    """The entry of ``field`` (as :func:`field_of` names it); a block switched on or off
    (``layer``, ``compliance``, ``arms.*.router``, a whole list) takes its strictest field.

    Raises
    ------
    KeyError
        If the field is not classified (a test walks the JSON Schema so that none is missing).
    """
    entry = FIELDS.get(field)
    if entry is not None:
        return entry
    inner = [entry for name, entry in FIELDS.items() if name.startswith(f"{field}.")]
    if not inner:
        raise KeyError(f"field {field!r} has no change-safety class in engine.versioning.fields")
    return max(inner, key=lambda e: STRICTNESS.index(e.safety))


def safety_table_markdown() -> str:
    """The table as ``docs/experiment-language.md`` prints it (a test keeps the two equal)."""
    lines = ["| field | class | why |", "|---|---|---|"]
    for name, entry in FIELDS.items():
        label = entry.safety.value
        if entry.safety in (Safety.DEFINITION, Safety.IDENTITY):
            label = f"**{label}**"
        if entry.unless is not None:
            label += f" (or {entry.unless.value})"
        lines.append(f"| `{name}` | {label} | {entry.why} |")
    return "\n".join(lines) + "\n"
