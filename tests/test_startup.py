"""Start-up: the CLI loads what a verb needs when the verb runs. ``dunning --help`` imports
no database, data-frame, validation or statistics library; assign and ingest none of the
statistics. (How long start-up takes is measured in benchmarks/bench_startup.py.)"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from tests.conftest import CHANNELS, ROOT

HEAVY_FOR_HELP = (
    "sqlalchemy",
    "sqlmodel",
    "pandas",
    "scipy",
    "statsmodels",
    "pymc",
    "pyarrow",
    "pydantic",
    "alembic",
)
STATISTICS = ("scipy", "statsmodels", "pymc", "pytensor", "arviz", "alembic")
#: Runs the CLI as the console script does, then reports which modules were loaded.
PROBE = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))
from engine.cli import app
app(sys.argv[1:])
"""
LAZY_PACKAGES = (
    "engine.service",
    "engine.batchio",
    "engine.store.queries",
    "engine.policy",
    "engine.uplift",
)


def loaded_by(*args: str) -> set[str]:
    """The top-level modules loaded by ``dunning ARGS`` in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    modules = json.loads(done.stderr.strip().splitlines()[-1])
    return {name.split(".")[0] for name in modules}


def test_help_imports_no_heavy_library() -> None:
    assert loaded_by("--help") & set(HEAVY_FOR_HELP) == set()


def test_the_probe_sees_a_library_a_verb_loads() -> None:
    assert {"sqlalchemy", "sqlmodel"} <= loaded_by("db", "current", "--db", "sqlite://")


def test_assign_and_ingest_import_no_statistics(tmp_path: Path) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'db.sqlite3'}"]
    (tmp_path / "d.csv").write_text("debtor_id,debtor_type,amount_owed\nd1,WAOE,10\n")
    (tmp_path / "e.csv").write_text(
        "event_id,debtor_id,kind,amount,occurred_at\ne1,d1,payment,10,2026-03-03\n"
    )
    loaded_by("sync", str(CHANNELS), *db, "--as-of", "2026-03-01")
    assign = ["assign", "dunning-channels", "-i", str(tmp_path / "d.csv")]
    assign += ["-o", str(tmp_path / "t.csv"), "--as-of", "2026-03-02", *db]
    assert loaded_by(*assign) & set(STATISTICS) == set()
    assert loaded_by("ingest", str(tmp_path / "e.csv"), *db) & set(STATISTICS) == set()
    assert (tmp_path / "t.csv").read_text().count("\n") == 2  # the verbs did their work


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_name_of_a_lazy_package_resolves(package: str) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(module._EXPORTS)
    for name in module.__all__:
        assert getattr(module, name) is not None
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018


def test_names_the_cli_spells_out_agree_with_their_modules() -> None:
    import typer.main

    from engine.cli import app, ope
    from engine.lifecycle import VERBS
    from engine.ope import Estimator

    assert typing.get_args(ope.Estimator) == typing.get_args(Estimator)
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    assert set(VERBS) <= set(commands)
