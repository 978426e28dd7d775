"""Layers: disjoint ranges make experiments mutually exclusive; shares match the ranges."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from engine.assignment import unit_uniforms
from engine.config import Layer
from engine.layers import layer_positions, outside_layer

IDS = np.array([f"debtor-{i}" for i in range(200_000)], dtype=object)


def test_layer_share_matches_the_range_and_positions_are_uniform() -> None:
    position = layer_positions(IDS, "dunning")
    # Kolmogorov-Smirnov against U(0, 1): a biased hash would show at this sample size.
    assert stats.kstest(position, "uniform").pvalue > 1e-3
    inside = ~outside_layer(IDS, Layer(key="dunning", range=(0.2, 0.5)))
    # Binomial standard error of the share is 0.001; allow 5 of them.
    assert abs(inside.mean() - 0.3) < 0.005


def test_position_is_independent_of_the_arm_hash() -> None:
    position = layer_positions(IDS, "dunning")
    arm_uniform = unit_uniforms(IDS, salt="dunning")  # an experiment keyed like the layer
    assert abs(stats.spearmanr(position, arm_uniform).statistic) < 0.01


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    cuts=st.lists(st.floats(0.01, 0.99), min_size=1, max_size=4, unique=True).map(sorted),
)
def test_disjoint_ranges_never_share_a_debtor_and_cover_the_layer(cuts: list[float]) -> None:
    edges = [0.0, *cuts, 1.0]
    ids = IDS[:5_000]
    members = np.array(
        [~outside_layer(ids, Layer(key="l", range=(a, b))) for a, b in itertools.pairwise(edges)]
    )
    assert (members.sum(axis=0) == 1).all(), "each debtor is in exactly one experiment"
