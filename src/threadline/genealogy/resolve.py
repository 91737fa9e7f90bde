"""Turning what a person typed into stored objects."""

from __future__ import annotations

from threadline.errors import NotFound
from threadline.gs1.keys import canonical
from threadline.store.base import ObjectRow, Reader


def resolve(reader: Reader, raw: str) -> ObjectRow:
    """The stored object for ``raw`` (any GS1 form or URI); :class:`NotFound` if none."""
    key = canonical(raw).key
    found = reader.objects_by_key([key]).get(key)
    if found is None:
        shown = f"{raw!r}" if key == raw else f"{raw!r} (canonical {key})"
        raise NotFound(f"no object {shown} in the store")
    return found


def resolve_equipment(reader: Reader, raw: str) -> ObjectRow:
    """A read point by full identifier, or by the bare SGLN extension (``CH-07``) if unambiguous."""
    try:
        return resolve(reader, raw)
    except NotFound:
        if "/" in raw or ":" in raw:
            raise
    rows = reader.query(
        "SELECT id, key, kind, product, gcp_length FROM objects WHERE kind = ? AND key LIKE ?",
        ("sgln", f"%/254/{raw}"),
    )
    if len(rows) == 1:
        return ObjectRow(*rows[0])
    if not rows:
        raise NotFound(f"no equipment or location {raw!r} in the store")
    names = ", ".join(r[1] for r in rows[:5])
    raise NotFound(f"{raw!r} names several locations ({names}); give the full identifier")
