"""``dunning db current|upgrade``: the database schema's revision, and migrating to the newest."""

from __future__ import annotations

import typer
from rich.markup import escape

from engine import service
from engine.cli.common import DbOption, JsonOption, app, console, emit_json, user_errors
from engine.settings import DEFAULT_DATABASE_URL

db_app = typer.Typer(help="The database schema: its revision, and upgrading it (migrations).")
app.add_typer(db_app, name="db")


@db_app.command(
    "current",
    epilog="Exit codes: 0 revision shown (also for a database that needs `db upgrade`); 1 a "
    "database error.",
)
@user_errors
def current(db: DbOption = DEFAULT_DATABASE_URL, as_json: JsonOption = False) -> None:
    """Show the schema revision of the database and the newest this dunning knows."""
    status = service.schema_status(db)
    if as_json:
        emit_json(
            {
                "database": status.database,
                "state": status.state,
                "revision": status.revision,
                "head": status.head,
                "message": status.message,
            }
        )
        return
    console.print(escape(status.message))


@db_app.command(
    "upgrade",
    epilog="Exit codes: 0 at the newest revision (migrated, created or already so); 1 a "
    "database error, or a schema no migration leads from (newer, unknown): nothing changed.",
)
@user_errors
def upgrade(db: DbOption = DEFAULT_DATABASE_URL, as_json: JsonOption = False) -> None:
    """Migrate the database to the newest schema revision, in one transaction (an empty
    database gets every table; one created before migrations is stamped 0001 first)."""
    result = service.upgrade_database(db)
    if as_json:
        emit_json(
            {
                "database": result.database,
                "before": result.before,
                "after": result.after,
                "applied": list(result.applied),
                "stamped": result.stamped,
            }
        )
        return
    stamp = " (created before migrations: now stamped 0001)" if result.stamped else ""
    if not result.applied:
        console.print(
            f"{escape(result.database)} is at revision {result.after}; nothing to do{stamp}"
        )
        return
    console.print(
        f"{escape(result.database)}: {result.before or 'empty'} -> {result.after} (applied "
        f"{', '.join(result.applied)}){stamp}"
    )
