"""Backward and forward trace of one object."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np

from threadline.genealogy.index import GraphIndex
from threadline.genealogy.resolve import resolve
from threadline.genealogy.walk import walk
from threadline.store.base import EdgeRow, Reader

Direction = Literal["backward", "forward"]


class TraceNode(NamedTuple):
    """One object reached by a trace and the link that first reached it.

    (A named tuple: a heat lot's trace builds thousands of these per call.)
    """

    id: str
    kind: str
    depth: int
    relation: str
    quantity: float | None
    uom: str | None
    via: str
    event: str
    time: str
    until: str | None


class TraceLink(NamedTuple):
    """One genealogy edge the trace followed: ``source`` went into ``target``."""

    source: str
    target: str
    relation: str
    quantity: float | None
    uom: str | None
    event: str
    valid_from: str
    valid_to: str | None
    depth: int


@dataclass
class TraceResult:
    root: str
    kind: str
    direction: Direction
    nodes: list[TraceNode] = field(default_factory=list)
    links: list[TraceLink] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "kind": self.kind,
            "direction": self.direction,
            "nodes": [n._asdict() for n in self.nodes],
            "links": [link._asdict() for link in self.links],
        }


Columns = dict[str, list[Any]]
_FIELDS = ("src", "dst", "relation", "quantity", "uom", "event", "valid_from", "valid_to")
# The index path also fills "event_id"; the SQL path looks eventIDs up after the walk.


@dataclass
class _Found:
    """A walk's outcome as columns, whichever engine walked; lookups resolve ids in bulk."""

    nodes: list[int]
    depths: list[int]
    first: Columns  # one row per node: the link that first reached it
    links: Columns  # every link followed (when asked for)
    link_depths: list[int]
    keys: Callable[[list[int]], list[str]]
    kinds: Callable[[list[int]], list[str]]
    ordered: bool = False  # nodes already in (depth, id) order


def _columns(edges: list[EdgeRow]) -> Columns:
    return {name: [getattr(e, name) for e in edges] for name in _FIELDS}


def _walk_sql(
    reader: Reader, root: int, forward: bool, max_depth: int | None, with_links: bool
) -> _Found:
    found = walk(reader, [root], forward=forward, max_depth=max_depth)
    nodes = [oid for oid in found.depth if oid != root]
    followed = list(found.edges.values()) if with_links else []
    edges = [found.first_edge[oid] for oid in nodes] + [e for e, _ in followed]
    objects = reader.objects_by_id({root} | {e.src for e in edges} | {e.dst for e in edges})
    events = reader.event_ids({e.event for e in edges})
    first = _columns([found.first_edge[oid] for oid in nodes])
    first["event_id"] = [events.get(r, "") for r in first["event"]]
    followed_columns = _columns([e for e, _ in followed])
    followed_columns["event_id"] = [events.get(r, "") for r in followed_columns["event"]]
    return _Found(
        nodes=nodes,
        depths=[found.depth[oid] for oid in nodes],
        first=first,
        links=followed_columns,
        link_depths=[d for _, d in followed],
        keys=lambda ids: [objects[i].key for i in ids],
        kinds=lambda ids: [objects[i].kind for i in ids],
    )


def _walk_index(
    index: GraphIndex, root: int, forward: bool, max_depth: int | None, with_links: bool
) -> _Found:
    found = index.walk([root], forward=forward, max_depth=max_depth, links=with_links)
    segs = np.array([s for s, _, _ in found.links], dtype=np.int64)
    poss = np.array([p for _, p, _ in found.links], dtype=np.int64)
    order = np.lexsort((found.nodes, found.depth))
    return _Found(
        nodes=found.nodes[order].tolist(),
        depths=found.depth[order].tolist(),
        first=index.edges(found.first_seg[order], found.first_pos[order]),
        links=index.edges(segs, poss),
        link_depths=[d for _, _, d in found.links],
        keys=index.keys.lookup,
        kinds=lambda ids: index.keys.tags_of(np.asarray(ids, dtype=np.int64)),
        ordered=True,
    )


def trace(
    reader: Reader,
    identifier: str,
    direction: Direction,
    *,
    max_depth: int | None = None,
    links: bool = False,
    index: GraphIndex | None = None,
) -> TraceResult:
    """Every object upstream (``backward``) or downstream (``forward``) of ``identifier``.

    Nodes come in breadth-first order (by depth, then key) with the relation, quantity and event
    of the link that first reached them. ``links`` also lists every link followed (for graphs).
    With an ``index`` (a long-running process's :class:`GraphIndex`) the walk runs in memory;
    the answer is the same.
    """
    root = resolve(reader, identifier)
    forward = direction == "forward"
    if index is None:
        found = _walk_sql(reader, root.id, forward, max_depth, links)
    else:
        index.refresh(reader)
        found = _walk_index(index, root.id, forward, max_depth, links)
    first = found.first
    node_keys = found.keys(found.nodes)
    # The object a node was reached from is nearly always another node (or the root).
    key_of = dict(zip(found.nodes, node_keys, strict=True))
    key_of[root.id] = root.key
    via = [
        s if n == d else d for n, s, d in zip(found.nodes, first["src"], first["dst"], strict=True)
    ]
    unknown = [v for v in via if v not in key_of]
    key_of.update(zip(unknown, found.keys(unknown), strict=True))
    via_keys = [key_of[v] for v in via]
    kinds = found.kinds(found.nodes)
    events = first["event_id"]
    result = TraceResult(root=root.key, kind=root.kind, direction=direction)
    # Sorted by depth, then by object id: the same answer whatever order rows come back in.
    # Columns are in TraceNode's field order, so each row becomes a node without unpacking.
    columns = (
        node_keys,
        kinds,
        found.depths,
        first["relation"],
        first["quantity"],
        first["uom"],
        via_keys,
        events,
        first["valid_from"],
        first["valid_to"],
    )
    rows = zip(*columns, strict=True)
    if not found.ordered:
        rank = sorted(range(len(found.nodes)), key=lambda i: (found.depths[i], found.nodes[i]))
        rows = zip(*([column[i] for i in rank] for column in columns), strict=True)
    result.nodes = list(map(TraceNode._make, rows))
    if links:
        found_links = found.links
        n = len(found.link_depths)
        ends = found.keys(found_links["src"] + found_links["dst"])
        link_events = found_links["event_id"]
        link_order = sorted(
            range(n),
            key=lambda i: (
                found.link_depths[i],
                ends[i],
                ends[n + i],
                found_links["valid_from"][i],
                found_links["relation"][i],
            ),
        )
        for i in link_order:
            result.links.append(
                TraceLink(
                    source=ends[i],
                    target=ends[n + i],
                    relation=found_links["relation"][i],
                    quantity=found_links["quantity"][i],
                    uom=found_links["uom"][i],
                    event=link_events[i],
                    valid_from=found_links["valid_from"][i],
                    valid_to=found_links["valid_to"][i],
                    depth=found.link_depths[i],
                )
            )
    return result
