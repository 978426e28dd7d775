"""Opening the database, with one error path for every way a database URL can fail.

A bad URL, an unknown scheme, a driver that is not installed, an unreachable server, wrong
credentials, an SQLite path that cannot exist or a file that is not a database all end as one
:class:`DatabaseError` whose message is a single line meant for the operator; no message ever
holds a password (:func:`redact`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlmodel import SQLModel

from engine.service.common import ServiceError
from engine.store.db import create_schema, drop_schema, make_db
from engine.store.migrate import VERSION_TABLE, SchemaState, read_state
from engine.store.readonly import make_readonly_db
from engine.store.tables import ExperimentVersion

#: What a database URL looks like, for messages.
URL_FORMS = "sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DATABASE"
#: Schemes people write for a backend the engine knows, and the one to use.
SCHEME_FIXES = {
    "postgres": "postgresql+psycopg://",
    "postgresql": "postgresql+psycopg://",
    "postgresql+psycopg2": "postgresql+psycopg://",
    "pgsql": "postgresql+psycopg://",
    "psql": "postgresql+psycopg://",
    "sqlite3": "sqlite:///",
    "file": "sqlite:///",
}
#: SQLite journal files beside the database file.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
# ``scheme://user:secret@`` and ``password=secret`` (libpq keyword form) in any text.
_URL_SECRET = re.compile(r"(?P<keep>[A-Za-z][\w+.-]*://[^\s/:@]*:)[^\s@]*@")
_KEYWORD_SECRET = re.compile(r"(?P<keep>password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


class DatabaseError(ServiceError):
    """The database cannot be used; the message is one line without secrets."""


class SchemaError(DatabaseError):
    """The database's schema is not the one this engine works on (older, newer, unknown)."""


class MissingDatabaseError(DatabaseError):
    """A verb that only reads was pointed at a database that does not exist (yet), or holds
    no engine tables: a wrong ``--db`` or ``DATABASE_URL`` is the usual cause."""


def redact(text: str, url: str | None = None) -> str:
    """``text`` with every password hidden: the password of ``url`` wherever it appears (raw
    or decoded), and any ``scheme://user:password@`` or ``password=...`` pattern."""
    if url:
        secrets = {m.group(0)[len(m.group("keep")) : -1] for m in _URL_SECRET.finditer(url)}
        try:
            password = make_url(url).password
        except (ArgumentError, ValueError):
            password = None
        secrets |= {str(password)} if password else set()
        for secret in sorted(secrets, key=len, reverse=True):
            if secret:
                text = text.replace(secret, "***")
    text = _URL_SECRET.sub(lambda m: m.group("keep") + "***@", text)
    return _KEYWORD_SECRET.sub(lambda m: m.group("keep") + "***", text)


def display_url(url: str) -> str:
    """``url`` as it may be shown: the password masked. A string that does not parse is not
    shown at all: nothing tells its password apart."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "(a database URL that does not parse)"


def one_line(text: str) -> str:
    """Driver messages span lines (libpq adds hints on their own line): keep one line."""
    return "; ".join(part.strip() for part in str(text).splitlines() if part.strip())


def parse_url(url: str) -> URL:
    """The parsed URL, or :class:`DatabaseError` saying what a database URL looks like."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        # Not echoed: a string that does not parse cannot be told apart from its password.
        raise DatabaseError(f"the database URL does not parse; expected {URL_FORMS}") from None
    except ValueError as exc:
        detail = "the port is not a number" if "int()" in str(exc) else one_line(str(exc))
        raise DatabaseError(f"cannot read the database URL {redact(url, url)}: {detail}") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql") or parsed.drivername in SCHEME_FIXES:
        fix = SCHEME_FIXES.get(parsed.drivername) or SCHEME_FIXES.get(backend)
        hint = f"; use {fix}..." if fix else f"; expected {URL_FORMS}"
        raise DatabaseError(f"unsupported database scheme {parsed.drivername + '://'!r}{hint}")
    return parsed


def sqlite_path(url: str) -> Path | None:
    """The file an SQLite URL names (None for PostgreSQL and in-memory databases)."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    name = str(parsed.database)
    if name.startswith("file:"):  # an SQLite URI filename (``?uri=true``)
        name = name[len("file:") :].split("?", 1)[0]
    return Path(name)


def database_files(url: str) -> tuple[Path, ...]:
    """The SQLite database file and its journal files (empty for PostgreSQL): paths that no
    output may overwrite."""
    path = sqlite_path(url)
    if path is None:
        return ()
    return (path, *(path.with_name(path.name + suffix) for suffix in SQLITE_COMPANIONS))


def missing_database_file(url: str) -> Path | None:
    """The path of the SQLite file ``url`` names if it does not exist, else None (also for a
    URL that does not parse: opening it reports that)."""
    try:
        path = sqlite_path(url)
    except DatabaseError:
        return None
    return path if path is not None and not path.exists() else None


def _named_file(url: str | None) -> Path | None:
    """The SQLite file of ``url`` for a message; None when there is none or it does not
    parse."""
    try:
        return sqlite_path(url) if url else None
    except DatabaseError:
        return None


def check_sqlite_path(path: Path, *, create: bool) -> None:
    try:
        _check_sqlite_file(path, create=create)
    except OSError as exc:  # a name too long, a loop of symlinks, no permission
        raise DatabaseError(f"cannot use {path}: {exc.strerror or exc}") from None


def _check_sqlite_file(path: Path, *, create: bool) -> None:
    if path.is_dir():
        raise DatabaseError(f"{path} is a folder, not an SQLite database file")
    if path.exists():
        return
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise DatabaseError(f"{path} cannot be a database file: {folder} is a file, not a folder")
    if not create:
        hint = (
            "a verb that writes (`dunning sync`, `dunning demo`) creates it, or choose another "
            "with --db or DATABASE_URL"
            if path.parent.is_dir()
            else "check the path"
        )
        raise MissingDatabaseError(f"the database file {path} does not exist; {hint}")


def describe(exc: BaseException, url: str | None = None) -> str:
    """One line for the operator about a failed database operation, without secrets."""
    if isinstance(exc, DatabaseError):
        return redact(str(exc), url)
    if isinstance(exc, NoSuchModuleError):
        text = "unsupported database scheme; expected " + URL_FORMS
    elif isinstance(exc, ImportError):
        module = exc.name or "its module"
        text = f"the database driver is not installed (no module {module!r})"
        if module.startswith("psycopg2"):
            text += "; use postgresql+psycopg://"
    elif isinstance(exc, DBAPIError) and exc.orig is not None:
        text = one_line(str(exc.orig)) or type(exc.orig).__name__
        if "no such table" in text or ("relation" in text and "does not exist" in text):
            text += " (not a dunning database, or an older one)"
        elif "file is not a database" in text:
            path = _named_file(url)
            text = f"{path or 'the file'} is not an SQLite database"
    elif isinstance(exc, OSError):
        text = f"cannot use {exc.filename or 'the database file'}: {exc.strerror or exc}"
    elif isinstance(exc, SQLAlchemyError):
        text = one_line(str(exc).split("\n(Background", 1)[0])
    else:
        text = one_line(str(exc)) or type(exc).__name__
    return redact(text, url)


def schema_problem(url: str, state: SchemaState) -> str:
    """One line on why the engine cannot use a database in ``state``, naming the database
    (password masked) and what to run."""
    shown = display_url(url)
    run = f"run `dunning db upgrade --db {shown}`"
    if state.kind == "behind":
        return (
            f"the database {shown} has schema revision {state.revision}; this dunning needs "
            f"{state.head}: {run}"
        )
    if state.kind == "landed":
        return (
            f"the database {shown} was created before schema migrations (revision "
            f"{state.revision}); this dunning needs {state.head}: {run}"
        )
    if state.kind == "ahead":
        return (
            f"the database {shown} has schema revision {state.revision}, newer than this "
            f"dunning knows ({state.head}): upgrade dunning (pip install -U dunning-engine)"
        )
    return (
        f"the database {shown} holds dunning tables of a layout no migration describes "
        f"({state.detail}); `dunning db upgrade` cannot migrate it: choose another database "
        "with --db or DATABASE_URL"
    )


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Turn any failure to open or use the database into :class:`DatabaseError`."""
    try:
        yield
    except DatabaseError:
        raise
    except (SQLAlchemyError, ImportError, OSError) as exc:
        raise DatabaseError(describe(exc, url)) from None


def open_db(url: str) -> Engine:
    """Engine for ``url`` with the schema in place (an SQLite file and its folder are
    created; the migrations create the tables of an empty database).

    Raises
    ------
    DatabaseError
        If the URL is unusable or the database cannot be reached; :class:`SchemaError` if
        its schema is older or newer than this engine's, or unknown (``dunning db upgrade``
        migrates an older one).
    """
    path = sqlite_path(url)
    if path is not None:
        check_sqlite_path(path, create=True)
    with database_errors(url):
        engine = make_db(url)
        state = create_schema(engine)
    if not state.usable:
        engine.dispose()
        raise SchemaError(schema_problem(url, state))
    return engine


def _engine_tables_only(path: Path) -> bool:
    """Whether the SQLite file at ``path`` holds nothing but the engine's tables (an empty
    file counts): only then may a reset delete it."""
    if path.stat().st_size == 0:
        return True
    reader = make_readonly_db(URL.create("sqlite", database=str(path)).render_as_string())
    try:
        tables = set(inspect(reader).get_table_names())
    except SQLAlchemyError:
        return False
    finally:
        reader.dispose()
    return tables <= {*SQLModel.metadata.tables, VERSION_TABLE}


def reset_database(url: str) -> None:
    """Remove everything the engine stored at ``url``: an SQLite file is deleted (with its
    journal), PostgreSQL loses the engine's tables.

    Raises
    ------
    DatabaseError
        If the SQLite file is not an SQLite database or holds tables that are not the
        engine's: a mistyped ``--db`` must not delete someone else's data.
    """
    path = sqlite_path(url)
    if path is None:
        if make_url(url).database not in (None, "", ":memory:"):
            with database_errors(url):
                drop_schema(make_db(url))
        return
    check_sqlite_path(path, create=True)  # a folder, under a file, a name too long, ...
    if path.exists() and not _engine_tables_only(path):
        raise DatabaseError(
            f"{path} is not a dunning database (or holds other tables too); not deleting it"
        )
    for file in database_files(url):
        file.unlink(missing_ok=True)


def connect_db(url: str) -> Engine:
    """A read-only engine for an existing database (the dashboard, verbs that only read):
    creates neither the file nor the schema, and never writes (SQLite is opened with
    ``mode=ro``, so not even the journal mode changes; PostgreSQL sessions are read-only).

    Raises
    ------
    DatabaseError
        If the URL is unusable, the SQLite file does not exist or the database has no
        engine tables.
    """
    path = sqlite_path(url)
    if path is not None:
        if not path.exists() and not path.is_symlink():
            raise MissingDatabaseError(
                f"the database {display_url(url)} does not exist (no file {path}); a verb "
                "that writes (`dunning sync`, `dunning demo`) creates it, or choose another "
                "with --db or DATABASE_URL"
            )
        check_sqlite_path(path, create=False)
    with database_errors(url):
        engine = make_readonly_db(url)
        # Unreachable, refused, not a database, no tables: say so now, not at the first query.
        if not inspect(engine).has_table(ExperimentVersion.__tablename__):
            engine.dispose()
            raise MissingDatabaseError(
                f"the database {display_url(url)} holds no dunning tables yet; `dunning sync "
                "FILE` stores an experiment in it, or choose another with --db or DATABASE_URL"
            )
        state = read_state(engine)
    if not state.usable:
        engine.dispose()
        raise SchemaError(schema_problem(url, state))
    return engine
