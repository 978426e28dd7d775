"""Commands of the experiment language: validate, schema, sync, history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from engine import service
from engine.batchio import Output, OutputKind, write_text
from engine.batchio.outputs import JSON_SUFFIXES, json_like
from engine.cli.common import (
    DbOption,
    OverwriteOption,
    app,
    check_output_paths,
    console,
    open_database,
    user_errors,
)
from engine.loader import load_all
from engine.schema import SCHEMA_DIALECT, SCHEMA_TITLE, schema_text
from engine.settings import DEFAULT_DATABASE_URL, Settings

SCHEMA_FILE = OutputKind(
    "JSON Schema", JSON_SUFFIXES, json_like({"$schema": SCHEMA_DIALECT, "title": SCHEMA_TITLE})
)


@app.command()
@user_errors
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Experiment files or folders.")],
) -> None:
    """Check experiment files; print every problem of every file as
    file:line:column: field: message (exit code 2 when any file is invalid)."""
    for loaded in load_all(paths, model_dirs=Settings.from_env().model_dirs):
        experiment = loaded.experiment
        console.print(
            f"[green]ok[/green] {escape(str(loaded.path))}: {experiment.key} "
            f"({len(experiment.arms)} arms, champion {experiment.champion}, "
            f"policy {experiment.allocation.policy}, status {experiment.status})"
        )


@app.command()
@user_errors
def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Print the JSON Schema of experiment files (for editor completion and inline errors)."""
    text = schema_text()
    if output is None:
        typer.echo(text, nl=False)
    else:
        check_output_paths([Output(output, SCHEMA_FILE)], overwrite=overwrite)
        write_text(text, output)
        console.print(f"wrote {escape(str(output))}")


@app.command()
@user_errors
def sync(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Experiment files or folders [$DUNNING_EXPERIMENTS_DIR or experiments/]."
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Accept changes that would corrupt a running experiment (removed arms with "
            "debtors, a new salt or unit, ...); they are recorded in `dunning history`.",
        ),
    ] = False,
    db: DbOption = DEFAULT_DATABASE_URL,
) -> None:
    """Store experiment files in the database; a changed file becomes a new version.

    Every file is validated before anything is written. Unsafe edits to an experiment with
    assigned debtors are refused (exit code 1) unless --force.
    """
    settings = Settings.from_env()
    loaded = load_all(paths or [Path(settings.experiments_dir)], model_dirs=settings.model_dirs)
    engine = open_database(db)
    for item in loaded:
        result = service.sync_experiment(engine, item, now=service.utc_now(), force=force)
        state = "new version" if result.created else "unchanged"
        console.print(
            f"{escape(str(item.path))}: {result.key} v{result.version} "
            f"({state}, {result.content_hash[:12]})"
        )
        for change in result.changes:
            console.print(f"  {escape(change)}", highlight=False)
        for problem in result.forced:
            console.print(f"  [yellow]forced:[/yellow] {escape(problem)}", highlight=False)


@app.command()
@user_errors
def history(
    key: Annotated[str, typer.Argument(help="Experiment key.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    db: DbOption = DEFAULT_DATABASE_URL,
) -> None:
    """Every stored version of an experiment and what changed between versions."""
    entries = service.experiment_history(open_database(db, read_only=True), experiment_key=key)
    if as_json:
        rows = [
            {
                "version": e.version,
                "content_hash": e.content_hash,
                "created_at": e.created_at.isoformat(),
                "source_path": e.source_path,
                "changes": list(e.changes),
                "forced": list(e.forced),
            }
            for e in entries
        ]
        typer.echo(json.dumps({"experiment": key, "versions": rows}, indent=2))
        return
    table = Table(title=f"History of {key}", show_lines=True)
    for column in ("version", "stored (UTC)", "hash", "file", "changes from previous version"):
        table.add_column(column, overflow="fold")
    for e in entries:
        lines = [escape(c) for c in e.changes] or ["(first version)"]
        lines += [f"[yellow]forced:[/yellow] {escape(p)}" for p in e.forced]
        table.add_row(
            f"v{e.version}",
            e.created_at.strftime("%Y-%m-%d %H:%M"),
            e.content_hash[:12],
            escape(e.source_path or ""),
            "\n".join(lines),
        )
    console.print(table)
