"""Backward and forward trace of one object."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from threadline.genealogy.resolve import resolve
from threadline.genealogy.walk import walk
from threadline.store.base import Reader

Direction = Literal["backward", "forward"]


@dataclass
class TraceNode:
    """One object reached by a trace and the link that first reached it."""

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


@dataclass
class TraceLink:
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
        return asdict(self)


def trace(
    reader: Reader, identifier: str, direction: Direction, *, max_depth: int | None = None
) -> TraceResult:
    """Every object upstream (``backward``) or downstream (``forward``) of ``identifier``.

    Nodes come in breadth-first order (by depth) with the relation, quantity and event of the
    link that first reached them; ``links`` lists every edge followed.
    """
    root = resolve(reader, identifier)
    forward = direction == "forward"
    found = walk(reader, [root.id], forward=forward, max_depth=max_depth)
    edges = [e for e, _ in found.edges.values()]
    object_ids = {root.id} | {e.src for e in edges} | {e.dst for e in edges}
    objects = reader.objects_by_id(object_ids)
    event_ids = reader.event_ids({e.event for e in edges})
    result = TraceResult(root=root.key, kind=root.kind, direction=direction)
    # Sorted by depth, then by key: the same answer whatever order the database returns rows in.
    order = sorted((d, objects[oid].key, oid) for oid, d in found.depth.items() if oid != root.id)
    for depth, _key, oid in order:
        edge = found.first_edge[oid]
        via = edge.src if oid == edge.dst else edge.dst
        result.nodes.append(
            TraceNode(
                id=objects[oid].key,
                kind=objects[oid].kind,
                depth=depth,
                relation=edge.relation,
                quantity=edge.quantity,
                uom=edge.uom,
                via=objects[via].key,
                event=event_ids.get(edge.event, ""),
                time=edge.valid_from,
                until=edge.valid_to,
            )
        )
    followed = sorted(
        found.edges.values(),
        key=lambda pair: (
            pair[1],
            objects[pair[0].src].key,
            objects[pair[0].dst].key,
            pair[0].valid_from,
            pair[0].relation,
        ),
    )
    for edge, depth in followed:
        result.links.append(
            TraceLink(
                source=objects[edge.src].key,
                target=objects[edge.dst].key,
                relation=edge.relation,
                quantity=edge.quantity,
                uom=edge.uom,
                event=event_ids.get(edge.event, ""),
                valid_from=edge.valid_from,
                valid_to=edge.valid_to,
                depth=depth,
            )
        )
    return result
