"""Dunning cases (``unit: {customer, case}``): bulk inserts, the checks of case ids against the
store, and the set-based refresh of each case's derived columns.

**Matching rule** (which events are a case's outcomes). An event with a ``case_id`` belongs to
that case (of the event's debtor, in every experiment that has the case); an event without one
belongs to the debtor's latest case opened at or before the event's time, per experiment (of
cases opened at the same time, the one stored last). Events before a case's entry time
(``opened_at``) are never its outcomes. Then, per case: ``paid_at`` is the first matched
payment, ``collected`` the matched payments up to ``pay_due_at``, ``reminders`` and
``collection_cases`` the matched counts. ``next_opened_at`` is the entry time of the same
customer's next (strictly later) case in the experiment.

A new case moves the later events without a case id of its customer from the previous case to
itself, so inserting cases refreshes every case of their customers that have events, and
ingesting events refreshes every case of their debtors: recomputed, never incremented.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import text
from sqlmodel import Session

from engine.store.queries.bulk import (
    _copy,
    _ensure_temp,
    _sqlite_rows,
    _sqlite_value,
    dbapi,
    is_postgres,
)
from engine.store.queries.optimistic import insert_expecting_no_conflict

#: The per-case columns of a case chunk, in staging order, with their PostgreSQL type.
CASE_STAGE: dict[str, str] = {
    "case_id": "text",
    "debtor_id": "text",
    "arm": "text",
    "amount_owed": "double precision",
}
#: Columns the same for every case of one assign run, with their PostgreSQL type.
CASE_CONSTANTS: dict[str, str] = {
    "experiment_key": "text",
    "opened_at": "timestamptz",
    "pay_due_at": "timestamptz",
}
_NO_OUTCOMES = {"collected": 0.0, "reminders": 0, "collection_cases": 0}
#: Customers whose cases changed (a case inserted): their cases' derived columns are refreshed.
TOUCHED = "_touched_case"
_PAIRS = {"case_id": "text", "debtor_id": "text"}


def insert_cases(session: Session, rows: pa.Table, constants: dict[str, Any]) -> int:
    """Insert cases (``rows``: the :data:`CASE_STAGE` columns and ``touch``; ``constants``:
    the :data:`CASE_CONSTANTS`); a case id the experiment stored already is kept as it is (a
    file sent again changes nothing). Marks the customers of new cases whose ``touch`` is set
    for :func:`refresh_cases`; returns how many cases were new."""
    _ensure_temp(session, TOUCHED, {"debtor_id": "text"}, key="debtor_id")
    n = rows.num_rows
    if not n:
        return 0
    stage = list(CASE_STAGE)
    target = [*CASE_CONSTANTS, *stage, *_NO_OUTCOMES]
    literals = [repr(v) for v in _NO_OUTCOMES.values()]
    if is_postgres(session):
        _ensure_temp(session, "_stage_case", {**CASE_STAGE, "touch": "boolean"})
        _copy(session, "_stage_case", rows.select([*stage, "touch"]))
        values = [f"CAST(:{c} AS {t})" for c, t in CASE_CONSTANTS.items()] + stage + literals
        insert = (
            f"INSERT INTO dunning_case ({', '.join(target)}) "
            f"SELECT {', '.join(values)} FROM _stage_case"
        )
        returned = insert_expecting_no_conflict(
            session,
            # Every staged case goes in, so the customers to touch are the staged ones.
            f"WITH ins AS ({insert}) INSERT INTO {TOUCHED} SELECT DISTINCT debtor_id "
            "FROM _stage_case WHERE touch ON CONFLICT DO NOTHING",
            f"WITH ins AS ({insert} ON CONFLICT (experiment_key, case_id) DO NOTHING "
            f"RETURNING case_id), seen AS (INSERT INTO {TOUCHED} SELECT DISTINCT s.debtor_id "
            "FROM ins JOIN _stage_case s ON s.case_id = ins.case_id WHERE s.touch "
            "ON CONFLICT DO NOTHING) SELECT count(*) FROM ins",
            constants,
        )
        session.execute(text("TRUNCATE _stage_case"))
        return n if returned is None else int(returned[0][0])
    connection = dbapi(session)
    fixed = [_sqlite_value(constants[c]) for c in CASE_CONSTANTS]
    marks = ", ".join(["?"] * (len(fixed) + len(stage)))
    before = connection.total_changes
    connection.executemany(
        f"INSERT INTO dunning_case ({', '.join(target)}) "
        f"VALUES ({marks}, {', '.join(literals)}) "
        "ON CONFLICT (experiment_key, case_id) DO NOTHING",
        _sqlite_rows(rows.select(stage), lead=fixed),
    )
    inserted = int(connection.total_changes - before)
    touched = rows.filter(rows.column("touch"))
    if inserted and touched.num_rows:
        # executemany does not say which rows were new: mark every customer of the chunk to
        # touch (recomputing is idempotent, so a customer refreshed for nothing loses nothing).
        ids = pa.table({"debtor_id": touched.column("debtor_id").unique()})
        connection.executemany(
            f"INSERT OR IGNORE INTO {TOUCHED} (debtor_id) VALUES (?)", _sqlite_rows(ids)
        )
    return inserted


def _pairs(case_ids: npt.ArrayLike, debtor_ids: npt.ArrayLike) -> pa.Array:
    """Each (case id, debtor id) as one text, to match pairs in Arrow (ids never hold NUL)."""
    return pc.binary_join_element_wise(
        pa.array(case_ids, pa.string()), pa.array(debtor_ids, pa.string()), "\x00"
    )


def _staged(
    session: Session,
    case_ids: npt.NDArray[np.object_],
    debtor_ids: npt.NDArray[np.object_],
    query: str,
    params: dict[str, Any],
) -> list[tuple[Any, ...]]:
    """Stage the (case id, debtor id) pairs and run ``query`` over them (``_stage_case_ids s``):
    its rows start with a staged pair."""
    _ensure_temp(session, "_stage_case_ids", _PAIRS)
    pairs = pa.table(
        {
            "case_id": pa.array(case_ids, pa.string()),
            "debtor_id": pa.array(debtor_ids, pa.string()),
        }
    )
    if is_postgres(session):
        _copy(session, "_stage_case_ids", pairs)
    else:
        dbapi(session).executemany(
            "INSERT INTO _stage_case_ids (case_id, debtor_id) VALUES (?, ?)", _sqlite_rows(pairs)
        )
    found = [tuple(row) for row in session.execute(text(query), params)]
    empty = "TRUNCATE" if is_postgres(session) else "DELETE FROM"
    session.execute(text(f"{empty} _stage_case_ids"))
    return found


def _marked(
    case_ids: npt.NDArray[np.object_],
    debtor_ids: npt.NDArray[np.object_],
    found: list[tuple[Any, ...]],
) -> npt.NDArray[np.bool_]:
    """Which of the pairs are among ``found`` (rows starting with a pair), hashed in Arrow."""
    if not found:  # the usual case for refusals: no per-row work
        return np.zeros(len(case_ids), dtype=bool)
    cases, debtors = zip(*((str(row[0]), str(row[1])) for row in found), strict=True)
    mine = pc.is_in(_pairs(case_ids, debtor_ids), value_set=_pairs(cases, debtors))
    return np.asarray(mine.to_numpy(zero_copy_only=False), dtype=bool)


def _refused(
    session: Session,
    case_ids: npt.NDArray[np.object_],
    debtor_ids: npt.NDArray[np.object_],
    query: str,
    params: dict[str, Any],
) -> npt.NDArray[np.bool_]:
    """Stage the (case id, debtor id) pairs, run ``query`` (the refused pairs, from
    ``_stage_case_ids s``) and mark them."""
    if not len(case_ids):
        return np.zeros(0, dtype=bool)
    return _marked(case_ids, debtor_ids, _staged(session, case_ids, debtor_ids, query, params))


def stored_cases(
    session: Session,
    *,
    experiment_key: str,
    case_ids: npt.NDArray[np.object_],
    debtor_ids: npt.NDArray[np.object_],
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Which case ids the experiment stored for another customer than the one given (refused),
    and which it stored for the same customer (a file sent again: nothing to insert), from one
    index probe per case id."""
    n = len(case_ids)
    foreign, known = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    if not n:
        return foreign, known
    # PostgreSQL: LATERAL ... LIMIT 1 (exact: the pair is unique) keeps one index probe per
    # staged id; planned as a join, the staged rows (no statistics) got a hash join over every
    # stored case per chunk. SQLite's planner probes the index for the join as it is.
    # The key comes from the outer row (OFFSET 0), not as a bound value whose statistics (an
    # experiment new since the last ANALYZE has no rows) could pick an index by key alone.
    stored = (
        "FROM (SELECT i, case_id, debtor_id, CAST(:key AS text) AS k FROM _stage_case_rows "
        "OFFSET 0) s CROSS JOIN LATERAL (SELECT c.debtor_id FROM dunning_case c "
        "WHERE c.experiment_key = s.k AND c.case_id = s.case_id LIMIT 1) c"
        if is_postgres(session)
        else "FROM _stage_case_rows s "
        "JOIN dunning_case c ON c.experiment_key = :key AND c.case_id = s.case_id"
    )
    # The staged row numbers come back, not the ids: a re-run finds every case, and numbers
    # mark the rows without a Python object per id.
    rows = pa.table(
        {
            "i": pa.array(np.arange(n, dtype=np.int64)),
            "case_id": pa.array(case_ids, pa.string()),
            "debtor_id": pa.array(debtor_ids, pa.string()),
        }
    )
    _ensure_temp(session, "_stage_case_rows", {"i": "bigint", **_PAIRS})
    if is_postgres(session):
        _copy(session, "_stage_case_rows", rows)
    else:
        dbapi(session).executemany(
            "INSERT INTO _stage_case_rows (i, case_id, debtor_id) VALUES (?, ?, ?)",
            _sqlite_rows(rows),
        )
    # One integer per found row (2 * row number + 1 when the customer is the same): a list of
    # ints becomes an array in C, rows of a result do not.
    found: Sequence[int] = (
        session.execute(
            text(
                f"SELECT 2 * s.i + CASE WHEN c.debtor_id = s.debtor_id THEN 1 ELSE 0 END {stored}"
            ),
            {"key": experiment_key},
        )
        .scalars()
        .all()
    )
    empty = "TRUNCATE" if is_postgres(session) else "DELETE FROM"
    session.execute(text(f"{empty} _stage_case_rows"))
    if found:
        row, same = np.divmod(np.array(found, dtype=np.int64), 2)
        known[row[same == 1]] = True
        foreign[row[same == 0]] = True
    return foreign, known


def foreign_cases(
    session: Session,
    *,
    experiment_key: str,
    case_ids: npt.NDArray[np.object_],
    debtor_ids: npt.NDArray[np.object_],
) -> npt.NDArray[np.bool_]:
    """Which case ids the experiment stored for another customer than the one given."""
    return stored_cases(
        session, experiment_key=experiment_key, case_ids=case_ids, debtor_ids=debtor_ids
    )[0]


def unmatched_cases(
    session: Session, *, case_ids: npt.NDArray[np.object_], debtor_ids: npt.NDArray[np.object_]
) -> npt.NDArray[np.bool_]:
    """Which (case id, debtor id) pairs are no stored case, in any experiment: an unknown case
    id, or another customer's."""
    return _refused(
        session,
        case_ids,
        debtor_ids,
        "SELECT DISTINCT s.case_id, s.debtor_id FROM _stage_case_ids s "
        "WHERE NOT EXISTS (SELECT 1 FROM dunning_case c "
        "WHERE c.debtor_id = s.debtor_id AND c.case_id = s.case_id)",
        {},
    )


#: The entry time of each touched customer's next case. Cases are only ever added, so a case's
#: next entry time only appears or moves earlier: only cases with a later one are written.
_NEXT_OPENED = f"""
UPDATE dunning_case SET next_opened_at = s.next_opened_at
FROM (
    SELECT c.id AS id, MIN(n.opened_at) AS next_opened_at
    FROM {TOUCHED} t
    JOIN dunning_case c ON c.debtor_id = t.debtor_id
    JOIN dunning_case n ON n.experiment_key = c.experiment_key AND n.debtor_id = c.debtor_id
        AND n.opened_at > c.opened_at
    GROUP BY c.id
) AS s
WHERE dunning_case.id = s.id
    AND (dunning_case.next_opened_at IS NULL OR dunning_case.next_opened_at <> s.next_opened_at)
"""

#: The outcome columns of every case of a touched debtor that has events, by the matching rule
#: (module docstring). The LEFT JOIN gives a case whose events moved to a newer case its
#: zeros back; debtors without any event keep the zeros they were inserted with.
_OUTCOMES = f"""
UPDATE dunning_case SET
    paid_at = s.paid_at, collected = s.collected,
    reminders = s.reminders, collection_cases = s.collection_cases
FROM (
    SELECT c.id AS id,
        MIN(CASE WHEN e.kind = 'payment' THEN e.occurred_at END) AS paid_at,
        COALESCE(SUM(CASE WHEN e.kind = 'payment' AND e.occurred_at <= c.pay_due_at
            THEN e.amount END), 0.0) AS collected,
        SUM(CASE WHEN e.kind = 'reminder' THEN 1 ELSE 0 END) AS reminders,
        SUM(CASE WHEN e.kind = 'collection_case' THEN 1 ELSE 0 END) AS collection_cases
    FROM (SELECT debtor_id FROM _touched UNION SELECT debtor_id FROM {TOUCHED}) t
    JOIN dunning_case c ON c.debtor_id = t.debtor_id
    LEFT JOIN outcome_event e ON e.debtor_id = c.debtor_id AND e.occurred_at >= c.opened_at
        AND (
            e.case_id = c.case_id
            OR (
                e.case_id IS NULL
                AND (c.next_opened_at IS NULL OR e.occurred_at < c.next_opened_at)
                AND NOT EXISTS (
                    SELECT 1 FROM dunning_case twin
                    WHERE twin.experiment_key = c.experiment_key
                        AND twin.debtor_id = c.debtor_id
                        AND twin.opened_at = c.opened_at AND twin.id > c.id
                )
            )
        )
    WHERE EXISTS (SELECT 1 FROM outcome_event x WHERE x.debtor_id = t.debtor_id)
    GROUP BY c.id
) AS s
WHERE dunning_case.id = s.id
"""


def refresh_cases(session: Session) -> None:
    """Recompute the derived columns of the cases of the debtors marked by this transaction
    (``_touched``: new events or assignments; :data:`TOUCHED`: new cases), then clear
    :data:`TOUCHED` (the caller clears ``_touched``).

    A store without any case (experiments with one case per debtor) skips both statements, so
    their writes cost what they did before cases existed.
    """
    _ensure_temp(session, TOUCHED, {"debtor_id": "text"}, key="debtor_id")
    if session.execute(text("SELECT 1 FROM dunning_case LIMIT 1")).first() is not None:
        session.execute(text(_NEXT_OPENED))
        session.execute(text(_OUTCOMES))
    session.execute(text(f"DELETE FROM {TOUCHED}"))
