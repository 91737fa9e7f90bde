"""Payloads an ingester refused: where they came from, an excerpt, and why.

An ingester (MQTT, OPC UA) never stops on a bad payload: it records the payload here, in the
same transaction as the good data of its batch, tells the sender where it can (the MQTT
``.../errors`` topic), and carries on. Rows are only appended; :func:`list_errors` reads them
back, newest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from threadline.store.base import Store

__all__ = ["EXCERPT_CHARS", "IngestError", "excerpt", "list_errors", "record_errors"]

EXCERPT_CHARS = 1000
"""How much of a refused payload is kept (enough to recognise it, bounded for floods)."""

_INSERT = "INSERT INTO ingest_errors (time, source, topic, payload, reason) VALUES (?, ?, ?, ?, ?)"


@dataclass(frozen=True)
class IngestError:
    """One refused payload."""

    time: str
    source: str
    topic: str | None
    payload: str | None
    reason: str
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def excerpt(payload: bytes | str | None) -> str | None:
    """The first :data:`EXCERPT_CHARS` characters of ``payload`` as text (bytes leniently)."""
    if payload is None:
        return None
    if isinstance(payload, bytes):
        payload = payload[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")
    return payload[:EXCERPT_CHARS]


def record_errors(store: Store, cursor: Any, errors: Sequence[IngestError]) -> None:
    """Append ``errors`` through ``cursor`` (a write transaction of ``store``)."""
    if errors:
        cursor.executemany(
            store.sql(_INSERT),
            [(e.time, e.source, e.topic, excerpt(e.payload), e.reason) for e in errors],
        )


def list_errors(store: Store, *, limit: int = 100, source: str | None = None) -> list[IngestError]:
    """The most recent refused payloads, newest first (optionally of one source)."""
    sql = "SELECT id, time, source, topic, payload, reason FROM ingest_errors"
    params: list[Any] = []
    if source is not None:
        sql += " WHERE source = ?"
        params.append(source)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    with store.reader() as reader:
        rows = reader.query(sql, params)
    return [IngestError(r[1], r[2], r[3], r[4], r[5], id=r[0]) for r in rows]
