"""Storage: the Store contract and its SQLite and PostgreSQL backends."""

from __future__ import annotations

from threadline.config import Settings
from threadline.errors import StoreUnavailable
from threadline.store.base import AppendResult, EdgeRow, EventRow, ObjectRow, Reader, Store

__all__ = [
    "AppendResult",
    "EdgeRow",
    "EventRow",
    "ObjectRow",
    "Reader",
    "Store",
    "open_store",
]


def open_store(
    db: str | None = None, *, migrate: bool = True, batch_size: int | None = None
) -> Store:
    """Open the store named by ``db`` (a SQLite path or a ``postgresql://`` URL).

    Without ``db`` the ``THREADLINE_DB`` setting applies, else ``threadline.db`` here.
    The schema is migrated to the current version unless ``migrate`` is false.
    """
    settings = Settings.from_env(db=db)
    size = batch_size or settings.batch_size
    target = settings.db
    store: Store
    if target.startswith(("postgresql:", "postgres:", "postgresql+psycopg:")):
        from threadline.store.postgres import PostgresStore

        store = PostgresStore(target, batch_size=size)
    else:
        from threadline.store.sqlite import SQLiteStore

        path = target.removeprefix("sqlite:///")
        store = SQLiteStore(path, batch_size=size)
    if migrate:
        try:
            store.migrate()
        except Exception as exc:
            store.close()
            if "connect" in str(exc).lower() or "connection" in str(exc).lower():
                raise StoreUnavailable(f"cannot reach the database {target}: {exc}") from exc
            raise
    return store
