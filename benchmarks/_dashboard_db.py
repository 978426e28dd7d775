"""The databases of the dashboard benchmark: the engine's demo at about 10,000 assignments, and
the same experiment at about 1,000,000, cached under ``var/bench/`` between runs.

The small one is the real loop (:func:`engine.service.demo.run_demo`: assignments, events,
daily updates and decisions). The large one grows it in SQL with debtors drawn as the engine
draws them: in each allocation period (and segment, under a per-segment split) the new debtors'
arms are a multinomial draw at the period's traffic weights, and each new debtor takes the
outcomes and events of a debtor of its arm in that period, chosen at random (``D000000042~7``).
The split then holds at the larger size as it does at the smaller (a plain copy of every debtor
would multiply the small one's deviation from the weights a hundredfold: a sample-ratio alarm),
and the arms' outcomes are their own. Both have the same experiment, allocation history and
audit trail; only the volume of debtors and events differs, which is what the ratio is about.

Each size also comes as the morning after: an ingest of new payments after the last cycle
(the same share of the debtors at both sizes), which outdates the cycle's snapshot.

``DUNNING_BENCH_ROWS`` sets the large size (default 1,000,000) for a quick look. The cache key
is the content of the tables module and of this file, and the size: a schema change rebuilds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from engine import loader, service
from engine.events import EventBatch
from engine.service import demo
from engine.store import tables

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "var" / "bench"
EXPERIMENT_FILE = ROOT / "experiments" / "dunning_channels.yaml"
DAYS, PER_DAY, SEED = 90, 112, 1  # 10,080 debtors, less the few the eligibility rule keeps out
ROWS = int(os.environ.get("DUNNING_BENCH_ROWS", 1_000_000))
#: Share of the debtors whose payment arrives in the night's ingest after the last cycle.
NIGHT_SHARE = 0.01


def _key() -> str:
    sources = (Path(tables.__file__).read_bytes(), Path(__file__).read_bytes(), str(ROWS).encode())
    return hashlib.sha256(b"".join(sources)).hexdigest()[:12]


def _columns(connection: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in connection.execute(f"PRAGMA table_info({table})") if row[1] != "id"]


def _build_small(path: Path) -> None:
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    engine = service.open_db(f"sqlite:///{partial}")
    demo.run_demo(
        engine,
        loader.load_experiment(EXPERIMENT_FILE),
        days=DAYS,
        debtors_per_day=PER_DAY,
        seed=SEED,
        start=demo.default_start(DAYS),
    )
    engine.dispose()
    partial.rename(path)


def _draw_sources(connection: sqlite3.Connection, copies: int, seed: int) -> np.ndarray:
    """The source assignment id of each new debtor, in the order they are inserted: per
    allocation period (and segment under a per-segment split), ``copies - 1`` times its
    debtors, with arms drawn at the period's weights and a random debtor of that arm each."""
    rng = np.random.default_rng(seed)
    splits = {
        version: (json.loads(weights), json.loads(segment_weights))
        for version, weights, segment_weights in connection.execute(
            "SELECT version, weights, segment_weights FROM allocation"
        )
    }
    rows = connection.execute(
        "SELECT id, allocation_version, segment, constrained, arm FROM assignment ORDER BY id"
    ).fetchall()
    groups: dict[tuple[object, ...], dict[str, list[int]]] = {}
    for row_id, version, segment, constrained, arm in rows:
        weights, by_segment = splits[version]
        cell = segment if by_segment else None
        groups.setdefault((version, cell, bool(constrained)), {}).setdefault(arm, []).append(row_id)
    drawn: list[np.ndarray] = []
    for (version, cell, constrained), arms in groups.items():
        n = sum(len(ids) for ids in arms.values()) * (copies - 1)
        if constrained:
            # A contact rule chose the arm, not the draw: more of the same debtors.
            pool = np.array([i for ids in arms.values() for i in ids])
            drawn.append(rng.choice(pool, size=n))
            continue
        weights, by_segment = splits[version]
        split = by_segment.get(cell, weights) if cell is not None else weights
        # Arms without a debtor here (a weight too small to have drawn one) get none.
        names = [a for a in split if a in arms and split[a] > 0]
        p = np.array([split[a] for a in names])
        counts = rng.multinomial(n, p / p.sum())
        for arm, k in zip(names, counts, strict=True):
            drawn.append(rng.choice(np.array(arms[arm]), size=int(k)))
    sources = np.concatenate(drawn) if drawn else np.array([], dtype=np.int64)
    rng.shuffle(sources)
    return sources


def _multiply(source: Path, path: Path, *, rows: int) -> None:
    """``source`` grown to about ``rows`` assignments with drawn debtors (module doc)."""
    partial = path.with_suffix(".partial")
    shutil.copyfile(source, partial)
    connection = sqlite3.connect(partial)
    try:
        (small,) = connection.execute("SELECT count(*) FROM assignment").fetchone()
        sources = _draw_sources(connection, max(2, round(rows / small)), SEED)
        connection.execute("CREATE TEMP TABLE copy (k INTEGER PRIMARY KEY, source INTEGER)")
        connection.executemany(
            "INSERT INTO copy (k, source) VALUES (?, ?)",
            ((k, int(s)) for k, s in enumerate(sources, start=1)),
        )
        columns = _columns(connection, "assignment")
        renamed = {"debtor_id": "a.debtor_id || '~' || c.k"}
        values = ", ".join(renamed.get(col, f"a.{col}") for col in columns)
        # In time order, as the engine would have written them.
        connection.execute(
            f"INSERT INTO assignment ({', '.join(columns)}) SELECT {values} "
            "FROM copy AS c JOIN assignment AS a ON a.id = c.source ORDER BY a.assigned_at, c.k"
        )
        columns = _columns(connection, "outcome_event")
        renamed = {
            "debtor_id": "e.debtor_id || '~' || c.k",
            "event_id": "e.event_id || '~' || c.k",
        }
        values = ", ".join(renamed.get(col, f"e.{col}") for col in columns)
        # In ingestion order: the newest event's id holds the latest ingestion time.
        connection.execute(
            f"INSERT INTO outcome_event ({', '.join(columns)}) SELECT {values} "
            "FROM copy AS c JOIN assignment AS a ON a.id = c.source "
            "JOIN outcome_event AS e ON e.debtor_id = a.debtor_id "
            "ORDER BY e.ingested_at, e.id, c.k"
        )
        # No ANALYZE: a database the engine grew to this size has no planner statistics either.
        connection.commit()
    finally:
        connection.close()
    partial.rename(path)


def _snapshot(path: Path) -> None:
    """What the scheduled cycle leaves: the cell snapshot of the data, as of the latest."""
    engine = service.open_db(f"sqlite:///{path}")
    try:
        key = loader.load_experiment(EXPERIMENT_FILE).experiment.key
        now = service.default_as_of(engine, experiment_key=key)
        service.refresh_snapshot(engine, experiment_key=key, now=now)
    finally:
        engine.dispose()


def _night_ingest(path: Path) -> None:
    """The night's ingest after the last cycle: payments of :data:`NIGHT_SHARE` of the
    debtors, among those whose pay window is still open and who have not paid yet."""
    engine = service.open_db(f"sqlite:///{path}")
    try:
        key = loader.load_experiment(EXPERIMENT_FILE).experiment.key
        cycle = service.default_as_of(engine, experiment_key=key)
        connection = sqlite3.connect(path)
        try:
            (total,) = connection.execute("SELECT count(*) FROM assignment").fetchone()
            open_ = connection.execute(
                "SELECT debtor_id, assigned_at FROM assignment WHERE paid_at IS NULL "
                "AND pay_due_at > ? ORDER BY id LIMIT ?",
                (_sqlite_time(cycle), max(1, round(NIGHT_SHARE * total))),
            ).fetchall()
        finally:
            connection.close()
        night = cycle + timedelta(hours=8)
        service.ingest_events(
            engine,
            EventBatch(
                event_id=np.array([f"night-{i}" for i in range(len(open_))], dtype=object),
                debtor_id=np.array([d for d, _ in open_], dtype=object),
                kind=np.array(["payment"] * len(open_), dtype=object),
                amount=np.full(len(open_), 50.0),
                occurred_at=np.array(
                    [np.datetime64(night.replace(tzinfo=None) - timedelta(hours=1), "us")]
                    * len(open_)
                ),
            ),
            now=night,
        )
    finally:
        engine.dispose()


def _sqlite_time(when: datetime) -> str:
    return when.replace(tzinfo=None).isoformat(sep=" ")


def _derived(source: Path, path: Path, step: Callable[[Path], None]) -> None:
    """``source`` copied to ``path`` with ``step`` applied (to a partial file first)."""
    partial = path.with_suffix(".partial")
    shutil.copyfile(source, partial)
    step(partial)
    partial.rename(path)


def databases() -> dict[str, Path]:
    """Paths of the databases, built if not cached yet: ``small`` and ``large`` as the cycle
    leaves them (with its snapshot), ``small_night`` and ``large_night`` after the night's
    ingest since, and ``large_bare`` without any snapshot (no cycle ever ran)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    key = _key()
    paths = {
        name: CACHE / f"dashboard-{name}-{key}.sqlite3"
        for name in ("small", "small_night", "large_bare", "large", "large_night")
    }
    if not paths["small"].exists():
        _build_small(paths["small"])  # the demo ends with a cycle: its snapshot is fresh
    if not paths["large_bare"].exists():
        _multiply(paths["small"], paths["large_bare"], rows=ROWS)
    if not paths["large"].exists():
        _derived(paths["large_bare"], paths["large"], _snapshot)
    for size in ("small", "large"):
        if not paths[f"{size}_night"].exists():
            _derived(paths[size], paths[f"{size}_night"], _night_ingest)
    return paths


def assignments(path: Path) -> int:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        count: int = connection.execute("SELECT count(*) FROM assignment").fetchone()[0]
        return count
    finally:
        connection.close()
