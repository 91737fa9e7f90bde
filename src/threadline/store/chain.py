"""Tamper evidence: every stored event is hash-chained to the one recorded before it.

Each row of ``events`` has a link in ``event_chain`` (same id): ``prev_hash``, the ``hash`` of
the row recorded just before it, and ``hash`` = SHA-256 over that previous hash, the row's id,
eventID, record time, whether it is an error declaration, and its EPCIS JSON in a canonical
form (keys sorted, compact). Row ids are handed out in record order by the single writer, so
the chain follows record order; the links live in a table of their own so that chaining never
rewrites an event row.

:func:`verify` recomputes the chain and names the first row that breaks it: a row whose content
no longer matches its hash was **modified**; a row whose ``prev_hash`` points past rows that are
gone follows a **deletion**; rows whose ``prev_hash`` skips back over rows in between were
**inserted**. A plain hash chain shows edits made with SQL behind the service's back; it does
not stop someone who can rewrite the whole chain, which is why ``verify`` prints the head hash
for safekeeping elsewhere (a later head must descend from it).

The projection columns (``error_declared``) are deliberately outside the hash: an error
declaration sets them on an event recorded earlier.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from threadline.store.base import Reader

GENESIS = "0" * 64
_PREFIX = b"threadline-chain-v1\x00"


def canonical_doc(doc: Any) -> bytes:
    """The EPCIS JSON of an event as hashed: sorted keys, no whitespace."""
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def link_hash(
    prev: str, row: int, event_id: str, record_time: str, declaration: bool, doc: bytes
) -> str:
    """The chain hash of one event row (``doc`` from :func:`canonical_doc`)."""
    digest = hashlib.sha256(_PREFIX)
    digest.update(
        f"{prev}\x00{row}\x00{event_id}\x00{record_time}\x00{int(declaration)}\x00".encode()
    )
    digest.update(doc)
    return digest.hexdigest()


@dataclass
class ChainFault:
    """The first place the chain breaks."""

    row: int
    event_id: str
    kind: str  # "modified" | "deleted" | "inserted"
    message: str


@dataclass
class ChainReport:
    checked: int
    head: str
    fault: ChainFault | None = None

    @property
    def ok(self) -> bool:
        return self.fault is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "head": self.head,
            "fault": None if self.fault is None else self.fault.__dict__,
        }


def _rows(reader: Reader, page: int) -> Iterator[tuple[Any, ...]]:
    last = -(2**63)  # every row, including any a forger placed below the first id
    while True:
        rows = reader.query(
            "SELECT e.id, e.event_id, e.record_time, e.is_declaration, e.doc, c.prev_hash, "
            "c.hash FROM events e LEFT JOIN event_chain c ON c.id = e.id "
            "WHERE e.id > ? ORDER BY e.id LIMIT ?",
            (last, page),
        )
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def _first(reader: Reader, sql: str, params: tuple[Any, ...]) -> Any:
    rows = reader.query(sql, params)
    return rows[0] if rows else None


def verify(
    reader: Reader, *, progress: Callable[[int], None] | None = None, page: int = 5000
) -> ChainReport:
    """Recompute the chain over every event row in id order; stop at the first fault."""
    expected_prev = GENESIS
    checked = 0
    load = reader.store.load_json
    for row, event_id, record_time, declaration, doc, prev, stored in _rows(reader, page):
        if stored is None or prev is None:
            message = f"event row {row} ({event_id}) carries no chain hash: it was inserted"
            return ChainReport(
                checked, expected_prev, ChainFault(row, event_id, "inserted", message)
            )
        if prev != expected_prev:
            return ChainReport(checked, expected_prev, _broken_link(reader, row, event_id, prev))
        actual = link_hash(
            prev, row, event_id, record_time, bool(declaration), canonical_doc(load(doc))
        )
        if actual != stored:
            message = f"event row {row} ({event_id}) was modified after it was recorded"
            return ChainReport(
                checked, expected_prev, ChainFault(row, event_id, "modified", message)
            )
        checked += 1
        expected_prev = stored
        if progress and checked % 10_000 == 0:
            progress(10_000)
    if progress and checked % 10_000:
        progress(checked % 10_000)
    return ChainReport(checked, expected_prev)


def _broken_link(reader: Reader, row: int, event_id: str, prev: str) -> ChainFault:
    """Row ``row`` is chained to something other than the row before it: find out what."""
    anchor: int | None
    if prev == GENESIS:
        anchor = 0  # chained as the very first event: every row before it is new
    else:
        found = _first(
            reader,
            "SELECT c.id, e.id FROM event_chain c LEFT JOIN events e ON e.id = c.id "
            "WHERE c.hash = ? AND c.id < ?",
            (prev, row),
        )
        if found is not None and found[1] is None:
            message = (
                f"event row {found[0]}, recorded just before row {row} ({event_id}), is "
                "missing: it was deleted"
            )
            return ChainFault(row, event_id, "deleted", message)
        anchor = None if found is None else int(found[0])
    if anchor is not None:
        if anchor == 0:
            first = _first(reader, "SELECT id, event_id FROM events ORDER BY id LIMIT 1", ())
            where = "as the first event"
        else:
            first = _first(
                reader,
                "SELECT id, event_id FROM events WHERE id > ? ORDER BY id LIMIT 1",
                (anchor,),
            )
            where = f"directly after row {anchor}"
        message = (
            f"event row {first[0]} ({first[1]}) was inserted behind the service's back: "
            f"row {row} was recorded {where}"
        )
        return ChainFault(first[0], first[1], "inserted", message)
    message = (
        f"the event recorded just before row {row} ({event_id}) is missing: it was deleted "
        "(or rewritten together with its hash)"
    )
    return ChainFault(row, event_id, "deleted", message)
