"""The demo: simulated days through the real loop."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from engine import service
from engine.cli.common import (
    DEMO_DATABASE_URL,
    app,
    console,
    open_database,
    user_errors,
)
from engine.cli.render import kpi_table, promotion_table
from engine.loader import load_experiment
from engine.settings import Settings


@app.command()
@user_errors
def demo(
    experiment: Annotated[Path, typer.Option(help="Experiment file to run.")] = Path(
        "experiments/dunning_channels.yaml"
    ),
    days: Annotated[int, typer.Option(min=1, help="Days to simulate.")] = 90,
    per_day: Annotated[int, typer.Option(min=1, help="Overdue debtors per day.")] = 2_000,
    seed: Annotated[int, typer.Option(help="Seed of the whole simulation.")] = 2026,
    db: Annotated[
        str, typer.Option("--db", help="Database URL; the default demo file is recreated.")
    ] = DEMO_DATABASE_URL,
    reset: Annotated[
        bool, typer.Option("--reset", help="Drop all engine tables of --db first.")
    ] = False,
) -> None:
    """Simulate days of overdue debtors through the real loop and report what happened."""
    from engine.service.demo import DayProgress, default_start, run_demo

    loaded = load_experiment(experiment, model_dirs=Settings.from_env().model_dirs)
    if reset or db == DEMO_DATABASE_URL:
        service.reset_database(db)
    engine = open_database(db)
    shown = escape(service.display_url(db))
    if service.has_assignments(engine, experiment_key=loaded.experiment.key):
        raise service.ServiceError(
            f"{shown} already holds debtors of {loaded.experiment.key!r}; pass --reset to "
            "start over"
        )
    console.print(
        f"Simulating {days} days x {per_day:,} overdue debtors of {loaded.experiment.key} "
        f"into {shown} (seed {seed})"
    )
    with Progress(
        TextColumn("day"),
        MofNCompleteColumn(),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("demo", total=days, status="")

        def on_day(day: DayProgress) -> None:
            progress.update(
                task,
                completed=day.day,
                status=f"champion {day.champion}, most traffic {day.leader}",
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
    console.print(kpi_table(result.report, truth=result.true_pay_on_time))
    decisions = result.report.promotions
    changes = [p for p in decisions if p.action in ("promote", "stop_arm", "rollback")]
    if changes:
        console.print(promotion_table(changes))
    if not any(p.action == "promote" for p in decisions):
        last = f" Last decision: {escape(decisions[-1].explanation)}." if decisions else ""
        console.print(f"No promotion: the champion kept its title.{last}", highlight=False)
    final = max(result.report.kpis, key=lambda row: row.traffic_share)
    verdict = "agrees" if final.arm == result.true_best else "does NOT agree"
    best_rate = result.true_pay_on_time[result.true_best]
    console.print(
        f"True best arm on pay-on-time: {result.true_best} ({100 * best_rate:.1f}%); the bandit's "
        f"final traffic favours {final.arm} ({100 * final.traffic_share:.0f}%): it {verdict}."
    )
    clv_note = [r for r in result.report.kpis if not r.champion and not math.isnan(r.clv_uplift)]
    if clv_note:
        best_clv = max(clv_note, key=lambda row: row.clv_uplift)
        cur = result.report.currency
        console.print(
            f"Highest CLV uplift vs champion: {best_clv.arm}, {best_clv.clv_uplift:+,.2f} {cur} "
            f"per debtor (95% interval {best_clv.clv_uplift_low:+,.2f} to "
            f"{best_clv.clv_uplift_high:+,.2f}). {result.analysis.clv.statement}",
            highlight=False,
        )
    console.print(
        f"{result.debtors:,} debtors ({result.ineligible:,} not eligible), "
        f"{result.events:,} events in {result.seconds:.1f} s. "
        "See it in the dashboard: make dashboard"
    )
