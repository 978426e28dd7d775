"""The import rule of the architecture, checked on the source: the core stays pure."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The pure core: a module ``engine/<name>.py`` or a package ``engine/<name>/``.
CORE_NAMES = (
    "config",
    "loader",
    "model_files",
    "issues",
    "assignment",
    "clv",
    "events",
    "metrics",
    "plural",
    "metric_names",
    "promotion",
    "cron",
    "simulate",
    "sbg",
    "ope",
    "uplift",
    "compliance",
    "drawing",
    "analysis",
    "stats",
    "policy",
    "schema",
    "versioning",
    "layers",
    "eligibility",
    "crosscheck",
    "lifecycle",
    "lazy",
)


def _files(name: str) -> list[str]:
    module = ROOT / "engine" / f"{name}.py"
    if module.exists():
        return [str(module.relative_to(ROOT))]
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "engine" / name).rglob("*.py"))


CORE = [path for name in CORE_NAMES for path in _files(name)]
CORE_FORBIDDEN = (
    "engine.store",
    "engine.service",
    "engine.cli",
    "sqlmodel",
    "sqlalchemy",
    "streamlit",
    "typer",
)
DASHBOARD_FORBIDDEN = ("engine.store", "sqlmodel", "sqlalchemy")


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def offending(path: Path, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        name
        for name in imports(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    )


@pytest.mark.parametrize("module", CORE)
def test_core_modules_do_no_io(module: str) -> None:
    assert offending(ROOT / module, CORE_FORBIDDEN) == []


@pytest.mark.parametrize(
    "page", sorted(str(p.relative_to(ROOT)) for p in (ROOT / "dashboards").rglob("*.py"))
)
def test_dashboard_reads_through_the_service(page: str) -> None:
    assert offending(ROOT / page, DASHBOARD_FORBIDDEN) == []


def test_every_core_module_is_listed() -> None:
    """A new module must be classified: core (listed above) or an edge/store/service."""
    edges = {
        "engine/__init__.py",
        "engine/ope_io.py",
        "engine/uplift_io.py",
        "engine/settings.py",
        "engine/progress.py",  # terminal / log output of the long verbs
    }
    edges |= {str(p.relative_to(ROOT)) for p in (ROOT / "engine" / "batchio").glob("*.py")}
    store = {str(p.relative_to(ROOT)) for p in (ROOT / "engine" / "store").rglob("*.py")}
    store |= {str(p.relative_to(ROOT)) for p in (ROOT / "engine" / "service").glob("*.py")}
    store |= {str(p.relative_to(ROOT)) for p in (ROOT / "engine" / "cli").glob("*.py")}
    every = {str(p.relative_to(ROOT)) for p in (ROOT / "engine").rglob("*.py")}
    assert every - edges - store - set(CORE) == set()


def test_the_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from sqlalchemy import select\nimport engine.store.db\n")
    assert offending(bad, CORE_FORBIDDEN) == ["engine.store.db", "sqlalchemy"]
