"""The bandit update on its own (experiment files: :mod:`engine.cli.experiments`; batch files:
:mod:`engine.cli.batch`; promotion and the scheduled cycle: :mod:`engine.cli.promotion`)."""

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
