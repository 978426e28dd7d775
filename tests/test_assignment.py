"""Tests for engine.assignment: determinism, uniformity, weights, zero-weight arms, validation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from engine.assignment import (
    arms_from_uniforms,
    assign,
    hash_ids,
    hash_key,
    unit_uniforms,
    validate_weights,
)

SALT = "dunning-channels-2026"
ARMS = ("friendly_sms", "direct_collection", "no_action", "discount_nudge")
N_BIG = 200_000
HYPOTHESIS = settings(max_examples=100, deadline=None, derandomize=True, database=None)


@pytest.fixture(scope="module")
def big_ids() -> np.ndarray:
    return np.array([f"D{i:07d}" for i in range(N_BIG)], dtype=object)


@pytest.fixture(scope="module")
def big_uniforms(big_ids: np.ndarray) -> np.ndarray:
    return unit_uniforms(big_ids, salt=SALT)


# --- Determinism and salts -----------------------------------------------------------------------


def test_same_salt_ids_weights_give_identical_arms() -> None:
    ids = [f"cust-{i}" for i in range(5_000)]
    weights = [0.4, 0.3, 0.2, 0.1]
    first = assign(ids, salt=SALT, arm_keys=ARMS, weights=weights)
    second = assign(list(reversed(ids)), salt=SALT, arm_keys=ARMS, weights=weights)
    np.testing.assert_array_equal(first.arm_index, second.arm_index[::-1])
    np.testing.assert_array_equal(first.arm, second.arm[::-1])
    # An id's arm does not depend on which other ids are in the batch.
    alone = assign(ids[:7], salt=SALT, arm_keys=ARMS, weights=weights)
    np.testing.assert_array_equal(alone.arm, first.arm[:7])


def test_hash_is_pinned() -> None:
    # Persisted assignments depend on these exact values: a change of hashing scheme would move
    # every debtor to another arm. Values recorded from this implementation.
    assert hash_key("s") == "e64984c3aacf6ede"
    assert hash_ids(["30"], salt="s").tolist() == [9153815194381806843]
    u = unit_uniforms([1, 2, 30], salt="s")
    # Exact: the uniform is the top 53 bits of the hash times 2**-53, no rounding involved.
    assert u.tolist() == [0.9907685535085117, 0.20435868589734518, 0.4962293160139787]


def test_different_salt_gives_independent_assignment(
    big_ids: np.ndarray, big_uniforms: np.ndarray
) -> None:
    other = unit_uniforms(big_ids, salt="another-experiment")
    assert not np.array_equal(other, big_uniforms)
    # Equal four-way split: two independent assignments agree with probability 1/4.
    weights = np.full(4, 0.25)
    agree = np.mean(arms_from_uniforms(big_uniforms, weights) == arms_from_uniforms(other, weights))
    se = math.sqrt(0.25 * 0.75 / N_BIG)
    assert abs(agree - 0.25) < 4 * se  # 4 binomial standard errors (about 0.004)
    # Uniforms under the two salts are uncorrelated: |r| < 4 / sqrt(n).
    assert abs(np.corrcoef(big_uniforms, other)[0, 1]) < 4 / math.sqrt(N_BIG)


def test_ints_and_their_string_forms_hash_alike() -> None:
    as_str = unit_uniforms(["1", "2", "30", "123456789012"], salt=SALT)
    for ids in (
        [1, 2, 30, 123456789012],
        np.array([1, 2, 30, 123456789012], dtype=np.int64),
        np.array([1, 2, 30, 123456789012], dtype=object),
        pd.Series([1, 2, 30, 123456789012]),
        np.array([1, "2", 30, "123456789012"], dtype=object),
    ):
        np.testing.assert_array_equal(unit_uniforms(ids, salt=SALT), as_str)
    # Not everything collapses: a different id, or a different salt, hashes differently.
    assert unit_uniforms(["31"], salt=SALT)[0] != as_str[2]
    assert hash_ids(["30"], salt=SALT + "x")[0] != hash_ids(["30"], salt=SALT)[0]


# --- Distribution --------------------------------------------------------------------------------


def test_unit_uniforms_are_uniform(big_uniforms: np.ndarray) -> None:
    assert big_uniforms.dtype == np.float64
    assert big_uniforms.min() >= 0.0
    assert big_uniforms.max() < 1.0
    counts = np.bincount((big_uniforms * 100).astype(int), minlength=100)
    assert counts.size == 100
    # Chi-square goodness of fit against 100 equal buckets; fixed ids, so deterministic.
    assert stats.chisquare(counts).pvalue > 0.001


def test_arm_counts_follow_weights(big_ids: np.ndarray) -> None:
    weights = np.array([0.5, 0.3, 0.15, 0.05])
    batch = assign(big_ids, salt=SALT, arm_keys=ARMS, weights=weights)
    counts = np.bincount(batch.arm_index, minlength=4)
    assert stats.chisquare(counts, f_exp=weights * N_BIG).pvalue > 0.001
    np.testing.assert_array_equal(batch.propensity, weights[batch.arm_index])
    np.testing.assert_array_equal(batch.arm, np.asarray(ARMS)[batch.arm_index])


def test_zero_weight_arms_are_never_chosen(big_uniforms: np.ndarray) -> None:
    weights = np.array([0.0, 0.5, 0.0, 0.5, 0.0])
    index = arms_from_uniforms(big_uniforms, weights)
    assert set(np.unique(index).tolist()) == {1, 3}
    edges = np.array([0.0, 0.5 - 1e-16, 0.5, 1.0 - 2**-53])
    np.testing.assert_array_equal(arms_from_uniforms(edges, weights), [1, 1, 3, 3])


def test_last_arm_with_zero_weight_is_never_chosen_near_one() -> None:
    u = np.array([0.999999999999, 1.0 - 2**-53])
    assert arms_from_uniforms(u, [0.5, 0.5, 0.0]).tolist() == [1, 1]
    # Weights whose sum falls short of 1 by round-off (within the 1e-9 tolerance).
    assert arms_from_uniforms(u, [0.5, 0.5 - 5e-10, 0.0]).tolist() == [1, 1]
    assert arms_from_uniforms(u, [1.0, 0.0, 0.0]).tolist() == [0, 0]


def test_boundaries_follow_cumulative_weights() -> None:
    weights = [0.25, 0.25, 0.5]
    u = np.array([0.0, 0.2499999, 0.25, 0.4999999, 0.5, 0.9999999])
    assert arms_from_uniforms(u, weights).tolist() == [0, 0, 1, 1, 2, 2]


def test_propensity_is_the_chosen_arms_weight() -> None:
    weights = [0.7, 0.1, 0.1, 0.1]
    batch = assign([f"x{i}" for i in range(2_000)], salt=SALT, arm_keys=ARMS, weights=weights)
    expected = np.array(weights)[batch.arm_index]
    np.testing.assert_array_equal(batch.propensity, expected)
    assert set(batch.propensity.tolist()) == {0.7, 0.1}


# --- Invalid weights -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        pytest.param([0.6, -0.1, 0.5], "finite and non-negative", id="negative"),
        pytest.param([0.5, float("nan"), 0.5], "finite and non-negative", id="nan"),
        pytest.param([0.5, float("inf"), 0.5], "finite and non-negative", id="inf"),
        pytest.param([0.5, 0.4], "must sum to 1, they sum to 0.9", id="sum-below-one"),
        pytest.param([], "non-empty 1-D", id="empty"),
        pytest.param([[0.5, 0.5]], "non-empty 1-D", id="two-dimensional"),
    ],
)
def test_invalid_weights_raise(weights: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_weights(weights)
    with pytest.raises(ValueError, match=message):
        arms_from_uniforms(np.array([0.3]), weights)


def test_weights_of_wrong_length_raise() -> None:
    with pytest.raises(ValueError, match="4 arm keys but 3 weights"):
        assign(["a"], salt=SALT, arm_keys=ARMS, weights=[0.5, 0.25, 0.25])


# --- Properties ----------------------------------------------------------------------------------

raw_weights = st.lists(
    st.one_of(st.just(0.0), st.floats(min_value=1e-6, max_value=1.0)), min_size=1, max_size=8
).filter(lambda w: sum(w) > 0)
ids_strategy = st.lists(
    st.one_of(st.integers(min_value=0, max_value=10**12), st.text(min_size=1, max_size=12)),
    min_size=1,
    max_size=50,
)


@HYPOTHESIS
@given(raw_weights, ids_strategy, st.text(max_size=10))
def test_assignment_is_deterministic_and_picks_positive_weights(
    raw: list[float], ids: list[int | str], salt: str
) -> None:
    weights = np.array(raw) / sum(raw)
    keys = [f"arm{i}" for i in range(len(weights))]
    first = assign(ids, salt=salt, arm_keys=keys, weights=weights)
    second = assign(ids, salt=salt, arm_keys=keys, weights=weights)
    np.testing.assert_array_equal(first.arm_index, second.arm_index)
    assert first.arm_index.shape == (len(ids),)
    assert np.all(weights[first.arm_index] > 0)
    np.testing.assert_array_equal(first.propensity, weights[first.arm_index])


@HYPOTHESIS
@given(raw_weights, st.lists(st.floats(min_value=0.0, max_value=1.0, exclude_max=True), min_size=1))
def test_any_uniform_maps_to_a_positive_weight_arm(raw: list[float], u: list[float]) -> None:
    weights = np.array(raw) / sum(raw)
    index = arms_from_uniforms(np.array([*u, 1.0 - 2**-53]), weights)
    assert np.all((index >= 0) & (index < len(weights)))
    assert np.all(weights[index] > 0)
