"""The layout of a genealogy figure: objects placed in columns by trace depth, big sets grouped.

:func:`layout_graph` turns trace results (backward and/or forward from one root object) and a
lookup of marks (held, recalled, shipped) into a :class:`GraphLayout`: one column per trace depth,
upstream to the left of the root and downstream to the right, so material always flows left to
right. Every object hangs under the object that first reached it in the trace. Where one node
reaches more than ``max_children`` objects of one kind by one relation, they are drawn as a single
counted group ("1,034 logistic units"); the objects further along hang under that group, grouped
again, so a heat lot with 1,500 descendants starts as a short chain of groups. A group is drawn
object by object when its id is in ``expand``. Whatever the expansions, at most ``max_drawn``
nodes are drawn and the layout counts the objects left out.

Pure functions only: :mod:`threadline.web.graph_svg` draws a layout, and
:mod:`threadline.web.graph` reads the store and builds the figure of the graph page.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from threadline.errors import InvalidInput
from threadline.genealogy.trace import TraceNode, TraceResult
from threadline.labels.content import KIND_NAMES, display_key
from threadline.model.identifiers import CANONICAL_BASE, Kind

__all__ = [
    "COL_GAP",
    "LEGEND_H",
    "MARGIN",
    "MARKS",
    "MAX_CHILDREN",
    "MAX_DRAWN",
    "MAX_EXPAND",
    "NODE_H",
    "NODE_W",
    "ROW",
    "GraphEdge",
    "GraphLayout",
    "GraphNode",
    "layout_graph",
    "parse_expand",
]

MAX_CHILDREN = 12  # more objects of one kind under one node are drawn as one group
MAX_DRAWN = 300  # nodes (objects and groups) drawn in one figure at most
MAX_EXPAND = 64  # groups expanded at once at most
MARKS = ("recalled", "held", "shipped")  # a node's colour follows the first mark it carries

# Geometry, in SVG user units (CSS pixels when drawn at natural size).
NODE_W = 264
NODE_H = 54
COL_GAP = 56
ROW = 66
MARGIN = 12
LEGEND_H = 40
_LEGEND_W = 660

_PLURALS = {
    Kind.SGTIN: "serialised items",
    Kind.LGTIN: "lots",
    Kind.GTIN: "products",
    Kind.SSCC: "logistic units",
    Kind.SGLN: "locations",
    Kind.PGLN: "parties",
    Kind.GRAI: "returnable assets",
    Kind.GIAI: "individual assets",
    Kind.GDTI: "documents",
    Kind.URI: "identifiers",
}
_GROUP_ID = re.compile(r"^g[0-9a-f]{10}$")


# -- the layout ----------------------------------------------------------------------------------
@dataclass
class GraphNode:
    """One node of the figure: a single object, or a group of objects of one kind.

    ``depth`` is signed: negative upstream of the root, positive downstream. ``group`` is the id
    that expands a group (``None`` for a single object and for the remainder of a group cut short
    by the node limit). ``marks`` counts the objects carrying each mark.
    """

    id: str
    depth: int
    kind: str
    relation: str
    label: str
    key: str | None = None
    group: str | None = None
    count: int = 1
    quantity: float | None = None
    uom: str | None = None
    product: str | None = None
    marks: dict[str, int] = field(default_factory=dict)
    root: bool = False
    href: str | None = None
    x: float = 0.0
    y: float = 0.0

    @property
    def kind_name(self) -> str:
        kind = Kind.of(self.kind)
        if self.key is None:
            return _PLURALS.get(kind, "objects")
        return KIND_NAMES.get(kind, "Object")

    @property
    def tone(self) -> str | None:
        """The mark that colours the node: the first of :data:`MARKS` all its objects carry."""
        return next((m for m in MARKS if self.marks.get(m, 0) >= self.count), None)

    @property
    def quantity_text(self) -> str:
        return _quantity(self.quantity, self.uom)

    @property
    def marks_text(self) -> str:
        """``held``, ``shipped`` for an object; ``12 held``, ``300 shipped`` for a group."""
        if self.key is not None:
            return ", ".join(m for m in MARKS if self.marks.get(m))
        return ", ".join(f"{self.marks[m]:,} {m}" for m in MARKS if self.marks.get(m))

    @property
    def description(self) -> str:
        """The node in one sentence: the accessible name of its link in the figure."""
        if self.key is None:
            parts = [f"{self.count:,} {self.kind_name}", self.relation.replace("_", " ")]
        else:
            parts = [f"{self.kind_name} {self.label}"]
            if self.root:
                parts.append("the traced object")
            elif self.relation:
                parts.append(self.relation.replace("_", " "))
        for text in (self.quantity_text, self.marks_text):
            if text:
                parts.append(text)
        if self.group is not None:
            parts.append("select to show them one by one")
        return ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class GraphEdge:
    """A line from ``source`` to ``target`` (node ids) in the direction material flowed.

    ``primary`` edges are the links by which the trace first reached an object; the others are
    further links between drawn nodes (a pallet also carrying boxes of another lot).
    """

    source: str
    target: str
    relation: str
    primary: bool


@dataclass
class GraphLayout:
    """The placed nodes and edges of a genealogy figure, and what it leaves out."""

    root: str
    root_kind: str
    direction: str
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    width: int
    height: int
    reached: dict[str, int]  # direction -> objects the trace reached
    hidden: int  # objects reached but not drawn (node limit)
    expanded: dict[str, str]  # id -> description of each group drawn object by object
    max_drawn: int = MAX_DRAWN
    further_links: bool = True  # False: the traces came without their links, none drawn

    @property
    def groups(self) -> list[GraphNode]:
        return [n for n in self.nodes if n.key is None]


@dataclass
class _Item:
    node: GraphNode
    members: list[str]
    parent: _Item | None = None
    children: list[_Item] = field(default_factory=list)
    slot: float = 0.0


class _Budget:
    def __init__(self, size: int) -> None:
        self.left = size

    def take(self, n: int) -> bool:
        if n > self.left:
            return False
        self.left -= n
        return True


def _quantity(value: float | None, uom: str | None) -> str:
    if value is None:
        return ""
    if float(value).is_integer():
        text = f"{int(value):,}"
    else:
        text = f"{value:,.3f}".rstrip("0").rstrip(".")
    return f"{text} {uom or ''}".strip()


def _product(key: str) -> str | None:
    """The GTIN of a lot or item key (``(01) 04012345004014``), else ``None``."""
    prefix = CANONICAL_BASE + "/01/"
    if key.startswith(prefix):
        return f"(01) {key[len(prefix) :].split('/', 1)[0]}"
    return None


def _hash_id(prefix: str, *parts: object) -> str:
    text = "|".join(str(p) for p in parts)
    return prefix + hashlib.blake2s(text.encode(), digest_size=5).hexdigest()


def parse_expand(values: Iterable[str]) -> frozenset[str]:
    """Group ids from ``expand=`` query values; raises :class:`InvalidInput` for a bad one."""
    found = [v.strip() for v in values if v.strip()]
    if len(found) > MAX_EXPAND:
        raise InvalidInput(
            f"expand: at most {MAX_EXPAND} groups can be expanded at once (got {len(found)}); "
            "collapse some groups first"
        )
    for value in found:
        if not _GROUP_ID.match(value):
            raise InvalidInput(
                f"expand: {value[:40]!r} is not a group id of the graph (g and 10 hex digits)"
            )
    return frozenset(found)


def _single(n: TraceNode, sign: int, marks: Mapping[str, frozenset[str]]) -> GraphNode:
    own = marks.get(n.id, frozenset())
    return GraphNode(
        id=_hash_id("n", sign, n.id),
        depth=sign * n.depth,
        kind=n.kind,
        relation=n.relation,
        label=display_key(n.id),
        key=n.id,
        quantity=n.quantity,
        uom=n.uom,
        marks={m: 1 for m in own},
    )


def _group(
    gid: str,
    bucket: Sequence[TraceNode],
    sign: int,
    marks: Mapping[str, frozenset[str]],
    *,
    expandable: bool,
) -> GraphNode:
    first = bucket[0]
    counts: dict[str, int] = {}
    for n in bucket:
        for m in marks.get(n.id, ()):
            counts[m] = counts.get(m, 0) + 1
    uoms = {n.uom for n in bucket}
    total: float | None = None
    if len(uoms) == 1 and all(n.quantity is not None for n in bucket):
        total = sum(n.quantity or 0.0 for n in bucket)
    products = {_product(n.id) for n in bucket}
    node = GraphNode(
        id=gid,
        depth=sign * first.depth,
        kind=first.kind,
        relation=first.relation,
        label="",
        group=gid if expandable else None,
        count=len(bucket),
        quantity=total,
        uom=first.uom if total is not None else None,
        product=products.pop() if len(products) == 1 else None,
        marks=counts,
    )
    more = "" if expandable else "+ "
    node.label = f"{more}{len(bucket):,} {node.kind_name}"
    return node


def _grow(
    root: _Item,
    result: TraceResult,
    sign: int,
    marks: Mapping[str, frozenset[str]],
    expand: Collection[str],
    max_children: int,
    budget: _Budget,
    expanded: dict[str, str],
) -> list[_Item]:
    """Hang the trace's objects under ``root`` breadth first; returns the items made."""
    known = {n.id for n in result.nodes}
    known.add(result.root)
    under: dict[str, list[TraceNode]] = {}
    for n in result.nodes:
        # The object that first reached a node is nearly always in the trace; if not, the
        # node still belongs to the figure, so it hangs under the root.
        parent = n.via if n.via in known and n.via != n.id else result.root
        under.setdefault(parent, []).append(n)
    made: list[_Item] = []
    queue = deque([root])
    while queue and budget.left > 0:
        item = queue.popleft()
        buckets: dict[tuple[str, str], list[TraceNode]] = {}
        for member in item.members:
            for n in under.get(member, ()):
                buckets.setdefault((n.kind, n.relation), []).append(n)
        for (kind, relation), bucket in buckets.items():
            gid = _hash_id("g", sign, item.node.id, kind, relation)
            collapse = len(bucket) > max_children and gid not in expand
            if not collapse and len(bucket) > max_children:
                plural = _PLURALS.get(Kind.of(kind), "objects")
                expanded[gid] = f"{len(bucket):,} {plural} from {item.node.label}"
            if collapse:
                pieces = [(bucket, True)] if budget.take(1) else []
            elif budget.take(len(bucket)):
                pieces = [([n], False) for n in bucket]
            elif budget.left > 0:
                # Not all of them fit: as many as do, and the rest as one group.
                shown = budget.left - 1
                budget.take(budget.left)
                pieces = [([n], False) for n in bucket[:shown]]
                pieces.append((bucket[shown:], False))
            else:
                pieces = []
            for members, expandable in pieces:
                if len(members) == 1 and not expandable:
                    node = _single(members[0], sign, marks)
                else:
                    rest_id = gid if expandable else _hash_id("g", gid, "rest")
                    node = _group(rest_id, members, sign, marks, expandable=expandable)
                child = _Item(node, [n.id for n in members], parent=item)
                item.children.append(child)
                made.append(child)
                queue.append(child)
            if budget.left <= 0:
                break
    return made


def _place_slots(root: _Item) -> float:
    """Rows of a tree: leaves on consecutive rows, each parent on the row of its first child.

    Parents sit level with their first child rather than centred on their children, so the
    root and the main line of descent read along the top of the figure, where a reader (and
    a phone's scroll box) starts.
    """
    next_slot = 0.0
    stack: list[tuple[_Item, bool]] = [(root, False)]
    while stack:
        item, done = stack.pop()
        if not item.children:
            item.slot = next_slot
            next_slot += 1
        elif done:
            item.slot = item.children[0].slot
        else:
            stack.append((item, True))
            stack.extend((c, False) for c in reversed(item.children))
    return next_slot


def layout_graph(
    results: Sequence[TraceResult],
    marks: Mapping[str, frozenset[str]],
    *,
    expand: Collection[str] = (),
    max_children: int = MAX_CHILDREN,
    max_drawn: int = MAX_DRAWN,
    node_href: Callable[[str], str | None] | None = None,
    group_href: Callable[[str], str | None] | None = None,
) -> GraphLayout:
    """Lay out the traces ``results`` (one per direction, all from the same root) as a figure.

    ``marks`` maps object keys to their marks (see :data:`MARKS`); ``expand`` names the groups
    to draw object by object; ``node_href`` gives an object's link (its passport),
    ``group_href`` a group's link (the figure with that group expanded).
    """
    if not results:
        raise InvalidInput("a graph needs at least one trace")
    first = results[0]
    root_node = GraphNode(
        id=_hash_id("n", 0, first.root),
        depth=0,
        kind=first.kind,
        relation="",
        label=display_key(first.root),
        key=first.root,
        marks={m: 1 for m in marks.get(first.root, ())},
        root=True,
    )
    budget = _Budget(max_drawn - 1)
    expanded: dict[str, str] = {}
    sides: list[tuple[int, _Item, list[_Item], TraceResult]] = []
    # Downstream first: with both directions, what the root went into gets the nodes first.
    for result in sorted(results, key=lambda r: r.direction != "forward"):
        if result.root != first.root:
            raise InvalidInput("the traces of one graph must start from the same object")
        sign = 1 if result.direction == "forward" else -1
        side_root = _Item(root_node, [result.root])
        made = _grow(side_root, result, sign, marks, expand, max_children, budget, expanded)
        sides.append((sign, side_root, made, result))
    # Each side is a tree with its root on the top row, so both sides share the root's row.
    rows = max(_place_slots(side_root) for _, side_root, _, _ in sides)
    items = [item for _, _, made, _ in sides for item in made]
    depths = [0] + [i.node.depth for i in items]
    low = min(depths)
    columns = max(depths) - low + 1
    top = MARGIN + LEGEND_H
    root_node.x = MARGIN + (0 - low) * (NODE_W + COL_GAP)
    root_node.y = top
    root_node.href = node_href(root_node.key) if node_href and root_node.key else None
    for item in items:
        node = item.node
        node.x = MARGIN + (node.depth - low) * (NODE_W + COL_GAP)
        node.y = top + item.slot * ROW
        if node.key is not None:
            node.href = node_href(node.key) if node_href else None
        elif node.group is not None:
            node.href = group_href(node.group) if group_href else None
    edges = _edges(sides, max_drawn)
    drawn = sum(i.node.count for i in items)
    reached: dict[str, int] = {r.direction: len(r.nodes) for _, _, _, r in sides}
    width = max(_LEGEND_W, 2 * MARGIN + columns * (NODE_W + COL_GAP) - COL_GAP)
    height = int(top + (rows - 1) * ROW + NODE_H + MARGIN)
    nodes = [root_node, *sorted((i.node for i in items), key=lambda n: (n.depth, n.y))]
    return GraphLayout(
        root=first.root,
        root_kind=first.kind,
        direction="both" if len(sides) > 1 else sides[0][3].direction,
        nodes=nodes,
        edges=edges,
        width=int(width),
        height=height,
        reached=reached,
        hidden=sum(reached.values()) - drawn,
        further_links=all(r.links or not r.nodes for r in results),
        expanded=expanded,
        max_drawn=max_drawn,
    )


def _edges(sides: list[tuple[int, _Item, list[_Item], TraceResult]], cap: int) -> list[GraphEdge]:
    out: dict[tuple[str, str], GraphEdge] = {}
    extra: dict[tuple[str, str], GraphEdge] = {}
    for sign, side_root, made, result in sides:
        for item in made:
            parent = item.parent or side_root
            a, b = parent.node.id, item.node.id
            pair = (a, b) if sign > 0 else (b, a)
            out[pair] = GraphEdge(pair[0], pair[1], item.node.relation, True)
        owner = {result.root: side_root.node.id}
        for item in made:
            for key in item.members:
                owner[key] = item.node.id
        for link in result.links:
            a_id = owner.get(link.source)
            b_id = owner.get(link.target)
            if a_id is None or b_id is None or a_id == b_id:
                continue
            pair = (a_id, b_id)
            if pair not in out and pair not in extra and len(extra) < 2 * cap:
                extra[pair] = GraphEdge(a_id, b_id, link.relation, False)
    return [*out.values(), *extra.values()]
