"""The Store contract: what every storage backend provides.

A store keeps the event record (append-only, idempotent by eventID) and, written in the same
transaction as each batch of events, the projections the trace engine reads: objects, genealogy
edges with validity windows, the event/object index and each object's current status.

Backends (:mod:`.sqlite`, :mod:`.postgres`) supply connections and the few statements that differ
between engines; everything else — batching, projection, error-declaration repair, rebuild — lives
here and in :mod:`.writer`, so both engines behave identically. Hot paths talk to the DB-API driver
directly (prepared statements, ``executemany``); SQLAlchemy Core owns the schema and migrations.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson
from sqlalchemy import Engine

from threadline.errors import StoreError
from threadline.store.projector import Status

if TYPE_CHECKING:  # the writer imports this module; only type checkers need the reverse
    from threadline.store.writer import Writer

ProgressFn = Callable[[int], None]


class ObjectRow(NamedTuple):
    id: int
    key: str
    kind: str
    product: str | None
    gcp_length: int | None


class EdgeRow(NamedTuple):
    """One genealogy edge: ``src`` went into ``dst`` (relation) between valid_from and valid_to."""

    id: int
    src: int
    dst: int
    relation: str
    quantity: float | None
    uom: str | None
    event: int
    valid_from: str
    valid_to: str | None


class EventRow(NamedTuple):
    id: int
    event_id: str
    type: str
    action: str | None
    biz_step: str | None
    disposition: str | None
    event_time: str
    event_tz: str
    record_time: str
    read_point: str | None
    biz_location: str | None
    error_declared: bool
    doc: dict[str, Any]


@dataclass
class AppendResult:
    """What an append did: events stored, skipped as already stored, and declared in error."""

    inserted: int = 0
    duplicates: int = 0
    declared_in_error: int = 0

    def merge(self, other: AppendResult) -> None:
        self.inserted += other.inserted
        self.duplicates += other.duplicates
        self.declared_in_error += other.declared_in_error


_EVENT_COLS = (
    "id, event_id, type, action, biz_step, disposition, event_time, event_tz, record_time, "
    "read_point, biz_location, error_declared, doc"
)
_EDGE_COLS = "id, src, dst, relation, quantity, uom, event, valid_from, valid_to"
_STATUS_COLS = (
    "object, state, disposition, location, read_point, container, quantity, total, uom, "
    "last_event, last_time, persistent"
)


class Reader:
    """A consistent read view (one transaction) over the store; use via :meth:`Store.reader`."""

    def __init__(self, store: Store, connection: Any) -> None:
        self.store = store
        self.connection = connection
        self.cursor = connection.cursor()

    # -- helpers -----------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run one statement written with ``?`` placeholders and return all rows."""
        self.cursor.execute(self.store.sql(sql), params)
        return list(self.cursor.fetchall())

    def query_in(self, sql: str, values: Sequence[Any], params: Sequence[Any] = ()) -> list[Any]:
        """Run ``sql`` whose ``{IN}`` stands for ``IN (values)``; ``params`` follow the list."""
        out: list[Any] = []
        for fragment, chunk in self.store.in_clause(values):
            self.cursor.execute(self.store.sql(sql.replace("{IN}", fragment)), (*chunk, *params))
            out.extend(self.cursor.fetchall())
        return out

    # -- objects -----------------------------------------------------------------------------
    def objects_by_key(self, keys: Iterable[str]) -> dict[str, ObjectRow]:
        rows = self.query_in(
            "SELECT id, key, kind, product, gcp_length FROM objects WHERE key {IN}",
            list(set(keys)),
        )
        return {r[1]: ObjectRow(*r) for r in rows}

    def objects_by_id(self, ids: Iterable[int]) -> dict[int, ObjectRow]:
        rows = self.query_in(
            "SELECT id, key, kind, product, gcp_length FROM objects WHERE id {IN}", list(set(ids))
        )
        return {r[0]: ObjectRow(*r) for r in rows}

    def object_attrs(self, object_id: int) -> dict[str, Any] | None:
        rows = self.query("SELECT attrs FROM objects WHERE id = ?", (object_id,))
        return self.store.load_json(rows[0][0]) if rows and rows[0][0] is not None else None

    # -- genealogy ---------------------------------------------------------------------------
    def edges_from(self, ids: Sequence[int]) -> list[EdgeRow]:
        """Edges leaving any of ``ids`` (downstream direction)."""
        return [
            EdgeRow(*r)
            for r in self.query_in(f"SELECT {_EDGE_COLS} FROM edges WHERE src {{IN}}", ids)
        ]

    def edges_to(self, ids: Sequence[int]) -> list[EdgeRow]:
        """Edges entering any of ``ids`` (upstream direction)."""
        return [
            EdgeRow(*r)
            for r in self.query_in(f"SELECT {_EDGE_COLS} FROM edges WHERE dst {{IN}}", ids)
        ]

    def statuses(self, ids: Sequence[int]) -> dict[int, Status]:
        rows = self.query_in(f"SELECT {_STATUS_COLS} FROM status WHERE object {{IN}}", ids)
        return {r[0]: Status(*r) for r in rows}

    # -- events ------------------------------------------------------------------------------
    def _event(self, r: Sequence[Any]) -> EventRow:
        return EventRow._make((*r[:11], bool(r[11]), self.store.load_json(r[12])))

    def events_by_row(self, rows: Iterable[int]) -> dict[int, EventRow]:
        found = self.query_in(f"SELECT {_EVENT_COLS} FROM events WHERE id {{IN}}", list(set(rows)))
        return {r[0]: self._event(r) for r in found}

    def event_ids(self, rows: Iterable[int]) -> dict[int, str]:
        found = self.query_in("SELECT id, event_id FROM events WHERE id {IN}", list(set(rows)))
        return {r[0]: r[1] for r in found}

    def events_of_object(self, object_id: int, *, include_errors: bool = False) -> list[EventRow]:
        """Every event naming the object, oldest first."""
        cols = ", ".join(f"e.{c.strip()}" for c in _EVENT_COLS.split(","))
        sql = (
            f"SELECT DISTINCT {cols} FROM event_objects eo JOIN events e ON e.id = eo.event "
            "WHERE eo.object = ?"
        )
        if not include_errors:
            sql += " AND e.error_declared = ?"
        sql += " ORDER BY e.event_time, e.id"
        params: tuple[Any, ...] = (object_id,) if include_errors else (object_id, False)
        return [self._event(r) for r in self.query(sql, params)]

    def events_at(self, read_point: str, start: str, end: str) -> list[EventRow]:
        """Events at a read point (canonical key) with start <= eventTime < end, oldest first."""
        return [
            self._event(r)
            for r in self.query(
                f"SELECT {_EVENT_COLS} FROM events WHERE read_point = ? AND event_time >= ? "
                "AND event_time < ? AND error_declared = ? AND is_declaration = ? "
                "ORDER BY event_time, id",
                (read_point, start, end, False, False),
            )
        ]

    def graph_version(self) -> tuple[int, int]:
        """(epoch, version) of the genealogy edges; see the ``meta`` table."""
        values = dict(self.query("SELECT key, value FROM meta"))
        return int(values.get("graph_epoch", 0)), int(values.get("graph_version", 0))

    def count(self, table: str) -> int:
        return int(self.query(f"SELECT count(*) FROM {table}")[0][0])

    # -- master data -------------------------------------------------------------------------
    def descendants(self, vtype: str, id: str) -> set[str]:
        """Canonical ids of every direct or indirect child of ``id`` in vocabulary ``vtype``."""
        from threadline.store.master_data import descendants

        return descendants(self, [vtype], id)


class Store(ABC):
    """A Threadline event store. Open one with :func:`threadline.store.open_store`."""

    def __init__(self, url: str, engine: Engine, *, batch_size: int = 5000) -> None:
        self.url = url
        self.engine = engine
        self.batch_size = batch_size

    # -- backend hooks -------------------------------------------------------------------------
    @abstractmethod
    def sql(self, statement: str) -> str:
        """Translate a statement written with ``?`` placeholders into the driver's style."""

    @abstractmethod
    def in_clause(self, values: Sequence[Any]) -> Iterator[tuple[str, Sequence[Any]]]:
        """``(fragment, params)`` pairs that together express ``IN values``."""

    @abstractmethod
    def json_param(self) -> str:
        """The placeholder that stores a JSON text parameter into a JSON column."""

    #: Whether a one-row read by key answers at once, never waiting for other transactions or
    #: the network: a server may then run such reads on its event loop (see ``api.deps``).
    quick_reads = False

    def insert_rows(self, cursor: Any, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run an ``INSERT ... VALUES (?, ...)`` statement (from :meth:`sql`) for every row.

        The same as ``cursor.executemany``; a backend may send many rows per statement.
        """
        cursor.executemany(statement, rows)

    @abstractmethod
    def load_json(self, value: Any) -> Any:
        """A JSON column value as read back by the driver -> Python data."""

    @abstractmethod
    def first_free_id(self, cursor: Any, table: str) -> int:
        """The first row id of ``table`` not yet used.

        Called inside a write transaction, which holds the store's single-writer lock, so the
        writer can hand out the following ids itself until it commits.
        """

    @abstractmethod
    def _begin_write(self, connection: Any) -> None:
        """Open a write transaction on a raw connection."""

    @abstractmethod
    def _begin_read(self, connection: Any) -> None:
        """Open a read transaction (a consistent snapshot) on a raw connection."""

    def describe(self) -> str:
        """A short human description of the backend and location."""
        return self.url

    def _after_commit(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """Called after each write transaction commits (backends schedule maintenance here)."""

    # -- transactions --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _raw(self) -> Iterator[Any]:
        connection = self.engine.raw_connection()
        try:
            yield connection
        finally:
            connection.close()

    @contextlib.contextmanager
    def _write_connection(self) -> Iterator[Any]:
        """The raw connection a write transaction runs on (by default any pooled one)."""
        with self._raw() as connection:
            yield connection

    @contextlib.contextmanager
    def reader(self) -> Iterator[Reader]:
        """A read view that sees one consistent state of the store."""
        with self._raw() as connection:
            self._begin_read(connection)
            try:
                yield Reader(self, connection)
            finally:
                connection.rollback()

    @contextlib.contextmanager
    def writer(self) -> Iterator[Writer]:
        """One write transaction: everything appended through it commits together or not at all."""
        from threadline.store.writer import Writer

        with self._write_connection() as connection:
            self._begin_write(connection)
            writer = Writer(self, connection)
            try:
                yield writer
                writer.flush()
                writer.bump_graph_version()
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
            self._after_commit()

    def append(self, events: Iterable[Any], *, progress: ProgressFn | None = None) -> AppendResult:
        """Store ``events`` (typed events) in one transaction with their projections.

        Events already stored (same eventID) are skipped; an event carrying an
        ``errorDeclaration`` marks the event it names as erroneous and removes it from every
        projection. ``progress`` is called with the number of events handled after each batch.
        """
        with self.writer() as writer:
            writer.append(events, progress=progress)
        return writer.result

    def rebuild(self, *, progress: ProgressFn | None = None) -> int:
        """Recompute every projection from the stored events; returns the number replayed."""
        from threadline.store.writer import rebuild_projections

        with self._write_connection() as connection:
            self._begin_write(connection)
            try:
                count = rebuild_projections(self, connection, progress=progress)
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
            self._after_commit()
        return count

    def migrate(self) -> None:
        """Bring the schema up to date (Alembic ``upgrade head``)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except Exception as exc:  # driver errors become one clear store error
            raise StoreError(f"cannot migrate the store at {self.describe()}: {exc}") from exc

    def counts(self) -> dict[str, int]:
        """Row counts of the main tables."""
        with self.reader() as r:
            return {
                t: r.count(t) for t in ("events", "objects", "edges", "event_objects", "status")
            }

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def dump_json(value: Any) -> str:
        return orjson.dumps(value).decode()
