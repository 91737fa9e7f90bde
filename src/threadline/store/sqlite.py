"""SQLite backend: the embedded default (WAL, one writer at a time, durable commits)."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from functools import lru_cache
from itertools import chain
from typing import Any

import orjson
from sqlalchemy import create_engine, event
from sqlalchemy.pool import ConnectionPoolEntry

from threadline.errors import StoreUnavailable
from threadline.store.base import Store

# SQLite accepts up to 32766 host parameters since 3.32; stay well below.
_MAX_PARAMS = 30000


# How long a write waits for the store's single writer (another thread or process) to finish.
WRITE_WAIT_S = 60.0

# Rows per multi-row INSERT (see SQLiteStore.insert_rows); a power of two.
_ROWS_PER_INSERT = 128
_VALUES = re.compile(r"VALUES \((\?(?:, \?)*)\)")


@lru_cache(maxsize=256)
def _multi_row(statement: str, rows: int) -> str:
    """``statement`` (``INSERT ... VALUES (?, ...) ...``) with ``rows`` row value lists."""
    found = _VALUES.search(statement)
    if found is None:
        raise ValueError(f"not a single-row INSERT ... VALUES statement: {statement}")
    row = f"({found.group(1)})"
    return f"{statement[: found.start()]}VALUES {', '.join([row] * rows)}{statement[found.end() :]}"


# Page cache per connection, in KiB (negative: SQLite's unit for a size rather than pages).
WRITE_CACHE_KIB = -131072
READ_CACHE_KIB = -16384


def _on_connect(connection: sqlite3.Connection, record: ConnectionPoolEntry) -> None:
    # Take transaction control from the driver: writers BEGIN IMMEDIATE, readers BEGIN.
    connection.isolation_level = None
    for pragma in (
        "journal_mode = WAL",
        # FULL: a commit is on disk before the caller hears of it (acknowledged means durable).
        "synchronous = FULL",
        "busy_timeout = 60000",
        f"cache_size = {WRITE_CACHE_KIB}",
        "temp_store = MEMORY",
        "foreign_keys = OFF",
        # Checkpoints run in the store's background thread, not inside the committing call.
        "wal_autocheckpoint = 0",
        "journal_size_limit = 67108864",
    ):
        connection.execute(f"PRAGMA {pragma}")
    record.info["cache_size"] = WRITE_CACHE_KIB


def _cache_size(connection: Any, kib: int) -> None:
    """Set a pooled connection's page cache, unless it is already that size (the pool remembers:
    a request reuses a connection many times, and each change is a statement of its own)."""
    if connection.info.get("cache_size") != kib:
        connection.execute(f"PRAGMA cache_size = {kib}")
        connection.info["cache_size"] = kib


class _Checkpointer:
    """Copies the WAL back into the database file in a background thread.

    SQLite's automatic checkpoint runs inside the commit of whichever writer crosses the
    threshold, which doubles that commit's latency. Here a commit only wakes this thread; the
    checkpoint (one C call, the GIL released) overlaps with the next batch's Python work. A
    PASSIVE checkpoint never blocks readers or writers; :meth:`close` finishes the job.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.wake = threading.Event()
        self.stopping = False
        self.connection: sqlite3.Connection | None = None
        self.thread = threading.Thread(target=self._run, name="threadline-checkpoint", daemon=True)
        self.thread.start()

    def _checkpoint(self, mode: str) -> None:
        # One connection for the thread's life: under steady captures it wakes after every
        # group commit, and opening the file each time cost more than the checkpoint itself.
        if self.connection is None:
            self.connection = sqlite3.connect(
                self.path, timeout=60, isolation_level=None, check_same_thread=False
            )
        self.connection.execute(f"PRAGMA wal_checkpoint({mode})")

    def _run(self) -> None:
        while True:
            self.wake.wait()
            self.wake.clear()
            if self.stopping:
                return
            try:
                self._checkpoint("PASSIVE")
            except sqlite3.Error:
                continue  # the next commit wakes us again; close() retries synchronously

    def close(self) -> None:
        self.stopping = True
        self.wake.set()
        self.thread.join()
        # If another connection is busy, SQLite checkpoints on a later open instead.
        with contextlib.suppress(sqlite3.Error):
            self._checkpoint("TRUNCATE")
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class SQLiteStore(Store):
    """A store in one SQLite file."""

    # A read in WAL mode sees the last commit without waiting for the writer.
    quick_reads = True

    def __init__(self, path: str, *, batch_size: int = 5000) -> None:
        engine = create_engine(
            f"sqlite:///{path}",
            connect_args={"check_same_thread": False, "timeout": WRITE_WAIT_S},
            # Enough kept open for a server's request threads: a connection beyond the pool
            # is closed when returned, and opening one (with its PRAGMAs) costs a request's time.
            pool_size=16,
            max_overflow=24,
        )
        event.listen(engine, "connect", _on_connect)
        super().__init__(f"sqlite:///{path}", engine, batch_size=batch_size)
        self.path = path
        self._checkpointer: _Checkpointer | None = None
        # Write transactions take turns on one connection kept for them (see _write_connection).
        self._write_lock = threading.Lock()
        self._writer_connection: Any = None

    def _after_commit(self) -> None:
        if self._checkpointer is None:
            self._checkpointer = _Checkpointer(self.path)
        self._checkpointer.wake.set()

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        with self._write_lock:
            if self._writer_connection is not None:
                self._writer_connection.close()  # back to the pool, which dispose() closes
                self._writer_connection = None
        super().close()

    @contextlib.contextmanager
    def _write_connection(self) -> Iterator[Any]:
        # SQLite has one writer at a time anyway. Taking turns on a lock (instead of SQLite's
        # busy handler, which sleeps in steps of up to 100 ms) hands the file over at once, and
        # one connection kept for writing keeps its large page cache warm: a pooled one would
        # arrive from a reader with a small, cold cache, and resizing it frees or grows pages.
        if not self._write_lock.acquire(timeout=WRITE_WAIT_S):
            raise StoreUnavailable(
                f"{self.path}: no write transaction could start within {WRITE_WAIT_S:g} s "
                "(another write of this process holds the store)"
            )
        try:
            if self._writer_connection is None:
                self._writer_connection = self.engine.raw_connection()
            yield self._writer_connection
        finally:
            self._write_lock.release()

    def describe(self) -> str:
        return f"SQLite file {self.path}"

    def sql(self, statement: str) -> str:
        return statement

    def in_clause(self, values: Sequence[Any]) -> Iterator[tuple[str, Sequence[Any]]]:
        for start in range(0, len(values), _MAX_PARAMS):
            chunk = values[start : start + _MAX_PARAMS]
            yield f"IN ({','.join('?' * len(chunk))})", chunk

    def json_param(self) -> str:
        return "?"

    def insert_rows(self, cursor: Any, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        # The sqlite3 module lets go of the interpreter lock for every row of an executemany.
        # A server's request threads grab it each time, and the writer thread then waits to get
        # it back: under concurrent captures that waiting, not SQLite, was most of a group
        # commit's time. Up to 128 rows per statement take one step instead of 128. Statement
        # sizes are powers of two, so a handful of texts stay in the statement cache.
        done, count = 0, len(rows)
        while count - done > 1:
            size = min(_ROWS_PER_INSERT, 1 << ((count - done).bit_length() - 1))
            chunk = rows[done : done + size]
            cursor.execute(_multi_row(statement, size), list(chain.from_iterable(chunk)))
            done += size
        if done < count:
            cursor.execute(statement, rows[done])

    def load_json(self, value: Any) -> Any:
        return orjson.loads(value) if isinstance(value, str | bytes) else value

    def first_free_id(self, cursor: Any, table: str) -> int:
        cursor.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")
        return int(cursor.fetchone()[0])

    def _begin_write(self, connection: Any) -> None:
        # A writer folds batches into many pages at once: a large page cache pays off. Readers
        # touch few pages per question, and a server keeps several pooled connections, each
        # with its own cache: a small one keeps its memory bounded.
        _cache_size(connection, WRITE_CACHE_KIB)
        connection.execute("BEGIN IMMEDIATE")

    def _begin_read(self, connection: Any) -> None:
        _cache_size(connection, READ_CACHE_KIB)
        connection.execute("BEGIN")

    def integrity_check(self) -> str:
        """SQLite's own ``PRAGMA integrity_check`` verdict ("ok" when sound)."""
        with self._raw() as connection:
            return str(connection.execute("PRAGMA integrity_check").fetchone()[0])
