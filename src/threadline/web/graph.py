"""The genealogy graph of one object for the graph page: traces, marks from the store, a figure.

:func:`build_graph` traces the object backward and/or forward, reads the marks of what it found
(held, recalled, shipped: :func:`object_marks`), lays the result out and draws it as SVG. Links
beyond the first one to each object (a pallet also carrying boxes of another lot, a furnace
load merging several batches) are asked of the trace for up to :data:`LINKS_LIMIT` objects and
drawn dashed between the drawn nodes.

How objects are placed in columns and big sets grouped is :mod:`threadline.web.graph_layout`;
how a layout is drawn is :mod:`threadline.web.graph_svg`. Both are pure functions, and this
module re-exports their public names; only :func:`object_marks` and :func:`build_graph` read
the store.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from threadline.errors import InvalidInput
from threadline.genealogy.index import GraphIndex
from threadline.genealogy.resolve import resolve
from threadline.genealogy.trace import Direction, trace
from threadline.labels.content import KIND_NAMES
from threadline.model.identifiers import Kind
from threadline.quality.holds import held_map
from threadline.store.base import Reader
from threadline.store.projector import SHIPPED, persistent_in_force
from threadline.web.graph_layout import (
    COL_GAP,
    MARKS,
    MAX_CHILDREN,
    MAX_DRAWN,
    MAX_EXPAND,
    NODE_W,
    GraphEdge,
    GraphLayout,
    GraphNode,
    layout_graph,
    parse_expand,
)
from threadline.web.graph_svg import _lower_first, default_title, render_svg

__all__ = [
    "COL_GAP",
    "DIRECTIONS",
    "LINKS_LIMIT",
    "MARKS",
    "MARKS_LIMIT",
    "MAX_CHILDREN",
    "MAX_DRAWN",
    "MAX_EXPAND",
    "NODE_W",
    "GraphEdge",
    "GraphLayout",
    "GraphNode",
    "GraphView",
    "build_graph",
    "default_title",
    "graph_href",
    "layout_graph",
    "object_marks",
    "parse_expand",
    "render_svg",
]

# Further links (beyond the first link to each object) are drawn for traces up to this size:
# collecting every link costs a large trace several times the walk itself.
LINKS_LIMIT = 600
# Marks are read for this many objects of a trace at most (nearest first): a trace of a
# customer can reach a good part of the plant, and its figure must still come back quickly.
MARKS_LIMIT = 5000
DIRECTIONS = ("forward", "backward", "both")
_CONTAINER_LEVELS = 4  # how far up a container chain a shipped container is looked for


# -- reading the store ---------------------------------------------------------------------------
def object_marks(
    reader: Reader, keys: Iterable[str], *, index: GraphIndex | None = None
) -> dict[str, frozenset[str]]:
    """The marks of the objects ``keys`` (only those with a mark are in the answer).

    ``held``: covered by an active hold (its own or one upstream), or a persistent disposition
    with "hold" in force; ``recalled``: disposition recalled (current or persistent);
    ``shipped``: state shipped, or inside a container (at any level) that shipped.
    """
    wanted = sorted(set(keys))  # in key order, the index pages are read in order too
    if not wanted:
        return {}
    held = held_map(reader, index=index)
    rows = reader.query_in(
        "SELECT o.key, o.id, s.state, s.disposition, s.container, s.persistent "
        "FROM objects o JOIN status s ON s.object = o.id WHERE o.key {IN}",
        wanted,
    )
    state_of: dict[int, tuple[str | None, int | None]] = {r[1]: (r[2], r[4]) for r in rows}
    pending = {c for _, c in state_of.values() if c is not None} - state_of.keys()
    for _ in range(_CONTAINER_LEVELS):
        if not pending:
            break
        found = reader.query_in(
            "SELECT object, state, container FROM status WHERE object {IN}", sorted(pending)
        )
        for oid in pending:
            state_of[oid] = (None, None)
        for oid, state, container in found:
            state_of[oid] = (state, container)
        pending = {c for _, c in state_of.values() if c is not None} - state_of.keys()

    def shipped(oid: int) -> bool:
        seen: set[int] = set()
        current: int | None = oid
        while current is not None and current not in seen and current in state_of:
            seen.add(current)
            state, current = state_of[current]
            if state == SHIPPED:
                return True
        return False

    out: dict[str, frozenset[str]] = {}
    for key, oid, _state, disposition, _container, persistent in rows:
        words = persistent_in_force(persistent) if persistent else []
        found_marks = set()
        if key in held or any("hold" in w for w in words):
            found_marks.add("held")
        if disposition == "recalled" or "recalled" in words:
            found_marks.add("recalled")
        if shipped(oid):
            found_marks.add("shipped")
        if found_marks:
            out[key] = frozenset(found_marks)
    for key in held.keys() & set(wanted) - out.keys():
        out[key] = frozenset({"held"})
    return out


def graph_href(key: str, direction: str, expand: Iterable[str] = (), *, base: str = "") -> str:
    """The address of the graph page of ``key`` with the groups ``expand`` drawn one by one."""
    params = [("id", key), ("direction", direction)]
    params += [("expand", g) for g in sorted(set(expand))]
    return f"{base}/ui/graph?{urlencode(params, quote_via=quote)}"


@dataclass
class GraphView:
    """Everything the graph page shows: the layout, its SVG, and the page's own links."""

    layout: GraphLayout
    svg: str
    title: str
    human_key: str
    kind_name: str
    links: dict[str, str]
    collapse: list[tuple[str, str]]  # (expanded group, address of the figure without it)
    marks_partial: bool = False  # marks were read for the nearest MARKS_LIMIT objects only


def build_graph(
    reader: Reader,
    identifier: str,
    direction: str = "forward",
    *,
    expand: Collection[str] = (),
    index: GraphIndex | None = None,
    base: str = "",
    max_drawn: int = MAX_DRAWN,
) -> GraphView:
    """The genealogy figure of the stored object ``identifier`` (any of its identifier forms).

    Raises :class:`~threadline.errors.InvalidInput` for a direction other than forward, backward
    or both, and :class:`~threadline.errors.NotFound` for an object the store does not know.
    """
    if direction not in DIRECTIONS:
        raise InvalidInput(
            f"direction: {direction[:40]!r} is not a direction; use forward, backward or both"
        )
    obj = resolve(reader, identifier)
    wanted: tuple[Direction, ...] = ("forward",)
    if direction == "both":
        wanted = ("backward", "forward")
    elif direction == "backward":
        wanted = ("backward",)
    results = []
    for way in wanted:
        result = trace(reader, obj.key, way, index=index)
        if 0 < len(result.nodes) <= LINKS_LIMIT:
            result = trace(reader, obj.key, way, links=True, index=index)
        results.append(result)
    reached = sum(len(r.nodes) for r in results)
    if reached < MARKS_LIMIT:
        keys = [obj.key] + [n.id for r in results for n in r.nodes]
    else:
        nearest = sorted((n.depth, n.id) for r in results for n in r.nodes)
        keys = [obj.key] + [key for _, key in nearest[: MARKS_LIMIT - 1]]
    marks = object_marks(reader, keys, index=index)
    expanding = frozenset(expand)

    def node_href(key: str) -> str:
        return f"{base}/ui/passport?id={quote(key, safe='')}"

    # Ids of groups found expanded are only known after the layout; links to expand a group
    # carry the expansions in force, so they are filled in afterwards.
    layout = layout_graph(
        results, marks, expand=expanding, max_drawn=max_drawn, node_href=node_href
    )
    kept = set(layout.expanded)
    for node in layout.groups:
        if node.group is not None:
            node.href = graph_href(obj.key, direction, kept | {node.group}, base=base) + "#graph"
    human = layout.nodes[0].label
    kind_name = KIND_NAMES.get(Kind.of(obj.kind), obj.kind)
    quoted = quote(obj.key, safe="")
    links = {
        "passport": node_href(obj.key),
        "collapse_all": graph_href(obj.key, direction, base=base) + "#graph",
    }
    for d in ("backward", "forward"):
        links[f"trace_{d}"] = f"{base}/trace/{d}?id={quoted}"
    collapse = [
        (label, graph_href(obj.key, direction, kept - {gid}, base=base) + "#graph")
        for gid, label in layout.expanded.items()
    ]
    return GraphView(
        layout=layout,
        svg=render_svg(layout),
        title=f"Genealogy of {_lower_first(kind_name)} {human}",
        human_key=human,
        kind_name=kind_name,
        links=links,
        collapse=collapse,
        marks_partial=reached >= MARKS_LIMIT,
    )
