"""Layers: disjoint ranges make experiments mutually exclusive; shares match the ranges."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sqlalchemy import Engine

from engine import service
from engine.assignment import unit_uniforms
from engine.config import Layer
from engine.layers import layer_positions, outside_layer
from engine.loader import LoadedExperiment, parse_experiment

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


# -- at assignment, through the service ---------------------------------------------------------

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _loaded(source: str, *edits: tuple[str, str]) -> LoadedExperiment:
    for old, new in edits:
        assert old in source, old
        source = source.replace(old, new, 1)
    return LoadedExperiment(Path("x.yaml"), parse_experiment(source, file="x.yaml"), source)


def test_two_experiments_of_a_layer_never_share_a_debtor(
    db: Engine, channels: LoadedExperiment
) -> None:
    layer = "currency: EUR\nlayer: {key: dunning, range: [0, 0.3]}"
    first = _loaded(channels.source, ("currency: EUR", layer))
    second = _loaded(
        first.source,
        ("key: dunning-channels\n", "key: second-test\n"),
        ("range: [0, 0.3]", "range: [0.3, 1]"),
    )
    service.sync_experiment(db, first, now=T0)
    service.sync_experiment(db, second, now=T0)
    ids = [f"d{i}" for i in range(3_000)]
    a = service.assign_debtors(db, experiment_key="dunning-channels", debtor_ids=ids, now=T0)
    b = service.assign_debtors(db, experiment_key="second-test", debtor_ids=ids, now=T0)
    assert not (a.eligible & b.eligible).any()
    assert (a.eligible | b.eligible).all(), "the two ranges cover the layer"
    assert abs(a.eligible.mean() - 0.3) < 0.03  # binomial s.e. 0.008
    assert set(a.reason[~a.eligible]) == {
        "in another experiment's part of layer dunning (this one takes [0, 0.3))"
    }
    assert (a.arm[~a.eligible] == None).all()  # noqa: E711 - elementwise


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (("status: running ", "status: paused "), "experiment is paused"),
        (
            ("status: running ", "status: running\nstart_date: 2026-03-03 "),
            "experiment starts on 2026-03-03",
        ),
        (
            ("status: running ", "status: running\nend_date: 2026-03-01 "),
            "experiment ended on 2026-03-01",
        ),
    ],
)
def test_closed_experiment_assigns_nobody_new_but_keeps_earlier_debtors(
    db: Engine, channels: LoadedExperiment, edit: tuple[str, str], reason: str
) -> None:
    service.sync_experiment(db, channels, now=T0)
    early = service.assign_debtors(db, experiment_key="dunning-channels", debtor_ids=["d1"], now=T0)
    service.sync_experiment(db, _loaded(channels.source, edit), now=T0)
    result = service.assign_debtors(
        db, experiment_key="dunning-channels", debtor_ids=["d1", "d2"], now=T0
    )
    assert result.eligible.tolist() == [True, False]
    assert result.arm[0] == early.arm[0], "an assigned debtor keeps the arm (intent to treat)"
    assert result.reason[1] == reason
