"""The search page: every kind of input a person may have at hand, the grouping of the results,
the friendly answers to input that names nothing, and the page through a live server.

The logic runs on the live ``world`` (the hand-built plant, on SQLite and PostgreSQL) with a few
more events (serials made under a production order, a heat lot received under a purchase order)
and master-data names; heat numbers, the simulator's purchase orders and customers come from a
small demo plant.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from threadline.api.pages.common import passport_href
from threadline.gs1.element_strings import GS
from threadline.gs1.keys import canonical, canonical_key
from threadline.service import parse_events
from threadline.sim import Plant
from threadline.store import Store, open_store
from threadline.store.master_data import BUSINESS_LOCATION, upsert_master_data
from threadline.web.search import GROUPS, MAX_QUERY, SearchResult, search

from livekit import World, world_fixture  # noqa: F401 (fixture)
from plantkit import B1, B2, C1, C2, H1, HEADER, WAREHOUSE, X1, X2

# Serials of the same trade item as batches B1 and B2 (GTIN 04012345111118).
SERIALS = [
    "urn:epc:id:sgtin:4012345.011111.SN-1001",
    "urn:epc:id:sgtin:4012345.011111.SN-1002",
]
WORK_ORDER = "urn:example:prodorder:WO-4711"
PURCHASE_ORDER = "https://erp.example.com/po/PO-2026-0042"
H3 = "urn:epc:class:lgtin:4098765.012345.H-77812"
SUPPLIER = "urn:epc:id:pgln:4098765.00000"
B_GTIN = "04012345111118"  # the GTIN of batches B1 and B2
SQLITE = pytest.mark.parametrize("world", ["sqlite"], indirect=True)


def _event(minute: int, **fields: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventID": f"urn:uuid:5e4c0000-0000-4000-8000-{minute:012d}",
        "eventTime": f"2026-03-01T{12 + minute // 60:02d}:{minute % 60:02d}:00.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        **fields,
    }


def extra_events() -> list[dict[str, Any]]:
    """Serials commissioned under a production order; a heat lot received under a purchase order."""
    return [
        _event(
            0,
            action="ADD",
            bizStep="commissioning",
            disposition="active",
            epcList=SERIALS,
            readPoint={"id": HEADER},
            bizTransactionList=[{"type": "prodorder", "bizTransaction": WORK_ORDER}],
        ),
        _event(
            1,
            action="ADD",
            bizStep="receiving",
            disposition="in_progress",
            quantityList=[{"epcClass": H3, "quantity": 900, "uom": "KGM"}],
            bizLocation={"id": WAREHOUSE},
            bizTransactionList=[{"type": "po", "bizTransaction": PURCHASE_ORDER}],
            sourceList=[{"type": "owning_party", "source": SUPPLIER}],
            ilmd={"tl:heatNumber": "H-77812", "tl:supplier": SUPPLIER, "tl:steelGrade": "23MnB4"},
        ),
    ]


NAMES = {
    "epcisMasterData": {
        "vocabularyList": [
            {
                "type": "urn:epcglobal:epcis:vtype:SourceDest",
                "vocabularyElementList": [
                    {
                        "id": C1,
                        "attributes": [
                            {"id": "urn:epcglobal:cbv:mda#name", "attribute": "Windpark Nordsee"}
                        ],
                    }
                ],
            },
            {
                "type": BUSINESS_LOCATION,
                "vocabularyElementList": [
                    {
                        "id": WAREHOUSE,
                        "attributes": [
                            {
                                "id": "urn:epcglobal:cbv:mda#name",
                                "attribute": "Finished goods store",
                            }
                        ],
                    }
                ],
            },
        ]
    }
}


@pytest.fixture(scope="module")
def plant(world: World) -> Store:
    """The world's store with the extra events and names (appending twice stores nothing twice)."""
    world.store.append(list(parse_events(extra_events(), source="search extras")))
    with world.store.writer() as writer:
        upsert_master_data(writer, NAMES)
    return world.store


def find(store: Store, text: str, **options: Any) -> SearchResult:
    with store.reader() as reader:
        return search(reader, text, **options)


def group(result: SearchResult, slug: str) -> dict[str, Any]:
    """The hits of one group by key (orders by their value), or {} when the group is absent."""
    for g in result.groups:
        if g.slug == slug:
            return {(h.title if slug == "orders" else h.key) or h.title: h for h in g.hits}
    return {}


# -- lots, serials, containers, products ------------------------------------------------------


def test_lot_code_finds_the_lot_under_its_product(plant: Store) -> None:
    result = find(plant, "B1")
    lots = group(result, "lots")
    assert list(lots) == [canonical_key(B1)]
    hit = lots[canonical_key(B1)]
    assert hit.exact and hit.title == "B1"
    assert f"GTIN {B_GTIN}" in hit.details
    assert result.single == canonical_key(B1)
    # Typed in lower case, the lot is still found.
    assert find(plant, "b1").single == canonical_key(B1)


def test_lot_code_prefix_lists_every_lot_it_starts(plant: Store) -> None:
    result = find(plant, "H-778")
    assert canonical_key(H3) in group(result, "lots")
    assert not group(result, "lots")[canonical_key(H3)].exact
    assert result.single is None  # a prefix match is listed, not opened


def test_serial_is_found_by_itself(plant: Store) -> None:
    result = find(plant, "SN-1001")
    serials = group(result, "serials")
    key = canonical_key(SERIALS[0])
    assert list(serials) == [key]
    assert serials[key].exact and serials[key].title == "SN-1001"
    assert result.single == key
    both = group(find(plant, "SN-100"), "serials")
    assert set(both) == {canonical_key(s) for s in SERIALS}


@pytest.mark.parametrize(
    "text",
    [
        "040123450000000016",
        "00040123450000000016",
        "(00)040123450000000016",
        "(00) 040123450000000016",
        "]C100040123450000000016",
        "urn:epc:id:sscc:4012345.0000000001",
        "https://id.example.com/00/040123450000000016",
    ],
)
def test_sscc_in_every_written_form_names_the_box(plant: Store, text: str) -> None:
    assert canonical_key(X1) == "https://id.gs1.org/00/040123450000000016"
    result = find(plant, text)
    assert list(group(result, "containers")) == [canonical_key(X1)]
    assert result.single == canonical_key(X1)


def test_container_badge_tells_it_shipped_on_its_pallet(plant: Store) -> None:
    # X1 stayed on pallet P1, which shipped: the box shipped with it.
    result = find(plant, "0401234500000000")  # the start of X1's and X2's SSCCs
    boxes = group(result, "containers")
    assert boxes[canonical_key(X1)].badge == ("shipped", "gone")
    # X2 was moved to pallet P2 before P1 shipped: it is still here.
    assert boxes[canonical_key(X2)].badge[1] != "gone"


@pytest.mark.parametrize("text", [B_GTIN, B_GTIN[1:], f"(01){B_GTIN}", f"]E0{B_GTIN[1:]}"])
def test_gtin_shows_the_product_and_its_lots(plant: Store, text: str) -> None:
    result = find(plant, text)
    products = group(result, "products")
    product = products[f"https://id.gs1.org/01/{B_GTIN}"]
    assert product.title == B_GTIN
    assert product.details == ("2 lots", "2 serials")
    assert [g.slug for g in result.groups] == ["products", "lots", "serials"]  # exact first
    assert set(group(result, "lots")) == {canonical_key(B1), canonical_key(B2)}
    assert set(group(result, "serials")) == {canonical_key(s) for s in SERIALS}
    assert result.single is None


# -- scans, Digital Link, EPC URN -------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "https://id.example.com/01/04012345111118/10/B1",
        "https://resolver.acme.test/products/01/04012345111118/10/B1?17=261231",
        "urn:epc:class:lgtin:4012345.011111.B1",
    ],
)
def test_digital_link_on_any_domain_and_epc_urn(plant: Store, text: str) -> None:
    result = find(plant, text)
    assert result.single == canonical_key(B1)
    assert result.readings == ("GS1 data: (01) 04012345111118 (10) B1",)


@pytest.mark.parametrize(
    "text",
    [
        "]d2010401234511111810B1",
        f"]d2010401234511111810B1{GS}",
        "]C1010401234511111810B1",
        "]Q1https://id.example.com/01/04012345111118/10/B1",
        "010401234511111810B1",  # a scanner sending no symbology identifier
        "(01)04012345111118(10)B1",
        "(01) 04012345111118 (10) B1",  # as printed under the barcode
    ],
)
def test_raw_scan_with_and_without_symbology_identifier(plant: Store, text: str) -> None:
    result = find(plant, text)
    assert result.single == canonical_key(B1)
    assert not result.problems


def test_scan_of_a_lot_the_store_lacks_shows_its_product(plant: Store) -> None:
    result = find(plant, "(01)04012345111118(10)B9")
    assert f"https://id.gs1.org/01/{B_GTIN}" in group(result, "products")
    assert any("(10) B9" in note for note in result.notes)
    assert result.single is None


# -- orders, parties, locations, heat numbers -------------------------------------------------


def test_production_order_lists_what_was_made_under_it(plant: Store) -> None:
    result = find(plant, "WO-4711")
    orders = group(result, "orders")
    order = orders[WORK_ORDER]
    assert order.kind_name == "Production order"
    # The store keeps the order as an object linked to its events: it has a passport.
    assert order.exact and order.key == WORK_ORDER and order.has_passport
    assert {link.key for link in order.related} >= {canonical_key(s) for s in SERIALS}
    assert "1 event" in order.details
    assert result.single == WORK_ORDER


def test_purchase_order_by_its_number_or_full_uri(plant: Store) -> None:
    for text in ("PO-2026-0042", PURCHASE_ORDER, "po-2026-00"):
        result = find(plant, text)
        orders = group(result, "orders")
        assert list(orders) == [PURCHASE_ORDER], text
        assert not group(result, "other"), text  # the order, not an "other identifier"
        assert orders[PURCHASE_ORDER].kind_name == "Purchase order"
        assert canonical_key(H3) in {link.key for link in orders[PURCHASE_ORDER].related}
    assert group(find(plant, "po-2026-00"), "orders")[PURCHASE_ORDER].exact is False


def test_an_order_older_than_the_events_read_is_found_by_its_whole_value(plant: Store) -> None:
    # The scan of event documents reads none here; the whole value goes through the key index.
    result = find(plant, PURCHASE_ORDER, order_window=0)
    orders = group(result, "orders")
    assert list(orders) == [PURCHASE_ORDER]
    assert canonical_key(H3) in {link.key for link in orders[PURCHASE_ORDER].related}
    assert not any("were looked for" in note for note in result.notes)


def test_order_search_says_which_events_it_read(plant: Store) -> None:
    with plant.reader() as reader:
        total = int(reader.query("SELECT max(id) FROM events")[0][0])
    # The production order is the second-newest event: a one-event window misses it.
    result = find(plant, "WO-4711", order_window=1)
    assert not group(result, "orders")
    assert f"latest 1 of {total:,} events" in " ".join(result.notes)
    assert group(find(plant, "WO-4711", order_window=2), "orders")


def test_customer_by_gln_company_prefix_and_name(plant: Store) -> None:
    key = canonical_key(C1)
    gln = key.rsplit("/", 1)[1]
    by_gln = find(plant, gln)
    assert by_gln.single == key
    party = group(by_gln, "parties")[key]
    assert party.kind_name == "Customer"  # P1 shipped to it
    assert party.title == "Windpark Nordsee"
    by_prefix = group(find(plant, "4055555"), "parties")
    assert key in by_prefix and not by_prefix[key].exact
    by_name = find(plant, "windpark")
    assert list(group(by_name, "parties")) == [key]
    # C2 has no name: it is shown by its GLN.
    c2 = canonical_key(C2).rsplit("/", 1)[1]
    assert [h.title for h in group(find(plant, c2), "parties").values()] == [f"(417) {c2}"]


def test_location_by_extension_and_by_name(plant: Store) -> None:
    result = find(plant, "CH-01")
    assert result.single == canonical_key(HEADER)
    assert group(result, "locations")[canonical_key(HEADER)].exact
    named = group(find(plant, "Finished goods"), "locations")
    assert list(named) == [canonical_key(WAREHOUSE)]


def test_heat_number_of_a_received_heat_lot(plant: Store) -> None:
    result = find(plant, "H-77812")
    heats = group(result, "heats")
    hit = heats[canonical_key(H3)]
    assert hit.title == "H-77812" and hit.kind_name == "Heat lot" and hit.exact
    assert "grade 23MnB4" in hit.details
    assert "supplier (417) 4098765000003" in hit.details
    assert canonical_key(H3) in group(result, "lots")
    assert result.single == canonical_key(H3)  # one heat lot: its passport opens


def test_hand_made_plant_heat_numbers(plant: Store) -> None:
    heats = group(find(plant, "H1"), "heats")
    assert list(heats) == [canonical_key(H1)]


# -- grouping and nothing found ---------------------------------------------------------------


def test_groups_keep_a_fixed_order_and_cap_at_their_limit(plant: Store) -> None:
    result = find(plant, "4012345", per_group=1)
    slugs = [g.slug for g in result.groups]
    assert slugs == [s for s in GROUPS if s in slugs]
    assert {"parties", "locations"} <= set(slugs)
    locations = next(g for g in result.groups if g.slug == "locations")
    assert len(locations.hits) == 1 and locations.more
    assert result.single is None


@pytest.mark.parametrize("text", ["no-such-thing", "Zz", "urn:example:nothing", "%_%"])
def test_unknown_input_finds_nothing_without_a_fault(plant: Store, text: str) -> None:
    result = find(plant, text)
    assert result.groups == () and result.problems == ()
    assert result.query == text


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("040123450000000017", "check digit should be 6"),
        ("04012345111119", "check digit should be 8"),
        ("]d2garbage", "no GS1 Application Identifier"),
        ("(01)04012345111119(10)B1", "check digit"),
        ("urn:epc:id:sscc:4012345.00001", "must total 17 digits"),
        ("x" * (MAX_QUERY + 1), "no identifier is longer"),
    ],
)
def test_invalid_input_is_reported_in_words(plant: Store, text: str, fault: str) -> None:
    result = find(plant, text)
    assert result.groups == ()
    assert any(fault in problem for problem in result.problems), result.problems


def test_empty_query_searches_nothing(plant: Store) -> None:
    assert find(plant, "  \t") == SearchResult(query="")
    assert find(plant, "\x00\r\n") == SearchResult(query="")


def test_control_characters_are_dropped(plant: Store) -> None:
    # A scanner ends its data with CR LF; a NUL would be refused by PostgreSQL.
    assert find(plant, "B\x001\r\n").single == canonical_key(B1)


# -- the demo plant: simulator heat numbers, purchase orders, customers -----------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, list[dict[str, Any]]]]:
    plant = Plant(scale="small", seed=7)
    events = list(plant.events())
    path: Path = tmp_path_factory.mktemp("search-demo") / "demo.db"
    store = open_store(str(path))
    store.append(list(parse_events(events, source="demo plant")))
    try:
        yield store, events
    finally:
        store.close()


def _first(events: list[dict[str, Any]], step: str) -> dict[str, Any]:
    return next(
        e
        for e in events
        if e.get("bizStep") == step
        and e.get("bizTransactionList")
        and ("ilmd" in e or step != "receiving")
    )


def test_demo_heat_number_finds_the_heat_lot(demo: tuple[Store, list[dict[str, Any]]]) -> None:
    store, events = demo
    receipt = _first(events, "receiving")
    heat = receipt["ilmd"]["tl:heatNumber"]
    lot = canonical_key(receipt["quantityList"][0]["epcClass"])
    result = find(store, heat)
    hit = group(result, "heats")[lot]
    assert hit.title == heat
    assert any(d.startswith("certificate https://threadline.example/cert/") for d in hit.details)
    assert result.single == lot


def test_demo_purchase_orders_of_heat_lots_and_customers(
    demo: tuple[Store, list[dict[str, Any]]],
) -> None:
    store, events = demo
    receipt = _first(events, "receiving")
    po = receipt["bizTransactionList"][0]["bizTransaction"]
    number = po.rsplit(".", 1)[1]  # urn:epc:id:gdti:4012345.00010.PO-24-00001 -> PO-24-00001
    orders = group(find(store, number), "orders")
    assert orders[po].exact and orders[po].kind_name == "Purchase order"
    assert canonical_key(receipt["quantityList"][0]["epcClass"]) in {
        link.key for link in orders[po].related
    }
    shipment = _first(events, "shipping")
    customer_po = next(
        t["bizTransaction"] for t in shipment["bizTransactionList"] if t["type"] == "po"
    )
    found = group(find(store, customer_po.rsplit("/", 1)[1]), "orders")
    assert customer_po in found
    boxes_or_pallets = {canonical_key(e) for e in shipment["epcList"]}
    assert boxes_or_pallets & {link.key for link in found[customer_po].related}


def test_demo_customer_by_company_prefix(demo: tuple[Store, list[dict[str, Any]]]) -> None:
    store, _ = demo
    result = find(store, "4055555")
    parties = group(result, "parties")
    assert list(parties) == ["https://id.gs1.org/417/4055555000001"]
    assert parties["https://id.gs1.org/417/4055555000001"].kind_name == "Customer"
    assert group(result, "locations") and group(result, "assets")  # its site and assemblies


def test_demo_lot_codes_by_prefix_across_products(demo: tuple[Store, list[dict[str, Any]]]) -> None:
    store, _ = demo
    result = find(store, "FL24-00001")
    lots = group(result, "lots")
    assert len(lots) >= 2
    assert all(re.search(r"/10/FL24-00001\d$", key) for key in lots)
    assert len({canonical(key).product for key in lots}) >= 2  # found under several GTINs


# -- the page -----------------------------------------------------------------------------------


def test_page_without_query_shows_the_form_and_hints(plant: Store, world: World) -> None:
    with world.as_role("viewer") as client:
        page = client.get("/ui/search")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<label for="q">' in page.text and 'id="q" name="q"' in page.text
    assert "heat number" in page.text and "Nothing found" not in page.text


def test_page_lists_groups_with_passport_links(plant: Store, world: World) -> None:
    with world.as_role("viewer") as client:
        page = client.get("/ui/search", params={"q": B_GTIN})
    assert page.status_code == 200, page.text
    html = page.text
    assert 'id="heading-products"' in html and 'id="heading-lots"' in html
    # The group holding the exact match (the product) comes first.
    assert html.index('id="heading-products"') < html.index('id="heading-lots"')
    href = passport_href(canonical_key(B1)).replace("&", "&amp;")
    assert f'href="{href}"' in html
    assert f'value="{B_GTIN}"' in html  # both search boxes keep the text
    assert html.count(f'value="{B_GTIN}"') == 2
    assert 'data-testid="summary">5 results' in html  # the product, two lots, two serials


def test_page_opens_the_passport_of_a_single_exact_hit(plant: Store, world: World) -> None:
    with world.as_role("viewer") as client:
        page = client.get("/ui/search", params={"q": "]C100040123450000000016"})
        assert page.status_code == 303
        assert page.headers["location"] == passport_href(canonical_key(X1))
        passport = client.get(page.headers["location"])
    assert passport.status_code == 200
    assert "040123450000000016" in passport.text


def test_page_shows_an_order_with_its_passport_link_and_what_it_made(
    plant: Store, world: World
) -> None:
    with world.as_role("viewer") as client:
        page = client.get("/ui/search", params={"q": "WO-47"})  # a prefix: the list, no redirect
        exact = client.get("/ui/search", params={"q": "WO-4711"})
        passport = client.get(exact.headers["location"])
    assert passport.status_code == 200, passport.text
    assert WORK_ORDER in passport.text and "commissioning" in passport.text  # its events
    assert page.status_code == 200
    assert "Production order" in page.text
    order_link = f'href="/ui/passport?id={quote(WORK_ORDER, safe="")}"'
    assert f'<a class="hit-title" {order_link}>{WORK_ORDER}</a>' in page.text
    assert f'href="/ui/passport?id={quote(canonical_key(SERIALS[0]), safe="")}"' in page.text
    # The whole order number names one order: straight to its passport.
    assert exact.status_code == 303
    assert exact.headers["location"] == f"/ui/passport?id={quote(WORK_ORDER, safe='')}"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("no-such-thing", "Nothing found for <q>no-such-thing</q>"),
        ("<script>alert(1)</script>", "Nothing found for <q>&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("]d2garbage", "no GS1 Application Identifier"),
        ("040123450000000017", "check digit should be 6"),
        ("y" * 5000, "no identifier is longer"),
        ("nul\x00byte", "Nothing found for <q>nulbyte</q>"),
    ],
)
def test_page_answers_bad_or_unknown_input_kindly(
    plant: Store, world: World, text: str, says: str
) -> None:
    with world.as_role("viewer") as client:
        page = client.get("/ui/search", params={"q": text})
    assert page.status_code == 200, page.text
    assert says in page.text
    assert "<script>alert" not in page.text


@SQLITE
def test_page_sends_callers_without_credentials_to_login(plant: Store, world: World) -> None:
    with world.anonymous() as client:
        page = client.get("/ui/search", params={"q": "B1"})
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login?next=")


def test_page_lists_several_matches_instead_of_opening_one(plant: Store, world: World) -> None:
    with world.as_role("viewer") as client:
        page = client.get("/ui/search", params={"q": "SN-100"})
    assert page.status_code == 200
    assert page.text.count('<li class="hit') == 2
