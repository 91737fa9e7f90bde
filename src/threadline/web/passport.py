"""The passport of one object: who it is, its release status, where it is, what it was made of
(supplier lots, heat numbers, mill certificates), how it was made (production steps and the
process readings of their equipment, charted against the spec limits), how it was inspected,
what happened to it, and its neighbours upstream and downstream.

:func:`build_passport` gathers it from one read view of the store; the template
``passport.html`` lays it out for a phone first (390 px) and a desk second.

Every lookup is bounded, so the page answers in milliseconds on a plant of millions of events:
the genealogy walks go through the graph index when there is one, event lookups start from the
object's own rows of ``event_objects`` (or ``events.event_id``), readings are read by
(equipment, parameter, time) range with a ``LIMIT``, and every list is capped (the ``*_SHOWN``
constants). What the page derives, and how:

* **Status** — *recalled* when a recall disposition is in force; *on hold* when an active hold
  covers the object (placed on it or on anything upstream of it, :func:`holds_on`) or its last
  event put it on hold; *not released* while its disposition is a bad or warning one
  (non-conformant, damaged, expired...); else *released*.
* **Supplier lots** — the roots of the backward trace (lots nothing went into: the received raw
  material), with the supplier, heat number and certificate from their attributes (the ILMD of
  the receiving event), else the owning party of the receiving event's source list.
* **Production steps, process readings and inspections** — see
  :mod:`threadline.web.passport_process` (how a step's window is found, which spec limits apply).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

from threadline.epcis.cbv import cbv_word
from threadline.genealogy.index import GraphIndex
from threadline.genealogy.resolve import resolve
from threadline.genealogy.trace import TraceResult, trace
from threadline.genealogy.where import WhereResult, where
from threadline.gs1.keys import canonical, to_epc_urn
from threadline.labels.content import KIND_NAMES
from threadline.model.identifiers import Kind
from threadline.quality.holds import holds_on
from threadline.store.base import EventRow, Reader
from threadline.web.passport_process import (
    _GS1_ROOT,
    CHART_ROWS,
    CHART_SAMPLES,
    CHART_SIZE,
    CHARTS_SHOWN,
    INSPECTIONS_SHOWN,
    START_LOOKBACK,
    STEP_MARGIN,
    STEPS_SHOWN,
    Chart,
    Inspection,
    Place,
    Ref,
    Result,
    Step,
    _charts,
    _events,
    _inspections,
    _key,
    _local,
    _products,
    _ref,
    _steps,
    _words,
    readable_time,
)

__all__ = [
    "CHARTS_SHOWN",
    "CHART_ROWS",
    "CHART_SAMPLES",
    "CHART_SIZE",
    "EVENTS_SHOWN",
    "INSPECTIONS_SHOWN",
    "NEIGHBOURS_SHOWN",
    "START_LOOKBACK",
    "STEPS_SHOWN",
    "STEP_MARGIN",
    "SUPPLIER_LOTS_SHOWN",
    "Chart",
    "Inspection",
    "Passport",
    "Place",
    "Ref",
    "Result",
    "Step",
    "build_passport",
    "readable_time",
    "status_badge",
]

EVENTS_SHOWN = 20
NEIGHBOURS_SHOWN = 50
SUPPLIER_LOTS_SHOWN = 12
_TRACE_DEPTH = 40

# Dispositions a person must notice before using the material.
_BAD = frozenset({"recalled", "destroyed", "stolen", "expired", "disposed"})
_WARN = frozenset(
    {"non_conformant", "damaged", "unavailable", "non_sellable_other", "needs_replacement"}
)
_GONE = frozenset({"shipped", "consumed", "destroyed", "decommissioned", "installed"})
# Kinds that are material (made, held, inspected); parties and places have no such sections.
_MATERIAL = frozenset({Kind.LGTIN, Kind.SGTIN, Kind.SSCC, Kind.GIAI})
# Attribute names (local part, lower case) that carry supply data.
_HEAT = ("heatnumber", "heat_number", "heat", "heatno", "castnumber", "cast")
_CERT = ("certificate", "millcertificate", "mill_certificate", "certificateurl", "cert")
_SUPPLIER = ("supplier", "supplierparty", "vendor")
_LOTS = frozenset({Kind.LGTIN, Kind.SGTIN, Kind.GTIN})


@dataclass(frozen=True)
class Neighbour:
    ref: Ref
    kind: str
    relation: str
    quantity: str
    time: str


@dataclass(frozen=True)
class TimelineEntry:
    stamp: str
    time: str
    what: str
    biz_step: str
    disposition: str
    place: Ref | None
    event_id: str


@dataclass(frozen=True)
class HoldNote:
    """An active hold covering the object; ``via`` is the upstream object it was placed on."""

    id: int
    reason: str
    placed: str
    placed_by: str | None
    via: Ref | None


@dataclass(frozen=True)
class SupplyLot:
    """A received raw-material lot and what its supplier declared."""

    ref: Ref
    supplier: Ref | None = None
    heat: str | None = None
    certificate: str | None = None
    certificate_href: str | None = None
    received: str | None = None


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
    material: bool = False
    release: tuple[str, str] = ("", "ok")
    holds: list[HoldNote] = field(default_factory=list)
    supply: SupplyLot | None = None
    supplier_lots: list[SupplyLot] = field(default_factory=list)
    supplier_lots_more: int = 0
    steps: list[Step] = field(default_factory=list)
    steps_more: int = 0
    charts: list[Chart] = field(default_factory=list)
    inspections: list[Inspection] = field(default_factory=list)
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


# -- status ----------------------------------------------------------------------------------------
def status_badge(result: WhereResult, carried: str | None = None) -> tuple[str, str]:
    """(text, tone) of the object's state: tone ``bad``, ``warn``, ``gone`` or ``ok``.

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


def release_status(result: WhereResult, holds: Sequence[HoldNote]) -> tuple[str, str]:
    """(text, tone): ``recalled``, ``on hold``, ``not released`` or ``released``."""
    persistent = set(result.persistent_dispositions)
    disposition = result.disposition or ""
    if "recalled" in persistent or disposition == "recalled":
        return "recalled", "bad"
    last_step = (result.last_event or {}).get("biz_step") or ""
    if holds or any("hold" in p for p in persistent) or last_step == "holding":
        return "on hold", "warn"
    if disposition in _BAD or disposition in _WARN:
        return "not released", "bad" if disposition in _BAD else "warn"
    return "released", "ok"


def _holds(reader: Reader, key: str, base: str, index: GraphIndex | None) -> list[HoldNote]:
    return [
        HoldNote(
            int(h["id"]),
            str(h["reason"]),
            readable_time(str(h["placed_at"])),
            h.get("placed_by"),
            None if h["direct"] else _ref(str(h["via"]), base),
        )
        for h in holds_on(reader, key, index=index)
    ]


# -- small helpers ---------------------------------------------------------------------------------


def _quantity(value: float | None, uom: str | None) -> str:
    return "" if value is None else f"{value:g} {uom or ''}".strip()


def _neighbours(result: TraceResult, base: str) -> tuple[list[Neighbour], int]:
    nodes = [n for n in result.nodes if n.depth == 1]
    shown = [
        Neighbour(
            ref=_ref(n.id, base) or Ref(n.id, n.id, None),
            kind=KIND_NAMES[Kind.of(n.kind)],
            relation=n.relation.replace("_", " "),
            quantity=_quantity(n.quantity, n.uom),
            time=n.time,
        )
        for n in nodes[:NEIGHBOURS_SHOWN]
    ]
    return shown, max(0, len(nodes) - NEIGHBOURS_SHOWN)


# -- supplier lots ---------------------------------------------------------------------------------
def _attribute(attrs: Mapping[str, Any] | None, names: Sequence[str]) -> str | None:
    for name, value in (attrs or {}).items():
        if _local(name) in names and isinstance(value, str | int | float) and str(value).strip():
            return str(value).strip()
    return None


def _supply(
    ref: Ref, attrs: Mapping[str, Any] | None, received: EventRow | None, base: str
) -> SupplyLot | None:
    """Supplier, heat and certificate from a lot's attributes (the receiving event's ILMD),
    the supplier else from the receiving event's source list (owning, else possessing party)."""
    heat, cert = _attribute(attrs, _HEAT), _attribute(attrs, _CERT)
    supplier = _key(_attribute(attrs, _SUPPLIER))
    if supplier is None and received is not None:
        parties = {
            cbv_word(str(s.get("type", "")), "sdt"): s.get("source")
            for s in received.doc.get("sourceList") or []
            if isinstance(s, dict)
        }
        supplier = _key(parties.get("owning_party") or parties.get("possessing_party"))
    if not (heat or cert or supplier):
        return None
    return SupplyLot(
        ref=ref,
        supplier=_ref(supplier, base),
        heat=heat,
        certificate=cert,
        certificate_href=cert if cert and cert.startswith(("https://", "http://")) else None,
        received=readable_time(received.event_time) if received else None,
    )


def _receipts(reader: Reader, ids: Sequence[int]) -> dict[int, EventRow]:
    """The first receiving event of each of ``ids``."""
    out: dict[int, EventRow] = {}
    for oid, event in reversed(_events(reader, ids, "e.biz_step = ?", ("receiving",), 100)):
        out.setdefault(oid, event)
    return out


def _supplier_lots(reader: Reader, backward: TraceResult, base: str) -> tuple[list[SupplyLot], int]:
    """The raw-material lots of a backward trace (the lots nothing went into), capped."""
    targets = {link.target for link in backward.links}
    roots = [n.id for n in backward.nodes if n.id not in targets and Kind.of(n.kind) in _LOTS]
    shown = roots[:SUPPLIER_LOTS_SHOWN]
    if not shown:
        return [], 0
    rows = reader.query_in("SELECT id, key, attrs FROM objects WHERE key {IN}", shown)
    found = {r[1]: (r[0], reader.store.load_json(r[2]) if r[2] is not None else None) for r in rows}
    receipts = _receipts(reader, [oid for oid, _ in found.values()])
    out = []
    for key in shown:
        ref = _ref(key, base) or Ref(key, key, None)
        oid, attrs = found.get(key, (-1, None))
        out.append(_supply(ref, attrs, receipts.get(oid), base) or SupplyLot(ref))
    return out, len(roots) - len(shown)


# -- history ---------------------------------------------------------------------------------------
def _latest_events(reader: Reader, object_id: int) -> tuple[list[EventRow], int]:
    count = reader.query(
        "SELECT count(DISTINCT e.id) FROM event_objects eo JOIN events e ON e.id = eo.event "
        "WHERE eo.object = ? AND e.error_declared = ?",
        (object_id, False),
    )[0][0]
    found = {e.id: e for _, e in _events(reader, [object_id], "1 = 1", (), EVENTS_SHOWN)}
    return list(found.values()), int(count)


def _timeline(events: list[EventRow], base: str) -> list[TimelineEntry]:
    return [
        TimelineEntry(
            stamp=event.event_time,
            time=readable_time(event.event_time),
            what=event.type.replace("Event", "") + (f" {event.action}" if event.action else ""),
            biz_step=_words(event.biz_step),
            disposition=_words(event.disposition, "disp"),
            place=_ref(event.biz_location or event.read_point, base),
            event_id=event.event_id,
        )
        for event in events
    ]


def _carried_state(reader: Reader, chain: list[str]) -> str | None:
    """The first 'gone' state (shipped, consumed...) among the containers holding an object."""
    if not chain:
        return None
    ids = [row.id for row in reader.objects_by_key(chain).values()]
    states = [st.state for st in reader.statuses(ids).values()]
    return next((state for state in states if state in _GONE), None)


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{_shown(k)} {_shown(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value)
    return value if isinstance(value, str) else str(value)


def _attributes(raw: dict[str, Any] | None) -> list[tuple[str, str]]:
    return [(n.removeprefix("tl:"), _shown(v)) for n, v in (raw or {}).items()]


# -- the passport ----------------------------------------------------------------------------------
def build_passport(
    reader: Reader, identifier: str, *, base: str, index: GraphIndex | None = None
) -> Passport:
    """The passport of the stored object ``identifier``; links point at ``base``.

    Raises :class:`~threadline.errors.NotFound` for an object the store does not know.
    """
    obj = resolve(reader, identifier)
    kind = Kind.of(obj.kind)
    material = kind in _MATERIAL
    now = where(reader, obj.key)
    # Lots and containers: the whole backward trace (supplier lots, production steps); other
    # objects (parties, places) only their neighbours, since everything may lead to them.
    backward = trace(
        reader,
        obj.key,
        "backward",
        max_depth=_TRACE_DEPTH if material else 1,
        links=material,
        index=index,
    )
    forward = trace(reader, obj.key, "forward", max_depth=1, index=index)
    events, count = _latest_events(reader, obj.id)
    own = _ref(obj.key, base) or Ref(obj.key, obj.key, None)
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
        title=f"{KIND_NAMES.get(kind, 'Object')} {own.text}",
        human_key=own.text,
        digital_link=own.href,
        epc_urn=to_epc_urn(ident),
        product=obj.product,
        badge=status_badge(now, _carried_state(reader, now.container_chain)),
        where=now,
        location=_ref(now.location, base),
        read_point=_ref(now.read_point, base),
        material=material,
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
    if material:
        passport.holds = _holds(reader, obj.key, base, index)
        passport.release = release_status(now, passport.holds)
        raw = not backward.nodes  # nothing upstream: received material
        receipt = _receipts(reader, [obj.id]).get(obj.id) if raw else None
        passport.supply = _supply(own, now.attributes, receipt, base)
        passport.supplier_lots, passport.supplier_lots_more = _supplier_lots(reader, backward, base)
        passport.steps, passport.steps_more = _steps(reader, obj.id, backward, base)
        products = _products([obj.product, obj.key])
        passport.charts = _charts(reader, passport.steps, products)
        subjects = {obj.id: own} | {
            oid: r for oid, row in list(children.items())[:20] if (r := _ref(row.key, base))
        }
        products |= _products(r.key for r in subjects.values())
        passport.inspections = _inspections(reader, subjects, products, base)
    passport.links = {
        "trace_backward": f"{base}/trace/backward?id={quoted}",
        "trace_forward": f"{base}/trace/forward?id={quoted}",
        "graph_backward": f"{base}/ui/graph?id={quoted}&direction=backward",
        "graph_forward": f"{base}/ui/graph?id={quoted}&direction=forward",
        "holds": f"{base}/ui/holds",
        "where": f"{base}/where?id={quoted}",
        "epcis": f"{base}/epcs/{quoted}/events",
    }
    if own.href and obj.key.startswith(_GS1_ROOT):  # a GS1 key: its Digital Link has a linkset
        passport.links["linkset"] = f"{own.href}{'&' if '?' in own.href else '?'}linkType=all"
    return passport
