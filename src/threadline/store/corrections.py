"""Error declarations as the store keeps them: which event was declared in error, and by what.

EPCIS 2.0 lets an error declaration name ``correctiveEventIDs``: "the events having the
specified URIs as the value of their eventID fields are to be considered as corrections to the
event declared erroneous by this event", a link from the error declaration to the events meant
to replace the erroneous one. The store already drops the erroneous event from every projection
(so traces follow the corrective events, which are ordinary events); this module answers "was
this event declared in error, when, why, and which stored events correct it?". It states no
more than the standard does: a corrective event named but not (yet) captured is reported as
missing, not guessed at.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from threadline.store.base import Reader

__all__ = ["Correction", "correction", "corrections"]


@dataclass(frozen=True)
class Correction:
    """One event declared in error: when, why, and the events its declaration names as
    corrections (``corrective_ids``), split into those stored (and in force) and not."""

    event_id: str
    declared_at: str
    reason: str | None
    corrective_ids: tuple[str, ...]
    corrected_by: tuple[str, ...] = ()  # stored and not themselves declared in error
    missing: tuple[str, ...] = ()  # named by the declaration but not in the store
    also_in_error: tuple[str, ...] = ()  # stored, but declared in error too

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "declared_at": self.declared_at,
            "reason": self.reason,
            "corrective_ids": list(self.corrective_ids),
            "corrected_by": list(self.corrected_by),
            "missing": list(self.missing),
            "also_in_error": list(self.also_in_error),
        }


def corrections(reader: Reader, event_ids: Iterable[str]) -> dict[str, Correction]:
    """The error declarations of those of ``event_ids`` that were declared in error."""
    rows = reader.query_in(
        "SELECT event_id, declared_at, reason, corrective_ids FROM error_declarations "
        "WHERE event_id {IN}",
        sorted(set(event_ids)),
    )
    named: dict[str, tuple[str, ...]] = {}
    for event_id, _, _, raw in rows:
        loaded = reader.store.load_json(raw) if raw is not None else []
        named[event_id] = tuple(str(c) for c in loaded or [])
    wanted = sorted({c for ids in named.values() for c in ids})
    stored: dict[str, bool] = {}  # corrective eventID -> declared in error
    for event_id, erroneous in reader.query_in(
        "SELECT event_id, error_declared FROM events WHERE event_id {IN} AND is_declaration = ?",
        wanted,
        (False,),
    ):
        stored[event_id] = bool(erroneous)
    out: dict[str, Correction] = {}
    for event_id, declared_at, reason, _ in rows:
        ids = named[event_id]
        out[event_id] = Correction(
            event_id=event_id,
            declared_at=declared_at,
            reason=reason,
            corrective_ids=ids,
            corrected_by=tuple(c for c in ids if c in stored and not stored[c]),
            missing=tuple(c for c in ids if c not in stored),
            also_in_error=tuple(c for c in ids if stored.get(c)),
        )
    return out


def correction(reader: Reader, event_id: str) -> Correction | None:
    """The error declaration of ``event_id``, or ``None`` when it was not declared in error."""
    return corrections(reader, [event_id]).get(event_id)
