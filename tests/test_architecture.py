"""The import rule of the architecture, checked on the source: the core stays pure."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = [
    "engine/config.py",
    "engine/loader.py",
    "engine/assignment.py",
    "engine/clv.py",
    "engine/events.py",
    "engine/metrics.py",
    "engine/promotion.py",
    "engine/simulate.py",
    "engine/sbg.py",
    "engine/ope.py",
    "engine/uplift.py",
    "engine/compliance.py",
    "engine/drawing.py",
    "engine/analysis.py",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "engine" / "stats").glob("*.py")),
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "engine" / "policy").glob("*.py")),
]
CORE_FORBIDDEN = (
    "engine.store",
    "engine.service",
    "engine.cli",
    "engine.demo",
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
        "engine/batchio.py",
        "engine/ope_io.py",
        "engine/demo.py",
        "engine/render.py",
        "engine/settings.py",
    }
    store = {str(p.relative_to(ROOT)) for p in (ROOT / "engine" / "store").glob("*.py")}
    store |= {str(p.relative_to(ROOT)) for p in (ROOT / "engine" / "service").glob("*.py")}
    store |= {str(p.relative_to(ROOT)) for p in (ROOT / "engine" / "cli").glob("*.py")}
    every = {str(p.relative_to(ROOT)) for p in (ROOT / "engine").rglob("*.py")}
    assert every - edges - store - set(CORE) == set()


def test_the_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from sqlalchemy import select\nimport engine.store.db\n")
    assert offending(bad, CORE_FORBIDDEN) == ["engine.store.db", "sqlalchemy"]
