"""The migrations own the schema: they build exactly the tables of the models, a database
created before migrations (the landed layout, frozen in ``tests/fixtures/landed_schema``)
upgrades with every row intact, and a verb that finds a schema it cannot use says so in one
line and exits 1."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, inspect, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel, select

from engine import service
from engine.store import migrate
from engine.store.db import create_schema, drop_schema, make_db
from tests.conftest import CHANNELS
from tests.safety import invoke
from tests.store.landed_rows import LANDED_ROWS

LANDED_DDL = Path(__file__).parents[1] / "fixtures" / "landed_schema"
#: A second revision, as a developer adds one (README "Migrations").
#: Today's newest revision and the one a newer engine would add after it.
TODAY = migrate.head_revision()
NEXT = f"{int(TODAY) + 1:04d}"
REVISION_NEXT = f'''"""Promotion notes.

Revision ID: {NEXT}
Revises: {TODAY}
"""

import sqlalchemy as sa
from alembic import op

revision = "{NEXT}"
down_revision = "{TODAY}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("promotion", sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("promotion") as batch:
        batch.drop_column("note")
'''


@pytest.fixture
def empty_url(db_url: str) -> str:
    """A database without any table (a new SQLite file, an emptied PostgreSQL database)."""
    if make_url(db_url).get_backend_name() == "postgresql":
        engine = make_db(db_url)
        drop_schema(engine)
        engine.dispose()
    return db_url


@pytest.fixture
def newer_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """The engine with one more revision than today's (it adds ``promotion.note``)."""
    folder = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "versions" / f"{NEXT}_promotion_note.py").write_text(REVISION_NEXT)
    monkeypatch.setattr(migrate, "MIGRATIONS", folder)
    monkeypatch.setattr(migrate, "VERSIONS", folder / "versions")
    return NEXT


def landed_database(url: str) -> None:
    """A database as the landed version (before migrations) created and filled it."""
    dialect = make_url(url).get_backend_name()
    ddl = (LANDED_DDL / f"{dialect}.sql").read_text()
    engine = make_db(url)
    with engine.begin() as connection:
        for statement in filter(str.strip, ddl.split(";")):
            connection.exec_driver_sql(statement)
        landed = MetaData()
        landed.reflect(connection)
        for model, rows in LANDED_ROWS.items():
            for row in rows:  # ids from the sequence, as the engine's own writes (1, 2, ...)
                values = {key: value for key, value in row.items() if key != "id"}
                connection.execute(landed.tables[str(model.__tablename__)].insert(), values)
    engine.dispose()


def stored_rows(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every landed table, read through today's models (the columns landed:
    a column a later revision adds does not exist before the upgrade)."""
    engine = make_db(url)
    with Session(engine) as session:
        found = {
            str(model.__tablename__): [
                dict(row._mapping)
                for row in session.exec(
                    select(*(getattr(model, column) for column in rows[0])).order_by(model.id)  # type: ignore[attr-defined]
                )
            ]
            for model, rows in LANDED_ROWS.items()
        }
    engine.dispose()
    return found


def test_the_migrations_build_exactly_the_tables_of_the_models(empty_url: str) -> None:
    engine = make_db(empty_url)
    assert create_schema(engine).kind == "current"
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
    engine.dispose()


def test_the_landed_layout_is_revision_0001(empty_url: str) -> None:
    from alembic import command

    engine = make_db(empty_url)
    with engine.begin() as connection:
        command.upgrade(migrate._config(connection), migrate.LANDED_REVISION)
    columns = {
        table: frozenset(c["name"] for c in inspect(engine).get_columns(table))
        for table in migrate.ENGINE_TABLES
    }
    assert columns == migrate.LANDED_LAYOUT
    engine.dispose()


def test_the_newest_revision_is_the_highest_number_in_one_line() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    assert script.get_heads() == [migrate.head_revision()]
    numbers = [r.revision for r in script.walk_revisions()]
    assert numbers == sorted(numbers, reverse=True)
    assert all(
        r.down_revision in (None, f"{int(r.revision) - 1:04d}") for r in script.walk_revisions()
    )


@pytest.mark.parametrize("revisions", ["today", "with one more revision"])
def test_a_landed_database_upgrades_with_every_row_intact(
    empty_url: str, revisions: str, request: pytest.FixtureRequest
) -> None:
    landed_database(empty_url)
    assert migrate.read_state(make_db(empty_url)).kind == "landed"
    before = stored_rows(empty_url)
    expected = {str(m.__tablename__): rows for m, rows in LANDED_ROWS.items()}
    assert before == expected
    head = migrate.head_revision()
    if revisions != "today":
        head = request.getfixturevalue("newer_engine")
        code, output = invoke("list", "--db", empty_url)
        assert code == 1
        assert "created before schema migrations" in output
        assert f"dunning db upgrade --db {service.display_url(empty_url)}" in output

    code, output = invoke("db", "upgrade", "--db", empty_url)

    assert code == 0, output
    assert "stamped 0001" in output
    assert migrate.read_state(make_db(empty_url)).revision == head
    assert stored_rows(empty_url) == expected
    code, output = invoke("db", "current", "--db", empty_url)
    assert (code, f"at revision {head}, the newest") == (0, output.split(" is ")[-1].strip())
    assert invoke("sync", str(CHANNELS), "--db", empty_url, "--as-of", "2026-03-10")[0] == 0
    if revisions != "today":
        assert "note" in {c["name"] for c in inspect(make_db(empty_url)).get_columns("promotion")}


def test_a_database_behind_the_engine_is_refused_until_upgraded(
    empty_url: str, request: pytest.FixtureRequest
) -> None:
    url = empty_url
    if make_url(url).get_backend_name() == "postgresql":  # trust auth: any password works
        url = make_url(url).set(password="hunter2").render_as_string(hide_password=False)
    assert invoke("sync", str(CHANNELS), "--db", url, "--as-of", "2026-03-01")[0] == 0
    request.getfixturevalue("newer_engine")

    for verb in (["list"], ["history", "dunning-channels"], ["sync", str(CHANNELS)]):
        code, output = invoke(*verb, "--db", url)
        assert code == 1
        assert output.strip().count("\n") == 0, output  # one line
        assert f"schema revision {TODAY}; this dunning needs {NEXT}" in output
        assert f"`dunning db upgrade --db {service.display_url(url)}`" in output
        assert "hunter2" not in output

    code, output = invoke("db", "upgrade", "--db", url, "--json")
    assert code == 0, output
    assert f'"applied": [\n    "{NEXT}"\n  ]' in output
    assert "hunter2" not in output
    assert invoke("history", "dunning-channels", "--db", url)[0] == 0


def test_a_database_ahead_of_the_engine_is_left_alone(db_url: str) -> None:
    assert invoke("sync", str(CHANNELS), "--db", db_url, "--as-of", "2026-03-01")[0] == 0
    engine = make_db(db_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()
    for args in (["list"], ["db", "upgrade"], ["sync", str(CHANNELS)]):
        code, output = invoke(*args, "--db", db_url)
        assert code == 1
        assert "schema revision 0999, newer than this dunning knows" in output
    assert migrate.read_state(make_db(db_url)).revision == "0999"


def test_an_unversioned_layout_that_is_not_the_landed_one_is_refused(empty_url: str) -> None:
    landed_database(empty_url)
    engine = make_db(empty_url)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE allocation DROP COLUMN stopped_arms"))
    engine.dispose()
    for args in (["list"], ["db", "upgrade"], ["assign", "exp", "-i", "x.csv", "-o", "y.csv"]):
        code, output = invoke(*args, "--db", empty_url)
        assert code == 1, output
        assert "no column allocation.stopped_arms" in output
        assert "choose another database" in output
    assert migrate.read_state(make_db(empty_url)).kind == "unknown"


def test_concurrent_first_commands_create_the_schema_once(empty_url: str) -> None:
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def first_command() -> None:
        start.wait()
        try:
            service.open_db(empty_url).dispose()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=first_command) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    engine: Engine = make_db(empty_url)
    assert migrate.read_state(engine).kind == "current"
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    engine.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "postgres://ops:s3cret@127.0.0.1:5432/dunning",
        "postgresql+psycopg://ops:s3cret@127.0.0.1:1/dunning",
        "postgresql+psycopg://ops:s3cret@127.0.0.1:notaport/dunning",
        "not a url at all s3cret",
        "mysql://ops:s3cret@127.0.0.1/dunning",
    ],
)
@pytest.mark.parametrize("verb", ["upgrade", "current"])
def test_a_bad_or_unreachable_database_is_one_line(url: str, verb: str) -> None:
    code, output = invoke("db", verb, "--db", url)
    assert code == 1
    assert output.startswith("database error: ")
    assert output.strip().count("\n") == 0, output
    assert "s3cret" not in output
