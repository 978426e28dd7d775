"""Cross-field rules of router arms (``router:`` in the YAML); :class:`Experiment` raises what
this returns."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for the annotation: the experiment module imports this one
    from engine.config.experiment import Experiment


def router_problem(experiment: Experiment) -> tuple[str, str] | None:
    """The first broken rule as ``(field path, message)``, or None.

    Treatments must be plain arms of the experiment and exactly the arms the model routes to;
    the model must have been loaded and read only columns assignment files carry; the
    compliance fallback cannot be a router.
    """
    keys = experiment.arm_keys
    routers = {arm.key for arm in experiment.arms if arm.router is not None}
    if routers and len(experiment.segment_columns) > 1:
        # The router reads the segment column as a covariate; a joined segment is no column.
        return "segment", "router arms need a single segment attribute"
    for index, arm in enumerate(experiment.arms):
        if arm.router is None:
            continue
        where = f"arms.{index}.router"
        for j, treatment in enumerate(arm.router.treatments):
            if treatment not in keys:
                return f"{where}.treatments.{j}", (
                    f"unknown arm {treatment!r}; arms are: {', '.join(keys)}"
                )
            if treatment in routers:
                return f"{where}.treatments.{j}", (
                    f"{treatment!r} is a router arm; treatments must be plain arms"
                )
        fitted = arm.router.fitted
        if fitted is None:
            return f"{where}.model", (
                f"model file {arm.router.model!r} was not loaded (load experiment files with "
                "engine.loader)"
            )
        if set(arm.router.treatments) != set(fitted.treatments):
            return f"{where}.treatments", (
                f"the model {arm.router.model!r} routes to {', '.join(fitted.treatments)}; "
                "list exactly those arms"
            )
        provided = (*experiment.segment_columns, "amount_owed")
        unknown = [c for c in fitted.inputs if c not in provided]
        if unknown:
            return f"{where}.model", (
                f"the model {arm.router.model!r} reads column {unknown[0]!r}; assignment files "
                f"provide {', '.join(provided)}"
            )
    fallback = experiment.compliance.fallback_arm if experiment.compliance else None
    if fallback in routers:
        return "compliance.fallback_arm", f"fallback arm {fallback!r} is a router arm"
    return None
