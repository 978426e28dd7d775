"""Start-up time of the CLI: ``dunning --help``, ``validate``, ``assign`` and ``ingest`` of a
one-row file, each a fresh process as a cron job or a shell starts it.

* against a 1 s budget (issue 11: each must start in under 1 s): ratio = 1 s / ours, so >= 1
  passes;
* against ``python -c pass`` (the interpreter's own start-up): how much of the time is ours.

The database (SQLite) is synced and the files written before the clock starts.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import Comparison, best_of

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ROOT / "experiments" / "dunning_channels.yaml"
#: What the ``dunning`` console script runs (``engine.cli:app``), from this source tree.
CLI = "import sys; from engine.cli import app; app(sys.argv[1:])"
BUDGET = 1.0


def _run(*args: str) -> None:
    subprocess.run([sys.executable, "-c", CLI, *args], cwd=ROOT, check=True, capture_output=True)


def _bare() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True, capture_output=True)


def run() -> list[Comparison]:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        db = ["--db", f"sqlite:///{folder / 'dunning.sqlite3'}"]
        (folder / "debtors.csv").write_text("debtor_id,debtor_type,amount_owed\nd1,WAOE,10\n")
        (folder / "events.csv").write_text(
            "event_id,debtor_id,kind,amount,occurred_at\ne1,d1,payment,10,2026-03-03\n"
        )
        _run("sync", str(EXPERIMENT), *db, "--as-of", "2026-03-01")
        verbs = {
            "--help": ["--help"],
            "validate": ["validate", str(EXPERIMENT)],
            "assign": [
                "assign",
                "dunning-channels",
                "-i",
                str(folder / "debtors.csv"),
                "-o",
                str(folder / "treatments.csv"),
                "--as-of",
                "2026-03-02",
                *db,
            ],
            "ingest": ["ingest", str(folder / "events.csv"), *db],
        }
        bare = best_of(_bare, repeat=5)
        rows = []
        for verb, args in verbs.items():
            ours = best_of(lambda args=args: _run(*args), repeat=5)  # type: ignore[misc]
            label = f"start-up: dunning {verb}" + ("" if verb == "--help" else " (one row)")
            rows.append(Comparison(label, ours, "1 s budget", BUDGET, limit=1.0))
            rows.append(Comparison(label, ours, "python -c pass", bare))
        return rows
