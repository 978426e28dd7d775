"""The bandit update on its own (experiment files: :mod:`engine.cli.experiments`; batch files:
:mod:`engine.cli.batch`; promotion and the scheduled cycle: :mod:`engine.cli.promotion`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from engine import service
from engine.cli.common import (
    EXIT_CODES,
    AsOfOption,
    DbOption,
    JsonOption,
    KeyArgument,
    app,
    console,
    emit_json,
    open_database,
    resolve_as_of,
    user_errors,
)
from engine.settings import DEFAULT_DATABASE_URL


@app.command(epilog=EXIT_CODES + " A paused, stopped or draft experiment is refused (1).")
@user_errors
def update(
    key: KeyArgument,
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: AsOfOption = None,
    seed: Annotated[
        int | None, typer.Option(metavar="N", help="Monte Carlo seed [default: fresh].")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Recompute the traffic split from matured outcomes (a new allocation version)."""
    info = service.update_allocation(
        open_database(db), experiment_key=key, now=resolve_as_of(as_of), seed=seed
    )
    if as_json:
        emit_json(
            {
                "experiment": key,
                "allocation_version": info.version,
                "changed": info.unchanged is None,
                "unchanged": info.unchanged,
                "weights": info.weights,
                "p_best": info.p_best,
                "matured_units": info.matured_units,
                "seed": info.seed,
                "reason": info.reason,
                "created_at": info.created_at,
            }
        )
        return
    shares = ", ".join(f"{arm} {100 * w:.1f}%" for arm, w in info.weights.items())
    if info.unchanged is not None:
        console.print(f"{key}: allocation v{info.version} unchanged ({escape(info.unchanged)})")
        return
    console.print(f"{key}: allocation v{info.version} ({info.matured_units:,} matured): {shares}")
    console.print(f"  {escape(info.reason)} (seed {info.seed})")
