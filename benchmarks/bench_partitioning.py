"""The daily update's read at 1,000,000 assignments on PostgreSQL: a plain ``assignment``
table against the same rows in a table partitioned by experiment (declarative ``PARTITION BY
LIST (experiment_key)``, the README's "Scaling and production").

Four experiments of 250,000 debtors each; the read is the engine's own
(:func:`engine.store.queries.outcome_cells`, per arm and holdout) of one experiment. The two
tables swap names between rounds, so the same query reads each. Skipped without a reachable
server (``DUNNING_BENCH_PG_URL``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, text
from sqlmodel import Session

from benchmarks.bench_definition_filter import _postgres
from benchmarks.harness import Comparison
from engine.store import queries
from engine.store.db import create_schema

N = 1_000_000
EXPERIMENTS = 4
T0 = datetime(2026, 1, 1, tzinfo=UTC)
LOAD = f"""
INSERT INTO assignment (experiment_key, debtor_id, arm, propensity, experiment_version,
    allocation_version, holdout, constrained, treatment_cost, assigned_at, pay_due_at,
    churn_due_at, paid_at, collected, reminders, collection_cases, inquiries)
SELECT 'exp-' || (g % {EXPERIMENTS}), 'd' || g, (ARRAY['a', 'b', 'c', 'd'])[1 + (g / 7) % 4],
    0.25, 1, 1 + g % 3, g % 10 = 0, false, 0.0,
    :t0 + (g % 90) * interval '1 day', :t0 + (g % 90 + 14) * interval '1 day',
    :t0 + (g % 90 + 60) * interval '1 day',
    CASE WHEN g % 3 = 0 THEN :t0 + (g % 90 + 5) * interval '1 day' END,
    CASE WHEN g % 3 = 0 THEN 40.0 ELSE 0.0 END, g % 2, 0, 0
FROM generate_series(1, {N}) AS g
"""
# The README's DDL: the partition key must be part of every unique key.
PARTITIONED = [
    "CREATE TABLE assignment_by_experiment (LIKE assignment INCLUDING DEFAULTS)"
    " PARTITION BY LIST (experiment_key)",
    *(
        f"CREATE TABLE assignment_exp_{i} PARTITION OF assignment_by_experiment"
        f" FOR VALUES IN ('exp-{i}')"
        for i in range(EXPERIMENTS)
    ),
    "ALTER TABLE assignment_by_experiment ADD PRIMARY KEY (experiment_key, id)",
    "ALTER TABLE assignment_by_experiment ADD UNIQUE (experiment_key, debtor_id)",
    "CREATE INDEX ON assignment_by_experiment (experiment_key, assigned_at, arm, pay_due_at,"
    " paid_at, churn_due_at, churned_at, collected)",
    "INSERT INTO assignment_by_experiment SELECT * FROM assignment",
]
SWAP = [
    "ALTER TABLE assignment RENAME TO assignment_swap",
    "ALTER TABLE assignment_by_experiment RENAME TO assignment",
    "ALTER TABLE assignment_swap RENAME TO assignment_by_experiment",
]


def _execute(connection: Connection, statements: list[str]) -> None:
    for statement in statements:
        connection.execute(text(statement))


def _read(engine: Engine) -> float:
    start = time.perf_counter()
    with Session(engine) as session:
        queries.outcome_cells(
            session, experiment_key="exp-1", now=T0 + timedelta(days=120), by_holdout=True
        )
    return time.perf_counter() - start


def run() -> list[Comparison]:
    with _postgres() as engine:
        if engine is None:
            return []
        create_schema(engine)
        with engine.begin() as connection:
            connection.execute(text(LOAD), {"t0": T0})
            _execute(connection, PARTITIONED)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
        best = {"plain": float("inf"), "partitioned": float("inf")}
        layout = "plain"
        for _ in range(2 * 5):  # alternate, five reads of each
            best[layout] = min(best[layout], _read(engine))
            with engine.begin() as connection:
                _execute(connection, SWAP)
            layout = "partitioned" if layout == "plain" else "plain"
        return [
            Comparison(
                f"PostgreSQL, {N:,} assignments in {EXPERIMENTS} experiments: daily read of "
                "one, table partitioned by experiment",
                best["partitioned"],
                "the same read of the plain table",
                best["plain"],
            )
        ]
