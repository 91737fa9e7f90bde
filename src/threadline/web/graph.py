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

The layout and the drawing are pure functions; only :func:`object_marks` and :func:`build_graph`
read the store.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from html import escape
from urllib.parse import quote, urlencode

from threadline.errors import InvalidInput
from threadline.genealogy.index import GraphIndex
from threadline.genealogy.resolve import resolve
from threadline.genealogy.trace import Direction, TraceNode, TraceResult, trace
from threadline.labels.content import KIND_NAMES, display_key
from threadline.model.identifiers import CANONICAL_BASE, Kind
from threadline.quality.holds import held_map
from threadline.store.base import Reader
from threadline.store.projector import SHIPPED, persistent_in_force

__all__ = [
    "DIRECTIONS",
    "LINKS_LIMIT",
    "MARKS",
    "MARKS_LIMIT",
    "MAX_CHILDREN",
    "MAX_DRAWN",
    "MAX_EXPAND",
    "GraphEdge",
    "GraphLayout",
    "GraphNode",
    "GraphView",
    "build_graph",
    "default_title",
    "graph_href",
    "human_key",
    "layout_graph",
    "object_marks",
    "parse_expand",
    "render_svg",
]

MAX_CHILDREN = 12  # more objects of one kind under one node are drawn as one group
MAX_DRAWN = 300  # nodes (objects and groups) drawn in one figure at most
MAX_EXPAND = 64  # groups expanded at once at most
# Further links (beyond the first link to each object) are drawn for traces up to this size:
# collecting every link costs a large trace several times the walk itself.
LINKS_LIMIT = 600
# Marks are read for this many objects of a trace at most (nearest first): a trace of a
# customer can reach a good part of the plant, and its figure must still come back quickly.
MARKS_LIMIT = 5000
MARKS = ("recalled", "held", "shipped")  # a node's colour follows the first mark it carries
DIRECTIONS = ("forward", "backward", "both")

# Geometry, in SVG user units (CSS pixels when drawn at natural size).
NODE_W = 264
NODE_H = 54
COL_GAP = 56
ROW = 66
MARGIN = 12
LEGEND_H = 40
_LEGEND_W = 660
_LABEL_CHARS = 36  # characters of a label that fit in a node (longer ones end in an ellipsis)
_DETAIL_CHARS = 40  # the same for the smaller detail lines
_CONTAINER_LEVELS = 4  # how far up a container chain a shipped container is looked for

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
        kind = _kind(self.kind)
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


def _kind(value: str) -> Kind:
    try:
        return Kind(value)
    except ValueError:
        return Kind.URI


def _quantity(value: float | None, uom: str | None) -> str:
    if value is None:
        return ""
    if float(value).is_integer():
        text = f"{int(value):,}"
    else:
        text = f"{value:,.3f}".rstrip("0").rstrip(".")
    return f"{text} {uom or ''}".strip()


@lru_cache(maxsize=65536)
def human_key(key: str) -> str:
    """``display_key`` of ``key``, fast for the canonical Digital Link keys most objects have."""
    prefix = CANONICAL_BASE + "/"
    if key.startswith(prefix) and "?" not in key and "%" not in key:
        parts = key[len(prefix) :].split("/")
        ais, values = parts[::2], parts[1::2]
        if len(parts) % 2 == 0 and all(a.isdigit() for a in ais) and all(values):
            return " ".join(f"({a}) {v}" for a, v in zip(ais, values, strict=True))
    return display_key(key)


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
        label=human_key(n.id),
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
                plural = _PLURALS.get(_kind(kind), "objects")
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
        label=human_key(first.root),
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


# -- the drawing ---------------------------------------------------------------------------------
_STYLE = """
.tlg-e{fill:none;stroke:#7d8790;stroke-width:1.4}
.tlg-x{stroke:#a9b1b9;stroke-dasharray:4 3}
.tlg-n rect{fill:#fff;stroke:#8a939c;stroke-width:1.2}
.tlg-n .tlg-s{fill:#f7f9fb}
.tlg-n text{fill:#1a1d21}
.tlg-n .tlg-d{fill:#525a63;font-size:11px}
.tlg-n.tlg-shipped rect{fill:#eef1f4;stroke:#43505c;stroke-dasharray:5 3}
.tlg-n.tlg-held rect{fill:#fff4e0;stroke:#8a5a00;stroke-width:2.5}
.tlg-n.tlg-recalled rect{fill:#fdf1f3;stroke:#a3162b;stroke-width:3}
.tlg-n.tlg-root rect{stroke:#0b5cad;stroke-width:3;stroke-dasharray:none}
.tlg-m-held{fill:#8a5a00;font-weight:700}
.tlg-m-recalled{fill:#a3162b;font-weight:700}
.tlg-m-shipped{fill:#43505c;font-weight:700}
.tlg-g text.tlg-l{fill:#0b5cad;font-weight:700}
a.tlg-n:hover rect,a.tlg-n:focus rect{stroke:#0b5cad;stroke-width:3}
.tlg-legend text{fill:#1a1d21;font-size:11px}
""".strip().replace("\n", "")


def _short(text: str, limit: int = _LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _esc(text: str) -> str:
    return escape(text, quote=True)


def _lines(node: GraphNode) -> tuple[str, str, list[tuple[str, str]]]:
    """The three lines of a node: label, detail, and (word, mark) pieces of the last line."""
    if node.key is None:
        second = node.product or node.relation.replace("_", " ")
        third: list[tuple[str, str]] = []
        if node.quantity_text:
            third.append((node.quantity_text, ""))
        third += [(f"{node.marks[m]:,} {m}", m) for m in MARKS if node.marks.get(m)]
        if node.group is not None and not third:
            third.append(("select to expand", ""))
        return node.label, second, third
    second = node.kind_name + (f" \u00b7 {node.quantity_text}" if node.quantity_text else "")
    pieces = [(m, m) for m in MARKS if node.marks.get(m)]
    if not pieces:
        pieces = [("traced object" if node.root else node.relation.replace("_", " "), "")]
    return node.label, second, pieces


def _draw_node(node: GraphNode, out: list[str]) -> None:
    x, y = node.x, node.y
    classes = ["tlg-n"]
    if node.root:
        classes.append("tlg-root")
    if node.key is None:
        classes.append("tlg-g")
    if node.tone:
        classes.append(f"tlg-{node.tone}")
    label, second, third = _lines(node)
    title = f"<title>{_esc(node.description)}</title>"
    if node.href:
        out.append(
            f'<a class="{" ".join(classes)}" id="{node.id}" href="{_esc(node.href)}"'
            + (f' data-expand="{node.group}"' if node.group else "")
            + f">{title}"
        )
    else:
        out.append(f'<g class="{" ".join(classes)}" id="{node.id}">{title}')
    if node.key is None:
        out.append(
            f'<rect class="tlg-s" x="{x + 5:g}" y="{y - 5:g}" width="{NODE_W}" '
            f'height="{NODE_H}" rx="6"/>'
        )
    out.append(f'<rect x="{x:g}" y="{y:g}" width="{NODE_W}" height="{NODE_H}" rx="6"/>')
    out.append(f'<text class="tlg-l" x="{x + 9:g}" y="{y + 17:g}">{_esc(_short(label))}</text>')
    detail = _esc(_short(second, _DETAIL_CHARS))
    out.append(f'<text class="tlg-d" x="{x + 9:g}" y="{y + 32:g}">{detail}</text>')
    spans = []
    used = 0
    for i, (word, mark) in enumerate(third):
        piece = ("" if i == 0 else " \u00b7 ") + word
        if used + len(piece) > _DETAIL_CHARS:
            break
        used += len(piece)
        css = f' class="tlg-m-{mark}"' if mark else ""
        spans.append(f"<tspan{css}>{_esc(piece)}</tspan>")
    out.append(f'<text class="tlg-d" x="{x + 9:g}" y="{y + 47:g}">{"".join(spans)}</text>')
    out.append("</a>" if node.href else "</g>")


def _draw_edge(edge: GraphEdge, at: Mapping[str, GraphNode], out: list[str]) -> None:
    a, b = at.get(edge.source), at.get(edge.target)
    if a is None or b is None:
        return
    sx, sy = a.x + NODE_W, a.y + NODE_H / 2
    tx, ty = b.x, b.y + NODE_H / 2
    bend = max(28.0, abs(tx - sx) / 2)
    css = "tlg-e" if edge.primary else "tlg-e tlg-x"
    out.append(
        f'<path class="{css}" d="M{sx:g} {sy:g}C{sx + bend:g} {sy:g} {tx - bend:g} {ty:g} '
        f'{tx:g} {ty:g}" marker-end="url(#tlg-arrow)"/>'
    )


def _legend(out: list[str], further_links: bool) -> None:
    y = MARGIN
    out.append('<g class="tlg-legend" aria-hidden="true">')
    entries = [
        ("tlg-root", "traced object"),
        ("tlg-held", "held"),
        ("tlg-recalled", "recalled"),
        ("tlg-shipped", "shipped"),
        ("tlg-g", "group of objects (select to expand)"),
    ]
    x = float(MARGIN)
    for css, text in entries:
        out.append(f'<g class="tlg-n {css}">')
        if css == "tlg-g":
            out.append(f'<rect class="tlg-s" x="{x + 3:g}" y="{y - 3:g}" width="22" height="14"/>')
        out.append(f'<rect x="{x:g}" y="{y:g}" width="22" height="14" rx="3"/></g>')
        out.append(f'<text x="{x + 28:g}" y="{y + 11:g}">{_esc(text)}</text>')
        x += 40 + 6.2 * len(text)
    if further_links:
        out.append(
            f'<path class="tlg-e tlg-x" d="M{MARGIN:g} {y + 27:g}h30"/>'
            f'<text x="{MARGIN + 36:g}" y="{y + 31:g}">further link between drawn objects</text>'
        )
    else:
        out.append(
            f'<text x="{MARGIN:g}" y="{y + 31:g}">Each object is drawn with the link that first '
            "reached it (a trace this large is drawn without its further links)</text>"
        )
    out.append("</g>")


_WAYS = {"forward": "downstream", "backward": "upstream", "both": "upstream and downstream"}


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def default_title(layout: GraphLayout) -> str:
    """``Genealogy of lot (01) ... (10) H1, downstream``: the figure's accessible name."""
    kind = KIND_NAMES.get(_kind(layout.root_kind), "object")
    way = _WAYS.get(layout.direction, layout.direction)
    return f"Genealogy of {_lower_first(kind)} {layout.nodes[0].label}, {way}"


def render_svg(layout: GraphLayout, *, title: str | None = None) -> str:
    """The layout as one SVG document: legend, edges, then nodes (links where they have one).

    The figure is a ``role="group"`` named by its ``<title>`` rather than an image, so the links
    inside it stay reachable by keyboard and screen readers.
    """
    name = title or default_title(layout)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph tlg" role="group" '
        f'aria-labelledby="tlg-title" viewBox="0 0 {layout.width} {layout.height}" '
        f'width="{layout.width}" height="{layout.height}" '
        f'font-family="system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif" '
        f'font-size="12">',
        f'<title id="tlg-title">{_esc(name)}</title>',
        f"<style>{_STYLE}</style>",
        '<defs><marker id="tlg-arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0 0L8 4L0 8z" fill="#7d8790"/></marker></defs>',
    ]
    _legend(out, layout.further_links)
    at = {n.id: n for n in layout.nodes}
    out.append('<g class="tlg-edges" aria-hidden="true">')
    for edge in layout.edges:
        _draw_edge(edge, at, out)
    out.append("</g>")
    for node in layout.nodes:
        _draw_node(node, out)
    out.append("</svg>")
    return "".join(out)


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
    kind_name = KIND_NAMES.get(_kind(obj.kind), obj.kind)
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
