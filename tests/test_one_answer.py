"""One question, one answer: on a demo database the promotion audit, ``dunning analyze --json``,
``dunning report`` (table and JSON), the demo's printed table and the dashboard's Experiment and
Analysis pages show the same estimate and 95% interval of every challenger's pay-on-time
uplift over the champion (to display rounding)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from engine import service
from engine.cli import app

pytestmark = pytest.mark.slow

KEY = "dunning-channels"
CHALLENGERS = ("direct_collection", "no_action", "discount_nudge")
APP = str(Path(__file__).resolve().parents[1] / "dashboards" / "app.py")
runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def numbers(text: str) -> list[float]:
    """Every number in a displayed cell, typographic minus signs and joiners included."""
    plain = text.replace("\u2212", "-").replace("\u2060", "").replace("\u00a0", " ")
    return [float(x) for x in re.findall(r"[-+]?\d+(?:\.\d+)?", plain.replace(",", ""))]


def table_row(output: str, label: str) -> list[float]:
    """The first signed value with its interval in the arm's row of a printed table: the
    pay-on-time uplift in points (the level before it has no sign). Tables name arms by their
    label, which may wrap in its column: the row starts on the line whose first cell begins
    the label."""
    line = next(
        line
        for line in output.splitlines()
        if "[" in line and (cell := re.split(r"\s{2,}", line.strip())[0]) and label.startswith(cell)
    )
    match = re.search(r"([-+]\d+\.\d) \[([-+]\d+\.\d), ([-+]\d+\.\d)\]", line)
    assert match, line
    return [float(g) for g in match.groups()]


def test_every_surface_shows_the_same_comparison(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    printed = run("demo", "--days", "45", "--per-day", "800", "--seed", "3", "--db", url)
    analysis = json.loads(run("analyze", KEY, "--db", url, "--json"))
    as_of = datetime.fromisoformat(analysis["as_of"])
    truth = {
        a["arm"]: [
            100 * a["metrics"]["pay_on_time"][k] for k in ("uplift", "uplift_low", "uplift_high")
        ]
        for a in analysis["arms"]
        if a["arm"] in CHALLENGERS
    }

    def same(shown: list[float], arm: str, digits: int = 1) -> None:
        assert shown == pytest.approx([round(x, digits) for x in truth[arm]], abs=0.051), arm

    # The promotion audit: the decision of the last cycle, taken at the same time.
    engine = service.connect_db(url)
    audit = service.experiment_report(engine, experiment_key=KEY, now=as_of).promotions[-1]
    assert audit.decided_at == as_of
    for arm in CHALLENGERS:
        d = audit.numbers["difference"][arm]
        assert [100 * d["estimate"], 100 * d["low"], 100 * d["high"]] == pytest.approx(truth[arm])
    # dunning report: JSON and table; the demo's own table.
    labels = {a["arm"]: a["label"] for a in analysis["arms"]}
    kpis = {k["arm"]: k for k in json.loads(run("report", KEY, "--db", url, "--json"))["kpis"]}
    table = run("report", KEY, "--db", url)
    for arm in CHALLENGERS:
        k = kpis[arm]
        assert [100 * k[f] for f in ("pay_uplift", "pay_uplift_low", "pay_uplift_high")] == (
            pytest.approx(truth[arm])
        )
        same(table_row(table, labels[arm]), arm)
        same(table_row(printed, labels[arm]), arm)
    # The dashboard's Experiment and Analysis pages.
    monkeypatch.setenv("DATABASE_URL", url)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("views/experiment.py").run()
    assert not at.exception
    [experiment_page] = [t.value for t in at.table if "vs ★ [95%]" in t.value.columns]
    at.switch_page("views/analysis.py").run()
    assert not at.exception
    analysis_page = at.table[0].value
    for arm in CHALLENGERS:
        same(numbers(str(experiment_page.loc[labels[arm], "vs ★ [95%]"]))[:3], arm)
        same(numbers(str(analysis_page.loc[labels[arm], "Uplift vs ★ [95%]"]))[:3], arm)
