"""Contact rules at assignment: contact caps and quiet hours. Pure.

A debtor who may not be contacted now (their contacts in the last 7 days reached the cap, or
it is quiet time) does not get a contacting arm: they get the experiment's fallback arm
instead, with the reason recorded. The propensity stored must stay the probability of what
actually happened (off-policy evaluation depends on it): for a blocked debtor the fallback arm
is reached by its own weight *and* by every contacting arm's weight, so

    p(fallback | blocked) = w_fallback + sum_{a contacting} w_a,

while a non-contacting arm keeps ``w_a`` and a debtor who is not blocked keeps the plain weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class ComplianceResult:
    """Arms after the rules, shape (n,) each.

    ``reason`` is None where nothing changed for the debtor, else why they got the fallback.
    """

    arm_index: npt.NDArray[np.intp]
    propensity: npt.NDArray[np.float64]
    reason: npt.NDArray[np.object_]
    blocked: npt.NDArray[np.bool_]


def apply_compliance(
    arm_index: npt.NDArray[np.intp],
    *,
    weights: npt.ArrayLike,
    contacting: npt.ArrayLike,
    fallback: int,
    contacts_7d: npt.ArrayLike,
    cap: int | None,
    quiet: bool,
    fallback_name: str,
) -> ComplianceResult:
    """Replace contacting arms of blocked debtors by the fallback arm.

    Parameters
    ----------
    arm_index
        Shape (n,): the arms the allocation chose.
    weights
        Shape (k,): probability of each arm for these debtors (the stored propensities).
    contacting
        Shape (k,) bool: the arm contacts the debtor; or shape (n, k) when that depends on the
        debtor (a router arm contacts the debtors it routes to a contacting treatment).
    fallback
        Index of the fallback arm (must not contact).
    contacts_7d
        Shape (n,): contacts of each debtor in the 7 days before the assignment.
    cap
        Most contacts allowed in any 7 days; None for no cap.
    quiet
        It is quiet time now: nobody may be contacted.
    """
    w = np.asarray(weights, dtype=np.float64)
    contact = np.asarray(contacting, dtype=bool)
    if np.any(contact[..., fallback]):
        raise ValueError("the fallback arm must not contact the debtor")
    count = np.asarray(contacts_7d, dtype=np.int64)
    over_cap = count >= cap if cap is not None else np.zeros(count.shape, dtype=bool)
    blocked = over_cap | quiet
    rows = np.arange(arm_index.shape[0])
    moved = blocked & (contact[rows, arm_index] if contact.ndim == 2 else contact[arm_index])
    final = np.where(moved, fallback, arm_index).astype(np.intp)
    propensity = w[final].copy()
    # Blocked debtors reach the fallback through every contacting arm's weight too.
    at_fallback = blocked & (final == fallback)
    if contact.ndim == 2:
        propensity[at_fallback] += contact[at_fallback].astype(np.float64) @ w
    else:
        propensity[at_fallback] += w[contact].sum()
    reason = np.full(final.shape, None, dtype=object)
    why = "quiet hours" if quiet else f"contact cap of {cap} per 7 days reached"
    reason[moved] = f"compliance: {why}; fallback {fallback_name}"
    return ComplianceResult(final, propensity, reason, blocked)
