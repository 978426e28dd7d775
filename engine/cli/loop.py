"""Commands of the daily loop: validate, sync, assign, ingest, update (promotion and the
scheduled cycle: :mod:`engine.cli.promotion`)."""

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
    open_database,
    resolve_as_of,
    user_errors,
)
from engine.loader import load_all
from engine.settings import DEFAULT_DATABASE_URL, Settings


@app.command()
@user_errors
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Experiment files or folders.")],
) -> None:
    """Check experiment files; print every problem as file:line:column: field: message."""
    for loaded in load_all(paths):
        experiment = loaded.experiment
        console.print(
            f"[green]ok[/green] {loaded.path}: {experiment.key} "
            f"({len(experiment.arms)} arms, champion {experiment.champion}, "
            f"policy {experiment.allocation.policy})"
        )


@app.command()
@user_errors
def sync(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Experiment files or folders [$DUNNING_EXPERIMENTS_DIR or experiments/]."
        ),
    ] = None,
    db: DbOption = DEFAULT_DATABASE_URL,
) -> None:
    """Store experiment files in the database; a changed file becomes a new version."""
    loaded = load_all(paths or [Path(Settings.from_env().experiments_dir)])
    engine = open_database(db)
    for item in loaded:
        result = service.sync_experiment(engine, item, now=service.utc_now())
        state = "new version" if result.created else "unchanged"
        console.print(
            f"{item.path}: {result.key} v{result.version} ({state}, {result.content_hash[:12]})"
        )


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
    console.print(f"{key}: allocation v{info.version} ({info.matured_units:,} matured): {shares}")
    console.print(f"  {escape(info.reason)} (seed {info.seed})")
