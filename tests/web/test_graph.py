"""The genealogy graph: layout (layers, groups, expansion, node limit, marks), SVG and page."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
from lxml import etree, html

from threadline.errors import InvalidInput
from threadline.genealogy.trace import TraceLink, TraceNode, TraceResult
from threadline.gs1.keys import canonical_key
from threadline.labels.content import display_key
from threadline.quality.holds import place_hold, release_hold
from threadline.service import parse_events
from threadline.store import Store
from threadline.web import graph
from threadline.web.graph import (
    COL_GAP,
    MAX_EXPAND,
    NODE_W,
    GraphLayout,
    GraphNode,
    build_graph,
    layout_graph,
    object_marks,
    parse_expand,
    render_svg,
)

from livekit import World, world_fixture  # noqa: F401 (fixture)
from plantkit import (
    B1,
    B2,
    C1,
    F1,
    H1,
    H2,
    P1,
    P2,
    X1,
    X2,
    X3,
    pack,
    qty,
    receive,
    small_plant,
    transform,
)

SVG = "{http://www.w3.org/2000/svg}"
ROOT = "https://id.gs1.org/01/04012345000001/10/ROOT"


def lot(n: int) -> str:
    return f"https://id.gs1.org/01/04012345000001/10/L{n}"


def box(n: int) -> str:
    return f"https://id.gs1.org/00/04012345{n:010d}"


def node(
    key: str,
    depth: int,
    via: str,
    *,
    kind: str = "lgtin",
    relation: str = "consumed_into",
    quantity: float | None = 100.0,
    uom: str | None = "EA",
) -> TraceNode:
    return TraceNode(key, kind, depth, relation, quantity, uom, via, "urn:uuid:e", "t", None)


def link(source: str, target: str, depth: int, relation: str = "packed_in") -> TraceLink:
    return TraceLink(source, target, relation, 1.0, "EA", "urn:uuid:e", "t", None, depth)


def forward(nodes: Sequence[TraceNode], links: Sequence[TraceLink] = ()) -> TraceResult:
    return TraceResult(ROOT, "lgtin", "forward", list(nodes), list(links))


def boxes_of(parent: str, count: int, depth: int = 1, start: int = 1) -> list[TraceNode]:
    return [
        node(box(i), depth, parent, kind="sscc", relation="packed_in")
        for i in range(start, start + count)
    ]


def by_key(layout: GraphLayout) -> dict[str, GraphNode]:
    return {n.key: n for n in layout.nodes if n.key is not None}


def groups(layout: GraphLayout) -> list[GraphNode]:
    return [n for n in layout.nodes if n.key is None]


# -- layout -------------------------------------------------------------------------------------
def test_columns_follow_the_trace_depth_and_edges_the_first_links() -> None:
    result = forward(
        [
            node(lot(1), 1, ROOT),
            node(lot(2), 1, ROOT),
            node(lot(3), 2, lot(1)),
            node(box(1), 3, lot(3), kind="sscc", relation="packed_in"),
        ]
    )
    layout = layout_graph([result], {})
    nodes = by_key(layout)
    root = nodes[ROOT]
    assert root.root and root.depth == 0 and layout.nodes[0] is root
    assert [nodes[k].depth for k in (lot(1), lot(2), lot(3), box(1))] == [1, 1, 2, 3]
    pitch = NODE_W + COL_GAP
    assert nodes[lot(1)].x == nodes[lot(2)].x == root.x + pitch
    assert nodes[lot(3)].x == root.x + 2 * pitch
    assert nodes[box(1)].x == root.x + 3 * pitch
    assert nodes[lot(1)].y != nodes[lot(2)].y
    edges = {(e.source, e.target) for e in layout.edges if e.primary}
    ids = {k: n.id for k, n in nodes.items()}
    assert edges == {
        (ids[ROOT], ids[lot(1)]),
        (ids[ROOT], ids[lot(2)]),
        (ids[lot(1)], ids[lot(3)]),
        (ids[lot(3)], ids[box(1)]),
    }
    assert layout.hidden == 0 and layout.reached == {"forward": 4}
    assert layout.width >= root.x + 4 * pitch - COL_GAP


def test_upstream_goes_left_and_edges_point_the_way_material_flowed() -> None:
    result = TraceResult(
        ROOT, "lgtin", "backward", [node(lot(1), 1, ROOT), node(lot(2), 2, lot(1))]
    )
    layout = layout_graph([result], {})
    nodes = by_key(layout)
    assert nodes[lot(1)].depth == -1 and nodes[lot(2)].depth == -2
    assert nodes[lot(2)].x < nodes[lot(1)].x < nodes[ROOT].x
    pairs = {(e.source, e.target) for e in layout.edges}
    assert (nodes[lot(1)].id, nodes[ROOT].id) in pairs  # lot 1 went into the root
    assert (nodes[lot(2)].id, nodes[lot(1)].id) in pairs
    assert layout.direction == "backward"


def test_both_directions_share_one_root_in_the_middle() -> None:
    up = TraceResult(ROOT, "lgtin", "backward", [node(lot(1), 1, ROOT), node(lot(2), 1, ROOT)])
    down = forward([node(lot(3), 1, ROOT), node(lot(4), 2, lot(3))])
    layout = layout_graph([up, down], {})
    nodes = by_key(layout)
    assert [n.key for n in layout.nodes].count(ROOT) == 1
    assert nodes[lot(1)].x < nodes[ROOT].x < nodes[lot(3)].x < nodes[lot(4)].x
    assert layout.direction == "both" and layout.reached == {"forward": 2, "backward": 2}


def test_a_big_fan_out_is_one_counted_group_and_what_follows_hangs_under_it() -> None:
    nodes = [*boxes_of(ROOT, 20), node(lot(1), 1, ROOT), node(lot(2), 1, ROOT)]
    # Two pallets, each first reached from one of the boxes.
    nodes += [
        node(box(101), 2, box(3), kind="sscc", relation="packed_in"),
        node(box(102), 2, box(15), kind="sscc", relation="packed_in"),
    ]
    layout = layout_graph([forward(nodes)], {})
    (group,) = groups(layout)
    assert group.count == 20 and group.label == "20 logistic units"
    assert group.kind == "sscc" and group.relation == "packed_in"
    assert group.group == group.id and re.fullmatch(r"g[0-9a-f]{10}", group.id)
    assert group.quantity == 2000.0 and group.quantity_text == "2,000 EA"
    shown = by_key(layout)
    assert set(shown) == {ROOT, lot(1), lot(2), box(101), box(102)}
    assert not any(box(i) in shown for i in range(1, 21))
    primary = {(e.source, e.target) for e in layout.edges if e.primary}
    assert (shown[ROOT].id, group.id) in primary
    assert (group.id, shown[box(101)].id) in primary
    assert (group.id, shown[box(102)].id) in primary
    assert len(layout.nodes) == 6 and layout.hidden == 0


def test_up_to_the_limit_objects_are_drawn_one_by_one() -> None:
    layout = layout_graph([forward(boxes_of(ROOT, 12))], {})
    assert not groups(layout) and len(layout.nodes) == 13
    layout = layout_graph([forward(boxes_of(ROOT, 13))], {})
    assert [g.count for g in groups(layout)] == [13] and len(layout.nodes) == 2


def test_groups_under_a_group_are_counted_from_all_its_members() -> None:
    # 15 lots, each packed into 2 boxes: a group of 15 lots, then one group of 30 boxes.
    nodes = [node(lot(i), 1, ROOT) for i in range(15)]
    nodes += [
        node(box(2 * i + j), 2, lot(i), kind="sscc", relation="packed_in")
        for i in range(15)
        for j in range(2)
    ]
    layout = layout_graph([forward(nodes)], {})
    assert sorted((g.depth, g.count, g.kind) for g in groups(layout)) == [
        (1, 15, "lgtin"),
        (2, 30, "sscc"),
    ]


def test_expanding_a_group_draws_its_members_and_keeps_the_group_id_stable() -> None:
    nodes = [*boxes_of(ROOT, 20), node(box(101), 2, box(3), kind="sscc", relation="packed_in")]
    collapsed = layout_graph([forward(nodes)], {})
    (group,) = groups(collapsed)
    again = layout_graph([forward(nodes)], {})
    assert groups(again)[0].id == group.id
    opened = layout_graph([forward(nodes)], {}, expand={group.id, "g0000000000"})
    assert not groups(opened)
    shown = by_key(opened)
    assert all(box(i) in shown for i in range(1, 21))
    assert opened.expanded == {group.id: f"20 logistic units from {display_key(ROOT)}"}
    primary = {(e.source, e.target) for e in opened.edges if e.primary}
    assert (shown[box(3)].id, shown[box(101)].id) in primary


def test_further_links_between_drawn_nodes_are_drawn_as_secondary_edges() -> None:
    nodes = [*boxes_of(ROOT, 3), node(box(101), 2, box(1), kind="sscc", relation="packed_in")]
    links = [link(ROOT, box(i), 1) for i in (1, 2, 3)]
    links += [link(box(1), box(101), 2), link(box(2), box(101), 2)]
    layout = layout_graph([forward(nodes, links)], {})
    shown = by_key(layout)
    extra = {(e.source, e.target) for e in layout.edges if not e.primary}
    assert extra == {(shown[box(2)].id, shown[box(101)].id)}


def test_marks_colour_objects_and_are_counted_on_groups() -> None:
    nodes = [*boxes_of(ROOT, 20), node(lot(1), 1, ROOT), node(lot(2), 1, ROOT)]
    marks = {box(i): frozenset({"shipped"}) for i in range(1, 21)}
    marks.update({box(i): frozenset({"shipped", "held"}) for i in range(1, 6)})
    marks[lot(1)] = frozenset({"held"})
    marks[lot(2)] = frozenset({"recalled", "held"})
    layout = layout_graph([forward(nodes)], marks)
    (group,) = groups(layout)
    assert group.marks == {"shipped": 20, "held": 5}
    assert group.tone == "shipped"  # all of them shipped, only some held
    assert group.marks_text == "5 held, 20 shipped"
    shown = by_key(layout)
    assert shown[lot(1)].tone == "held" and shown[lot(1)].marks_text == "held"
    assert shown[lot(2)].tone == "recalled"  # recalled outranks held
    assert shown[ROOT].tone is None


def test_the_node_limit_cuts_an_expanded_group_short_and_counts_what_is_left_out() -> None:
    nodes = boxes_of(ROOT, 30)
    nodes += [
        node(box(100 + i), 2, box(i), kind="sscc", relation="packed_in") for i in range(1, 31)
    ]
    collapsed = layout_graph([forward(nodes)], {}, max_drawn=10)
    assert [(g.depth, g.count) for g in groups(collapsed)] == [(1, 30), (2, 30)]
    group = groups(collapsed)[0]
    layout = layout_graph([forward(nodes)], {}, expand={group.id}, max_drawn=10)
    assert len(layout.nodes) == 10
    singles = [n for n in layout.nodes if n.key is not None and not n.root]
    (rest,) = groups(layout)
    assert len(singles) == 8 and rest.count == 22 and rest.group is None
    assert rest.label == "+ 22 logistic units"
    assert layout.hidden == 30  # the pallets: no room left for them


def test_nodes_link_to_passports_and_expandable_groups_to_the_expanded_figure() -> None:
    nodes = [*boxes_of(ROOT, 20), node(lot(1), 1, ROOT)]
    layout = layout_graph(
        [forward(nodes)],
        {},
        node_href=lambda key: f"/ui/passport?id={key}",
        group_href=lambda gid: f"/ui/graph?expand={gid}",
    )
    shown = by_key(layout)
    assert shown[lot(1)].href == f"/ui/passport?id={lot(1)}"
    (group,) = groups(layout)
    assert group.href == f"/ui/graph?expand={group.id}"


def test_the_svg_is_xml_with_a_named_focusable_link_per_node() -> None:
    nodes = [*boxes_of(ROOT, 20), node(lot(1), 1, ROOT), node("urn:x:a<b&c", 1, ROOT, kind="uri")]
    marks = {lot(1): frozenset({"held"})}
    layout = layout_graph(
        [forward(nodes)],
        marks,
        node_href=lambda key: f"/ui/passport?id={key}",
        group_href=lambda gid: f"/ui/graph?expand={gid}&direction=forward",
    )
    svg = etree.fromstring(render_svg(layout).encode())
    assert svg.tag == f"{SVG}svg" and svg.get("role") == "group"
    title = svg.find(f"{SVG}title")
    assert title is not None and svg.get("aria-labelledby") == title.get("id")
    assert svg.get("viewBox") == f"0 0 {layout.width} {layout.height}"
    links = svg.findall(f".//{SVG}a")
    assert len(links) == len(layout.nodes) == 4
    for a in links:
        assert a.get("href") and a.find(f"{SVG}title").text  # an accessible name each
    hrefs = {a.get("href") for a in links}
    assert f"/ui/passport?id={lot(1)}" in hrefs and "/ui/passport?id=urn:x:a<b&c" in hrefs
    held = next(a for a in links if a.get("href").endswith(lot(1)))
    assert "tlg-held" in held.get("class")
    assert "held" in held.find(f"{SVG}title").text
    group = next(a for a in links if a.get("data-expand"))
    assert group.get("href").startswith("/ui/graph?expand=g")
    assert group.find(f"{SVG}title").text.startswith("20 logistic units, packed in")
    texts = " ".join(t for t in svg.itertext())
    assert "20 logistic units" in texts and "(01) 04012345000001 (10) L1" in texts
    assert "held" in texts and "recalled" in texts and "shipped" in texts  # the legend


def test_the_figure_of_a_root_alone_is_a_single_node() -> None:
    layout = layout_graph([forward([])], {})
    assert len(layout.nodes) == 1 and not layout.edges
    etree.fromstring(render_svg(layout).encode())


def test_expand_values_are_checked() -> None:
    assert parse_expand(["g0123456789", " ", "gabcdefabcd"]) == {"g0123456789", "gabcdefabcd"}
    with pytest.raises(InvalidInput, match="expand: 'nope' is not a group id"):
        parse_expand(["nope"])
    with pytest.raises(InvalidInput, match=f"at most {MAX_EXPAND} groups"):
        parse_expand([f"g{i:010x}" for i in range(MAX_EXPAND + 1)])


# -- marks and the figure from the store -----------------------------------------------------------
@pytest.fixture
def plant(store: Store) -> Store:
    events, _ = small_plant()
    store.append(list(parse_events(events, source="plantkit")))
    return store


def test_marks_come_from_status_containers_and_holds(plant: Store) -> None:
    keys = [canonical_key(k) for k in (H1, F1, X1, X2, X3, P1, P2)]
    with plant.reader() as reader:
        before = object_marks(reader, keys)
    # P1 shipped, and X1 on it; X2 left P1 before it shipped, X3 never was on it.
    assert before == {
        canonical_key(P1): frozenset({"shipped"}),
        canonical_key(X1): frozenset({"shipped"}),
    }
    hold = place_hold(plant, F1, reason="tensile test failed")
    try:
        with plant.reader() as reader:
            after = object_marks(reader, keys)
    finally:
        release_hold(plant, hold.id, reason="retested")
    assert after[canonical_key(F1)] == {"held"}
    assert after[canonical_key(X2)] == {"held"}
    assert after[canonical_key(X1)] == {"held", "shipped"}
    assert canonical_key(H1) not in after  # upstream of the hold


def test_build_graph_of_a_plant_lot(plant: Store) -> None:
    with plant.reader() as reader:
        view = build_graph(reader, H1, "forward")
        both = build_graph(reader, F1, "both")
    keys = {n.key for n in view.layout.nodes}
    assert {canonical_key(k) for k in (H1, B1, B2, F1, X1, X2, X3, P1, P2, C1)} <= keys
    assert view.layout.nodes[0].key == canonical_key(H1)
    assert view.human_key == "(01) 04098765123450 (10) H1"
    p1 = next(n for n in view.layout.nodes if n.key == canonical_key(P1))
    assert (
        p1.tone == "shipped" and p1.href == f"/ui/passport?id={quote(canonical_key(P1), safe='')}"
    )
    depths = {n.key: n.depth for n in both.layout.nodes}
    assert depths[canonical_key(H1)] == -2 and depths[canonical_key(X1)] == 1
    etree.fromstring(view.svg.encode())
    with plant.reader() as reader, pytest.raises(InvalidInput, match="direction: 'sideways'"):
        build_graph(reader, H1, "sideways")


def test_further_links_are_drawn_for_traces_up_to_the_limit(
    plant: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # X2 was on P1 before it moved to P2: P1 and P2 are each first reached from one box, and
    # the other box links are further links.
    with plant.reader() as reader:
        full = build_graph(reader, F1, "forward")
    assert full.layout.further_links
    assert any(not e.primary for e in full.layout.edges)
    assert "further link between drawn objects" in full.svg
    monkeypatch.setattr(graph, "LINKS_LIMIT", 3)
    with plant.reader() as reader:
        lean = build_graph(reader, F1, "forward")
    assert not lean.layout.further_links
    assert lean.layout.edges and all(e.primary for e in lean.layout.edges)
    assert {n.key for n in lean.layout.nodes} == {n.key for n in full.layout.nodes}
    assert "drawn without its further links" in lean.svg


def test_marks_are_read_for_the_nearest_objects_of_a_huge_trace(
    plant: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graph, "MARKS_LIMIT", 4)
    with plant.reader() as reader:
        view = build_graph(reader, H1, "forward")
    assert view.marks_partial
    by = {n.key: n for n in view.layout.nodes}
    assert by[canonical_key(P1)].tone is None  # depth 4: beyond the nearest four
    assert len(view.layout.nodes) == 1 + view.layout.reached["forward"]  # all still drawn


# -- the page -------------------------------------------------------------------------------------
L9 = "urn:epc:class:lgtin:4012345.099999.L9"
H9 = "urn:epc:class:lgtin:4098765.012345.H9"
BOXES = [f"urn:epc:id:sscc:4012345.20000000{i:02d}" for i in range(1, 21)]


@pytest.fixture(scope="module")
def fan_out(world: World) -> Iterator[World]:
    """A lot packed into 20 boxes, added to the module's plant: a fan-out the page groups."""
    events = [
        receive(200, H9, 500),
        transform(210, [qty(H9, 400, "KGM")], [qty(L9, 4000)]),
        *(pack(220 + i, b, quantities=[qty(L9, 200)]) for i, b in enumerate(BOXES)),
    ]
    world.store.append(list(parse_events(events, source="graph-test")))
    yield world


def page(world: World, **params: object) -> html.HtmlElement:
    with world.as_role("viewer") as client:
        answer = client.get("/ui/graph", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    return html.fromstring(answer.text)


def svg_links(doc: html.HtmlElement) -> list[html.HtmlElement]:
    return doc.xpath("//svg//a")


def test_graph_page_draws_a_lot_forward_with_passport_links(world: World) -> None:
    doc = page(world, id=H1)
    assert doc.xpath("string(//h1)").strip() == "(01) 04098765123450 (10) H1"
    (svg,) = doc.xpath("//div[@class='graph-scroll']/svg")
    assert svg.get("role") == "group" and svg.get("viewbox")
    hrefs = {unquote(a.get("href")) for a in svg_links(doc)}
    for key in (H1, B1, B2, F1, X1, X2, X3, P1, P2, C1):
        assert f"/ui/passport?id={canonical_key(key)}" in hrefs, key
    rows = doc.xpath("//*[@data-testid='graph-list']//li")
    assert len(rows) == len(svg_links(doc))
    p1 = next(r for r in rows if "(00) 140123450000000013" in r.text_content())
    assert "shipped" in p1.text_content()
    summary = doc.xpath("string(//*[@data-testid='graph-summary'])")
    assert "downstream" in summary and not doc.xpath("//*[@data-testid='graph-hidden']")
    assert doc.xpath("//script[contains(@src, 'graph.js')]")


def test_graph_page_backward_and_both(world: World) -> None:
    doc = page(world, id=X1, direction="backward")
    hrefs = {unquote(a.get("href")) for a in svg_links(doc)}
    assert f"/ui/passport?id={canonical_key(H2)}" in hrefs
    assert f"/ui/passport?id={canonical_key(P1)}" not in hrefs
    doc = page(world, id=F1, direction="both")
    hrefs = {unquote(a.get("href")) for a in svg_links(doc)}
    assert {f"/ui/passport?id={canonical_key(k)}" for k in (H1, X1, C1)} <= hrefs
    assert doc.xpath("//select[@name='direction']/option[@selected]/@value") == ["both"]


def test_graph_page_groups_a_fan_out_and_expands_it_on_request(fan_out: World) -> None:
    doc = page(fan_out, id=L9)
    (group,) = doc.xpath("//svg//a[@data-expand]")
    assert "20 logistic units" in group.text_content()
    target = urlsplit(group.get("href"))
    query = parse_qs(target.query)
    assert query["expand"] == [group.get("data-expand")] and target.fragment == "graph"
    assert query["id"] == [canonical_key(L9)] and query["direction"] == ["forward"]
    assert not any(
        canonical_key(b) in unquote(a.get("href")) for a in svg_links(doc) for b in BOXES
    )
    opened = page(fan_out, **{k: v for k, v in query.items()})
    hrefs = {unquote(a.get("href")) for a in svg_links(opened)}
    assert {f"/ui/passport?id={canonical_key(b)}" for b in BOXES} <= hrefs
    assert not opened.xpath("//svg//a[@data-expand]")
    (collapse,) = opened.xpath("//div[@class='graph-expanded']//a[text()='collapse']")
    assert "expand=" not in collapse.get("href")


def test_graph_page_marks_held_material(fan_out: World) -> None:
    hold = place_hold(fan_out.store, L9, reason="hardness out of spec")
    try:
        doc = page(fan_out, id=H9)
    finally:
        release_hold(fan_out.store, hold.id, reason="re-tested")
    (l9,) = [a for a in svg_links(doc) if unquote(a.get("href")).endswith(canonical_key(L9))]
    assert "tlg-held" in l9.get("class")
    (group,) = doc.xpath("//svg//a[@data-expand]")
    assert "20 held" in group.text_content() and "tlg-held" in group.get("class")


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"id": "urn:epc:id:sscc:4012345.9999999999"}, 404, "Not found"),
        ({"id": H1, "direction": "sideways"}, 400, "direction"),
        ({"id": H1, "expand": "../x"}, 400, "expand"),
        ({}, 400, "id: give the identifier"),
    ],
)
def test_graph_page_refuses_bad_input_with_an_html_page(
    world: World, params: dict[str, str], status: int, message: str
) -> None:
    with world.as_role("viewer") as client:
        answer = client.get("/ui/graph", params=params)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert message in answer.text


def test_graph_page_sends_callers_without_credentials_to_login(world: World) -> None:
    with world.anonymous() as client:
        answer = client.get("/ui/graph", params={"id": H1})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=")
