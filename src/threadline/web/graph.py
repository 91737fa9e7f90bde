"""The genealogy graph of one object, laid out in layers by depth and drawn as SVG by Threadline.

:func:`layout_graph` turns trace results (backward and/or forward from one root object) and a
lookup of marks (held, recalled, shipped) into a :class:`GraphLayout`: one column per trace depth,
upstream to the left of the root and downstream to the right, so material always flows left to
right. Every object hangs under the object that first reached it in the trace. Where one node
reaches more than ``max_children`` objects of one kind by one relation, they are drawn as a single
counted group ("1,034 logistic units"); the objects further along hang under that group, grouped
again, so a heat lot with 1,500 descendants starts as a short chain of groups. A group is drawn
object by object when its id is in ``expand``. Whatever the expansions, at most ``max_drawn``
nodes are drawn and the layout counts the objects left out.

Links beyond the first one to each object (a pallet also carrying boxes of another lot, a
furnace load merging several batches) are drawn dashed between the drawn nodes when the traces
carry them; :func:`build_graph` asks for them for traces of up to :data:`LINKS_LIMIT` objects.

:func:`render_svg` draws a layout as one self-contained SVG (its own styles and legend; each node
a link to its passport, each group a link that expands it), usable inline in the page and in
reports. :func:`object_marks` reads the marks of a set of objects from the store, and
:func:`build_graph` does all of it for the graph page.

The layout and the drawing are pure functions (:mod:`threadline.web.graph_layout` and
:mod:`threadline.web.graph_svg`, whose public names this module re-exports); only
:func:`object_marks` and :func:`build_graph` read the store.
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
