"""Commands of the daily loop: assign, ingest, update, promote, run-cycle."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape

from engine import service
from engine.batchio import read_debtors, read_events, write_csv
from engine.cli.common import (
    AsOfOption,
    DbOption,
    app,
    console,
    errors,
    open_database,
    resolve_as_of,
    user_errors,
)
from engine.settings import DEFAULT_DATABASE_URL


@app.command()
@user_errors
def assign(
    key: Annotated[str, typer.Argument(help="Experiment key.")],
    input: Annotated[Path, typer.Option("--input", "-i", help="Debtors CSV.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Treatments CSV to write.")],
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: AsOfOption = None,
) -> None:
    """Assign the debtors of a file to arms (sticky) and write their treatments."""
    engine = open_database(db)
    experiment = service.current_experiment(engine, experiment_key=key)
    debtors = read_debtors(input, segment_column=experiment.segment)
    result = service.assign_debtors(
        engine,
        experiment_key=key,
        debtor_ids=debtors.debtor_id,
        segments=debtors.segment,
        amounts_owed=debtors.amount_owed,
        now=resolve_as_of(as_of),
    )
    write_csv(
        pd.DataFrame(
            {
                "debtor_id": result.debtor_id,
                "arm": result.arm,
                "treatment": result.treatment,
                "propensity": result.propensity,
                "allocation_version": result.allocation_version,
                "new": result.new,
                "holdout": result.holdout,
                "reason": result.reason,
            }
        ),
        output,
    )
    console.print(
        f"{len(result.debtor_id):,} debtors: {result.new_count:,} newly assigned, "
        f"{len(result.debtor_id) - result.new_count:,} kept their arm -> {output}"
    )


@app.command()
@user_errors
def ingest(
    path: Annotated[Path, typer.Argument(help="Events CSV.")],
    db: DbOption = DEFAULT_DATABASE_URL,
) -> None:
    """Load outcome events; a re-sent event id changes nothing."""
    events = read_events(path)
    result = service.ingest_events(open_database(db), events, now=service.utc_now())
    console.print(
        f"{result.received:,} events: {result.inserted:,} new, {result.duplicates:,} already known"
    )


@app.command()
@user_errors
def update(
    key: Annotated[str, typer.Argument(help="Experiment key.")],
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: AsOfOption = None,
    seed: Annotated[int | None, typer.Option(help="Monte Carlo seed (default: fresh).")] = None,
) -> None:
    """Recompute the traffic split from matured outcomes (a new allocation version)."""
    info = service.update_allocation(
        open_database(db), experiment_key=key, now=resolve_as_of(as_of), seed=seed
    )
    shares = ", ".join(f"{arm} {100 * w:.1f}%" for arm, w in info.weights.items())
    if info.unchanged is not None:
        console.print(f"{key}: allocation v{info.version} unchanged ({escape(info.unchanged)})")
        return
    console.print(f"{key}: allocation v{info.version} ({info.matured_units:,} matured): {shares}")
    console.print(f"  {escape(info.reason)} (seed {info.seed})")


@app.command()
@user_errors
def promote(
    key: Annotated[str, typer.Argument(help="Experiment key.")],
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: AsOfOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Decide, write nothing.")] = False,
    seed: Annotated[int | None, typer.Option(help="Monte Carlo seed (default: fresh).")] = None,
) -> None:
    """Apply the promotion rule; a promotion switches the champion (audited)."""
    result = service.evaluate_promotion(
        open_database(db), experiment_key=key, now=resolve_as_of(as_of), seed=seed, dry_run=dry_run
    )
    decision = result.decision
    prefix = "DRY RUN, nothing written: " if dry_run else ""
    console.print(
        f"{prefix}{key}: {decision.action} ({decision.reason}): {escape(decision.explanation)}"
    )
    if result.allocation_version is not None:
        console.print(
            f"  new champion {decision.new_champion}: allocation v{result.allocation_version}"
        )


@app.command("run-cycle")
@user_errors
def run_cycle(
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: AsOfOption = None,
) -> None:
    """Update allocations and evaluate promotions for every experiment (the scheduled job).

    A failure in one experiment is reported and the others still run; the exit code is 1 if
    any failed.
    """
    engine = open_database(db)
    now = resolve_as_of(as_of)
    failed = 0
    for summary in service.list_experiments(engine):
        try:
            cycle = service.run_cycle(engine, experiment_key=summary.key, now=now)
        except (service.ServiceError, ValueError) as exc:
            failed += 1
            errors.print(f"[red]{summary.key}: failed:[/red] {escape(str(exc))}")
            continue
        decision = cycle.promotion.decision
        console.print(
            f"{summary.key}: allocation v{cycle.allocation.version}; "
            f"{decision.action} ({decision.reason})"
        )
    if failed:
        raise typer.Exit(1)
