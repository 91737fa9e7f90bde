"""Recall scope: everything downstream of the suspects, where it went and what is still here.

The affected quantity of a downstream object is its whole quantity: once two heats are mixed in
one batch, no share of the batch can be declared clean.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from threadline.genealogy.index import MATERIAL_KINDS, GraphIndex
from threadline.genealogy.resolve import resolve
from threadline.genealogy.walk import CONTAINMENT, walk
from threadline.gs1.keys import canonical
from threadline.store.base import EdgeRow, ObjectRow, Reader
from threadline.store.projector import GONE_STATES

PARTY_PREFERENCE = ("owning_party", "possessing_party", "location")


@dataclass
class Item:
    id: str
    quantity: float | None
    uom: str | None


@dataclass
class Shipment:
    event: str
    time: str
    biz_step: str | None
    destinations: list[dict[str, str]]
    biz_transactions: list[dict[str, str | None]]
    objects: list[str]
    items: list[Item]


@dataclass
class Customer:
    id: str
    items: list[Item]
    shipments: list[str]


@dataclass
class StockEntry:
    id: str
    kind: str
    location: str | None
    quantity: float | None
    uom: str | None
    container: str | None
    disposition: str | None


@dataclass
class RecallScope:
    suspects: list[dict[str, str]]
    affected: list[dict[str, Any]] = field(default_factory=list)
    shipments: list[Shipment] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    in_stock: list[StockEntry] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sum_items(items: Sequence[Item]) -> list[Item]:
    totals: dict[tuple[str, str | None], float | None] = {}
    for item in items:
        key = (item.id, item.uom)
        if item.quantity is None:
            totals.setdefault(key, None)
        else:
            totals[key] = (totals.get(key) or 0.0) + item.quantity
    return [Item(i, q, u) for (i, u), q in sorted(totals.items(), key=lambda kv: kv[0][0])]


# (container, shipment event row, ship time) -> what was inside then: (src, shipment, time,
# quantity, uom, src is material)
Inside = tuple[int, int, str, float | None, str | None, bool]


def _contents_at(
    graph: _Graph, carried: dict[int, list[tuple[int, str]]], affected: set[int]
) -> dict[int, list[tuple[int, float | None, str | None]]]:
    """Affected material inside the carried containers at ship time, per shipment row.

    ``carried`` maps container id -> [(shipment event row, time)]; containers inside
    containers are followed down to the material.
    """
    out: dict[int, list[tuple[int, float | None, str | None]]] = defaultdict(list)
    entries = [(c, ship, time) for c, pairs in carried.items() for ship, time in pairs]
    guard = 0
    while entries and guard < 32:
        guard += 1
        following = []
        for src, ship, time, qty, uom, material in graph.contents_step(entries, affected):
            if material:
                out[ship].append((src, qty, uom))
            else:
                following.append((src, ship, time))
        entries = following
    return out


class _Graph(Protocol):
    """Where edges and object keys come from: the store (SQL) or an in-memory index."""

    def objects_by_id(self, ids: Iterable[int]) -> dict[int, ObjectRow]: ...
    def contents_step(
        self, entries: Sequence[tuple[int, int, str]], among: set[int]
    ) -> list[Inside]: ...
    def material_inside(
        self, *, sources: Sequence[int], into: Sequence[int], exclude: set[int]
    ) -> dict[int, list[tuple[float | None, str | None]]]: ...


def _objects(graph: _Graph, reader: Reader, ids: set[int]) -> dict[int, ObjectRow]:
    """Key and kind of ``ids`` from ``graph``, and from the store for any it does not know yet."""
    found = graph.objects_by_id(ids)
    missing = ids - found.keys()
    if missing and isinstance(graph, GraphIndex):
        found.update(reader.objects_by_id(missing))
    return found


class _SQLGraph:
    """The store as a :class:`_Graph`."""

    def __init__(self, reader: Reader) -> None:
        self.objects_by_id = reader.objects_by_id
        self._reader = reader

    def contents_step(
        self, entries: Sequence[tuple[int, int, str]], among: set[int]
    ) -> list[Inside]:
        """Children of each (container, shipment, time) entry that were inside it at that
        time and are in ``among``."""
        at: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for container, ship, time in entries:
            at[container].append((ship, time))
        edges = [
            e
            for e in self._reader.edges_to(list(at))
            if e.relation in CONTAINMENT and e.src in among
        ]
        kinds = self._reader.objects_by_id({e.src for e in edges})
        out: list[Inside] = []
        for e in edges:
            material = kinds[e.src].kind in MATERIAL_KINDS
            for ship, time in at[e.dst]:
                if e.valid_from <= time and (e.valid_to is None or time < e.valid_to):
                    qty, uom = _material_quantity(kinds[e.src].kind, e.quantity, e.uom)
                    out.append((e.src, ship, time, qty, uom, material))
        return out

    def material_inside(
        self, *, sources: Sequence[int], into: Sequence[int], exclude: set[int]
    ) -> dict[int, list[tuple[float | None, str | None]]]:
        """Material each container holds now, over open packed_in edges from ``sources`` or
        into ``into`` (the latter skipping sources in ``exclude``)."""
        edges = [
            e
            for e in self._reader.edges_from(sources)
            if e.relation == "packed_in" and e.valid_to is None
        ] + [
            e
            for e in self._reader.edges_to(into)
            if e.relation == "packed_in" and e.valid_to is None and e.src not in exclude
        ]
        kinds = self._reader.objects_by_id({e.src for e in edges})
        out: dict[int, list[tuple[float | None, str | None]]] = defaultdict(list)
        for e in edges:
            if kinds[e.src].kind in MATERIAL_KINDS:
                out[e.dst].append(_material_quantity(kinds[e.src].kind, e.quantity, e.uom))
        return out


def _material_quantity(
    kind: str, quantity: float | None, uom: str | None
) -> tuple[float | None, str | None]:
    """The quantity an edge carries: its own, or one piece for a serialised item."""
    if quantity is not None:
        return quantity, uom
    return (1.0 if kind == "sgtin" else None), None


def _walk(
    reader: Reader, index: GraphIndex | None, roots: list[int]
) -> tuple[dict[int, int], list[EdgeRow]]:
    """Depth of every object downstream of ``roots`` and the shipping links followed."""
    if index is None:
        found = walk(reader, roots, forward=True)
        shipped = [e for e, _ in found.edges.values() if e.relation == "shipped_to"]
        return found.depth, shipped
    index.refresh(reader)
    found_ix = index.walk(roots, forward=True, links=("shipped_to",))
    depth = dict.fromkeys(roots, 0)
    depth.update(zip(found_ix.nodes.tolist(), found_ix.depth.tolist(), strict=True))
    segs = np.array([s for s, _, _ in found_ix.links], dtype=np.int64)
    poss = np.array([p for _, p, _ in found_ix.links], dtype=np.int64)
    return depth, index.edge_rows(segs, poss)


def recall(
    reader: Reader, identifiers: Sequence[str], *, index: GraphIndex | None = None
) -> RecallScope:
    """The recall scope of the suspect objects (see module docstring).

    With an ``index`` (a long-running process's :class:`GraphIndex`) the genealogy is read
    from memory; status and shipping details still come from the store. Same answer.
    """
    suspects = [resolve(reader, raw) for raw in identifiers]
    graph: _Graph = _SQLGraph(reader) if index is None else index
    depth, shipped = _walk(reader, index, [s.id for s in suspects])
    affected = set(depth)
    objects = _objects(graph, reader, affected)
    scope = RecallScope(suspects=[{"id": s.key, "kind": s.kind} for s in suspects])
    statuses = reader.statuses(list(affected))
    for oid in sorted(affected, key=lambda o: (depth[o], objects[o].key)):
        obj = objects[oid]
        st = statuses.get(oid)
        scope.affected.append(
            {
                "id": obj.key,
                "kind": obj.kind,
                "depth": depth[oid],
                "state": st.state if st else None,
                "quantity": st.total if st else None,
                "uom": st.uom if st else None,
            }
        )

    # Shipments: each shipping event reached, with what it carried of the affected material.
    by_event: dict[int, dict[int, EdgeRow]] = defaultdict(dict)
    for edge in shipped:
        by_event[edge.event].setdefault(edge.src, edge)
    events = reader.events_by_row(by_event)
    carried: dict[int, list[tuple[int, str]]] = defaultdict(list)
    direct: dict[int, list[tuple[int, float | None, str | None]]] = defaultdict(list)
    for row, sources in by_event.items():
        time = events[row].event_time
        for src, edge in sources.items():
            if objects[src].kind in MATERIAL_KINDS:
                qty, uom = _material_quantity(objects[src].kind, edge.quantity, edge.uom)
                direct[row].append((src, qty, uom))
            else:
                carried[src].append((row, time))
    inside = _contents_at(graph, carried, affected)
    customers: dict[str, list[Item]] = defaultdict(list)
    customer_shipments: dict[str, list[str]] = defaultdict(list)
    for row in sorted(by_event, key=lambda r: (events[r].event_time, r)):
        ev = events[row]
        items = _sum_items([Item(objects[o].key, q, u) for o, q, u in (*direct[row], *inside[row])])
        destinations = [
            {"type": str(d.get("type", "")), "id": canonical(str(d.get("destination"))).key}
            for d in ev.doc.get("destinationList", [])
            if isinstance(d, dict) and d.get("destination")
        ]
        shipment = Shipment(
            event=ev.event_id,
            time=ev.event_time,
            biz_step=ev.biz_step,
            destinations=destinations,
            biz_transactions=[
                {"type": t.get("type"), "id": t.get("bizTransaction")}
                for t in ev.doc.get("bizTransactionList", [])
                if isinstance(t, dict)
            ],
            objects=sorted(objects[s].key for s in by_event[row]),
            items=items,
        )
        scope.shipments.append(shipment)
        party = _customer_of(destinations)
        if party is not None:
            customers[party].extend(items)
            customer_shipments[party].append(ev.event_id)
    scope.customers = [
        Customer(id=party, items=_sum_items(items), shipments=customer_shipments[party])
        for party, items in sorted(customers.items())
    ]
    scope.in_stock = _in_stock(reader, graph, affected, {s.id for s in suspects}, objects, statuses)
    return scope


def _customer_of(destinations: list[dict[str, str]]) -> str | None:
    for wanted in PARTY_PREFERENCE:
        for dest in destinations:
            if dest["type"].endswith(wanted):
                return dest["id"]
    return destinations[0]["id"] if destinations else None


def _in_stock(
    reader: Reader,
    graph: _Graph,
    affected: set[int],
    suspects: set[int],
    objects: dict[int, ObjectRow],
    statuses: dict[int, Any],
) -> list[StockEntry]:
    """Affected material still on hand: loose lot remainders and containers that hold it.

    A suspect container counts with everything inside it, whatever its contents' origin.
    """
    # Which containers are gone (shipped, consumed...) somewhere up their container chain.
    chain_status = dict(statuses)
    pending = {s.container for s in statuses.values() if s.container is not None}
    while pending - set(chain_status):
        ask = list(pending - set(chain_status))
        chain_status.update(reader.statuses(ask))
        for oid in ask:
            chain_status.setdefault(oid, None)
        pending = {s.container for s in chain_status.values() if s and s.container is not None}

    memo: dict[int, bool] = {}

    def gone(oid: int | None, depth: int = 0) -> bool:
        if oid is None:
            return False
        if oid in memo:
            return memo[oid]
        st = chain_status.get(oid)
        if st is None or depth > 32:
            answer = False
        elif st.state in GONE_STATES:
            answer = True
        else:
            answer = gone(st.container, depth + 1)
        memo[oid] = answer
        return answer

    out: list[StockEntry] = []
    holding = graph.material_inside(sources=list(affected), into=list(suspects), exclude=affected)
    container_keys = _objects(
        graph,
        reader,
        {s.container for s in chain_status.values() if s and s.container is not None}
        | set(holding),
    )
    for oid in sorted(affected, key=lambda o: objects[o].key):
        st = statuses.get(oid)
        obj = objects[oid]
        if st is None or gone(oid):
            continue
        parent = container_keys[st.container].key if st.container in container_keys else None
        if obj.kind in MATERIAL_KINDS:
            qty = st.quantity if obj.kind != "sgtin" else 1.0
            if qty and qty > 0 and st.container is None:
                out.append(
                    StockEntry(obj.key, obj.kind, st.location, qty, st.uom, None, st.disposition)
                )
        elif holding.get(oid):
            inside = holding[oid]
            qty = sum(q if q is not None else 1.0 for q, _ in inside)
            uoms = {u for _, u in inside if u}
            out.append(
                StockEntry(
                    obj.key,
                    obj.kind,
                    st.location,
                    qty,
                    uoms.pop() if len(uoms) == 1 else None,
                    parent,
                    st.disposition,
                )
            )
    return out
