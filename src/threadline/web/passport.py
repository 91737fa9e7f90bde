"""The passport of one object: who it is, its state, where it is, what happened to it, and its
neighbours upstream and downstream.

:func:`build_passport` gathers it from one read view of the store (the genealogy engine's
``where`` and a one-step ``trace`` each way, and the latest events); the template
``passport.html`` lays it out for a phone first (390 px) and a desk second.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

from threadline.epcis.cbv import cbv_word
from threadline.errors import InvalidInput
from threadline.genealogy.index import GraphIndex
from threadline.genealogy.resolve import resolve
from threadline.genealogy.trace import TraceResult, trace
from threadline.genealogy.where import WhereResult, where
from threadline.gs1.keys import canonical, to_epc_urn
from threadline.labels.content import KIND_NAMES, display_key, passport_uri
from threadline.model.identifiers import Kind
from threadline.store.base import EventRow, Reader

__all__ = [
    "EVENTS_SHOWN",
    "NEIGHBOURS_SHOWN",
    "Passport",
    "build_passport",
    "readable_time",
    "status_badge",
]

EVENTS_SHOWN = 20
NEIGHBOURS_SHOWN = 50

# Dispositions a person must notice before using the material.
_BAD = frozenset({"recalled", "destroyed", "stolen", "expired", "disposed"})
_WARN = frozenset(
    {"non_conformant", "damaged", "unavailable", "non_sellable_other", "needs_replacement"}
)
_GONE = frozenset({"shipped", "consumed", "destroyed", "decommissioned", "installed"})


@dataclass(frozen=True)
class Ref:
    """An identifier shown on a page: its text, and its passport address when it has one."""

    key: str
    text: str
    href: str | None


@dataclass(frozen=True)
class Neighbour:
    """An object one genealogy link away."""

    ref: Ref
    kind: str
    relation: str
    quantity: str
    time: str


@dataclass(frozen=True)
class TimelineEntry:
    """One event in the object's history."""

    stamp: str
    time: str
    what: str
    biz_step: str
    disposition: str
    place: Ref | None
    event_id: str


@dataclass
class Passport:
    """Everything the passport page shows, ready for the template."""

    key: str
    kind: str
    kind_name: str
    title: str
    human_key: str
    digital_link: str | None
    epc_urn: str | None
    product: str | None
    badge: tuple[str, str]
    where: WhereResult
    location: Ref | None
    read_point: Ref | None
    containers: list[Ref] = field(default_factory=list)
    contents: list[tuple[Ref, str]] = field(default_factory=list)
    attributes: list[tuple[str, str]] = field(default_factory=list)
    events: list[TimelineEntry] = field(default_factory=list)
    event_count: int = 0
    upstream: list[Neighbour] = field(default_factory=list)
    upstream_more: int = 0
    downstream: list[Neighbour] = field(default_factory=list)
    downstream_more: int = 0
    links: dict[str, str] = field(default_factory=dict)


def status_badge(result: WhereResult, carried: str | None = None) -> tuple[str, str]:
    """(text, tone) of the object's status: tone ``bad``, ``warn``, ``gone`` or ``ok``.

    ``carried`` is the state of a container holding the object when that state means it left
    (a box on a shipped pallet has shipped, whatever its own last event said).
    """
    persistent = set(result.persistent_dispositions)
    disposition = result.disposition or ""
    if "recalled" in persistent or disposition == "recalled":
        return "recalled", "bad"
    held = sorted(p for p in persistent if "hold" in p)
    if held:
        return held[0].replace("_", " "), "warn"
    if disposition in _BAD:
        return disposition.replace("_", " "), "bad"
    if disposition in _WARN:
        return disposition.replace("_", " "), "warn"
    if result.state in _GONE:
        return result.state or "", "gone"
    if carried in _GONE:
        return carried or "", "gone"
    return (disposition or result.state or "unknown").replace("_", " "), "ok"


def _kind(value: str) -> Kind:
    try:
        return Kind(value)
    except ValueError:
        return Kind.URI


def _ref(key: str | None, base: str) -> Ref | None:
    if not key:
        return None
    try:
        href = passport_uri(key, base)
    except InvalidInput:  # a stored key that no longer parses still has its passport
        href = None
    return Ref(key, display_key(key), href or f"{base}/ui/passport?id={quote(key, safe='')}")


def _quantity(value: float | None, uom: str | None) -> str:
    if value is None:
        return ""
    return f"{value:g} {uom or ''}".strip()


def _neighbours(result: TraceResult, base: str) -> tuple[list[Neighbour], int]:
    nodes = [n for n in result.nodes if n.depth == 1]
    shown = [
        Neighbour(
            ref=_ref(n.id, base) or Ref(n.id, n.id, None),
            kind=KIND_NAMES[_kind(n.kind)],
            relation=n.relation.replace("_", " "),
            quantity=_quantity(n.quantity, n.uom),
            time=n.time,
        )
        for n in nodes[:NEIGHBOURS_SHOWN]
    ]
    return shown, max(0, len(nodes) - NEIGHBOURS_SHOWN)


def _latest_events(reader: Reader, object_id: int) -> tuple[list[EventRow], int]:
    count = reader.query(
        "SELECT count(DISTINCT e.id) FROM event_objects eo JOIN events e ON e.id = eo.event "
        "WHERE eo.object = ? AND e.error_declared = ?",
        (object_id, False),
    )[0][0]
    rows = reader.query(
        "SELECT DISTINCT e.id, e.event_time FROM event_objects eo JOIN events e "
        "ON e.id = eo.event WHERE eo.object = ? AND e.error_declared = ? "
        "ORDER BY e.event_time DESC, e.id DESC LIMIT ?",
        (object_id, False, EVENTS_SHOWN),
    )
    found = reader.events_by_row([r[0] for r in rows])
    return [found[r[0]] for r in rows if r[0] in found], int(count)


def _timeline(events: list[EventRow], base: str) -> list[TimelineEntry]:
    out = []
    for event in events:
        what = event.type.replace("Event", "")
        if event.action:
            what += f" {event.action}"
        out.append(
            TimelineEntry(
                stamp=event.event_time,
                time=readable_time(event.event_time),
                what=what,
                biz_step=cbv_word(event.biz_step, "bizstep").replace("_", " ")
                if event.biz_step
                else "",
                disposition=cbv_word(event.disposition, "disp").replace("_", " ")
                if event.disposition
                else "",
                place=_ref(event.biz_location or event.read_point, base),
                event_id=event.event_id,
            )
        )
    return out


def readable_time(stamp: str) -> str:
    """``2026-03-01T08:01:00.000000Z`` as ``2026-03-01 08:01:00 UTC`` (stored times are UTC)."""
    day, sep, clock = stamp.partition("T")
    if not sep:
        return stamp
    clock = clock.removesuffix("Z").split(".", 1)[0]
    return f"{day} {clock} UTC"


def _carried_state(reader: Reader, chain: list[str]) -> str | None:
    """The first 'gone' state (shipped, consumed...) among the containers holding an object."""
    if not chain:
        return None
    ids = [row.id for row in reader.objects_by_key(chain).values()]
    states = [st.state for st in reader.statuses(ids).values()]
    return next((state for state in states if state in _GONE), None)


def _attributes(raw: dict[str, Any] | None) -> list[tuple[str, str]]:
    out = []
    for name, value in (raw or {}).items():
        shown = value if isinstance(value, str) else str(value)
        out.append((name.split(":", 1)[-1] if name.startswith("tl:") else name, shown))
    return out


def _title(kind: Kind, human: str) -> str:
    return f"{KIND_NAMES.get(kind, 'Object')} {human}"


def build_passport(
    reader: Reader, identifier: str, *, base: str, index: GraphIndex | None = None
) -> Passport:
    """The passport of the stored object ``identifier``; links point at ``base``.

    Raises :class:`~threadline.errors.NotFound` for an object the store does not know.
    """
    obj = resolve(reader, identifier)
    kind = _kind(obj.kind)
    now = where(reader, obj.key)
    backward = trace(reader, obj.key, "backward", max_depth=1, index=index)
    forward = trace(reader, obj.key, "forward", max_depth=1, index=index)
    events, count = _latest_events(reader, obj.id)
    own = _ref(obj.key, base)
    ident = canonical(obj.key)
    if obj.gcp_length is not None:
        ident = replace(ident, gcp_length=obj.gcp_length)
    inside = [
        e
        for e in reader.edges_to([obj.id])
        if e.relation in ("packed_in", "installed_in") and e.valid_to is None
    ]
    children = reader.objects_by_id({e.src for e in inside})
    quoted = quote(obj.key, safe="")
    passport = Passport(
        key=obj.key,
        kind=obj.kind,
        kind_name=KIND_NAMES.get(kind, obj.kind),
        title=_title(kind, own.text if own else obj.key),
        human_key=own.text if own else obj.key,
        digital_link=own.href if own else None,
        epc_urn=to_epc_urn(ident),
        product=obj.product,
        badge=status_badge(now, _carried_state(reader, now.container_chain)),
        where=now,
        location=_ref(now.location, base),
        read_point=_ref(now.read_point, base),
        containers=[r for key in now.container_chain if (r := _ref(key, base))],
        contents=[
            (r, _quantity(e.quantity, e.uom))
            for e in inside
            if e.src in children and (r := _ref(children[e.src].key, base))
        ],
        attributes=_attributes(now.attributes),
        events=_timeline(events, base),
        event_count=count,
    )
    passport.upstream, passport.upstream_more = _neighbours(backward, base)
    passport.downstream, passport.downstream_more = _neighbours(forward, base)
    passport.links = {
        "trace_backward": f"{base}/trace/backward?id={quoted}",
        "trace_forward": f"{base}/trace/forward?id={quoted}",
        "where": f"{base}/where?id={quoted}",
        "epcis": f"{base}/epcs/{quoted}/events",
    }
    if own and own.href:
        passport.links["linkset"] = f"{own.href}{'&' if '?' in own.href else '?'}linkType=all"
    return passport
