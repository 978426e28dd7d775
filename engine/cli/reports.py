"""Read-only commands: list, report, outcomes, analyze."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from engine import service
from engine.cli.common import (
    EXIT_CODES,
    DbOption,
    JsonOption,
    KeyArgument,
    OverwriteOption,
    ReadAsOfOption,
    app,
    check_output_paths,
    console,
    emit_json,
    errors,
    read_database,
    report_time,
    user_errors,
)
from engine.progress import progress
from engine.settings import DEFAULT_DATABASE_URL

if TYPE_CHECKING:
    from engine.batchio import OutputKind

#: ``dunning outcomes -o`` files: recognised by their columns (an earlier one may be replaced).


def _outcomes_file() -> OutputKind:
    from engine.batchio import OutputKind
    from engine.batchio.outputs import columns_like
    from engine.batchio.tables import CSV_SUFFIXES
    from engine.cli.outcomes_view import RECORD_COLUMNS

    return OutputKind("outcomes file", CSV_SUFFIXES, columns_like(RECORD_COLUMNS))


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
    as_json: JsonOption = False,
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: ReadAsOfOption = None,
) -> None:
    """Print the KPI table per arm and the promotion log."""
    from engine.cli.render import kpi_table, promotion_table

    engine = read_database(db)
    now = report_time(engine, key, as_of)
    result = service.experiment_report(engine, experiment_key=key, now=now, only_promotions=True)
    if as_json:
        emit_json(report_json(result) | {"definition": result.definition.to_dict()})
        return
    console.print(kpi_table(result))
    if result.definition.label:
        console.print(f"[yellow]Note:[/yellow] {escape(result.definition.label)}.")
    labels = {k.arm: k.label for k in result.kpis}
    if result.promotions:
        console.print(promotion_table(result.promotions, labels=labels))
    else:
        console.print(
            f"Promotion log: empty, {escape(labels.get(result.champion, result.champion))} has "
            "been champion throughout (no promotion, stopped arm, rollback or status change yet)."
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
    overwrite: OverwriteOption = False,
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: ReadAsOfOption = None,
    as_json: JsonOption = False,
) -> None:
    """Per-debtor outcomes: arm, propensity, versions, payment, churn, cost and CLV."""
    import pandas as pd

    from engine.batchio import Output, write_csv
    from engine.cli.outcomes_view import RECORD_COLUMNS, outcome_record, outcomes_table

    if output is not None:
        check_output_paths([Output(output, _outcomes_file())], db=db, overwrite=overwrite)
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
        write_csv(pd.DataFrame(records, columns=list(RECORD_COLUMNS)), output)
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
    from engine.batchio import read_tenure
    from engine.cli.render import analysis_tables, segment_table

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
    subscribers = None
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
    with progress("analyze") as shown:
        result = service.analyze_experiment(
            engine,
            experiment_key=key,
            now=now,
            segments=segment,
            churn_model=churn_model,
            tenure=subscribers,
            cohort=cohort,
            step=lambda done, rows, status: shown.update(done=done, rows=rows, status=status),
        )
    definition = service.experiment_definition(engine, experiment_key=key)
    if as_json:
        emit_json(result.to_dict() | {"definition": definition.to_dict()})
        return
    if not any(arm.assigned for arm in result.arms):
        console.print(
            f"No randomised debtor of {key} yet, as of {result.as_of:%Y-%m-%d %H:%M} UTC: "
            "nothing to analyse (`dunning assign` puts debtors in the experiment)."
        )
        return
    scope = f"segment(s) {', '.join(result.segments)}" if result.segments else "all debtors"
    strata = "one stratum" if result.strata == 1 else f"{result.strata} segments as strata"
    console.print(
        f"[bold]{escape(result.name)}[/bold] ({result.experiment} v{result.experiment_version}), "
        f"{escape(scope)}, as of {result.as_of:%Y-%m-%d %H:%M} UTC; champion "
        f"{result.champion} (*); {strata}, {result.cells} allocation cells; Monte Carlo seed "
        f"{result.seed}"
    )
    console.print(
        "Every uplift is the challenger's difference to the champion over the randomised "
        "debtors (strata weighted by their share of them); its 95% interval is the confidence "
        "and the credible interval, the one the promotion rule uses.",
        highlight=False,
    )
    if definition.label:
        console.print(f"[yellow]Note:[/yellow] {escape(definition.label)}.")
    for table in analysis_tables(result):
        console.print(table)
    console.print(f"CLV: {escape(result.clv.statement)} Model: {escape(result.clv.model)}.")
    constrained = sum(arm.constrained for arm in result.arms)
    if constrained:
        console.print(
            f"{constrained:,} debtors were assigned by a contact rule (fallback arm) and are in "
            "no estimate nor in the sample-ratio check."
        )
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
        f"Sample ratio check (observed/expected from each cell's weights): {verdict}, "
        f"p = {srm.p_value:.4g} (flags below {srm.threshold:g}); {counts}"
        + (f"; {escape(srm.reason)}" if srm.reason else "")
    )


def _kpi_json(row: Any, json_safe: Any) -> dict[str, Any]:
    """One KPI row; ``cases`` only for an experiment with repeat cases (``unit.case``), so a
    file of one case per debtor reports exactly the keys it did."""
    data = json_safe(asdict(row))
    if data.get("cases") is None:
        data.pop("cases", None)
    return dict(data)


def report_json(result: service.ExperimentReport) -> dict[str, Any]:
    """``dunning report --json``: the KPI rows, the CLV assumption and the promotion log."""
    from engine.analysis import SCHEMA_VERSION, json_safe

    return {
        "schema_version": SCHEMA_VERSION,
        "experiment": result.key,
        "name": result.name,
        "experiment_version": result.experiment_version,
        "as_of": result.as_of.isoformat(),
        "champion": result.champion,
        "currency": result.currency,
        "clv": json_safe(asdict(result.analysis.clv)),
        "kpis": [_kpi_json(row, json_safe) for row in result.kpis],
        "promotions": [
            json_safe({**asdict(p), "decided_at": p.decided_at.isoformat()})
            for p in result.promotions
        ],
    }
