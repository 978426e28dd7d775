"""``make bench``: run every ``benchmarks/bench_*.py`` and print ratios against the peers.

Usage: ``python -m benchmarks.run [NAME ...]`` (names filter the modules, e.g. ``assignment``).
"""

from __future__ import annotations

import importlib
import platform
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.harness import Comparison


def modules(filters: list[str]) -> list[str]:
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    return [n for n in names if not filters or any(f in n for f in filters)]


def _show(value: float, unit: str) -> str:
    return f"{value * 1e3:,.1f} ms" if unit == "s" else f"{value:,.4g} {unit}"


def main(argv: list[str]) -> int:
    console = Console(width=200)
    console.print(
        f"Python {platform.python_version()} on {platform.machine()}, "
        f"{platform.system()}; wall clock, best of repeated runs"
    )
    rows: list[Comparison] = []
    for name in modules(argv):
        console.print(f"running {name} ...")
        rows.extend(importlib.import_module(f"benchmarks.{name}").run())
    table = Table(
        title="ratio = peer / ours (for times, > 1: we are faster); limits from the issues",
        title_justify="left",
    )
    for column in ("benchmark", "ours", "peer", "peer time", "ratio", "limit", "verdict"):
        table.add_column(column, justify="left" if column in {"benchmark", "peer"} else "right")
    failed = 0
    for row in rows:
        if row.floor:
            verdict = f"{100 * row.ratio:.0f}% of our time is the hash itself"
        elif row.passed is None:
            verdict = "—"
        else:
            verdict = "ok" if row.passed else "BELOW LIMIT"
            failed += not row.passed
        if row.limit is not None and row.upper is not None:
            bounds = f"{row.limit:g}-{row.upper:g}"
        elif row.limit is not None:
            bounds = f">= {row.limit:g}"
        elif row.upper is not None:
            bounds = f"<= {row.upper:g}"
        else:
            bounds = "—"
        table.add_row(
            row.benchmark,
            _show(row.ours, row.unit),
            row.peer,
            _show(row.peer_seconds, row.unit),
            f"{row.ratio:.3g}",
            bounds,
            verdict,
        )
    console.print(table)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
