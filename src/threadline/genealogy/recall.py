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

from threadline.genealogy.index import GraphIndex
from threadline.genealogy.resolve import resolve
from threadline.genealogy.walk import CONTAINMENT, walk
from threadline.gs1.keys import canonical
from threadline.store.base import EdgeRow, ObjectRow, Reader
from threadline.store.projector import GONE_STATES

# Kinds that name material (as opposed to containers, places and parties).
MATERIAL_KINDS = frozenset({"lgtin", "sgtin", "gtin"})
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


def _contents_at(
    reader: _Graph,
    carried: dict[int, list[tuple[int, str]]],
    affected: set[int],
    kinds: dict[int, ObjectRow],
) -> dict[int, list[tuple[int, float | None, str | None]]]:
    """Affected material inside the carried containers at ship time, per shipment row.

    ``carried`` maps container id -> [(shipment event row, time)].
    """
    out: dict[int, list[tuple[int, float | None, str | None]]] = defaultdict(list)
    frontier = carried
    guard = 0
    while frontier and guard < 32:
        guard += 1
        edges: list[EdgeRow] = reader.contents_of(list(frontier), affected)
        following: dict[int, list[tuple[int, str]]] = defaultdict(list)
        missing = {e.src for e in edges if e.src not in kinds}
        if missing:
            kinds.update(reader.objects_by_id(missing))
        for edge in edges:
            for shipment, time in frontier[edge.dst]:
                if not (
                    edge.valid_from <= time and (edge.valid_to is None or time < edge.valid_to)
                ):
                    continue
                if kinds[edge.src].kind in MATERIAL_KINDS:
                    qty = (
                        edge.quantity
                        if edge.quantity is not None
                        else (1.0 if kinds[edge.src].kind == "sgtin" else None)
                    )
                    uom = edge.uom if edge.quantity is not None else None
                    out[shipment].append((edge.src, qty, uom))
                else:
                    following[edge.src].append((shipment, time))
        frontier = following
    return out


class _Graph(Protocol):
    """Where edges and object keys come from: the store (SQL) or an in-memory index."""

    def edges_from(self, ids: Sequence[int]) -> list[EdgeRow]: ...
    def edges_to(self, ids: Sequence[int]) -> list[EdgeRow]: ...
    def objects_by_id(self, ids: Iterable[int]) -> dict[int, ObjectRow]: ...
    def open_packed_from(self, ids: Sequence[int]) -> list[EdgeRow]: ...
    def contents_of(self, ids: Sequence[int], among: set[int]) -> list[EdgeRow]: ...


class _SQLGraph:
    """The store as a :class:`_Graph`."""

    def __init__(self, reader: Reader) -> None:
        self.edges_from = reader.edges_from
        self.edges_to = reader.edges_to
        self.objects_by_id = reader.objects_by_id
        self._reader = reader

    def contents_of(self, ids: Sequence[int], among: set[int]) -> list[EdgeRow]:
        return [
            e for e in self._reader.edges_to(ids) if e.relation in CONTAINMENT and e.src in among
        ]

    def open_packed_from(self, ids: Sequence[int]) -> list[EdgeRow]:
        return [
            e
            for e in self._reader.edges_from(ids)
            if e.relation == "packed_in" and e.valid_to is None
        ]


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
    objects = graph.objects_by_id(affected)
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
                qty = (
                    edge.quantity
                    if edge.quantity is not None
                    else (1.0 if objects[src].kind == "sgtin" else None)
                )
                direct[row].append((src, qty, edge.uom))
            else:
                carried[src].append((row, time))
    inside = _contents_at(graph, carried, affected, dict(objects))
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
    holding: dict[int, list[EdgeRow]] = defaultdict(list)
    for edge in graph.open_packed_from(list(affected)):
        holding[edge.dst].append(edge)
    for edge in graph.edges_to(list(suspects)):
        if edge.relation == "packed_in" and edge.valid_to is None and edge.src not in affected:
            holding[edge.dst].append(edge)
    missing = {e.src for es in holding.values() for e in es} - set(objects)
    objects = {**objects, **graph.objects_by_id(missing)}
    container_keys = graph.objects_by_id(
        {s.container for s in chain_status.values() if s and s.container is not None} | set(holding)
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
        elif any(objects[e.src].kind in MATERIAL_KINDS for e in holding.get(oid, ())):
            inside = [e for e in holding[oid] if objects[e.src].kind in MATERIAL_KINDS]
            qty = sum(e.quantity if e.quantity is not None else 1.0 for e in inside)
            uoms = {e.uom for e in inside if e.uom}
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
