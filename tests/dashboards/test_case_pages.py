"""The dashboard of an experiment with repeat cases (``unit.case``, AppTest): the Experiment
page's KPI table shows late again with its interval, the guardrail panel the late-again
guardrail as the rule judged it, and the Analysis page the metric; every figure the analysis's."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from engine import service
from tests.safety import invoke
from tests.test_case_metrics import LATE_DAYS, PLAIN, YAML
from tests.test_dashboard import _run, table_with

RUNS = ("2026-03-02T09:00:00Z", "2026-04-02T09:00:00Z", "2026-05-02T09:00:00Z")
DECIDED = "2026-05-02T10:00:00Z"


@pytest.fixture(scope="module")
def case_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Three monthly assign runs of 600 customers late 1-3 times, and one promotion decision."""
    folder = tmp_path_factory.mktemp("cases")
    url = f"sqlite:///{folder / 'cases.sqlite3'}"
    path = folder / "cases.yaml"
    path.write_text(YAML.format(late=LATE_DAYS, margin=0.05))
    code, output = invoke("sync", str(path), "--db", url, "--as-of", "2026-03-01T00:00:00Z")
    assert code == 0, output
    times = {f"c{i:03d}": 1 + i % 3 for i in range(600)}
    for run, as_of in enumerate(RUNS):
        late = [c for c, k in times.items() if k > run]
        debtors = folder / f"run{run}.csv"
        frame = pd.DataFrame({"debtor_id": late, "invoice_id": [f"i-{c}-{run}" for c in late]})
        frame.to_csv(debtors, index=False)
        out = str(folder / f"run{run}.out.csv")
        code, output = invoke(
            "assign", "repeat-cases", "-i", str(debtors), "-o", out, "--db", url, "--as-of", as_of
        )
        assert code == 0, output
    code, output = invoke("promote", "repeat-cases", "--db", url, "--as-of", DECIDED)
    assert code in (0, 3), output
    return url


def _report(url: str) -> service.ExperimentReport:
    engine = service.connect_db(url)
    try:
        from engine.service.reports import default_as_of

        now = default_as_of(engine, experiment_key="repeat-cases")
        return service.experiment_report(engine, experiment_key="repeat-cases", now=now)
    finally:
        engine.dispose()


def test_experiment_page_shows_late_again_kpis_and_guardrail(
    case_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _run(case_db, monkeypatch, page="views/experiment.py")
    assert not at.exception
    report = _report(case_db)
    kpis = table_with(at, "Pay on time [95%]")
    column = f"Late\u00a0again\u00a0{LATE_DAYS}\u00a0d [95%]"
    assert column in kpis.columns
    agency = next(k for k in report.kpis if k.arm == "agency")
    assert agency.cases is not None
    # The March cases have matured (their 45 days closed on April 16): figures, with intervals.
    assert f"{100 * agency.cases.late_again:.1f}%" in kpis.loc["Collection agency", column]
    assert "[" in kpis.loc["Collection agency", "Late again vs ★ [95%]"]
    assert kpis.loc["★ Friendly SMS", "Late again vs ★ [95%]"] == "reference"

    guardrails = table_with(at, "Margin")
    row = guardrails.loc[("Late again", "Collection agency")]
    assert row["Status"] in ("ok", "unclear", "breached")
    assert row["Margin"] == "+5.0\u00a0pp"
    # The rule's estimate is the analysis' uplift as of the decision: one estimand.
    engine = service.connect_db(case_db)
    try:
        decided = datetime.fromisoformat(DECIDED.replace("Z", "+00:00"))
        analysis = service.analyze_experiment(engine, experiment_key="repeat-cases", now=decided)
    finally:
        engine.dispose()
    uplift = 100 * analysis.arm("agency").metrics["late_again"].uplift
    sign = "\u2212" if uplift < 0 else "+"
    shown = f"{sign}{abs(uplift):,.1f}\u00a0pp"
    assert row["Increase vs ★ [95%]"].startswith(shown)


def test_analysis_page_offers_late_again(case_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _run(case_db, monkeypatch, page="views/analysis.py")
    at.radio[0].set_value("late_again").run()
    assert not at.exception
    assert at.subheader[0].value == "Late again"
    table = at.table[0].value
    assert all("%" in v for v in table["Estimate [95%]"])
    assert "pp" in " ".join(table["Uplift vs ★ [95%]"])


def test_trends_page_offers_late_again_with_the_analysis_figure(
    case_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With repeat cases the Trends page has the late-again trend, clustered by customer:
    its last point is the analysis' uplift (the Analysis page's figure)."""
    at = _run(case_db, monkeypatch, page="views/trends.py")
    assert not at.exception
    assert "Late again (secondary)" in at.radio[0].options
    at.radio[0].set_value("late_again").run()
    assert not at.exception
    assert at.subheader[0].value == "Cumulative uplift: Late again"
    assert "customer the unit of the interval" in " ".join(c.value for c in at.caption)
    engine = service.connect_db(case_db)
    try:
        from engine.service.reports import default_as_of
        from engine.service.trends import uplift_trend

        now = default_as_of(engine, experiment_key="repeat-cases")
        points = uplift_trend(engine, experiment_key="repeat-cases", now=now, metric="late_again")
        analysis = service.analyze_experiment(engine, experiment_key="repeat-cases", now=now)
    finally:
        engine.dispose()
    assert points[-1].uplift == pytest.approx(
        analysis.arm("agency").metrics["late_again"].uplift, rel=1e-12
    )
    assert len(at.get("vega_lite_chart")) == 2, "the trend is drawn, then the traffic"
    assert not any("Not enough data yet" in i.value for i in at.info)


def test_trends_page_has_no_late_again_without_repeat_cases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "plain.yaml"
    path.write_text(PLAIN)
    url = f"sqlite:///{tmp_path / 'plain.sqlite3'}"
    code, output = invoke("sync", str(path), "--db", url, "--as-of", "2026-03-01T00:00:00Z")
    assert code == 0, output
    at = _run(url, monkeypatch, page="views/trends.py")
    assert not at.exception
    assert at.radio[0].options == [
        "Pay on time (primary)", "Churn", "Collected / debtor", "Cases / 1,000",
        "Reminders / 1,000",
    ]  # fmt: skip
