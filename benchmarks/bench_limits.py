"""What the boundary checks cost: the column-limit checks of 1,000,000 debtor records
(:mod:`engine.batchio.limits`: length and NUL of every id and segment) against reading the
file they come from.

* ours: :func:`engine.batchio.limits.check_cells` on the ids and segments of the file, as
  :func:`engine.batchio.read_debtors` calls it;
* peer: the whole :func:`engine.batchio.read_debtors` of the same 1,000,000-row CSV file.

The ratio says how many times the checks fit into the read: they must stay a small part.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.harness import Comparison, best_of
from engine.batchio import limits, read_csv_table, read_debtors
from engine.batchio.debtors import segment_values

N = 1_000_000
TYPES = np.array(["WAOE", "WACE", "WAOR", "DICE", "DICR"])


def run() -> list[Comparison]:
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "debtors.csv"
        pd.DataFrame(
            {
                "debtor_id": [f"D{i:010d}" for i in range(N)],
                "debtor_type": TYPES[rng.integers(len(TYPES), size=N)],
                "amount_owed": np.round(rng.uniform(5, 500, N), 2),
            }
        ).to_csv(path, index=False)
        read = best_of(lambda: read_debtors(path, segment_columns=("debtor_type",)), repeat=3)
        table = read_csv_table(path, ["debtor_id"])
    cells = {
        "debtor_id": limits.TextCells(table.frame["debtor_id"], "assignment.debtor_id"),
        "debtor_type": limits.TextCells(
            segment_values(table.frame, ("debtor_type",)), "assignment.segment"
        ),
    }
    checks = best_of(lambda: limits.check_cells(table, cells))
    return [
        Comparison(
            f"column-limit checks of {N:,} debtor ids and segments",
            checks,
            "reading the file (read_debtors, checks included)",
            read,
            limit=5.0,
        )
    ]
