"""The Typer app, its consoles and the pieces every command shares."""

from __future__ import annotations

import functools
import io
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine

from engine import service
from engine.batchio import InputFileError, Output, OutputWriteError, check_outputs
from engine.loader import ConfigError

# A path may hold bytes that are not UTF-8 (Python keeps them as escapes): printing it must
# not end in a UnicodeEncodeError where the terminal's encoding is strict.
for _stream in (sys.stdout, sys.stderr):
    if isinstance(_stream, io.TextIOWrapper) and _stream.errors == "strict":
        _stream.reconfigure(errors="backslashreplace")

app = typer.Typer(
    help="Champion/challenger experimentation engine for dunning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Tables need up to 150 columns; a pipe or CI log has no terminal width to ask for.
# soft_wrap: a message line (file:line: field: problem) must stay one line, whatever the width.
console = Console(width=None if Console().is_terminal else 160, soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")

#: Where the demo writes unless told otherwise; recreated on each run.
DEMO_DATABASE_URL = "sqlite:///var/demo.sqlite3"

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="DATABASE_URL",
        help="Database URL (SQLite file or postgresql+psycopg://...).",
        show_default=True,
    ),
]
AsOfOption = Annotated[
    datetime | None,
    typer.Option(
        "--as-of",
        help="Evaluate as of this UTC time (default: now).",
        formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"],
    ),
]

OverwriteOption = Annotated[
    bool,
    typer.Option(
        "--overwrite",
        help="Replace an existing output file that dunning did not write (the input and the "
        "database are never replaced).",
    ),
]


def check_output_paths(
    outputs: Sequence[Output],
    *,
    inputs: Sequence[Path] = (),
    db: str | None = None,
    overwrite: bool = False,
) -> None:
    """Refuse output paths that could destroy data before any work is done (see
    :func:`engine.batchio.check_outputs`); the database file of ``db`` is never an output."""
    protected = service.database_files(db) if db is not None else ()
    check_outputs(outputs, inputs=inputs, protected=protected, overwrite=overwrite)


def resolve_as_of(value: datetime | None) -> datetime:
    if value is None:
        return service.utc_now()
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def report_time(engine: Engine, key: str, as_of: datetime | None) -> datetime:
    """``--as-of`` if given, else the time of the experiment's latest data (see
    :func:`engine.service.default_as_of`)."""
    if as_of is not None:
        return resolve_as_of(as_of)
    return service.default_as_of(engine, experiment_key=key)


def user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn the engine's user-facing errors into a message and an exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (ConfigError, InputFileError) as exc:
            for issue in exc.issues:
                errors.print(str(issue), markup=False, highlight=False)
            errors.print(f"[red]{len(exc.issues)} problem(s); nothing was changed.[/red]")
            raise typer.Exit(2) from None
        except (service.UnknownExperimentError, service.UnknownSegmentError) as exc:
            errors.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None
        except (service.DatabaseError, service.StorageError) as exc:
            errors.print(f"[red]database error:[/red] {escape(service.describe(exc))}")
            raise typer.Exit(1) from None
        except service.ServiceError as exc:
            errors.print(f"[red]refused:[/red] {escape(service.redact(str(exc)))}")
            raise typer.Exit(1) from None
        except OutputWriteError as exc:
            errors.print(f"[red]error:[/red] {escape(str(exc))}; nothing else was changed")
            raise typer.Exit(1) from None

    return wrapper


def open_database(url: str, *, read_only: bool = False) -> Engine:
    """The database of a verb. A verb that only reads gets a read-only engine and never
    creates anything (a mistyped path is an error, not a new empty database)."""
    return service.connect_db(url) if read_only else service.open_db(url)
