"""Shared fixtures: every ``store`` test runs on SQLite and on PostgreSQL.

PostgreSQL tests use a fresh schema each, on ``THREADLINE_TEST_PG`` (default: the local server's
``test`` database). Where PostgreSQL is unreachable they skip with the reason, unless
``THREADLINE_REQUIRE_SERVICES=1`` (as on CI), where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from threadline.store import Store, open_store

PG_URL = os.environ.get("THREADLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_SERVICES = os.environ.get("THREADLINE_REQUIRE_SERVICES") == "1"
CONFORMANCE = Path(
    os.environ.get(
        "THREADLINE_CONFORMANCE",
        Path(__file__).resolve().parents[1].parent / "shared" / "conformance",
    )
)


def postgres_or_skip() -> str:
    """The PostgreSQL URL if reachable; otherwise skip (or fail when services are required)."""
    import psycopg

    try:
        with psycopg.connect(PG_URL, connect_timeout=3):
            pass
    except Exception as exc:
        if REQUIRE_SERVICES:
            pytest.fail(f"PostgreSQL required but unreachable at {PG_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {exc}")
    return PG_URL


@contextmanager
def private_schema() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, private schema (dropped afterwards)."""
    import psycopg

    base = postgres_or_skip()
    schema = f"tl_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, private schema (dropped afterwards)."""
    with private_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database URL on each backend."""
    if request.param == "sqlite":
        return str(tmp_path / "threadline.db")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A fresh, migrated store on each backend."""
    s = open_store(db_url, batch_size=7)  # small batches exercise cross-batch projection
    try:
        yield s
    finally:
        s.close()
