"""Start-up: the CLI loads what a verb needs when the verb runs. ``dunning --help`` imports
no database, data-frame, validation or statistics library; ``validate`` no database, array or
data-frame library; assign and ingest none of the statistics; a verb imports its own command
module only. (How long start-up takes is measured in benchmarks/bench_startup.py.)"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from engine.cli.verbs import MODULES, ORDER, module_of
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
#: validate reads YAML into the config models (pydantic): nothing else heavy.
HEAVY_FOR_VALIDATE = tuple(sorted({*HEAVY_FOR_HELP, *STATISTICS, "numpy"} - {"pydantic"}))
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


def modules_of(*args: str) -> set[str]:
    """Every module loaded by ``dunning ARGS`` in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def loaded_by(*args: str) -> set[str]:
    """The top-level modules loaded by ``dunning ARGS`` in a fresh interpreter."""
    return {name.split(".")[0] for name in modules_of(*args)}


def command_modules(modules: set[str]) -> set[str]:
    return {name for name in modules if name in ORDER}


def test_help_imports_no_heavy_library() -> None:
    assert loaded_by("--help") & set(HEAVY_FOR_HELP) == set()


def test_help_lists_the_verbs_of_every_command_module() -> None:
    assert command_modules(modules_of("--help")) == set(ORDER)


def test_validate_imports_no_database_array_or_frame_library() -> None:
    modules = modules_of("validate", str(CHANNELS))
    assert {name.split(".")[0] for name in modules} & set(HEAVY_FOR_VALIDATE) == set()
    assert command_modules(modules) == {"engine.cli.experiments"}


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
    ingest = ["ingest", str(tmp_path / "e.csv"), *db]
    for verb in (assign, ingest):
        modules = modules_of(*verb)
        assert {name.split(".")[0] for name in modules} & set(STATISTICS) == set()
        # A CSV in and out: Parquet's reader and writer stay unloaded.
        assert "pyarrow.parquet" not in modules
        assert command_modules(modules) == {"engine.cli.batch"}
        # ingest reads no experiment: the config models are not built.
        assert ("engine.config" in modules) == (verb is assign)
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


def test_every_verb_is_found_in_its_module() -> None:
    """A verb runs after importing only the module :data:`MODULES` names: it must be the
    module that registers it (a verb left out would still run, after importing them all)."""
    import typer.main

    from engine.cli import app

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    assert set(MODULES) == set(commands)
    for info in app.registered_commands:
        name = info.name or typer.main.get_command_name(info.callback.__name__)  # type: ignore[union-attr]
        assert MODULES[name] == info.callback.__module__, name  # type: ignore[union-attr]
    for group in app.registered_groups:
        module = importlib.import_module(MODULES[str(group.name)])
        assert group.typer_instance in vars(module).values(), group.name


@pytest.mark.parametrize(
    ("args", "module"),
    [
        (["assign", "KEY", "-i", "d.csv"], "engine.cli.batch"),
        (["db", "upgrade"], "engine.cli.database"),
        (["--help"], None),
        (["--version"], None),
        ([], None),
        (["asign"], None),  # unknown: every verb, so that click can suggest the nearest
    ],
)
def test_module_of_a_command_line(args: list[str], module: str | None) -> None:
    assert module_of(args) == module
