"""PostgreSQL bulk inserts try a plain INSERT first (the lock leaves out stored rows) and fall
back to ON CONFLICT DO NOTHING when a stored key shows up anyway: the stored row stands, the
other rows of the chunk go in once, and the caller learns which were new."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlmodel import Session

from engine.store import queries
from engine.store.db import create_schema, drop_schema

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
KEY = "exp"


@pytest.fixture
def pg(pg_server_url: str) -> Iterator[Engine]:
    engine = create_engine(pg_server_url)
    drop_schema(engine)
    create_schema(engine)
    yield engine
    engine.dispose()


def _constants() -> dict[str, object]:
    return {
        "experiment_key": KEY,
        "experiment_version": 1,
        "allocation_version": 1,
        "assigned_at": NOW,
        "pay_due_at": NOW + timedelta(days=7),
        "churn_due_at": NOW + timedelta(days=90),
    }


def _assignments(ids: list[str], arm: str) -> pa.Table:
    n = len(ids)
    return pa.table(
        {
            "debtor_id": pa.array(ids, pa.string()),
            "arm": pa.array([arm] * n, pa.string()),
            "propensity": pa.array([0.5] * n, pa.float64()),
            "segment": pa.array([None] * n, pa.string()),
            "amount_owed": pa.array([10.0] * n, pa.float64()),
            "holdout": pa.array([False] * n, pa.bool_()),
            "reason": pa.array([None] * n, pa.string()),
            "constrained": pa.array([False] * n, pa.bool_()),
            "treatment": pa.array([None] * n, pa.string()),
            "treatment_propensity": pa.array([None] * n, pa.float64()),
            "treatment_cost": pa.array([0.0] * n, pa.float64()),
        }
    )


def _cases(cases: list[str], debtors: list[str], arm: str) -> pa.Table:
    n = len(cases)
    return pa.table(
        {
            "case_id": pa.array(cases, pa.string()),
            "debtor_id": pa.array(debtors, pa.string()),
            "arm": pa.array([arm] * n, pa.string()),
            "amount_owed": pa.array([10.0] * n, pa.float64()),
            "touch": pa.array([True] * n, pa.bool_()),
        }
    )


def test_a_stored_debtor_in_a_chunk_keeps_its_arm_and_the_rest_go_in(pg: Engine) -> None:
    with Session(pg) as session, session.begin():
        first = queries.insert_assignments(session, _assignments(["d1"], "email"), _constants())
        assert first.tolist() == [True]
        # A chunk that meets the stored debtor: the plain insert fails, the fallback runs.
        mixed = queries.insert_assignments(
            session, _assignments(["d0", "d1", "d2"], "letter"), _constants()
        )
        assert mixed.tolist() == [True, False, True]
        rows = session.execute(
            text("SELECT debtor_id, arm FROM assignment ORDER BY debtor_id")
        ).all()
    assert [tuple(r) for r in rows] == [("d0", "letter"), ("d1", "email"), ("d2", "letter")]


def test_a_stored_case_in_a_chunk_is_kept_and_counted_as_not_new(pg: Engine) -> None:
    constants = {"experiment_key": KEY, "opened_at": NOW, "pay_due_at": NOW + timedelta(days=7)}
    with Session(pg) as session, session.begin():
        assert queries.insert_cases(session, _cases(["c1"], ["d1"], "email"), constants) == 1
        again = _cases(["c0", "c1", "c2"], ["d0", "d1", "d2"], "letter")
        assert queries.insert_cases(session, again, constants) == 2
        rows = session.execute(text("SELECT case_id, arm FROM dunning_case ORDER BY 1")).all()
        foreign, known = queries.stored_cases(
            session,
            experiment_key=KEY,
            case_ids=np.array(["c0", "c1", "c2", "c9"], dtype=object),
            debtor_ids=np.array(["d0", "d1", "d7", "d9"], dtype=object),
        )
    assert [tuple(r) for r in rows] == [("c0", "letter"), ("c1", "email"), ("c2", "letter")]
    assert foreign.tolist() == [False, False, True, False]  # c2 is d2's case, not d7's
    assert known.tolist() == [True, True, False, False]
