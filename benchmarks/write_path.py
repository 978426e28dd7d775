"""Batch files and CLI runs for the write-path benchmark and the large-scale tests.

The engine is measured as a user runs it: ``dunning assign`` / ``dunning ingest`` in a child
process, on a file on disk; the peak resident memory is the child's own (``wait4``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ROOT / "experiments" / "dunning_channels.yaml"
KEY = "dunning-channels"
CASES_KEY = "dunning-cases"
TYPES = np.array(["WAOE", "WACE", "WAOR", "DICE", "DICR", "WIOE"], dtype=object)
#: The assignment time of every benchmark batch, and the events a day later.
AS_OF = "2026-03-02T09:00:00Z"
EVENTS_AS_OF = "2026-03-04T00:00:00Z"


def debtor_ids(start: int, n: int) -> pa.Array:
    numbers = pa.array(np.arange(start, start + n, dtype=np.int64)).cast(pa.string())
    return pc.binary_join_element_wise("d", numbers, "")


def write_debtors(path: Path, start: int, n: int, *, seed: int = 0) -> Path:
    """``n`` debtors ``d<start>`` ... with a type and an amount owed, as CSV (or Parquet)."""
    rng = np.random.default_rng(seed)
    table = pa.table(
        {
            "debtor_id": debtor_ids(start, n),
            "debtor_type": pa.array(TYPES[rng.integers(len(TYPES), size=n)], pa.string()),
            "amount_owed": pa.array(np.round(rng.gamma(2.0, 40.0, size=n), 2)),
        }
    )
    _write(table, path)
    return path


def write_cases(path: Path, customers: int, cases: int, *, seed: int = 4) -> Path:
    """``cases`` cases ``inv0`` ... of the customers ``d0`` ... ``d<customers - 1>`` (row i is
    a case of customer i mod customers: the first cases of all, then the second ...), as CSV."""
    rng = np.random.default_rng(seed)
    who = pa.array(np.arange(cases, dtype=np.int64) % customers)
    table = pa.table(
        {
            "debtor_id": debtor_ids(0, customers).take(who),
            "invoice_id": pc.binary_join_element_wise(
                "inv", pa.array(np.arange(cases, dtype=np.int64)).cast(pa.string()), ""
            ),
            "debtor_type": pa.array(TYPES[rng.integers(len(TYPES), size=cases)], pa.string()),
            "amount_owed": pa.array(np.round(rng.gamma(2.0, 40.0, size=cases), 2)),
        }
    )
    _write(table, path)
    return path


def case_experiment(folder: Path) -> Path:
    """The benchmark's experiment with ``unit: {customer: debtor_id, case: invoice_id}``, under
    the key :data:`CASES_KEY`."""
    source = EXPERIMENT.read_text(encoding="utf-8")
    path = folder / "cases.yaml"
    path.write_text(
        source.replace(f"key: {KEY}", f"key: {CASES_KEY}").replace(
            "segment: debtor_type\n",
            "segment: debtor_type\nunit: {customer: debtor_id, case: invoice_id}\n",
        ),
        encoding="utf-8",
    )
    return path


def write_events(path: Path, n: int, *, debtors: int, seed: int = 1) -> Path:
    """``n`` events of the debtors ``d0`` ... ``d<debtors - 1>`` (payments, reminders, churn)."""
    rng = np.random.default_rng(seed)
    who = rng.integers(debtors, size=n)
    kinds = np.array(["payment", "reminder", "churn", "inquiry"], dtype=object)
    kind = kinds[rng.choice(4, size=n, p=[0.5, 0.3, 0.1, 0.1])]
    amount = np.where(kind == "payment", np.round(rng.gamma(2.0, 30.0, size=n) + 1, 2), np.nan)
    seconds = rng.integers(0, 36 * 3600, size=n)
    occurred = np.datetime64("2026-03-02T10:00:00", "s") + seconds.astype("timedelta64[s]")
    table = pa.table(
        {
            "event_id": pc.binary_join_element_wise(
                "e", pa.array(np.arange(n)).cast(pa.string()), ""
            ),
            "debtor_id": debtor_ids(0, debtors).take(pa.array(who)),
            "kind": pa.array(kind, pa.string()),
            "amount": pa.array(amount, from_pandas=True),
            "occurred_at": pc.strftime(
                pa.array(occurred).cast(pa.timestamp("s", tz="UTC")), "%Y-%m-%dT%H:%M:%SZ"
            ),
        }
    )
    _write(table, path)
    return path


def _write(table: pa.Table, path: Path) -> None:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    else:
        pa_csv.write_csv(table, path, pa_csv.WriteOptions(quoting_style="needed"))


@dataclass(frozen=True)
class Run:
    code: int
    seconds: float
    peak_rss_mb: float
    stdout: str
    stderr: str


def dunning(*args: str, cwd: Path = ROOT) -> Run:
    """Run the CLI of this checkout in a child process; its time and own peak memory."""
    command = [sys.executable, "-c", "import sys; from engine.cli import app; app(sys.argv[1:])"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen([*command, *args], cwd=cwd, env=env, stdout=out, stderr=err)
        # wait4 reports this child's own peak memory (RUSAGE_CHILDREN would be the maximum
        # over every child so far).
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(child.returncode, seconds, usage.ru_maxrss / 1024, out.read(), err.read())
