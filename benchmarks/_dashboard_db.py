"""The databases of the dashboard benchmark: the engine's demo at about 10,000 assignments, and
the same experiment at about 1,000,000, cached under ``var/bench/`` between runs.

The small one is the real loop (:func:`engine.service.demo.run_demo`: assignments, events,
daily updates and decisions). The large one copies it and multiplies its debtors in SQL: every
assignment and every outcome event is inserted 99 more times under a new debtor id
(``D000000042~7``), one ``INSERT ... SELECT`` per table, so each copy has the real rows'
arms, segments, times and outcomes. Both have the same experiment, allocation history and audit
trail; only the volume of debtors and events differs, which is what the ratio is about.

The cache key is the content of the tables module and of this file: a schema change rebuilds.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

from engine import loader, service
from engine.service import demo
from engine.store import tables

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "var" / "bench"
EXPERIMENT_FILE = ROOT / "experiments" / "dunning_channels.yaml"
DAYS, PER_DAY, SEED = 90, 112, 1  # 10,080 debtors, less the few the eligibility rule keeps out
COPIES = 100  # x 100: about 1,000,000 assignments


def _key() -> str:
    sources = (Path(tables.__file__).read_bytes(), Path(__file__).read_bytes())
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


def _multiply(source: Path, path: Path) -> None:
    """``source`` with its debtors (assignments and events) ``COPIES`` times over."""
    partial = path.with_suffix(".partial")
    shutil.copyfile(source, partial)
    connection = sqlite3.connect(partial)
    try:
        copies = (
            "WITH RECURSIVE copy(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM copy "
            f"WHERE k < {COPIES - 1}) "
        )
        renamed = {"debtor_id": "debtor_id || '~' || k", "event_id": "event_id || '~' || k"}
        for table in ("assignment", "outcome_event"):
            columns = _columns(connection, table)
            values = ", ".join(renamed.get(c, c) for c in columns)
            connection.execute(
                f"{copies}INSERT INTO {table} ({', '.join(columns)}) "
                f"SELECT {values} FROM (SELECT * FROM {table}) AS original, copy"
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


def databases() -> tuple[Path, Path, Path]:
    """Paths of the small database, the large one as the cycle leaves it (with its snapshot)
    and the large one written to since (without), built if not cached yet."""
    CACHE.mkdir(parents=True, exist_ok=True)
    key = _key()
    small = CACHE / f"dashboard-10k-{key}.sqlite3"
    stale = CACHE / f"dashboard-1m-stale-{key}.sqlite3"
    large = CACHE / f"dashboard-1m-{key}.sqlite3"
    if not small.exists():
        _build_small(small)
    if not stale.exists():
        _multiply(small, stale)
    if not large.exists():
        partial = large.with_suffix(".partial")
        shutil.copyfile(stale, partial)
        _snapshot(partial)
        partial.rename(large)
    return small, large, stale


def assignments(path: Path) -> int:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        count: int = connection.execute("SELECT count(*) FROM assignment").fetchone()[0]
        return count
    finally:
        connection.close()
