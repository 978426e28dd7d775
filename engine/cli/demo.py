"""The demo: simulated days through the real loop."""

from __future__ import annotations

import math
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from engine import service
from engine.cli.common import (
    DEMO_DATABASE_URL,
    app,
    console,
    emit_json,
    errors,
    open_database,
    user_errors,
)
from engine.plural import counted
from engine.settings import Settings

if TYPE_CHECKING:  # the demo's module imports the simulator: only when the verb runs
    from engine.service.demo import DemoResult


def _payload(result: DemoResult, **run: object) -> dict[str, Any]:
    """The demo's outcome as JSON-safe data (None where a value does not exist yet)."""

    def number(value: float) -> float | None:
        return None if math.isnan(value) else value

    final = max(result.report.kpis, key=lambda row: row.traffic_share)
    payload: dict[str, Any] = {
        **run,
        "experiment": result.report.key,
        "debtors": result.debtors,
        "ineligible": result.ineligible,
        "events": result.events,
        "seconds": round(result.seconds, 2),
        "true_best": result.true_best,
        "traffic_leader": final.arm,
        "agrees": final.arm == result.true_best,
        "champion": result.report.champion,
        "arms": [
            {
                "arm": row.arm,
                "champion": row.champion,
                "assigned": row.assigned,
                "pay_on_time": number(row.pay_on_time),
                "true_pay_on_time": number(result.true_pay_on_time.get(row.arm, math.nan)),
                "traffic_share": row.traffic_share,
                "churn": number(row.churn),
                "clv_uplift": number(row.clv_uplift),
            }
            for row in result.report.kpis
        ],
        "promotions": [
            {
                "decided_at": p.decided_at,
                "action": p.action,
                "champion_before": p.champion_before,
                "champion_after": p.champion_after,
                "allocation_version": p.allocation_version,
                "explanation": p.explanation,
            }
            for p in result.report.promotions
            if p.action in ("promote", "stop_arm", "rollback")
        ],
    }
    if result.customers_by_cases:  # unit.case: the repeat cases and their KPI
        payload["cases"] = result.cases
        payload["customers_by_cases"] = {str(k): v for k, v in result.customers_by_cases.items()}
        late = {row.arm: row.cases for row in result.report.kpis if row.cases is not None}
        for arm in payload["arms"]:
            kpis = late.get(arm["arm"])
            arm["late_again"] = None if kpis is None else number(kpis.late_again)
            arm["late_again_low"] = None if kpis is None else number(kpis.late_again_low)
            arm["late_again_high"] = None if kpis is None else number(kpis.late_again_high)
            arm["true_late_again"] = number(result.true_late_again.get(arm["arm"], math.nan))
    return payload


def closing_lines(engine: service.Database, report: service.ExperimentReport) -> list[str]:
    """The scorecard in words, as the dashboard shows it (one sentence builder for both)."""
    from engine.service.manager import manager_view

    view = manager_view(engine, experiment_key=report.key, now=report.as_of, report=report)
    card = view.scorecard
    return [f"Recommendation: {card.headline}.", *card.sentences, *card.notes]


def case_lines(result: DemoResult) -> list[str]:
    """With repeat cases: how many cases of how many customers, and each arm's late-again share
    with its 95% interval (customers the unit) next to the simulator's exact share of the same
    cases: the expected share of matured cases late again over the case mix the arm produces
    (``DemoResult.true_late_again``)."""
    by = result.customers_by_cases
    if not by:
        return []
    lines = [
        f"{result.cases:,} dunning cases of {sum(by.values()):,} customers: {by[1]:,} late "
        f"once, {by[2]:,} twice, {by[3]:,} three times or more, each customer on one arm."
    ]
    shown = []
    days = None
    for row in result.report.kpis:
        kpis = row.cases
        if kpis is None or math.isnan(kpis.late_again):
            continue
        days = kpis.late_again_days
        truth = result.true_late_again.get(row.arm, math.nan)
        shown.append(
            f"{row.label} {100 * kpis.late_again:.1f}% (95% interval "
            f"{100 * kpis.late_again_low:.1f} to {100 * kpis.late_again_high:.1f}; simulator "
            f"{100 * truth:.1f})"
        )
    if shown:
        lines.append(
            f"Late again within {days} days (the customer's next case opens within {days} days "
            f"of a case; the customer is the unit of the interval): {'; '.join(shown)}."
        )
    return lines


def dashboard_command(url: str) -> str:
    """The command that opens the dashboard on ``url`` (the password masked)."""
    if url == DEMO_DATABASE_URL:
        return "make dashboard"
    return f"DATABASE_URL={shlex.quote(service.display_url(url))} make dashboard"


@app.command(
    epilog="Exit codes: 0 done; 1 the database already holds the experiment's debtors (see "
    "--reset) or a database error; 2 an invalid experiment file or option."
)
@user_errors
def demo(
    experiment: Annotated[
        Path, typer.Option(metavar="FILE", help="Experiment file to run.")
    ] = Path("experiments/dunning_channels.yaml"),
    days: Annotated[int, typer.Option(min=1, metavar="N", help="Days to simulate.")] = 90,
    per_day: Annotated[
        int, typer.Option(min=1, metavar="N", help="Overdue debtors per day.")
    ] = 2_000,
    seed: Annotated[int, typer.Option(metavar="N", help="Seed of the whole simulation.")] = 2026,
    db: Annotated[
        str,
        typer.Option(
            "--db",
            metavar="URL",
            envvar="DATABASE_URL",
            help="Database URL; the default demo file is recreated on each run.",
            show_default=True,
        ),
    ] = DEMO_DATABASE_URL,
    reset: Annotated[
        bool, typer.Option("--reset", help="Drop all engine tables of --db first.")
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the outcome as JSON (docs/cli.md); the progress goes to stderr.",
        ),
    ] = False,
) -> None:
    """Simulate days of overdue debtors through the real loop and report what happened."""
    from engine.cli.render import kpi_table, promotion_table
    from engine.loader import load_experiment
    from engine.progress import progress
    from engine.service.demo import DayProgress, default_start, run_demo

    loaded = load_experiment(experiment, model_dirs=Settings.from_env().model_dirs)
    if reset or db == DEMO_DATABASE_URL:
        service.reset_database(db)
    engine = open_database(db)
    shown_db = service.display_url(db)
    if service.has_assignments(engine, experiment_key=loaded.experiment.key):
        raise service.ServiceError(
            f"{shown_db} already holds debtors of {loaded.experiment.key!r}; pass --reset to "
            "start over"
        )
    out = errors if as_json else console
    out.print(
        f"Simulating {counted(days, 'day')} x {counted(per_day, 'overdue debtor')} of "
        f"{loaded.experiment.key} "
        f"into {escape(shown_db)} (seed {seed})",
        highlight=False,
    )
    # Progress on stderr (stdout carries the report or the --json document).
    with progress("demo") as shown:
        assigned = 0

        def on_day(day: DayProgress) -> None:
            nonlocal assigned
            assigned += day.assigned
            shown.update(
                done=day.day / days,
                rows=assigned,
                status=f"day {day.day}/{days}: champion {day.champion}, most traffic {day.leader}",
            )

        result = run_demo(
            engine,
            loaded,
            days=days,
            debtors_per_day=per_day,
            seed=seed,
            start=default_start(days),
            on_day=on_day,
        )
    if as_json:
        emit_json(_payload(result, database=shown_db, days=days, per_day=per_day, seed=seed))
        return
    console.print(kpi_table(result.report, truth=result.true_pay_on_time))
    labels = {k.arm: k.label for k in result.report.kpis}
    decisions = result.report.promotions
    changes = [p for p in decisions if p.action in ("promote", "stop_arm", "rollback")]
    if changes:
        console.print(promotion_table(changes, labels=labels))
    for line in [*closing_lines(engine, result.report), *case_lines(result)]:
        console.print(escape(line), highlight=False)
    final = max(result.report.kpis, key=lambda row: row.traffic_share)
    verdict = "agrees" if final.arm == result.true_best else "does NOT agree"
    best_rate = result.true_pay_on_time[result.true_best]
    console.print(
        f"True best arm on pay-on-time: {escape(labels[result.true_best])} "
        f"({100 * best_rate:.1f}%); the bandit's final traffic favours {escape(final.label)} "
        f"({100 * final.traffic_share:.0f}%): it {verdict}.",
        highlight=False,
    )
    clv_note = [r for r in result.report.kpis if not r.champion and not math.isnan(r.clv_uplift)]
    if clv_note:
        best_clv = max(clv_note, key=lambda row: row.clv_uplift)
        cur = result.report.currency
        console.print(
            f"Highest CLV uplift vs champion: {best_clv.label}, {best_clv.clv_uplift:+,.2f} {cur} "
            f"per debtor (95% interval {best_clv.clv_uplift_low:+,.2f} to "
            f"{best_clv.clv_uplift_high:+,.2f}). {result.analysis.clv.statement}",
            highlight=False,
        )
    console.print(
        f"{counted(result.debtors, 'debtor')} ({result.ineligible:,} not eligible), "
        f"{counted(result.events, 'event')} in {result.seconds:.1f} s. "
        f"See it in the dashboard: {dashboard_command(db)}",
        highlight=False,
        soft_wrap=True,
    )
