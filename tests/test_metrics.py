"""Tests for engine.metrics: outcome sums and their pooling."""

from __future__ import annotations

import pytest

from engine.metrics import ArmTotals, totals_by_arm

# --- Pooling -------------------------------------------------------------------------------------


def test_totals_by_arm_pools_cells_and_fills_every_arm() -> None:
    cells = [
        ("a", ArmTotals(assigned=10, pay_matured=8, paid=5, collected=50.0)),
        ("b", ArmTotals(assigned=3, churned=1, churn_matured=2)),
        ("a", ArmTotals(assigned=5, pay_matured=5, paid=1, collected=2.5, reminders=4)),
    ]
    pooled = totals_by_arm(["a", "b", "c"], cells)
    assert pooled == {
        "a": ArmTotals(assigned=15, pay_matured=13, paid=6, collected=52.5, reminders=4),
        "b": ArmTotals(assigned=3, churned=1, churn_matured=2),
        "c": ArmTotals(),
    }
    assert pooled["a"].pay_stat.n == 13
    assert pooled["a"].pay_stat.successes == 6
    assert pooled["b"].churn_stat.rate == 0.5


def test_totals_by_arm_rejects_unknown_arm() -> None:
    with pytest.raises(ValueError, match="outcomes for unknown arm 'email'"):
        totals_by_arm(["a"], [("a", ArmTotals(assigned=1)), ("email", ArmTotals(assigned=1))])


def test_totals_with_impossible_counts_are_rejected_when_used() -> None:
    with pytest.raises(ValueError, match="successes <= n"):
        _ = ArmTotals(pay_matured=3, paid=4).pay_stat
