"""Repeat dunning cases in the analysis: ``late_again`` (per case, the customer the unit) and
``cases_per_customer``, from the SQL sums to the analysis, the promotion guardrail, the report.

The reference for the late-again uplift is statsmodels' cluster-robust OLS on the case rows
themselves (one row per case, an arm dummy, the customer as the cluster, with each arm's
``G / (G - 1)`` correction as in ``tests/stats/test_repeat_cases.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sqlalchemy import Engine, insert
from sqlmodel import Session

from engine import service
from engine.analysis.kpis import kpi_rows
from engine.analysis.reasons import stop_sentence
from engine.loader import ConfigError, load_experiment
from engine.policy.rewards import late_again_draws
from engine.store.tables import Assignment, DunningCase
from tests.safety import invoke

START = datetime(2026, 1, 5, 6, tzinfo=UTC)
LATE_DAYS = 45
TOL = 1e-9  # the analysis and the reference compute the same sums in another order

YAML = """\
key: repeat-cases
name: Repeat cases
status: running
unit: {{customer: debtor_id, case: invoice_id}}
currency: EUR
arms:
  - key: sms
    label: Friendly SMS
    champion: true
    cost: 0.06
  - key: agency
    label: Collection agency
    cost: 9.5
metrics:
  pay_window_days: 14
  churn_horizon_days: 90
  late_again_days: {late}
  secondary: [late_again, cases_per_customer]
  guardrails:
    - metric: late_again
      max_absolute_increase: {margin}
clv:
  monthly_margin: 14.0
  monthly_retention: 0.975
allocation:
  policy: fixed
promotion:
  min_units_per_arm: 50
  min_days: 0
"""

PLAIN = """\
key: one-case
name: One case per debtor
status: running
currency: EUR
arms:
  - key: sms
    label: Friendly SMS
    champion: true
    cost: 0.06
  - key: agency
    label: Collection agency
    cost: 9.5
metrics:
  churn_horizon_days: 90
clv:
  monthly_margin: 14.0
  monthly_retention: 0.975
allocation:
  policy: fixed
"""


@dataclass(frozen=True)
class Customer:
    debtor: str
    arm: str
    opened: tuple[datetime, ...]  # its cases' entry times, in order


def _sync(db: Engine, tmp_path: Path, text: str, name: str = "x.yaml") -> None:
    path = tmp_path / name
    path.write_text(text)
    service.sync_experiment(db, load_experiment(path), now=START - timedelta(days=1))


def _customers(
    rng: np.random.Generator,
    size: int,
    late: dict[str, float],
    until: datetime = START + timedelta(days=130),
) -> list[Customer]:
    """Customers entering over the first 20 days, each late 1-3 times: a next case follows
    30 days later (late again) with the arm's probability, else 60 days later (not late again
    within 45 days) or never. Only the cases opened by ``until`` exist (a case is stored when
    it opens: the write path refuses writes dated before the latest case)."""
    out = []
    for i in range(size):
        arm = "sms" if i % 2 == 0 else "agency"
        first = START + timedelta(days=int(rng.integers(0, 20)))
        opened = [first]
        for _ in range(int(rng.choice([0, 1, 2], p=[0.4, 0.3, 0.3]))):
            gap = 30 if rng.random() < late[arm] else 60
            opened.append(opened[-1] + timedelta(days=gap))
        out.append(Customer(f"c{i:04d}", arm, tuple(o for o in opened if o <= until)))
    return out


def _store(db: Engine, key: str, customers: list[Customer]) -> None:
    """The rows assign writes: one assignment per customer (its first case), one case row
    per case with the customer's arm and the next case's entry time."""
    assignments = [
        {
            "experiment_key": key,
            "debtor_id": c.debtor,
            "arm": c.arm,
            "propensity": 0.5,
            "experiment_version": 1,
            "allocation_version": 1,
            "assigned_at": c.opened[0],
            "pay_due_at": c.opened[0] + timedelta(days=14),
            "churn_due_at": c.opened[0] + timedelta(days=90),
        }
        for c in customers
    ]
    cases = [
        {
            "experiment_key": key,
            "case_id": f"{c.debtor}-{j}",
            "debtor_id": c.debtor,
            "arm": c.arm,
            "opened_at": opened,
            "pay_due_at": opened + timedelta(days=14),
            "next_opened_at": c.opened[j + 1] if j + 1 < len(c.opened) else None,
        }
        for c in customers
        for j, opened in enumerate(c.opened)
    ]
    with Session(db) as session:
        session.execute(insert(Assignment), assignments)
        session.execute(insert(DunningCase), cases)
        session.commit()


def _case_rows(customers: list[Customer], as_of: datetime) -> tuple[list[float], ...]:
    """One row per matured case: late again (0/1), arm (0 champion, 1 agency), customer."""
    y, arm, group = [], [], []
    for index, c in enumerate(customers):
        for j, opened in enumerate(c.opened):
            if opened + timedelta(days=LATE_DAYS) > as_of:
                continue
            following = c.opened[j + 1] if j + 1 < len(c.opened) else None
            late = following is not None and following - opened <= timedelta(days=LATE_DAYS)
            y.append(float(late))
            arm.append(float(c.arm == "agency"))
            group.append(float(index))
    return y, arm, group


def test_late_again_uplift_equals_cluster_robust_ols_on_the_case_rows(
    db: Engine, tmp_path: Path
) -> None:
    _sync(db, tmp_path, YAML.format(late=LATE_DAYS, margin=0.05))
    customers = _customers(np.random.default_rng(7), 400, {"sms": 0.3, "agency": 0.5})
    _store(db, "repeat-cases", customers)
    as_of = START + timedelta(days=130)
    analysis = service.analyze_experiment(db, experiment_key="repeat-cases", now=as_of)
    late = analysis.arm("agency").metrics["late_again"]
    champion = analysis.arm("sms").metrics["late_again"]

    y, arm, group = (np.array(v) for v in _case_rows(customers, as_of))
    design = np.column_stack([arm == 0, arm == 1]).astype(float)
    fit = sm.OLS(y, design).fit(
        cov_type="cluster", cov_kwds={"groups": group, "use_correction": False}
    )
    sizes = [len({g for g, a in zip(group, arm, strict=True) if a == k}) for k in (0, 1)]
    variance = sum(fit.cov_params()[k, k] * n / (n - 1.0) for k, n in enumerate(sizes))
    half = 1.959963984540054 * np.sqrt(variance)

    assert late.status == "ok"
    assert champion.status == "champion"
    assert late.uplift == pytest.approx(fit.params[1] - fit.params[0], rel=TOL)
    assert late.uplift_low == pytest.approx(late.uplift - half, rel=1e-7)
    assert late.uplift_high == pytest.approx(late.uplift + half, rel=1e-7)
    assert champion.estimate == pytest.approx(fit.params[0], rel=TOL)
    assert late.units == sizes[1]  # customers, not cases, are the units
    assert not late.higher_is_better

    # Cases per customer: the plain mean over the churn-matured customers (all of them here),
    # counting the cases opened within 90 days of the first.
    per = analysis.arm("agency").metrics["cases_per_customer"]
    counts = [
        sum(o <= c.opened[0] + timedelta(days=90) for o in c.opened)
        for c in customers
        if c.arm == "agency"
    ]
    assert per.estimate == pytest.approx(np.mean(counts), rel=TOL)
    assert per.units == len(counts)

    # The report's KPI row carries the same figures (one estimate per question).
    report = service.experiment_report(db, experiment_key="repeat-cases", now=as_of)
    row = next(k for k in report.kpis if k.arm == "agency")
    assert row.cases is not None
    assert row.cases.late_again_uplift == late.uplift
    assert row.cases.late_again_days == LATE_DAYS
    assert analysis.to_dict()["late_again_days"] == LATE_DAYS


def test_late_again_is_not_matured_until_the_first_case_window_closes(
    db: Engine, tmp_path: Path
) -> None:
    _sync(db, tmp_path, YAML.format(late=LATE_DAYS, margin=0.05))
    customers = _customers(np.random.default_rng(3), 40, {"sms": 0.3, "agency": 0.5})
    _store(db, "repeat-cases", customers)
    as_of = START + timedelta(days=21)  # every customer has entered, no case has matured
    analysis = service.analyze_experiment(db, experiment_key="repeat-cases", now=as_of)
    first = min(c.opened[0] for c in customers if c.arm == "agency")
    late = analysis.arm("agency").metrics["late_again"]
    assert late.status == "not_matured"
    assert np.isnan(late.estimate)
    assert np.isnan(late.uplift)
    assert late.matures_on == (first + timedelta(days=LATE_DAYS)).date()
    assert analysis.first_late_again_due == min(c.opened[0] for c in customers) + timedelta(
        days=LATE_DAYS
    )
    assert analysis.arm("agency").metrics["cases_per_customer"].status == "not_matured"


def _guardrail(db: Engine, tmp_path: Path, late: dict[str, float], margin: float) -> dict:
    _sync(db, tmp_path, YAML.format(late=LATE_DAYS, margin=margin))
    customers = _customers(np.random.default_rng(11), 1200, late)
    _store(db, "repeat-cases", customers)
    as_of = START + timedelta(days=130)
    result = service.evaluate_promotion(db, experiment_key="repeat-cases", now=as_of, dry_run=True)
    analysis = service.analyze_experiment(db, experiment_key="repeat-cases", now=as_of)
    numbers = result.decision.guardrails["late_again"]["agency"]
    # The rule's estimate is the analysis' estimate: one comparison module.
    assert numbers["estimate"] == pytest.approx(
        analysis.arm("agency").metrics["late_again"].uplift, rel=1e-12
    )
    return {"numbers": numbers, "decision": result.decision}


def test_late_again_guardrail_breached_when_the_challenger_raises_it(
    db: Engine, tmp_path: Path
) -> None:
    seen = _guardrail(db, tmp_path, {"sms": 0.2, "agency": 0.6}, margin=0.02)
    assert seen["numbers"]["always_valid_low"] > seen["numbers"]["margin"]
    assert seen["decision"].action == "stop_arm"
    assert "agency" in seen["decision"].stopped_arms
    # In words, the metric's plain name (engine.metric_names), in the stored explanation and
    # in the sentence the scorecard, the History page and the demo show.
    explanation = seen["decision"].explanation
    assert "agency: its late-again rate is higher than under sms by at least" in explanation
    assert "late_again" not in explanation
    sentence = stop_sentence(
        seen["decision"].numbers(), {"sms": "Friendly SMS", "agency": "Collection agency"},
        champion="sms",
    )  # fmt: skip
    assert sentence.startswith(
        "Collection agency was stopped: its late-again rate is higher than under Friendly SMS "
        "by at least "
    ), sentence


def test_late_again_guardrail_ok_when_the_challenger_keeps_it(db: Engine, tmp_path: Path) -> None:
    seen = _guardrail(db, tmp_path, {"sms": 0.4, "agency": 0.4}, margin=0.2)
    assert seen["numbers"]["always_valid_high"] < seen["numbers"]["margin"]
    assert seen["decision"].action != "stop_arm"


def test_an_experiment_without_cases_has_no_case_metrics(db: Engine, tmp_path: Path) -> None:
    _sync(db, tmp_path, PLAIN, "plain.yaml")
    now = START + timedelta(days=1)
    service.assign_debtors(
        db, experiment_key="one-case", debtor_ids=[f"d{i}" for i in range(20)], now=now
    )
    analysis = service.analyze_experiment(db, experiment_key="one-case", now=now)
    assert all("late_again" not in a.metrics for a in analysis.arms)
    assert "late_again" not in analysis.metric_roles
    data = analysis.to_dict()
    assert "late_again_days" not in data
    assert "first_late_again_due" not in data
    assert all(row.cases is None for row in kpi_rows(analysis, p_best={}))


def test_objective_late_again_steers_the_bandit_to_fewer_repeat_cases(
    db: Engine, tmp_path: Path
) -> None:
    text = YAML.format(late=LATE_DAYS, margin=0.5).replace(
        "allocation:\n  policy: fixed", "objective: late_again\nallocation:\n  policy: thompson"
    )
    _sync(db, tmp_path, text)
    _store(
        db, "repeat-cases", _customers(np.random.default_rng(5), 600, {"sms": 0.2, "agency": 0.6})
    )
    info = service.update_allocation(
        db, experiment_key="repeat-cases", now=START + timedelta(days=130), seed=1
    )
    assert "thompson on late_again" in info.reason
    assert info.p_best["sms"] > 0.99  # the arm with fewer customers late again


def test_late_again_draws_are_centred_on_minus_the_share_with_the_clustered_spread() -> None:
    rng = np.random.default_rng(2)
    m = rng.choice([1, 2, 3], size=500).astype(float)
    y = rng.binomial(m.astype(int), 0.3).astype(float)
    draws = late_again_draws(
        customers=[m.size, 1], cases=[m.sum(), 1], cases_sq=[(m * m).sum(), 1],
        late=[y.sum(), 0], late_sq=[(y * y).sum(), 0], cross=[(y * m).sum(), 0],
        rng=np.random.default_rng(3), draws=200_000,
    )  # fmt: skip
    rate = y.sum() / m.sum()
    resid = ((y - rate * m) ** 2).sum() / m.sum() ** 2 * m.size / (m.size - 1)
    assert draws[:, 0].mean() == pytest.approx(-rate, abs=4 * np.sqrt(resid / 200_000))
    assert draws[:, 0].std() == pytest.approx(np.sqrt(resid), rel=0.01)
    # One customer: no variance to estimate; the widest spread keeps it explored.
    assert draws[:, 1].std() == pytest.approx(0.5, rel=0.01)


def test_case_objective_without_a_case_column_is_an_error_naming_the_field(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(PLAIN.replace("allocation:", "objective: late_again\nallocation:"))
    with pytest.raises(ConfigError, match=r"objective.*late_again needs unit.case"):
        load_experiment(path)


# -- through the real write path: the CLI's sync, three monthly assign runs, analyze ---------

RUNS = ("2026-03-02T09:00:00Z", "2026-04-02T09:00:00Z", "2026-05-02T09:00:00Z")
#: 60 customers late 1, 2 or 3 times (a case in each of the first k runs).
TIMES = {f"c{i:02d}": 1 + i % 3 for i in range(60)}


def test_cli_analyze_and_report_show_late_again_from_assigned_cases(
    tmp_path: Path, db_url: str
) -> None:
    path = tmp_path / "cases.yaml"
    path.write_text(
        YAML.format(late=LATE_DAYS, margin=0.05).replace(
            "churn_horizon_days: 90", "churn_horizon_days: 60"
        )
    )
    code, output = invoke("sync", str(path), "--db", db_url, "--as-of", "2026-03-01T00:00:00Z")
    assert code == 0, output
    arms: dict[str, str] = {}
    for run, as_of in enumerate(RUNS):
        debtors, out = tmp_path / f"run{run}.csv", tmp_path / f"run{run}.out.csv"
        late = [c for c, k in TIMES.items() if k > run]
        pd.DataFrame({"debtor_id": late, "invoice_id": [f"inv-{c}-{run}" for c in late]}).to_csv(
            debtors, index=False
        )
        code, output = invoke(
            "assign", "repeat-cases", "-i", str(debtors), "-o", str(out), "--db", db_url,
            "--as-of", as_of,
        )  # fmt: skip
        assert code == 0, output
        frame = pd.read_csv(out, dtype=str)
        arms.update(zip(frame["debtor_id"], frame["arm"], strict=True))

    code, output = invoke(
        "analyze", "repeat-cases", "--json", "--db", db_url, "--as-of", "2026-07-01T00:00:00Z"
    )
    assert code == 0, output
    analysis = json.loads(output)
    assert analysis["late_again_days"] == LATE_DAYS
    for arm in analysis["arms"]:
        mine = [c for c in TIMES if arms[c] == arm["arm"]]
        # Runs a month apart: every case but a customer's last is late again within 45 days;
        # all have matured by July (the last opened on May 2).
        share = sum(TIMES[c] - 1 for c in mine) / sum(TIMES[c] for c in mine)
        late = arm["metrics"]["late_again"]
        assert late["estimate"] == pytest.approx(share, rel=1e-12)
        assert late["units"] == len(mine)
        # The third case opens 61 days after the first: outside a 60-day horizon.
        per = arm["metrics"]["cases_per_customer"]
        assert per["estimate"] == pytest.approx(np.mean([min(TIMES[c], 2) for c in mine]))

    code, output = invoke(
        "report", "repeat-cases", "--json", "--db", db_url, "--as-of", "2026-07-01T00:00:00Z"
    )
    assert code == 0, output
    kpis = {row["arm"]: row for row in json.loads(output)["kpis"]}
    for arm in analysis["arms"]:
        cases = kpis[arm["arm"]]["cases"]
        assert cases["late_again"] == arm["metrics"]["late_again"]["estimate"]
        assert cases["late_again_uplift"] == arm["metrics"]["late_again"]["uplift"]
    code, output = invoke(
        "analyze", "repeat-cases", "--db", db_url, "--as-of", "2026-07-01T00:00:00Z"
    )
    assert code == 0, output
    assert "late again within 45 days" in " ".join(output.split())


def test_the_late_again_window_includes_its_last_instant_in_both_dialects(
    db: Engine, tmp_path: Path
) -> None:
    """(opened_at, opened_at + N days]: a next case exactly N days later is late again, one
    second later it is not; a case matures exactly N days after it opened."""
    _sync(db, tmp_path, YAML.format(late=LATE_DAYS, margin=0.05))
    first = START + timedelta(hours=3, microseconds=250)
    window = timedelta(days=LATE_DAYS)
    gaps = [window, window + timedelta(seconds=1), window - timedelta(microseconds=1)]
    customers = [
        Customer(f"b{i}", arm, (first, first + gap))
        for i, (arm, gap) in enumerate((a, g) for a in ("sms", "agency") for g in gaps)
    ]
    _store(db, "repeat-cases", customers)
    # Only the first cases have matured: exactly N days after they opened.
    analysis = service.analyze_experiment(db, experiment_key="repeat-cases", now=first + window)
    for arm in ("sms", "agency"):
        late = analysis.arm(arm).metrics["late_again"]
        assert late.units == 3
        assert late.pooled_estimate == pytest.approx(2 / 3, rel=1e-12)


def test_the_late_again_trend_ends_where_the_analysis_stands(db: Engine, tmp_path: Path) -> None:
    """One question, one answer: the trend's last point is the analysis' late-again uplift
    and interval at the same as-of; earlier points count fewer matured cases, and a day's
    point equals the analysis as of that day's end. Without repeat cases there is no trend."""
    from engine.service.trends import uplift_trend

    _sync(db, tmp_path, YAML.format(late=LATE_DAYS, margin=0.05))
    customers = _customers(np.random.default_rng(8), 600, {"sms": 0.3, "agency": 0.5})
    _store(db, "repeat-cases", customers)
    as_of = START + timedelta(days=130, hours=3)
    points = uplift_trend(db, experiment_key="repeat-cases", now=as_of, metric="late_again")
    assert {p.arm for p in points} == {"agency"}
    assert [p.day for p in points] == sorted(p.day for p in points)
    units = [p.units for p in points]
    assert units == sorted(units)
    assert units[0] < units[-1]

    def analysed(now: datetime) -> tuple[float, float, float]:
        m = service.analyze_experiment(db, experiment_key="repeat-cases", now=now)
        late = m.arm("agency").metrics["late_again"]
        return late.uplift, late.uplift_low, late.uplift_high

    last = points[-1]
    assert last.day <= as_of.date()  # the last day a case matured: nothing changes after it
    assert (last.uplift, last.low, last.high) == pytest.approx(analysed(as_of), rel=1e-12)
    middle = points[len(points) // 2]
    end_of_day = datetime.combine(middle.day + timedelta(days=1), datetime.min.time(), UTC)
    assert (middle.uplift, middle.low, middle.high) == pytest.approx(
        analysed(end_of_day), rel=1e-12
    )

    _sync(db, tmp_path, PLAIN, "plain.yaml")
    with pytest.raises(ValueError, match="no repeat cases"):
        uplift_trend(db, experiment_key="one-case", now=as_of, metric="late_again")
