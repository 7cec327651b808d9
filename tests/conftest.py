"""Test harness: every database test runs on SQLite and, when it answers, on PostgreSQL.

Each xdist worker migrates one database per backend once; each test then gets a clean copy
(a copied SQLite file, or a truncated PostgreSQL database).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from huafei.core.clock import FrozenClock
from huafei.core.db import Database
from huafei.migrations import upgrade
from huafei.models import metadata

pytest_plugins = ["live"]  # `live_app`, `held_port`: the platform and its processes over HTTP

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = os.environ.get("HUAFEI_TEST_POSTGRES_URL", DEFAULT_PG)
REQUIRE_PG = os.environ.get("HUAFEI_REQUIRE_POSTGRES") == "1"
ROOT = Path(__file__).resolve().parent.parent
_backends_used: set[str] = set()


def _postgres_answers() -> bool:
    try:
        engine = create_engine(_psycopg(PG_URL), connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception:
        return False
    return True


def _psycopg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


POSTGRES_AVAILABLE = _postgres_answers()
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_AVAILABLE else [])


def pytest_sessionstart(session: pytest.Session) -> None:
    if REQUIRE_PG and not POSTGRES_AVAILABLE:
        pytest.exit(f"HUAFEI_REQUIRE_POSTGRES=1 but PostgreSQL does not answer at {PG_URL}", 3)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backend(name): the database backend of this test")


# -- per-worker databases -----------------------------------------------------------------------
def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


class PostgresTemplate:
    """One migrated database per worker; tests truncate it to start clean.

    Rows that migrations seed (reference data such as the KYC limits) are read once after
    migrating and put back after each truncate, so every test starts from the migrated state.
    """

    def __init__(self) -> None:
        self.name = f"huafei_test_{_worker()}_{uuid.uuid4().hex[:8]}"
        base = make_url(_psycopg(PG_URL))
        self.admin_url = base.set(database="postgres")
        self.url = base.set(database=self.name).render_as_string(hide_password=False)
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        admin.dispose()
        upgrade(self.url)
        engine = create_engine(self.url)
        with engine.connect() as connection:
            self.tables = [
                row[0]
                for row in connection.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                        "AND tablename <> 'alembic_version'"
                    )
                )
            ]
            # Rows the migrations seed (profiles, limits…) are put back after each truncate.
            self.seeds = {
                table.name: [dict(row._mapping) for row in connection.execute(table.select())]
                for table in metadata.sorted_tables
            }
        self.seeds = {name: rows for name, rows in self.seeds.items() if rows}
        engine.dispose()

    def reset(self) -> None:
        engine = create_engine(self.url)
        with engine.begin() as connection:
            quoted = ", ".join(f'"{table}"' for table in self.tables)
            connection.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
            for table in metadata.sorted_tables:
                if table.name in self.seeds:
                    connection.execute(table.insert(), self.seeds[table.name])
        engine.dispose()

    def drop(self) -> None:
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[PostgresTemplate]:
    if not POSTGRES_AVAILABLE:
        pytest.skip("PostgreSQL is not available")
    template = PostgresTemplate()
    yield template
    template.drop()


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """A clean, migrated database of each backend."""
    backend = request.param
    _backends_used.add(backend)
    if backend == "sqlite":
        target = tmp_path / "huafei.sqlite3"
        shutil.copyfile(sqlite_template, target)
        yield f"sqlite:///{target}"
        return
    template: PostgresTemplate = request.getfixturevalue("postgres_template")
    template.reset()
    yield template.url


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of each backend with nothing in it, not even migrated.

    On PostgreSQL, a schema of its own in the worker's database, which the URL makes the search
    path (creating and dropping a whole database costs a checkpoint: seconds)."""
    backend = request.param
    _backends_used.add(backend)
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    template: PostgresTemplate = request.getfixturevalue("postgres_template")
    schema = f"empty_{uuid.uuid4().hex[:8]}"
    engine = create_engine(template.url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(template.url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url, retries=10)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


# -- which backends ran ---------------------------------------------------------------------
def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["backends"] = ",".join(sorted(_backends_used))


def pytest_testnodedown(node: object, error: object) -> None:
    output = getattr(node, "workeroutput", {})
    _backends_used.update(b for b in output.get("backends", "").split(",") if b)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    ran = ", ".join(sorted(_backends_used)) or "none"
    line = f"database backends ran: {ran}"
    terminalreporter.write_line(line)
    report = ROOT / "var" / "test-backends.txt"
    report.parent.mkdir(exist_ok=True)
    report.write_text(line + "\n")
