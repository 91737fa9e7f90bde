"""The drawing of a genealogy figure: a :class:`~threadline.web.graph_layout.GraphLayout` as SVG.

:func:`render_svg` draws a layout as one self-contained SVG (its own styles and legend; each node
a link to its passport, each group a link that expands it), usable inline in the page and in
reports. :func:`default_title` names the figure for screen readers.

Pure: a layout in, SVG text out; nothing here reads the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from threadline.labels.content import KIND_NAMES
from threadline.model.identifiers import Kind
from threadline.web.graph_layout import (
    MARGIN,
    MARKS,
    NODE_H,
    NODE_W,
    GraphEdge,
    GraphLayout,
    GraphNode,
)

__all__ = ["default_title", "render_svg"]

_LABEL_CHARS = 36  # characters of a label that fit in a node (longer ones end in an ellipsis)
_DETAIL_CHARS = 40  # the same for the smaller detail lines


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
    kind = KIND_NAMES.get(Kind.of(layout.root_kind), "object")
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
