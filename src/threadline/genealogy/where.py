"""Where an object is now and in what state."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from threadline.genealogy.resolve import resolve
from threadline.store.base import Reader


@dataclass
class WhereResult:
    id: str
    kind: str
    state: str | None
    disposition: str | None
    location: str | None
    read_point: str | None
    quantity: float | None
    total: float | None
    uom: str | None
    # EPCIS persistent dispositions in force (set by an event, not unset since), sorted.
    persistent_dispositions: list[str] = field(default_factory=list)
    container_chain: list[str] = field(default_factory=list)
    packed_in: list[dict[str, Any]] = field(default_factory=list)
    last_event: dict[str, Any] | None = None
    attributes: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def where(reader: Reader, identifier: str) -> WhereResult:
    """Current status, disposition (and persistent dispositions in force), location, container
    chain and last event of an object."""
    obj = resolve(reader, identifier)
    st = reader.statuses([obj.id]).get(obj.id)
    result = WhereResult(
        id=obj.key,
        kind=obj.kind,
        state=st.state if st else None,
        disposition=st.disposition if st else None,
        location=st.location if st else None,
        read_point=st.read_point if st else None,
        quantity=st.quantity if st else None,
        total=st.total if st else None,
        uom=st.uom if st else None,
        persistent_dispositions=st.persistent_dispositions() if st else [],
        attributes=reader.object_attrs(obj.id),
    )
    # Follow the container chain upward (box -> pallet -> truck), guarding against cycles.
    seen = {obj.id}
    current = st.container if st else None
    while current is not None and current not in seen:
        seen.add(current)
        parent = reader.objects_by_id([current]).get(current)
        if parent is None:
            break
        result.container_chain.append(parent.key)
        current_status = reader.statuses([current]).get(current)
        current = current_status.container if current_status else None
    open_edges = [
        e
        for e in reader.edges_from([obj.id])
        if e.relation in ("packed_in", "installed_in") and e.valid_to is None
    ]
    keys = reader.objects_by_id({e.dst for e in open_edges})
    result.packed_in = [
        {"container": keys[e.dst].key, "relation": e.relation, "quantity": e.quantity, "uom": e.uom}
        for e in open_edges
    ]
    if st and st.last_event is not None:
        ev = reader.events_by_row([st.last_event]).get(st.last_event)
        if ev is not None:
            result.last_event = {
                "event": ev.event_id,
                "type": ev.type,
                "action": ev.action,
                "biz_step": ev.biz_step,
                "disposition": ev.disposition,
                "time": ev.event_time,
                "read_point": ev.read_point,
                "biz_location": ev.biz_location,
            }
    return result
