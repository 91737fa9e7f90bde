"""The audit trail: who did what, when, from where, with what outcome — append-only.

This module only appends and reads; nothing in Threadline updates or deletes an audit row, and
the database refuses it too (triggers created by migration 0004: on SQLite ``RAISE(ABORT)``
before UPDATE and DELETE, on PostgreSQL an exception before UPDATE, DELETE and TRUNCATE).

Actions recorded by the service: ``login`` (outcome ``ok``, ``failed`` or ``throttled``),
``logout``, ``refused`` (``unauthenticated`` or ``forbidden``), and each write request as
``METHOD /route`` with ``ok`` or ``error <status>``. A write that commits events can append its
audit row in the same transaction through :func:`append` with the writer's cursor.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from threadline.epcis.json_reader import utc_text
from threadline.errors import InvalidInput
from threadline.store.auth import now_text, transaction
from threadline.store.base import Store

_COLS = "id, time, actor, role, action, target, outcome, address, request_id, detail"
_INSERT = (
    "INSERT INTO audit_log (time, actor, role, action, target, outcome, address, request_id, "
    "detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    time: str
    actor: str | None
    role: str | None
    action: str
    target: str | None
    outcome: str
    address: str | None
    request_id: str | None
    detail: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def append(
    store: Store,
    cursor: Any,
    *,
    action: str,
    outcome: str,
    actor: str | None = None,
    role: str | None = None,
    target: str | None = None,
    address: str | None = None,
    request_id: str | None = None,
    detail: str | None = None,
) -> None:
    """Append one entry through ``cursor``, inside the caller's (write) transaction."""
    cursor.execute(
        store.sql(_INSERT),
        (now_text(), actor, role, action, target, outcome, address, request_id, detail),
    )


def record(store: Store, **entry: Any) -> None:
    """Append one entry in its own transaction (keyword arguments as for :func:`append`)."""
    with transaction(store, write=True) as cursor:
        append(store, cursor, **entry)


def parse_since(value: str) -> str:
    """An ISO-8601 time (a date alone means its midnight, no zone means UTC) in storage form."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"since: {value!r} is not an ISO-8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return utc_text(moment)


def entries(
    store: Store, *, since: str | None = None, limit: int | None = None
) -> list[AuditEntry]:
    """Entries in the order they were recorded; ``since`` (storage time) inclusive.

    With ``limit`` only the newest ``limit`` entries (still oldest first).
    """
    sql = f"SELECT {_COLS} FROM audit_log"
    params: list[Any] = []
    if since is not None:
        sql += " WHERE time >= ?"
        params.append(since)
    sql += " ORDER BY id DESC" if limit is not None else " ORDER BY id"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    with transaction(store, write=False) as cursor:
        cursor.execute(store.sql(sql), params)
        rows = [AuditEntry(int(r[0]), *r[1:]) for r in cursor.fetchall()]
    return rows[::-1] if limit is not None else rows


def login_failures(store: Store, *, name: str, address: str | None, since: str) -> list[str]:
    """Times of the failed logins for ``name`` from ``address`` since ``since`` and since the
    last successful one, newest first (throttled attempts do not count either way)."""
    # Null-safe equality: the client address is unknown on some transports.
    same = "IS ?" if store.engine.dialect.name == "sqlite" else "IS NOT DISTINCT FROM ?"
    with transaction(store, write=False) as cursor:
        cursor.execute(
            store.sql(
                "SELECT time, outcome FROM audit_log WHERE actor = ? AND action = ? "
                f"AND time >= ? AND address {same} ORDER BY id DESC LIMIT 64"
            ),
            (name, "login", since, address),
        )
        rows = cursor.fetchall()
    failures: list[str] = []
    for time, outcome in rows:
        if outcome == "ok":
            break
        if outcome == "failed":
            failures.append(time)
    return failures
