"""The hostile-input suite: generated files for every file the engine reads (debtor and event
CSV/Parquet, experiment YAML, router model JSON, tenure table, OPE log and target, uplift log)
and hostile arguments for every verb, on SQLite and PostgreSQL.

Each case must end with an exit code the README documents for its verb, never a traceback; a
file mistake is never exit 1 (that is a database error or a refused operation); a refused run
(exit 2) names the file (with the line or row, where the problem has one) and leaves the
database byte-identical (SQLite) or row-identical (PostgreSQL); exit 3 names the rejected
rows. ``DUNNING_FUZZ_SEED`` changes the cases (default: fixed, so a failure reproduces).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from engine.cli import app
from tests import hostile
from tests.conftest import ROOT
from tests.hostile import Case
from tests.safety import documented_exit_codes, settle, snapshot

SEED = int(os.environ.get("DUNNING_FUZZ_SEED", "20260301"))
KEY = "dunning-channels"
EXIT_CODES = documented_exit_codes(ROOT / "README.md")
runner = CliRunner()

#: Cases per database: batch files 110, experiment files 40, router models 20, tenure
#: tables 10, hostile arguments 48 (228); OPE and uplift logs (30) use no database.
COUNTS = {"batch": 110, "yaml": 40, "router": 20, "tenure": 10, "args": 48, "ope": 30}


def run_case(case: Case, db_url: str | None) -> None:
    case.write()
    uses_db = db_url is not None and case.verb not in ("validate", "schema", "ope", "uplift fit")
    args = [*case.args, "--db", str(db_url)] if uses_db else list(case.args)
    if db_url is not None:
        settle(db_url)
        before = snapshot(db_url)
    result = runner.invoke(app, args)
    where = f"case {case.name!r}: dunning {' '.join(args)}\n{result.output}"
    escaped = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert not escaped, f"{where}\nraised {result.exception!r}"
    assert "Traceback" not in result.output, where
    code = result.exit_code
    assert code in EXIT_CODES[case.verb], f"{where}\nexit {code} is not documented"
    if case.named is not None:
        assert code != 1, f"{where}\na file mistake is not a database error"
        if code in (2, 3):
            assert str(case.named) in result.output, f"{where}\nthe file is not named"
        if code == 3 or (code == 2 and case.with_line and "row(s) rejected" in result.output):
            position = rf"{re.escape(str(case.named))}(:\d+:|: row \d+:)"
            assert re.search(position, result.output), f"{where}\nno line or row named"
        if code == 2 and case.named.suffix == ".yaml":
            assert re.search(rf"{re.escape(str(case.named))}:\d+:\d+:", result.output), where
    if db_url is not None and code == 2:
        assert snapshot(db_url) == before, f"{where}\nrefused, yet the database changed"


def sweep(cases: list[Case], db_url: str | None) -> None:
    for case in cases:
        run_case(case, db_url)


@pytest.fixture
def synced(db_url: str) -> str:
    # Dated before the cases' --as-of: an experiment's history only moves forward.
    result = runner.invoke(
        app, ["sync", str(hostile.CHANNELS), "--db", db_url, "--as-of", "2026-03-01"]
    )
    assert result.exit_code == 0, result.output
    return db_url


def generate(kind: str, folder: Path) -> list[Case]:
    rng = np.random.default_rng([SEED, list(COUNTS).index(kind)])
    makers: dict[str, Callable[[], list[Case]]] = {
        "batch": lambda: hostile.batch_cases(rng, folder, COUNTS["batch"], KEY),
        "yaml": lambda: hostile.yaml_cases(rng, folder, COUNTS["yaml"]),
        "router": lambda: hostile.router_cases(rng, folder, COUNTS["router"]),
        "tenure": lambda: hostile.tenure_cases(rng, folder, COUNTS["tenure"], KEY),
        "args": lambda: hostile.argument_cases(rng, folder, COUNTS["args"], KEY),
        "ope": lambda: hostile.ope_cases(rng, folder, COUNTS["ope"]),
    }
    cases = makers[kind]()
    assert len(cases) == COUNTS[kind]
    return cases


@pytest.mark.parametrize("kind", ["batch", "yaml", "router", "tenure", "args"])
def test_hostile_input_on_each_database(synced: str, tmp_path: Path, kind: str) -> None:
    sweep(generate(kind, tmp_path), synced)


def test_hostile_logs_of_ope_and_uplift(tmp_path: Path) -> None:
    sweep(generate("ope", tmp_path), None)


def test_enough_cases_per_database() -> None:
    per_database = sum(n for kind, n in COUNTS.items() if kind != "ope")
    assert per_database >= 200
    verbs = set(EXIT_CODES)
    covered = {c.verb for kind in COUNTS for c in generate(kind, Path("/nonexistent"))}
    assert verbs <= covered, f"verbs without hostile cases: {sorted(verbs - covered)}"
