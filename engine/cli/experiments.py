"""Commands of the experiment language: validate, schema, sync, history."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from engine import service
from engine.cli.common import (
    EXIT_CODES,
    EXIT_INVALID,
    AsOfOption,
    DbOption,
    JsonOption,
    KeyArgument,
    OverwriteOption,
    app,
    check_output_paths,
    console,
    emit_json,
    errors,
    login_name,
    open_database,
    read_database,
    resolve_as_of,
    user_errors,
)
from engine.settings import DEFAULT_DATABASE_URL, Settings

if TYPE_CHECKING:
    from engine.batchio import OutputKind
    from engine.loader import LoadedExperiment


def _schema_file() -> OutputKind:
    from engine.batchio import OutputKind
    from engine.batchio.outputs import JSON_SUFFIXES, json_like
    from engine.schema import SCHEMA_DIALECT, SCHEMA_TITLE

    return OutputKind(
        "JSON Schema",
        JSON_SUFFIXES,
        json_like({"$schema": SCHEMA_DIALECT, "title": SCHEMA_TITLE}),
    )


PathsArgument = Annotated[
    list[Path], typer.Argument(metavar="PATH", help="Experiment files or folders.")
]


def _summary(loaded: LoadedExperiment) -> dict[str, object]:
    e = loaded.experiment
    return {
        "path": str(loaded.path),
        "experiment": e.key,
        "arms": len(e.arms),
        "champion": e.champion,
        "policy": e.allocation.policy,
        "status": e.status,
    }


@app.command(epilog="Exit codes: 0 every file is valid; 2 a file has a problem.")
def validate(paths: PathsArgument, as_json: JsonOption = False) -> None:
    """Check experiment files: every problem of every file at once, each as
    file:line:column: field: message."""
    from engine.loader import ConfigError, load_all

    try:
        loaded = load_all(paths, model_dirs=Settings.from_env().model_dirs)
    except ConfigError as exc:
        if as_json:
            emit_json({"valid": False, "files": [], "problems": [asdict(i) for i in exc.issues]})
        else:
            for issue in exc.issues:
                errors.print(str(issue), markup=False, highlight=False)
            errors.print(f"[red]{len(exc.issues)} problem(s); nothing was changed.[/red]")
        raise typer.Exit(EXIT_INVALID) from None
    if as_json:
        emit_json({"valid": True, "files": [_summary(item) for item in loaded], "problems": []})
        return
    for item in loaded:
        s = _summary(item)
        console.print(
            f"[green]ok[/green] {escape(str(item.path))}: {s['experiment']} ({s['arms']} arms, "
            f"champion {s['champion']}, policy {s['policy']}, status {s['status']})"
        )


@app.command(
    epilog="Exit codes: 0 written; 1 the output file cannot be written; 2 an output "
    "path that would destroy data."
)
@user_errors
def schema(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write to this file, not stdout."),
    ] = None,
    overwrite: OverwriteOption = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Accepted for symmetry: the schema is JSON anyway.")
    ] = False,
) -> None:
    """Print the JSON Schema of experiment files (for editor completion and inline errors)."""
    from engine.batchio import Output, write_text
    from engine.schema import schema_text

    del as_json  # the output is JSON either way
    text = schema_text()
    if output is None:
        typer.echo(text, nl=False)
        return
    check_output_paths([Output(output, _schema_file())], overwrite=overwrite)
    write_text(text, output)
    console.print(f"wrote {escape(str(output))}")


def _sync_payload(item: LoadedExperiment, result: service.SyncResult) -> dict[str, object]:
    return {
        "path": str(item.path),
        "experiment": result.key,
        "version": result.version,
        "created": result.created,
        "content_hash": result.content_hash,
        "changes": list(result.changes),
        "forced": list(result.forced),
        "notes": list(result.notes),
        "new_definition": result.new_definition,
        "not_pooled": result.not_pooled,
        "allocation_version": result.allocation_version,
        "status": None
        if result.status is None
        else {"before": result.status[0], "after": result.status[1]},
    }


def _print_sync(item: LoadedExperiment, result: service.SyncResult) -> None:
    state = "new version" if result.created else "unchanged"
    console.print(
        f"{escape(str(item.path))}: {result.key} v{result.version} "
        f"({state}, {result.content_hash[:12]})"
    )
    for change in result.changes:
        console.print(f"  {escape(change)}", highlight=False)
    for problem in result.forced:
        console.print(f"  [yellow]forced:[/yellow] {escape(problem)}", highlight=False)
    for note in result.notes:
        console.print(
            f"  [yellow]note:[/yellow] {escape(note)}; the bandit's split stays in force",
            highlight=False,
        )
    if result.new_definition and result.not_pooled:
        console.print(
            f"  [yellow]new outcome definition from v{result.version}:[/yellow] the "
            f"{result.not_pooled:,} debtor(s) assigned under earlier versions are kept but no "
            "longer pooled; the bandit holds its split until debtors of this version mature",
            highlight=False,
        )
    if result.allocation_version is not None and result.version > 1:
        console.print(
            f"  starting split from the file in force as allocation v{result.allocation_version}"
        )
    if result.status is not None:
        console.print(f"  status {result.status[0]} -> {result.status[1]} (audited)")


@app.command(
    epilog="Exit codes: 0 stored (or unchanged); 1 a change refused (see --force) or a "
    "database error; 2 an invalid file (nothing is written)."
)
@user_errors
def sync(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="PATH",
            help="Experiment files or folders [default: $DUNNING_EXPERIMENTS_DIR or experiments/].",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Accept changes refused on an experiment with debtors: a new outcome "
            "definition (pay window, horizon, what an arm does) then starts afresh without "
            "pooling the debtors so far; identity changes (salt, unit, layer, segment, "
            "champion, a removed arm) are recorded in `dunning history`.",
        ),
    ] = False,
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
) -> None:
    """Store experiment files in the database; a changed file becomes a new version.

    Every file is validated before anything is written. Each change is classified (see
    docs/experiment-language.md, "Versions and safe edits"): live changes are stored, changes
    to what collected outcomes mean or to who is in which arm are refused once debtors are
    assigned unless --force, and starting weights a running bandit ignores are stored with a
    note.
    """
    from engine.loader import load_all

    settings = Settings.from_env()
    loaded = load_all(paths or [Path(settings.experiments_dir)], model_dirs=settings.model_dirs)
    engine = open_database(db)
    now = resolve_as_of(as_of)
    payloads = []
    for item in loaded:
        result = service.sync_experiment(engine, item, now=now, force=force, by=login_name())
        if as_json:
            payloads.append(_sync_payload(item, result))
        else:
            _print_sync(item, result)  # as it goes: a later refused file does not hide it
    if as_json:
        emit_json({"experiments": payloads})


@app.command(epilog=EXIT_CODES)
@user_errors
def history(
    key: KeyArgument,
    as_json: JsonOption = False,
    db: DbOption = DEFAULT_DATABASE_URL,
) -> None:
    """Every stored version of an experiment and what changed between versions."""
    entries = service.experiment_history(read_database(db), experiment_key=key)
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
        emit_json({"experiment": key, "versions": rows})
        return
    from rich.table import Table  # only history draws a table (start-up of validate)

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
