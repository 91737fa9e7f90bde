"""Backup and restore of a whole store, consistent while the service keeps writing.

Two backup forms, one per engine:

- **SQLite**: the database file copied with SQLite's online backup API in a single step, which
  holds one read transaction (WAL mode lets writers go on meanwhile), so the copy is one
  committed state. The result is itself a SQLite database (journal mode DELETE: one file).
- **PostgreSQL**: every table read in one ``REPEATABLE READ, READ ONLY`` transaction (one
  snapshot) into a gzip'd JSON-lines file: a header line (format, version, Alembic revision,
  row count per table), then per table a ``{"table", "columns", "json"}`` line, its rows as JSON
  arrays in primary-key order and an ``{"end", "rows"}`` line, and a final ``{"complete": true}``.

A restore reads either form into either engine, into an empty store (``force`` replaces a
non-empty one). The target schema is first brought to the backup's Alembic revision, the rows
are loaded (all in one transaction), then the schema is migrated to the current revision, so a
backup taken by an older Threadline restores into a newer one. SQLite targets are built in a
temporary file beside the target and moved into place only when complete; PostgreSQL targets
load in one transaction. Stop the service before restoring over its store.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, MetaData, create_engine, inspect
from sqlalchemy import types as sqltypes

from threadline.errors import Conflict, InvalidInput, StoreError
from threadline.store.auth import now_text
from threadline.store.base import Store

FORMAT = "threadline-backup"
VERSION = 1
SQLITE_MAGIC = b"SQLite format 3\x00"
GZIP_MAGIC = b"\x1f\x8b"
_BATCH = 5000
# Tables that migrations fill with initial rows: a store holding only these is still empty.
_SEEDED = frozenset({"alembic_version", "meta"})

ProgressFn = Callable[[int], None]


@dataclass
class BackupReport:
    """What a backup or restore did."""

    path: str
    form: str  # "sqlite" or "jsonl.gz"
    revision: str | None
    tables: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


@dataclass
class _Table:
    name: str
    columns: list[str]
    json: list[str]
    rows: int


# -- backup --------------------------------------------------------------------------------------


def backup(store: Store, path: Path) -> BackupReport:
    """Write a consistent backup of ``store`` to ``path`` (replaced only when complete)."""
    from threadline.store.sqlite import SQLiteStore

    started = time.perf_counter()
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if isinstance(store, SQLiteStore):
            report = _backup_sqlite(store, path, partial)
        else:
            report = _backup_postgres(store, path, partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _fsync(partial)
    os.replace(partial, path)
    report.seconds = time.perf_counter() - started
    return report


def _backup_sqlite(store: Any, path: Path, partial: Path) -> BackupReport:
    source = sqlite3.connect(store.path, timeout=60)
    target = sqlite3.connect(partial)
    try:
        # pages=-1: the whole database in one step, i.e. inside one read transaction. Copying in
        # steps would restart on every commit of a busy server and might never finish.
        source.backup(target, pages=-1)
        target.execute("PRAGMA journal_mode = DELETE")
        check = target.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise StoreError(f"the backup copy of {store.describe()} is damaged: {check}")
    finally:
        source.close()
        target.close()
    revision, tables = _sqlite_contents(partial)
    return BackupReport(str(path), "sqlite", revision, {t.name: t.rows for t in tables})


def _backup_postgres(store: Store, path: Path, partial: Path) -> BackupReport:
    tables = _reflect(store.engine)
    with store._raw() as connection:
        connection.autocommit = False
        cursor = connection.cursor()
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        revision = _revision_of(cursor)
        counts = {}
        for table in tables:
            cursor.execute(f'SELECT count(*) FROM "{table.name}"')
            counts[table.name] = int(cursor.fetchone()[0])
        header = {
            "format": FORMAT,
            "version": VERSION,
            "revision": revision,
            "source": "postgresql",
            "created": now_text(),
            "tables": counts,
        }
        with gzip.open(partial, "wb", compresslevel=3) as out:
            _line(out, header)
            for table in tables:
                _line(out, {"table": table.name, "columns": table.columns, "json": table.json})
                # A server-side cursor streams the table instead of loading it whole.
                rows = connection.cursor(name=f"threadline_backup_{table.name}")
                rows.itersize = _BATCH
                columns = ", ".join(f'"{c}"' for c in table.columns)
                order = ", ".join(f'"{c}"' for c in _primary_key(store.engine, table.name))
                rows.execute(f'SELECT {columns} FROM "{table.name}" ORDER BY {order}')
                written = 0
                for row in rows:
                    out.write(orjson.dumps(row))
                    out.write(b"\n")
                    written += 1
                rows.close()
                _line(out, {"end": table.name, "rows": written})
            _line(out, {"complete": True})
        connection.rollback()
    return BackupReport(str(path), "jsonl.gz", revision, counts)


def _line(out: gzip.GzipFile, data: dict[str, Any]) -> None:
    out.write(orjson.dumps(data))
    out.write(b"\n")


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


# -- schema helpers ------------------------------------------------------------------------------


def _reflect(engine: Engine) -> list[_Table]:
    """The store's tables (not Alembic's), parents before children, with their JSON columns."""
    metadata = MetaData()
    metadata.reflect(bind=engine)
    out = []
    for table in metadata.sorted_tables:
        if table.name == "alembic_version":
            continue
        # Plain str: reflection returns a str subclass, which orjson will not take as a key.
        columns = [str(c.name) for c in table.columns]
        json_cols = [str(c.name) for c in table.columns if isinstance(c.type, sqltypes.JSON)]
        out.append(_Table(str(table.name), columns, json_cols, 0))
    return out


def _primary_key(engine: Engine, table: str) -> list[str]:
    keys = inspect(engine).get_pk_constraint(table).get("constrained_columns") or []
    return keys or [inspect(engine).get_columns(table)[0]["name"]]


def _revision_of(cursor: Any) -> str | None:
    try:
        cursor.execute("SELECT version_num FROM alembic_version")
    except Exception:
        return None
    row = cursor.fetchone()
    return None if row is None else str(row[0])


def _sqlite_contents(path: Path) -> tuple[str | None, list[_Table]]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        tables = _reflect(engine)
        with contextlib.closing(sqlite3.connect(path)) as connection:
            cursor = connection.cursor()
            revision = _revision_of(cursor)
            for table in tables:
                cursor.execute(f'SELECT count(*) FROM "{table.name}"')
                table.rows = int(cursor.fetchone()[0])
    finally:
        engine.dispose()
    return revision, tables


# -- reading a backup ----------------------------------------------------------------------------


class _Source:
    """A backup file opened for reading: its revision, tables and their rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            with open(path, "rb") as handle:
                magic = handle.read(16)
        except OSError as exc:
            raise InvalidInput(f"{path}: cannot read: {exc.strerror}") from None
        if magic.startswith(SQLITE_MAGIC):
            self.form = "sqlite"
            self.revision, self.tables = _sqlite_contents(path)
        elif magic.startswith(GZIP_MAGIC):
            self.form = "jsonl.gz"
            header = self._header()
            self.revision = header.get("revision")
            self.tables = [_Table(n, [], [], int(c)) for n, c in header["tables"].items()]
        else:
            raise InvalidInput(f"{path}: not a Threadline backup (neither SQLite nor gzip)")

    def _header(self) -> dict[str, Any]:
        try:
            with gzip.open(self.path, "rb") as handle:
                header = orjson.loads(handle.readline())
        except (OSError, orjson.JSONDecodeError, EOFError) as exc:
            raise InvalidInput(f"{self.path}: damaged backup header: {exc}") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise InvalidInput(f"{self.path}: not a Threadline backup")
        if header.get("version") != VERSION:
            raise InvalidInput(
                f"{self.path}: backup format version {header.get('version')} is not supported "
                f"(this Threadline reads version {VERSION})"
            )
        return header

    def read(self) -> Iterator[tuple[_Table, Iterator[list[Any]]]]:
        """Each table with an iterator of its rows (JSON columns as Python values)."""
        if self.form == "sqlite":
            yield from self._read_sqlite()
        else:
            yield from self._read_jsonl()

    def _read_sqlite(self) -> Iterator[tuple[_Table, Iterator[list[Any]]]]:
        with contextlib.closing(sqlite3.connect(self.path)) as connection:
            engine = create_engine(f"sqlite:///{self.path}")
            try:
                for table in self.tables:
                    columns = ", ".join(f'"{c}"' for c in table.columns)
                    order = ", ".join(f'"{c}"' for c in _primary_key(engine, table.name))
                    cursor = connection.execute(
                        f'SELECT {columns} FROM "{table.name}" ORDER BY {order}'
                    )
                    positions = [table.columns.index(c) for c in table.json]
                    yield table, _parse_json_columns(cursor, positions)
            finally:
                engine.dispose()

    def _read_jsonl(self) -> Iterator[tuple[_Table, Iterator[list[Any]]]]:
        damaged = f"{self.path}: damaged backup"
        try:
            with gzip.open(self.path, "rb") as handle:
                handle.readline()
                for line in handle:
                    item = orjson.loads(line)
                    if item == {"complete": True}:
                        return
                    if not isinstance(item, dict) or "table" not in item:
                        raise InvalidInput(f"{damaged}: expected a table header")
                    known = {t.name: t for t in self.tables}
                    table = known.get(item["table"])
                    if table is None:
                        raise InvalidInput(f"{damaged}: table {item['table']!r} not announced")
                    table.columns, table.json = list(item["columns"]), list(item["json"])
                    rows = _rows_until_end(handle, table, damaged)
                    yield table, rows
                    for _ in rows:  # the consumer stopped early: skip to the next table
                        pass
        except (OSError, EOFError, orjson.JSONDecodeError) as exc:
            raise InvalidInput(f"{damaged}: {exc}") from None
        raise InvalidInput(f"{damaged}: it ends before its last table (truncated copy?)")


def _parse_json_columns(cursor: Any, positions: list[int]) -> Iterator[list[Any]]:
    for row in cursor:
        values = list(row)
        for at in positions:
            if isinstance(values[at], str | bytes):
                values[at] = orjson.loads(values[at])
        yield values


def _rows_until_end(handle: Any, table: _Table, damaged: str) -> Iterator[list[Any]]:
    count = 0
    for line in handle:
        item = orjson.loads(line)
        if isinstance(item, list):
            count += 1
            yield item
            continue
        if item != {"end": table.name, "rows": count} or count != table.rows:
            raise InvalidInput(f"{damaged}: table {table.name} has {count} of {table.rows} rows")
        return
    raise InvalidInput(f"{damaged}: table {table.name} is cut short")


# -- restore -------------------------------------------------------------------------------------


def restore(
    path: Path,
    db: str | None,
    *,
    force: bool = False,
    on_start: Callable[[int], None] | None = None,
    progress: ProgressFn | None = None,
) -> BackupReport:
    """Restore the backup at ``path`` into the store ``db`` (see module docstring).

    :class:`Conflict` if the target holds data and ``force`` is false.
    """
    from threadline.store import open_store

    started = time.perf_counter()
    source = _Source(path)
    _check_revision(source.revision)
    if on_start:
        on_start(sum(t.rows for t in source.tables))
    target = open_store(db, migrate=False)
    is_sqlite = target.engine.dialect.name == "sqlite"
    sqlite_path = Path(str(getattr(target, "path", ""))) if is_sqlite else None
    # Opening a SQLite store creates its file; a failed restore must not leave one behind.
    created = sqlite_path is not None and not sqlite_path.exists()
    try:
        held = _held_rows(target)
        if held and not force:
            shown = ", ".join(f"{n} {t}" for t, n in sorted(held.items()))
            raise Conflict(
                f"{target.describe()} is not empty ({shown}); restore into an empty store, "
                "or pass --force to replace everything in it"
            )
    finally:
        target.close()
    if sqlite_path is not None:
        try:
            _restore_sqlite(source, sqlite_path, progress)
        except BaseException:
            if created:
                _remove_sqlite(sqlite_path)
            raise
    else:
        target = open_store(db, migrate=False)
        try:
            _restore_into(target, source, progress, wipe=bool(held))
        finally:
            target.close()
    with open_store(db) as restored:  # migrates to the current revision
        counts = _counts(restored.engine)
    return BackupReport(
        str(path), source.form, source.revision, counts, time.perf_counter() - started
    )


def _restore_sqlite(source: _Source, target: Path, progress: ProgressFn | None) -> None:
    from threadline.store.sqlite import SQLiteStore

    building = target.with_name(target.name + ".restoring")
    _remove_sqlite(building)
    try:
        if source.form == "sqlite":
            with (
                contextlib.closing(sqlite3.connect(source.path)) as src,
                contextlib.closing(sqlite3.connect(building)) as dst,
            ):
                src.backup(dst, pages=-1)
                dst.execute("PRAGMA journal_mode = WAL")
            if progress:
                progress(sum(t.rows for t in source.tables))
        else:
            store = SQLiteStore(str(building))
            try:
                _restore_into(store, source, progress, wipe=False)
            finally:
                store.close()
        _fsync(building)
        # The old file's WAL must not be replayed over the restored one.
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(building, target)
    finally:
        _remove_sqlite(building)


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _restore_into(store: Store, source: _Source, progress: ProgressFn | None, wipe: bool) -> None:
    _migrate_to(store, source.revision)
    postgres = store.engine.dialect.name == "postgresql"
    targets = {t.name: t for t in _reflect(store.engine)}
    types = _column_types(store.engine)
    with store._write_connection() as connection:
        if postgres:
            connection.autocommit = False
        else:
            store._begin_write(connection)
        cursor = connection.cursor()
        try:
            if postgres and wipe:
                # Replacing a store replaces its audit log too: the guard is lifted for this
                # transaction only (and restored before it commits).
                cursor.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
            for name in reversed(list(targets)):
                cursor.execute(f'DELETE FROM "{name}"')
            for table, rows in source.read():
                if table.name not in targets:
                    raise InvalidInput(
                        f"{source.path}: table {table.name!r} does not exist at revision "
                        f"{source.revision}"
                    )
                missing = set(table.columns) - set(targets[table.name].columns)
                if missing:
                    raise InvalidInput(
                        f"{source.path}: table {table.name} has columns {sorted(missing)} "
                        f"unknown at revision {source.revision}"
                    )
                load = _copy_postgres if postgres else _insert_rows
                load(store, cursor, table, rows, types[table.name], progress)
            if postgres:
                if wipe:
                    cursor.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
                _reset_sequences(cursor, targets)
        except BaseException:
            connection.rollback()
            raise
        connection.commit()


def _converters(
    table: _Table, types: dict[str, sqltypes.TypeEngine[Any]]
) -> list[Callable[[Any], Any] | None]:
    out: list[Callable[[Any], Any] | None] = []
    for column in table.columns:
        kind = types[column]
        if isinstance(kind, sqltypes.JSON):
            out.append(lambda v: None if v is None else orjson.dumps(v).decode())
        elif isinstance(kind, sqltypes.Boolean):
            out.append(lambda v: None if v is None else bool(v))
        else:
            out.append(None)
    return out


def _converted(rows: Iterator[list[Any]], convert: list[Callable[[Any], Any] | None]) -> Any:
    active = [(i, f) for i, f in enumerate(convert) if f is not None]
    for row in rows:
        for i, f in active:
            row[i] = f(row[i])
        yield row


def _insert_rows(
    store: Store,
    cursor: Any,
    table: _Table,
    rows: Iterator[list[Any]],
    types: dict[str, sqltypes.TypeEngine[Any]],
    progress: ProgressFn | None,
) -> None:
    marks = ", ".join(
        store.json_param() if isinstance(types[c], sqltypes.JSON) else "?" for c in table.columns
    )
    columns = ", ".join(f'"{c}"' for c in table.columns)
    sql = store.sql(f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})')
    converted = _converted(rows, _converters(table, types))
    while batch := list(islice(converted, _BATCH)):
        cursor.executemany(sql, batch)
        if progress:
            progress(len(batch))


def _copy_postgres(
    store: Store,
    cursor: Any,
    table: _Table,
    rows: Iterator[list[Any]],
    types: dict[str, sqltypes.TypeEngine[Any]],
    progress: ProgressFn | None,
) -> None:
    columns = ", ".join(f'"{c}"' for c in table.columns)
    converted = _converted(rows, _converters(table, types))
    with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        done = 0
        for row in converted:
            copy.write_row(row)
            done += 1
            if progress and done % _BATCH == 0:
                progress(_BATCH)
    if progress and done % _BATCH:
        progress(done % _BATCH)


def _reset_sequences(cursor: Any, tables: dict[str, _Table]) -> None:
    """Move PostgreSQL's id sequences past the restored ids."""
    for name, table in tables.items():
        if "id" not in table.columns:
            continue
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", (name,))
        sequence = cursor.fetchone()[0]
        if sequence is not None:
            cursor.execute(
                f'SELECT setval(%s, coalesce(max(id), 1), max(id) IS NOT NULL) FROM "{name}"',
                (sequence,),
            )


def _column_types(engine: Engine) -> dict[str, dict[str, sqltypes.TypeEngine[Any]]]:
    metadata = MetaData()
    metadata.reflect(bind=engine)
    return {t.name: {c.name: c.type for c in t.columns} for t in metadata.sorted_tables}


def _held_rows(store: Store) -> dict[str, int]:
    """Rows in the store's tables beyond what migrations put there."""
    counts = _counts(store.engine)
    return {t: n for t, n in counts.items() if n and t not in _SEEDED}


def _counts(engine: Engine) -> dict[str, int]:
    names = [str(n) for n in inspect(engine).get_table_names() if n != "alembic_version"]
    out = {}
    with engine.connect() as connection:
        for name in sorted(names):
            out[name] = int(
                connection.exec_driver_sql(f'SELECT count(*) FROM "{name}"').scalar_one()
            )
    return out


# -- schema revisions ----------------------------------------------------------------------------


def _alembic_config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return config


def _check_revision(revision: str | None) -> None:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    if revision is None:
        raise InvalidInput("the backup names no schema revision; it was not made by Threadline")
    try:
        ScriptDirectory.from_config(_alembic_config()).get_revision(revision)
    except CommandError:
        raise InvalidInput(
            f"the backup's schema revision {revision!r} is unknown here: it was made by a newer "
            "Threadline; restore it with that version"
        ) from None


def _migrate_to(store: Store, revision: str | None) -> None:
    """Bring the (empty) store's schema to exactly ``revision``, up or down."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = _alembic_config()
    script = ScriptDirectory.from_config(config)
    with store.engine.begin() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        config.attributes["connection"] = connection
        if current == revision:
            return
        below = current is not None and any(
            r.revision == revision for r in script.iterate_revisions(current, "base")
        )
        if below:
            command.downgrade(config, str(revision))
        else:
            command.upgrade(config, str(revision))
