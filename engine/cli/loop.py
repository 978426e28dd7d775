"""Commands of the daily loop: update, promote, run-cycle (experiment files:
:mod:`engine.cli.experiments`; batch files: :mod:`engine.cli.batch`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from engine import service
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
