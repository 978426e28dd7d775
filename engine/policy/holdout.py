"""Constraints on bandit weights and the randomized holdout (pure functions).

Order in which :func:`apply_constraints` acts
---------------------------------------------
1. **Burn-in.** Until the experiment has enough matured units and days
   (:func:`burn_in_active`), the bandit's weights are replaced by the initial split: early
   posteriors rest on a handful of fast payers, and moving traffic on them mostly moves noise.
2. **Additive minimum share** ``w = f + (1 - k f) p`` (as :func:`engine.policy.apply_floor`):
   every arm keeps learning, and the weights stay proportional to ``p`` above the floor.
3. **Holdout.** A share ``h`` of debtors, chosen by a salted hash of their id that does not
   involve the weights (:func:`holdout_member`), gets a fixed split ``q``; the others get the
   bandit's weights ``w``. The probability of arm ``a`` for a debtor, before their membership is
   known, is ``pi_a = h q_a + (1 - h) w_a``.
4. **Champion floor** ``c`` on that overall share: the champion keeps at least ``c`` of all
   debtors (a business guarantee, so it is stated on all traffic). When ``pi_champion < c`` the
   bandit weight of the champion is raised to ``(c - h q_c) / (1 - h)`` and the other arms give
   up traffic in proportion to their share above the minimum, so both floors hold.

The minimum share is stated on the bandit's own traffic, the one it learns from: that is where
exploration matters, since holdout units never train the bandit.

Propensity and training
-----------------------
Holdout membership is itself random (a hash uniform independent of the arm's uniform), so the
probability with which a debtor received arm ``a`` is the overall ``pi_a`` above: that is the
propensity to store for off-policy evaluation. The bandit trains on non-holdout units only
(``~holdout_member(...)``); the holdout is the untouched randomized comparison against which
the bandit's value is judged, as Eppo and Statsig evaluate their bandits. Its membership never
depends on the bandit's weights: a debtor in the holdout stays there whatever the bandit learns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.assignment import arms_from_uniforms, unit_uniforms, validate_weights

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

HOLDOUT_SALT_SUFFIX = "/holdout"
_TOL = 1e-12


def holdout_salt(salt: str) -> str:
    """The salt of holdout membership, derived from the experiment's assignment salt.

    A different salt makes membership independent of the uniform that picks the arm.
    """
    return salt + HOLDOUT_SALT_SUFFIX


def holdout_member(ids: npt.ArrayLike, *, salt: str, share: float) -> BoolArray:
    """Shape (n,) True for the debtors in the holdout; fixed by (salt, id, share) alone.

    Membership is ``u < share`` with ``u`` the hash uniform of the id under
    :func:`holdout_salt`; raising the share only adds members (nested holdouts).
    """
    if not 0.0 <= share < 1.0:
        raise ValueError(f"holdout share must be within [0, 1), got {share}")
    result: BoolArray = unit_uniforms(ids, salt=holdout_salt(salt)) < share
    return result


def burn_in_active(
    *, matured_units: int, days_elapsed: float, min_matured_units: int, min_days: float
) -> bool:
    """True while the experiment has fewer than ``min_matured_units`` matured units in total
    or has run fewer than ``min_days`` days: both must be reached before the weights move."""
    return matured_units < min_matured_units or days_elapsed < min_days


@dataclass(frozen=True, eq=False)
class ConstrainedWeights:
    """Weights after burn-in, floors and holdout.

    Attributes
    ----------
    bandit
        Shape (..., k): split of non-holdout debtors (the bandit's traffic).
    holdout
        Shape (k,): fixed split of holdout debtors.
    overall
        Shape (..., k): ``holdout_share * holdout + (1 - holdout_share) * bandit``, the
        propensity of each arm for a debtor whose membership is not yet known.
    holdout_share
        Share of debtors in the holdout.
    reasons
        What each active rule did, for the audit trail.
    """

    bandit: FloatArray
    holdout: FloatArray
    overall: FloatArray
    holdout_share: float
    reasons: tuple[str, ...]


def _split(values: npt.ArrayLike | None, k: int, name: str) -> FloatArray:
    if values is None:
        return np.full(k, 1.0 / k)
    w = validate_weights(values)
    if w.size != k:
        raise ValueError(f"{name} has {w.size} weights for {k} arms")
    return w


def apply_constraints(
    weights: npt.ArrayLike,
    *,
    min_share: float = 0.0,
    champion: int | None = None,
    champion_floor: float = 0.0,
    burn_in_active: bool = False,
    initial_split: npt.ArrayLike | None = None,
    holdout_share: float = 0.0,
    holdout_split: npt.ArrayLike | None = None,
) -> ConstrainedWeights:
    """Apply burn-in, minimum share, holdout and champion floor to bandit weights.

    Parameters
    ----------
    weights
        Shape (k,) or (s, k) (one row per segment): the policy's weights, rows summing to 1.
    min_share
        Additive floor per arm on the bandit's traffic; ``k * min_share <= 1``.
    champion
        Index of the champion arm (needed when ``champion_floor > 0``).
    champion_floor
        Smallest overall share of the champion (holdout included).
    burn_in_active
        When True the weights are replaced by ``initial_split`` (see :func:`burn_in_active`).
    initial_split
        Shape (k,): the configured starting split; equal when None.
    holdout_share
        Share of debtors in the randomized holdout, in [0, 1).
    holdout_split
        Shape (k,): fixed split inside the holdout; equal when None (``[1, 0, ...]`` style
        vectors give a champion-only holdout).

    Returns
    -------
    ConstrainedWeights
        See the module docstring for the order of the rules and the propensity.
    """
    w = np.array(weights, dtype=np.float64)
    if w.ndim not in (1, 2) or w.shape[-1] == 0:
        raise ValueError(f"weights must have shape (k,) or (s, k), got {w.shape}")
    if not np.isfinite(w).all() or np.any(w < 0):
        raise ValueError("weights must be finite and >= 0")
    if np.any(np.abs(w.sum(axis=-1) - 1.0) > 1e-6):
        raise ValueError(f"weights must sum to 1 per row, they sum to {w.sum(axis=-1)}")
    k = w.shape[-1]
    if not 0.0 <= min_share * k <= 1.0 + _TOL:
        raise ValueError(f"min_share {min_share:g} x {k} arms must be within [0, 1]")
    if not 0.0 <= holdout_share < 1.0:
        raise ValueError(f"holdout_share must be within [0, 1), got {holdout_share}")
    if not 0.0 <= champion_floor <= 1.0:
        raise ValueError(f"champion_floor must be within [0, 1], got {champion_floor}")
    if champion_floor > 0 and champion is None:
        raise ValueError("champion_floor needs the champion's index")
    if champion is not None and not 0 <= champion < k:
        raise ValueError(f"champion index {champion} is not within 0..{k - 1}")
    h = float(holdout_share)
    q = _split(holdout_split, k, "holdout_split")
    reasons: list[str] = []

    if burn_in_active:
        w = np.broadcast_to(_split(initial_split, k, "initial_split"), w.shape).copy()
        reasons.append("burn-in: initial split kept")
    else:
        w = w / w.sum(axis=-1, keepdims=True)
    if min_share > 0:
        w = min_share + (1.0 - k * min_share) * w
        reasons.append(f"minimum share {min_share:g} per arm")

    if champion is not None and champion_floor > 0:
        # Bandit weight the champion needs so that h q_c + (1 - h) w_c >= champion_floor.
        need = max(0.0, (champion_floor - h * q[champion]) / (1.0 - h))
        if need + (k - 1) * min_share > 1.0 + _TOL:
            raise ValueError(
                f"champion floor {champion_floor:g} (bandit share {need:.4g}) and minimum share "
                f"{min_share:g} for {k - 1} other arms exceed 1"
            )
        low = w[..., champion] < need
        if np.any(low):
            others = np.ones(k, dtype=np.bool_)
            others[champion] = False
            excess = np.where(others, w - min_share, 0.0)  # traffic above the floor
            total = excess.sum(axis=-1, keepdims=True)
            free = 1.0 - need - (k - 1) * min_share  # what the others share above the floor
            with np.errstate(invalid="ignore", divide="ignore"):
                scaled = np.where(
                    others, min_share + free * np.where(total > 0, excess / total, 0.0), need
                )
            w = np.where(low[..., None], scaled, w)
            reasons.append(f"champion floor {champion_floor:g} overall")

    w = w / w.sum(axis=-1, keepdims=True)
    overall = h * q + (1.0 - h) * w
    if h > 0:
        reasons.append(f"holdout {h:g} on a fixed split")
    return ConstrainedWeights(w, q, overall, h, tuple(reasons))


@dataclass(frozen=True, eq=False)
class HoldoutAssignment:
    """Arms of a batch assigned with a holdout.

    Attributes
    ----------
    arm_index
        Shape (n,): arm per debtor.
    holdout
        Shape (n,): True for holdout members (exclude them from training).
    propensity
        Shape (n,): overall probability of the debtor's arm (see the module docstring).
    """

    arm_index: npt.NDArray[np.intp]
    holdout: BoolArray
    propensity: FloatArray

    def arm(self, arm_keys: Sequence[str]) -> npt.NDArray[np.str_]:
        """Arm key per debtor, shape (n,)."""
        keys: npt.NDArray[np.str_] = np.asarray(arm_keys, dtype=np.str_)[self.arm_index]
        return keys


def assign_with_holdout(
    ids: npt.ArrayLike, *, salt: str, constrained: ConstrainedWeights
) -> HoldoutAssignment:
    """Assign a batch: holdout members by the fixed split, the others by the bandit's weights.

    Uses the same hash uniform as :func:`engine.assignment.assign` for the arm and a
    separately salted one for membership (:func:`holdout_member`). ``constrained.bandit`` must
    be one row of shape (k,); for segments see :func:`engine.policy.segments.assign_segments`.
    """
    if constrained.bandit.ndim != 1:
        raise ValueError("assign_with_holdout needs weights of shape (k,)")
    member = holdout_member(ids, salt=salt, share=constrained.holdout_share)
    u = unit_uniforms(ids, salt=salt)
    arm = np.where(
        member,
        arms_from_uniforms(u, constrained.holdout),
        arms_from_uniforms(u, constrained.bandit),
    ).astype(np.intp)
    return HoldoutAssignment(arm, member, constrained.overall[arm])
