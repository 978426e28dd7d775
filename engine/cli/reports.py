"""Read-only commands: list, report, outcomes, analyze."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from engine import service
from engine.batchio import read_tenure, write_csv
from engine.cli.common import (
    EXIT_CODES,
    DbOption,
    JsonOption,
    KeyArgument,
    ReadAsOfOption,
    app,
    console,
    emit_json,
    errors,
    read_database,
    report_time,
    user_errors,
)
from engine.cli.outcomes_view import outcome_record, outcomes_table
from engine.cli.render import analysis_tables, kpi_table, promotion_table, segment_table
from engine.settings import DEFAULT_DATABASE_URL


@app.command("list", epilog=EXIT_CODES)
@user_errors
def list_(db: DbOption = DEFAULT_DATABASE_URL, as_json: JsonOption = False) -> None:
    """List the experiments in the database, with the status in force."""
    engine = read_database(db)
    items = service.list_experiments(engine)
    if as_json:
        emit_json(
            {
                "database": service.display_url(db),
                "experiments": [
                    {
                        "experiment": item.key,
                        "name": item.name,
                        "version": item.version,
                        "status": item.status,
                        "champion": item.champion,
                        "assigned": item.assigned,
                        "allocation_version": item.allocation_version,
                        "updated_at": item.updated_at,
                        "owner": item.owner,
                        "schedule": item.schedule,
                    }
                    for item in items
                ],
            }
        )
        return
    if not items:
        console.print(
            f"no experiment in {escape(service.display_url(db))} yet; store one with "
            "`dunning sync FILE`"
        )
        return
    table = Table(title=f"Experiments in {escape(service.display_url(db))}", title_justify="left")
    for column in ("experiment", "version", "status", "name", "champion", "debtors", "allocation"):
        table.add_column(column, justify="right" if column == "debtors" else "left")
    for item in items:
        table.add_row(
            item.key,
            f"v{item.version}",
            item.status,
            escape(item.name),
            item.champion,
            f"{item.assigned:,}",
            f"v{item.allocation_version}",
        )
    console.print(table)


@app.command(epilog=EXIT_CODES)
@user_errors
def report(
    key: KeyArgument,
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: ReadAsOfOption = None,
) -> None:
    """Print the KPI table per arm and the promotion log."""
    engine = read_database(db)
    now = report_time(engine, key, as_of)
    result = service.experiment_report(engine, experiment_key=key, now=now, only_promotions=True)
    console.print(kpi_table(result))
    if result.definition.label:
        console.print(f"[yellow]Note:[/yellow] {escape(result.definition.label)}.")
    if result.promotions:
        console.print(promotion_table(result.promotions))
    else:
        console.print(
            f"Promotion log: empty, {result.champion} has been champion throughout (no "
            "promotion, stopped arm, rollback or status change yet)."
        )


@app.command(epilog=EXIT_CODES)
@user_errors
def outcomes(
    key: KeyArgument,
    debtor: Annotated[
        list[str] | None,
        typer.Option("--debtor", "-d", metavar="ID", help="Only these debtor ids (repeatable)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write all rows to this CSV."),
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, metavar="N", help="Rows to print without --output.")
    ] = 20,
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: ReadAsOfOption = None,
    as_json: JsonOption = False,
) -> None:
    """Per-debtor outcomes: arm, propensity, versions, payment, churn, cost and CLV."""
    engine = read_database(db)
    now = report_time(engine, key, as_of)
    rows = service.assignment_outcomes(
        engine,
        experiment_key=key,
        now=now,
        debtor_ids=debtor,
        limit=None if output else limit,
    )
    definition = service.experiment_definition(engine, experiment_key=key)
    records = [outcome_record(row, definition) for row in rows]
    if output is not None:
        write_csv(pd.DataFrame(records), output)
        console.print(f"{len(records):,} assignments -> {escape(str(output))}")
    elif as_json:
        emit_json({"experiment": key, "as_of": now, "rows": records})
    elif not records:
        console.print(f"no assignment of {key} as of {now:%Y-%m-%d %H:%M} UTC")
    else:
        console.print(outcomes_table(records, title=f"{key} as of {now:%Y-%m-%d %H:%M} UTC"))
        if definition.label:
            console.print(f"[yellow]Note:[/yellow] {escape(definition.label)}.")


@app.command(epilog=EXIT_CODES)
@user_errors
def analyze(
    key: KeyArgument,
    segment: Annotated[
        list[str] | None,
        typer.Option("--segment", "-s", help="Only debtors of this segment (repeatable)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Machine-readable output (docs/analysis-json.md).")
    ] = False,
    by_segment: Annotated[
        bool,
        typer.Option(
            "--by-segment", help="Pay-on-time per segment x arm (hierarchical model) instead."
        ),
    ] = False,
    tenure: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Subscriber tenure CSV: value CLV with a fitted shifted-beta-geometric model.",
        ),
    ] = None,
    cohort: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Cohort of the tenure table to use (if several)."),
    ] = None,
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: ReadAsOfOption = None,
) -> None:
    """Every KPI per arm with 95% intervals, Bayesian and frequentist, and the SRM check."""
    engine = read_database(db)
    now = report_time(engine, key, as_of)
    if by_segment:
        fit = service.segment_model(engine, experiment_key=key, now=now)
        if as_json:
            emit_json(fit.to_dict())
        else:
            console.print(segment_table(fit))
            console.print(f"{fit.method} fit in {fit.seconds:.2f} s; seed {fit.seed}")
        return
    churn_model = None
    if tenure is not None:
        subscribers = read_tenure(tenure)
        with errors.status(f"fitting the churn model to {len(subscribers):,} subscribers..."):
            churn_model = service.fit_churn_model(subscribers)
        if cohort is not None and cohort not in churn_model.cohorts:
            raise service.ServiceError(
                f"cohort {cohort!r} is not in {tenure}; cohorts: {', '.join(churn_model.cohorts)}"
            )
        if cohort is None and len(churn_model.cohorts) > 1:
            raise service.ServiceError(
                f"{tenure} has cohorts {', '.join(churn_model.cohorts)}: choose one with --cohort"
            )
    result = service.analyze_experiment(
        engine,
        experiment_key=key,
        now=now,
        segments=segment,
        churn_model=churn_model,
        cohort=cohort,
    )
    definition = service.experiment_definition(engine, experiment_key=key)
    if as_json:
        emit_json(result.to_dict() | {"definition": definition.to_dict()})
        return
    scope = f"segment(s) {', '.join(result.segments)}" if result.segments else "all debtors"
    console.print(
        f"[bold]{result.name}[/bold] ({result.experiment} v{result.experiment_version}), {scope}, "
        f"as of {result.as_of:%Y-%m-%d %H:%M} UTC; champion {result.champion} (*); "
        f"{result.strata} allocation strata; Monte Carlo seed {result.seed}; "
        f"CLV model: {result.clv_model}"
    )
    if definition.label:
        console.print(f"[yellow]Note:[/yellow] {escape(definition.label)}.")
    for table in analysis_tables(result):
        console.print(table)
    if result.holdout is not None:
        h = result.holdout
        console.print(
            f"Bandit vs randomized holdout (champion only), pay on time: "
            f"{100 * h.bandit_rate:.1f}% of {h.bandit_units:,} vs {100 * h.holdout_rate:.1f}% of "
            f"{h.holdout_units:,}; uplift {100 * h.uplift:+.2f} pp "
            f"[{100 * h.uplift_low:+.2f}, {100 * h.uplift_high:+.2f}], "
            f"P(bandit better) {h.prob_bandit_better:.3f}"
        )
    srm = result.srm
    verdict = "[red]MISMATCH[/red]" if srm.flagged else "[green]healthy[/green]"
    counts = ", ".join(
        f"{arm} {srm.observed[arm]:,.0f}/{srm.expected[arm]:,.0f}" for arm in srm.observed
    )
    console.print(
        f"Sample ratio check (observed/expected from each period's weights): {verdict}, "
        f"p = {srm.p_value:.4g} (flags below {srm.threshold:g}); {counts}"
        + (f"; {escape(srm.reason)}" if srm.reason else "")
    )
