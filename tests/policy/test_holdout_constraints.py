"""Constraints (floor, champion floor, burn-in) and the randomized holdout."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from engine.policy.holdout import (
    apply_constraints,
    assign_with_holdout,
    burn_in_active,
    holdout_member,
)

HYPOTHESIS = settings(max_examples=80, deadline=None, derandomize=True, database=None)
IDS = np.array([f"D{i:09d}" for i in range(20_000)], dtype=object)

simplex = (
    st.lists(st.floats(0.0, 1.0), min_size=2, max_size=8)
    .filter(lambda p: sum(p) > 1e-6)
    .map(lambda p: np.array(p) / sum(p))
)


@st.composite
def settings_for(draw: st.DrawFn) -> tuple[np.ndarray, float, int, float, float, np.ndarray]:
    p = draw(simplex)
    k = p.size
    floor = draw(st.floats(0.0, 1.0)) / k
    champion = draw(st.integers(0, k - 1))
    h = draw(st.floats(0.0, 0.5))
    q = draw(simplex.filter(lambda x: x.size == k) | st.just(np.full(k, 1.0 / k)))
    # A champion floor that can be met: its bandit share (c - h q_c)/(1 - h) plus the others'
    # minimum shares must fit in 1.
    max_c = h * q[champion] + (1 - h) * (1 - (k - 1) * floor)
    c = draw(st.floats(0.0, 1.0)) * max_c
    return p, floor, champion, c, h, q


@HYPOTHESIS
@given(settings_for(), st.booleans())
def test_constraints_invariants(
    case: tuple[np.ndarray, float, int, float, float, np.ndarray], burn_in: bool
) -> None:
    p, floor, champion, c, h, q = case
    out = apply_constraints(
        p,
        min_share=floor,
        champion=champion,
        champion_floor=c,
        burn_in_active=burn_in,
        holdout_share=h,
        holdout_split=q,
    )
    assert np.all(out.bandit >= floor - 1e-12)
    assert out.bandit.sum() == pytest.approx(1.0, abs=1e-12)
    assert out.overall.sum() == pytest.approx(1.0, abs=1e-12)
    assert out.overall[champion] >= c - 1e-9
    np.testing.assert_allclose(out.overall, h * q + (1 - h) * out.bandit, atol=1e-15)


def test_floor_matches_apply_floor_and_keeps_order() -> None:
    out = apply_constraints([0.7, 0.2, 0.1, 0.0], min_share=0.05)
    np.testing.assert_allclose(out.bandit, [0.61, 0.21, 0.13, 0.05])


def test_champion_floor_takes_from_the_excess_of_others() -> None:
    out = apply_constraints([0.0, 0.9, 0.1], min_share=0.05, champion=0, champion_floor=0.5)
    assert out.bandit[0] == pytest.approx(0.5)
    # Others share 0.5 - 2 * 0.05 above the floor in proportion to their excess (0.77 : 0.03).
    assert out.bandit[2] >= 0.05
    assert out.bandit.sum() == pytest.approx(1.0)


def test_champion_floor_counts_the_holdout() -> None:
    # A champion-only holdout of 20% already gives the champion 0.2 of all traffic.
    out = apply_constraints(
        [0.0, 1.0], champion=0, champion_floor=0.3, holdout_share=0.2, holdout_split=[1.0, 0.0]
    )
    assert out.overall[0] == pytest.approx(0.3)
    assert out.bandit[0] == pytest.approx(0.125)


def test_burn_in_keeps_the_initial_split() -> None:
    out = apply_constraints([0.9, 0.1], burn_in_active=True, initial_split=[0.5, 0.5])
    np.testing.assert_allclose(out.bandit, [0.5, 0.5])
    assert burn_in_active(matured_units=10, days_elapsed=30, min_matured_units=500, min_days=7)
    assert burn_in_active(matured_units=900, days_elapsed=3, min_matured_units=500, min_days=7)
    assert not burn_in_active(matured_units=900, days_elapsed=8, min_matured_units=500, min_days=7)


def test_segment_rows_are_constrained_row_by_row() -> None:
    out = apply_constraints(np.array([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]]), min_share=0.1)
    assert out.bandit.shape == (2, 3)
    assert np.all(out.bandit >= 0.1 - 1e-12)
    np.testing.assert_allclose(out.bandit.sum(axis=1), 1.0)


@HYPOTHESIS
@given(simplex, simplex, st.floats(0.01, 0.5), st.text(min_size=1, max_size=12))
def test_holdout_never_changes_with_bandit_weights(
    w1: np.ndarray, w2: np.ndarray, share: float, salt: str
) -> None:
    k = min(w1.size, w2.size)
    a = apply_constraints(
        w1[:k] / w1[:k].sum() if w1[:k].sum() > 0 else np.full(k, 1 / k), holdout_share=share
    )
    b = apply_constraints(
        w2[:k] / w2[:k].sum() if w2[:k].sum() > 0 else np.full(k, 1 / k), holdout_share=share
    )
    ids = IDS[:2_000]
    first = assign_with_holdout(ids, salt=salt, constrained=a)
    second = assign_with_holdout(ids, salt=salt, constrained=b)
    np.testing.assert_array_equal(first.holdout, second.holdout)
    np.testing.assert_array_equal(first.holdout, holdout_member(ids, salt=salt, share=share))
    # Holdout debtors get the fixed split: their arms do not move with the bandit either.
    np.testing.assert_array_equal(first.arm_index[first.holdout], second.arm_index[second.holdout])
    np.testing.assert_allclose(first.propensity, a.overall[first.arm_index])


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(st.floats(0.01, 0.5), st.text(min_size=1, max_size=12))
def test_holdout_share_matches_configuration(share: float, salt: str) -> None:
    member = holdout_member(IDS, salt=salt, share=share)
    test = sps.binomtest(int(member.sum()), member.size, share)
    assert test.pvalue > 1e-4


def test_holdout_is_independent_of_the_arm_uniform() -> None:
    out = apply_constraints([0.5, 0.5], holdout_share=0.3)
    result = assign_with_holdout(IDS, salt="exp-1", constrained=out)
    # Among holdout members and non-members the arm split is the same (both 50/50).
    share_in = result.arm_index[result.holdout].mean()
    share_out = result.arm_index[~result.holdout].mean()
    assert abs(share_in - share_out) < 0.03


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weights": [0.5, 0.6]}, "sum to 1"),
        ({"weights": [0.5, 0.5], "min_share": 0.6}, "min_share"),
        ({"weights": [0.5, 0.5], "holdout_share": 1.0}, "holdout_share"),
        ({"weights": [0.5, 0.5], "champion_floor": 0.5}, "champion's index"),
        ({"weights": [0.5, 0.5], "champion": 2}, "champion index"),
        (
            {"weights": [0.5, 0.5], "champion": 0, "champion_floor": 0.9, "min_share": 0.2},
            "exceed 1",
        ),
    ],
)
def test_invalid_constraints(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        apply_constraints(**kwargs)  # type: ignore[arg-type]
