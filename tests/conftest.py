"""Shared fixtures: a database per test, on SQLite and on PostgreSQL.

PostgreSQL tests use a throw-away database created on the server named by
``DUNNING_TEST_PG_URL`` (default: the local server, trust auth). Without a reachable server
they are skipped, unless ``DUNNING_REQUIRE_PG=1`` (set by ``.ci/run``), where they fail: CI
must exercise both databases.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from engine import service
from engine.loader import LoadedExperiment, load_experiment
from engine.store.db import create_schema, drop_schema

ROOT = Path(__file__).resolve().parents[1]
CHANNELS = ROOT / "experiments" / "dunning_channels.yaml"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of a fresh database on the PostgreSQL server, dropped after the session."""
    admin_url = os.environ.get("DUNNING_TEST_PG_URL", DEFAULT_PG_URL)
    name = f"dunning_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        message = f"PostgreSQL not reachable at {admin_url}: {exc.orig}"
        if os.environ.get("DUNNING_REQUIRE_PG") == "1":
            pytest.fail(message)
        pytest.skip(message)
    yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL with an empty engine schema, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'engine.sqlite3'}"
        return
    url: str = request.getfixturevalue("pg_server_url")
    engine = create_engine(url)
    drop_schema(engine)
    create_schema(engine)
    engine.dispose()
    yield url


@pytest.fixture
def db(db_url: str) -> Iterator[Engine]:
    engine = service.open_db(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def channels() -> LoadedExperiment:
    return load_experiment(CHANNELS)
