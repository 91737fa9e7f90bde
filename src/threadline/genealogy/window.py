"""The process-window question: what ran on this equipment between two times."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from threadline.epcis.json_reader import parse_event, utc_text
from threadline.errors import InvalidInput
from threadline.genealogy.resolve import resolve_equipment
from threadline.gs1.keys import canonical
from threadline.store.base import Reader
from threadline.store.projector import roles_of


@dataclass
class WindowLot:
    id: str
    role: str
    quantity: float | None
    uom: str | None
    event: str
    time: str
    biz_step: str | None


@dataclass
class WindowResult:
    equipment: str
    start: str
    end: str
    events: int
    lots: list[WindowLot] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_time(value: str, what: str) -> str:
    """A user-supplied ISO-8601 time in storage form; a time without zone is taken as UTC."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{what}: {value!r} is not an ISO-8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return utc_text(moment)


def window(reader: Reader, equipment: str, start: str, end: str) -> WindowResult:
    """Lots produced or processed at read point ``equipment`` with start <= eventTime < end."""
    point = resolve_equipment(reader, equipment)
    lo, hi = parse_time(start, "--from"), parse_time(end, "--to")
    if hi <= lo:
        raise InvalidInput(f"--to ({end}) must be after --from ({start})")
    rows = reader.events_at(point.key, lo, hi)
    result = WindowResult(equipment=point.key, start=lo, end=hi, events=len(rows))
    seen: set[tuple[str, str, str]] = set()
    for row in rows:
        event = parse_event(row.doc, event_id=row.event_id)
        for role in roles_of(event):
            key = canonical(role.raw_id).key
            if (key, role.role, row.event_id) in seen:
                continue
            seen.add((key, role.role, row.event_id))
            result.lots.append(
                WindowLot(
                    key,
                    role.role,
                    role.quantity,
                    role.uom,
                    row.event_id,
                    row.event_time,
                    row.biz_step,
                )
            )
    return result
