"""The Typer app, its consoles and the pieces every command shares.

One convention for every verb (documented in ``docs/cli.md``): a human table or text by
default, a stable JSON document (or JSON lines, for the jobs) with ``--json``; ``--db URL`` or
``DATABASE_URL``; ``--as-of TIME`` in ISO 8601 (``2026-05-01``, ``2026-05-01T06:00:00Z``,
``...+02:00``); exit codes 0 success, 1 refused or database error, 2 invalid input (nothing
written), 3 some rows of a batch file set aside.
"""

from __future__ import annotations

import functools
import getpass
import io
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from engine import service
from engine.cli.verbs import VerbApp
from engine.settings import DEFAULT_DATABASE_URL

# What a verb needs is imported when it runs: `dunning --help` and the verbs that only write
# load neither the database libraries nor the statistics (benchmarks/bench_startup.py).
if TYPE_CHECKING:
    from sqlalchemy import Engine

    from engine.batchio import Output
    from engine.batchio.outputs import OutputWriteError
    from engine.batchio.tables import InputFileError
    from engine.loader import ConfigError

#: Exit codes shared by every verb.
EXIT_OK, EXIT_REFUSED, EXIT_INVALID = 0, 1, 2
EXIT_CODES = "Exit codes: 0 success; 1 refused, or a database error; 2 invalid input."


def _version(value: bool) -> None:
    if value:
        # importlib.metadata (and the email package it loads) only for --version.
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("dunning-engine")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            number = "unknown"
        typer.echo(f"dunning {number}")
        raise typer.Exit(0)


# A path may hold bytes that are not UTF-8 (Python keeps them as escapes): printing it must
# not end in a UnicodeEncodeError where the terminal's encoding is strict.
for _stream in (sys.stdout, sys.stderr):
    if isinstance(_stream, io.TextIOWrapper) and _stream.errors == "strict":
        _stream.reconfigure(errors="backslashreplace")

app = VerbApp(
    help="Champion/challenger experimentation engine for dunning.",
    epilog="Every verb: --help for its options, --json for machine-readable output "
    "(docs/cli.md). " + EXIT_CODES,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: paragraphs reflow to the terminal's width, flags carry no type, and
    # brackets in a help text are text, not markup.
    rich_markup_mode=None,
    # No cap: click asks the terminal for its width when it prints the help.
    context_settings={"max_content_width": 10_000},
)


@app.callback()
def _main(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Champion/challenger experimentation engine for dunning."""


# Tables need up to 150 columns; a pipe or CI log has no terminal width to ask for.
# soft_wrap: a message line (file:line: field: problem) must stay one line, whatever the width.
console = Console(width=None if Console().is_terminal else 160, soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")

#: Where the demo writes unless told otherwise; recreated on each run.
DEMO_DATABASE_URL = "sqlite:///var/demo.sqlite3"


def parse_time(value: str | datetime) -> datetime:
    """An ISO 8601 date or time as timezone-aware UTC; a time without an offset is UTC.

    Raises
    ------
    typer.BadParameter
        With an example of what to write.
    """
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise typer.BadParameter(
                f"{value!r} is not an ISO 8601 date or time; write e.g. 2026-05-01, "
                "2026-05-01T06:00:00Z or 2026-05-01T08:00:00+02:00"
            ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


KeyArgument = Annotated[str, typer.Argument(metavar="KEY", help="Experiment key.")]
DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        metavar="URL",
        envvar="DATABASE_URL",
        help="Database URL (SQLite file or postgresql+psycopg://...).",
        show_default=True,
    ),
]
AsOfOption = Annotated[
    datetime | None,
    typer.Option(
        "--as-of",
        metavar="TIME",
        parser=parse_time,
        help="Act as of this time, ISO 8601 (2026-05-01, 2026-05-01T06:00:00Z, ...+02:00; "
        "no offset: UTC) [default: now]. A write may not precede what the experiment "
        "already holds.",
    ),
]
ReadAsOfOption = Annotated[
    datetime | None,
    typer.Option(
        "--as-of",
        metavar="TIME",
        parser=parse_time,
        help="Evaluate as of this time, ISO 8601 (2026-05-01, 2026-05-01T06:00:00Z, "
        "...+02:00; no offset: UTC) [default: the experiment's latest data].",
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Machine-readable output (see docs/cli.md).")
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
    from engine.batchio import check_outputs

    protected = service.database_files(db) if db is not None else ()
    check_outputs(outputs, inputs=inputs, protected=protected, overwrite=overwrite)


def resolve_as_of(value: datetime | None) -> datetime:
    return service.utc_now() if value is None else parse_time(value)


def report_time(engine: Engine, key: str, as_of: datetime | None) -> datetime:
    """``--as-of`` if given, else the time of the experiment's latest data (see
    :func:`engine.service.default_as_of`)."""
    if as_of is not None:
        return parse_time(as_of)
    return service.default_as_of(engine, experiment_key=key)


def emit_json(payload: Any) -> None:
    """One JSON document on stdout (NaN is no JSON: callers pass None for missing values)."""
    typer.echo(json.dumps(payload, indent=2, allow_nan=False, default=_plain))


def emit_line(payload: Any) -> None:
    """One JSON line (sorted keys, ISO 8601 times) for log shippers and schedulers."""
    typer.echo(json.dumps(payload, sort_keys=True, allow_nan=False, default=_plain))


def _plain(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _demo_hint(url: str) -> str:
    """Where to look when the default database lacks an experiment the demo wrote."""
    demo = Path(DEMO_DATABASE_URL.removeprefix("sqlite:///"))
    if url == DEFAULT_DATABASE_URL and demo.exists():
        return (
            f"\n  hint: `make demo` writes {DEMO_DATABASE_URL}: pass --db {DEMO_DATABASE_URL} "
            f"or set DATABASE_URL={DEMO_DATABASE_URL}"
        )
    return ""


# The exception classes of the input and output modules, imported when an exception reaches
# `user_errors` (an except clause is evaluated only then): those modules load pandas.
def _input_errors() -> tuple[type[ConfigError], type[InputFileError]]:
    from engine.batchio.tables import InputFileError
    from engine.loader import ConfigError

    return (ConfigError, InputFileError)


def _output_errors() -> type[OutputWriteError]:
    from engine.batchio.outputs import OutputWriteError

    return OutputWriteError


def user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn the engine's user-facing errors into a message and an exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        url = str(kwargs.get("db") or "")
        try:
            return command(*args, **kwargs)
        except _input_errors() as exc:
            for issue in exc.issues:
                errors.print(str(issue), markup=False, highlight=False)
            errors.print(f"[red]{len(exc.issues)} problem(s); nothing was changed.[/red]")
            raise typer.Exit(EXIT_INVALID) from None
        except (service.UnknownExperimentError, service.UnknownSegmentError) as exc:
            errors.print(f"[red]error:[/red] {escape(str(exc))}{escape(_demo_hint(url))}")
            raise typer.Exit(EXIT_INVALID) from None
        except service.MissingDatabaseError as exc:
            message = service.describe(exc)
            errors.print(f"[red]database error:[/red] {escape(message)}{escape(_demo_hint(url))}")
            raise typer.Exit(EXIT_REFUSED) from None
        except (service.DatabaseError, service.StorageError) as exc:
            errors.print(f"[red]database error:[/red] {escape(service.describe(exc))}")
            raise typer.Exit(EXIT_REFUSED) from None
        except service.ServiceError as exc:
            errors.print(f"[red]refused:[/red] {escape(service.redact(str(exc)))}")
            raise typer.Exit(EXIT_REFUSED) from None
        except _output_errors() as exc:
            errors.print(f"[red]error:[/red] {escape(str(exc))}; nothing else was changed")
            raise typer.Exit(EXIT_REFUSED) from None

    return wrapper


def login_name() -> str | None:
    """Who runs the command, for the audit trail (None in a container without a login)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def open_database(url: str) -> Engine:
    """The database of a verb that writes: created, with its schema, if missing."""
    return service.open_db(url)


def read_database(url: str) -> Engine:
    """The database of a verb that only reads: a read-only engine that never creates a file,
    a folder or a table (a mistyped path is an error, not a new empty database)."""
    return service.connect_db(url)
