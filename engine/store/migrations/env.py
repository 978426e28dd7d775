"""Alembic environment: runs the revisions in ``versions/`` on one connection.

The engine passes its own connection (``config.attributes["connection"]``, see
:mod:`engine.store.migrate`), already inside the transaction that holds the schema lock.
Run by hand (``alembic revision --autogenerate``, see the README's "Migrations"), it
connects to ``DATABASE_URL``.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, create_engine
from sqlmodel import SQLModel

from engine.settings import DEFAULT_DATABASE_URL
from engine.store import tables  # noqa: F401  (registers the tables on SQLModel.metadata)


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        # SQLite alters a table by copying it: batch mode does that for op.alter_column etc.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


given = context.config.attributes.get("connection")
if given is not None:
    _configure(given)
else:  # the alembic command line, for developers
    engine = create_engine(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    with engine.begin() as connection:
        _configure(connection)
    engine.dispose()
