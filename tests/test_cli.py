"""The ``dunning`` command end to end, as a user runs it, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from engine.cli import app
from tests.conftest import CHANNELS

runner = CliRunner()
ARMS = ("friendly_sms", "direct_collection", "no_action", "discount_nudge")
VERBS = (
    "validate",
    "sync",
    "assign",
    "ingest",
    "update",
    "promote",
    "run-cycle",
    "report",
    "outcomes",
    "analyze",
    "list",
    "demo",
)


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_help_lists_every_verb() -> None:
    code, output = run("--help")
    assert code == 0
    for verb in VERBS:
        assert verb in output


def test_validate_ok_and_invalid(tmp_path: Path) -> None:
    code, output = run("validate", str(CHANNELS.parent))
    assert code == 0
    assert "ok" in output
    bad = tmp_path / "bad.yaml"
    bad.write_text(CHANNELS.read_text().replace("cost: 9.50", "cots: 9.50"))
    code, output = run("validate", str(bad), str(CHANNELS))
    assert code == 2
    assert re.search(
        r"bad\.yaml:\d+:\d+: arms\.1\.cots: unknown field 'cots'; did you mean", output
    )
    assert "nothing was changed" in output


def test_bad_event_rows_are_set_aside_and_the_good_ones_loaded(db_url: str, tmp_path: Path) -> None:
    assert run("sync", str(CHANNELS), "--db", db_url)[0] == 0
    events = tmp_path / "events.csv"
    events.write_text(
        "event_id,debtor_id,kind,amount,occurred_at\n"
        "a,d1,payment,10,2026-01-01T00:00:00Z\n"
        "b,d1,paymnet,10,2026-01-01T00:00:00Z\n"
        "c,d2,payment,,2026-01-02\n"
    )
    code, output = run("ingest", str(events), "--db", db_url)
    assert code == 3, output
    assert "events.csv:3: kind: unknown kind" in output
    assert "events.csv:4: amount: a payment needs a positive amount" in output
    assert "2 of 3 row(s) rejected" in output
    assert "1 event: 1 new" in output
    rejects = pd.read_csv(tmp_path / "events.rejects.csv", dtype=str)
    assert rejects["reject_line"].tolist() == ["3", "4"]
    assert rejects["event_id"].tolist() == ["b", "c"]
    assert rejects["reject_reason"].str.startswith(("kind:", "amount:")).all()
    # --strict: any rejected row and nothing is loaded.
    events.write_text(events.read_text().replace("a,d1", "a2,d1"))
    code, output = run("ingest", str(events), "--db", db_url, "--strict")
    assert code == 2
    assert "nothing was loaded" in output
    code, output = run("ingest", str(events), "--db", db_url)
    assert (code, "1 event: 1 new" in output) == (3, True)


def test_unknown_experiment_exit_code(db_url: str) -> None:
    code, output = run("update", "missing", "--db", db_url)
    assert code == 2
    assert "dunning sync" in output


def test_each_verb_of_the_loop_on_its_own(db_url: str, tmp_path: Path) -> None:
    """sync -> assign (CSV in, CSV out) -> ingest -> update -> promote -> report."""
    # Nobody churns in this test: an absolute churn margin lets the guardrail pass.
    experiment = tmp_path / "channels.yaml"
    experiment.write_text(
        CHANNELS.read_text().replace("max_relative_increase: 0.20", "max_absolute_increase: 0.05")
    )
    code, output = run("sync", str(experiment), "--db", db_url)
    assert (code, "v1 (new version" in output) == (0, True)
    assert "unchanged" in run("sync", str(experiment), "--db", db_url)[1]

    debtors = tmp_path / "debtors.csv"
    pd.DataFrame(
        {
            "debtor_id": [f"c{i}" for i in range(5_000)],
            "debtor_type": ["WAOR"] * 5_000,
            "amount_owed": [50.0] * 5_000,
        }
    ).to_csv(debtors, index=False)
    treatments = tmp_path / "out" / "treatments.csv"
    # The experiment was synced now; the simulated days follow it.
    start = datetime.now(UTC).replace(microsecond=0, tzinfo=None) + timedelta(hours=1)
    day0 = start.isoformat()
    code, output = run(
        "assign",
        "dunning-channels",
        "-i",
        str(debtors),
        "-o",
        str(treatments),
        "--db",
        db_url,
        "--as-of",
        day0,
    )
    assert code == 0, output
    assigned = pd.read_csv(treatments)
    assert len(assigned) == 5_000
    assert set(assigned["arm"]) == {
        "friendly_sms",
        "direct_collection",
        "no_action",
        "discount_nudge",
    }
    assert assigned["propensity"].eq(0.25).all()
    # Re-running the same file changes nothing.
    rerun = ("assign", "dunning-channels", "-i", str(debtors), "-o", str(treatments))
    code, output = run(*rerun, "--db", db_url, "--as-of", day0)
    assert "0 newly assigned" in output, (code, output)
    assert pd.read_csv(treatments)["arm"].tolist() == assigned["arm"].tolist()

    payers = assigned[assigned["arm"] == "discount_nudge"].debtor_id.tolist()
    payers += assigned[assigned["arm"] != "discount_nudge"].debtor_id.tolist()[::3]
    events = tmp_path / "events.csv"
    pd.DataFrame(
        {
            "event_id": [f"pay-{d}" for d in payers],
            "debtor_id": payers,
            "kind": "payment",
            "amount": 50.0,
            "occurred_at": (start + timedelta(days=3)).isoformat() + "Z",
        }
    ).to_csv(events, index=False)
    code, output = run("ingest", str(events), "--db", db_url)
    assert code == 0
    assert f"{len(payers):,} new" in output
    assert "0 new" in run("ingest", str(events), "--db", db_url)[1]

    later = (start + timedelta(days=61)).isoformat()  # churn (60 days) has matured
    code, output = run(
        "update", "dunning-channels", "--db", db_url, "--as-of", later, "--seed", "7"
    )
    assert code == 0
    assert "allocation v2 (5,000 matured)" in output
    assert "discount_nudge 85.0%" in output
    code, output = run("promote", "dunning-channels", "--db", db_url, "--as-of", later, "--dry-run")
    assert "DRY RUN, nothing written" in output
    assert "promote" in output
    code, output = run("promote", "dunning-channels", "--db", db_url, "--as-of", later)
    assert code == 0
    assert "champion discount_nudge: allocation v3" in output
    code, output = run("report", "dunning-channels", "--db", db_url, "--as-of", later)
    assert code == 0
    # Arms by their labels (which wrap in their column), the champion starred.
    assert re.search(r"Friendly SMS reminder\s+→\s+5% discount for", output), output
    assert re.search(r"5% discount for paying\s+[\d,]+\s.*\n\s+within 14 days \*", output), output
    assert not any(arm in output for arm in ARMS), output
    code, output = run(
        "outcomes", "dunning-channels", "--db", db_url, "-d", payers[0], "--as-of", later
    )
    assert code == 0
    assert payers[0] in output
    code, output = run("update", "dunning-channels", "--db", db_url, "--as-of", later)
    assert code == 0
    assert "allocation v3 unchanged (update cadence daily" in output
    code, output = run("run-cycle", "--db", db_url, "--as-of", later)
    assert code == 0
    assert "already decided today, nothing changed" in output
    code, output = run("run-cycle", "--db", db_url, "--as-of", later, "--json")
    assert json.loads(output)["repeated"] is True, "decided today already: nothing changes"
    next_day = (start + timedelta(days=62)).isoformat()
    code, output = run("run-cycle", "--db", db_url, "--as-of", next_day, "--json")
    assert code == 0
    line = json.loads(output)
    assert (line["update_version"], line["action"], line["reason"]) == (4, "continue", "too_early")


@pytest.mark.slow
def test_reduced_demo(db_url: str) -> None:
    code, output = run(
        "demo", "--days", "40", "--per-day", "400", "--seed", "11", "--db", db_url, "--reset"
    )
    assert code == 0, output
    assert "it agrees" in output
    # The KPI table and the closing lines name the arms by their labels, never by their keys
    # (the progress lines before them are the operator's, on stderr).
    report = output[output.index("Dunning channel test — as of") :]
    for label in ("Friendly SMS reminder", "Direct to collection", "No action", "5% discount"):
        assert label in report
    assert not any(arm in report for arm in ARMS), report
    assert "True best arm on pay-on-time: 5% discount for paying within 14 days (" in output
    assert "16,000 debtors" in output
    # The analysis of the demo database, as a table and as JSON.
    code, output = run("analyze", "dunning-channels", "--db", db_url)
    assert code == 0, output
    assert "pay on time, % (uplift in pp) (primary)" in output
    # Tables in role order: the primary metric first, then the churn guardrail.
    assert output.index("(primary)") < output.index("(guardrail)")
    assert "Sample ratio check" in output
    code, output = run("analyze", "dunning-channels", "--db", db_url, "--json", "-s", "WAOR")
    assert code == 0, output
    data = json.loads(output)
    assert (data["schema_version"], data["segments"]) == (2, ["WAOR"])
    assert [arm["arm"] for arm in data["arms"]] == list(ARMS)
    assert data["srm"]["flagged"] is False
    assert list(data["metric_roles"].items())[:2] == [
        ("pay_on_time", "primary"),
        ("churn", "guardrail"),
    ]
    code, output = run("list", "--db", db_url, "--json")
    [listed] = json.loads(output)["experiments"]
    assert (listed["experiment"], listed["version"], listed["status"]) == (
        "dunning-channels",
        1,
        "running",
    )
    code, output = run("analyze", "dunning-channels", "--db", db_url, "--by-segment", "--json")
    assert code == 0, output
    fit = json.loads(output)
    assert fit["method"] == "exact"
    assert fit["converged"] is True
    assert {s["segment"] for s in fit["segments"]} >= {"WAOE", "WACE", "WAOR", "DICE", "DICR"}
    code, output = run("analyze", "dunning-channels", "--db", db_url, "-s", "NOPE")
    assert code == 2
    assert "no debtors of segment(s) NOPE" in output
    # A second run on the same database is refused without --reset.
    code, output = run("demo", "--days", "2", "--per-day", "10", "--db", db_url)
    assert code == 1
    assert "--reset" in output


@pytest.mark.slow
def test_analyze_with_a_tenure_table(tmp_path: Path) -> None:
    """CLV from a fitted shifted-beta-geometric churn model (MCMC) instead of constant retention."""
    import numpy as np

    from engine.sbg import simulate_tenure_table

    db_url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    code, output = run("demo", "--days", "75", "--per-day", "150", "--db", db_url, "--reset")
    assert code == 0, output
    tenure = tmp_path / "tenure.csv"
    simulate_tenure_table(
        alpha=0.7, beta=3.8, customers=1_500, periods=12, rng=np.random.default_rng(2)
    ).to_csv(tenure, index=False)
    code, output = run(
        "analyze", "dunning-channels", "--db", db_url, "--tenure", str(tenure), "--json"
    )
    assert code == 0, output
    data = json.loads(output[output.index("{") :])
    assert data["clv"]["model"].startswith("shifted-beta-geometric")
    assert "active subscribers" in data["clv"]["model"]
    # The residual value carries the sBG parameters' uncertainty: an interval, not a point.
    assert data["clv"]["residual_value_low"] < data["clv"]["residual_value"]
    assert data["clv"]["residual_value"] < data["clv"]["residual_value_high"]
    clv = {arm["arm"]: arm["metrics"]["clv_per_debtor"] for arm in data["arms"]}
    assert clv["direct_collection"]["uplift_high"] < 0, "5x churn hazard loses value"

    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,recency,T,cohort\nc1,13,12,a\n")
    code, output = run("analyze", "dunning-channels", "--db", db_url, "--tenure", str(bad))
    assert code == 2
    assert "bad.csv" in output


def test_ope_on_logged_decisions(tmp_path: Path) -> None:
    """`dunning ope`: the value of "always discount" estimated from a uniformly random log."""
    import numpy as np

    rng = np.random.default_rng(5)
    n = 6_000
    rates = {"friendly_sms": 0.6, "no_action": 0.55, "discount_nudge": 0.62}
    arms = list(rates)
    actions = rng.choice(arms, size=n)
    rewards = (rng.random(n) < np.array([rates[a] for a in actions])).astype(int)
    log = tmp_path / "log.csv"
    pd.DataFrame({"action": actions, "reward": rewards, "propensity": 1 / 3}).to_csv(
        log, index=False
    )
    target = tmp_path / "target.csv"
    pd.DataFrame({"friendly_sms": 0, "no_action": 0, "discount_nudge": np.ones(n)}).to_csv(
        target, index=False
    )
    code, output = run("ope", str(log), "--target", str(target), "--json")
    assert code == 0, output
    data = json.loads(output)
    estimate = data["target"]
    assert estimate["estimator"] == "snips"
    assert estimate["ci_low"] < 0.62 < estimate["ci_high"]
    code, output = run("ope", str(log), "--target", str(target), "--estimator", "ipw")
    assert code == 0
    assert "logging (on-policy)" in output

    target.write_text("friendly_sms,no_action,discount_nudge\n0.5,0.4,0.2\n")
    code, output = run("ope", str(log), "--target", str(target))
    assert code == 2
    assert "target.csv:2" in output
