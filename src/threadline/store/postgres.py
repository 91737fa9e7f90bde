"""PostgreSQL backend (psycopg 3)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from sqlalchemy import create_engine

from threadline.store.base import Store

# One advisory lock serialises writers, so that row ids can be allocated in blocks and the
# projections see batches in one order, exactly as on SQLite.
_WRITER_LOCK = 0x7468726C  # "thrl"


class PostgresStore(Store):
    """A store in a PostgreSQL database."""

    def __init__(self, url: str, *, batch_size: int = 5000) -> None:
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            sa_url = "postgresql+psycopg://" + url.split("://", 1)[1]
        else:
            sa_url = url
        engine = create_engine(sa_url, pool_size=8, max_overflow=16, pool_pre_ping=True)
        super().__init__(url, engine, batch_size=batch_size)

    def describe(self) -> str:
        return f"PostgreSQL {self.engine.url.render_as_string(hide_password=True)}"

    def sql(self, statement: str) -> str:
        return statement.replace("%", "%%").replace("?", "%s")

    def in_clause(self, values: Sequence[Any]) -> Iterator[tuple[str, Sequence[Any]]]:
        yield "= ANY(?)", [list(values)]

    def json_param(self) -> str:
        return "CAST(? AS JSONB)"

    def load_json(self, value: Any) -> Any:
        return orjson.loads(value) if isinstance(value, str | bytes) else value

    def first_free_id(self, cursor: Any, table: str) -> int:
        cursor.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")
        return int(cursor.fetchone()[0])

    def _begin_write(self, connection: Any) -> None:
        connection.autocommit = False
        connection.cursor().execute("SELECT pg_advisory_xact_lock(%s)", (_WRITER_LOCK,))

    def _begin_read(self, connection: Any) -> None:
        connection.autocommit = False
        connection.cursor().execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
