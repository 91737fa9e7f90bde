"""The recall pages on a live server over the hand-built plant: choosing suspects three ways,
the grouped scope, holds on what is in stock (quality only), and the spreadsheet downloads."""

from __future__ import annotations

import csv
import html
import io
import re
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import openpyxl
import pytest

from threadline.errors import NotFound
from threadline.genealogy import RecallScope, recall
from threadline.gs1.keys import canonical
from threadline.labels.content import display_key, hri, key_values, passport_uri
from threadline.model.identifiers import CANONICAL_BASE
from threadline.quality.holds import list_holds
from threadline.service import parse_events
from threadline.store import audit
from threadline.web import recall as web_recall
from threadline.web.passport_process import _ref as passport_ref
from threadline.web.recall import find_lots, quantity_text, totals_text

from livekit import PASSWORD, World, world_fixture  # noqa: F401 (fixture)
from plantkit import B1, B2, C1, C2, F1, FURNACE, H1, H2, X1, X2, qty, receive, transform

SQLITE = pytest.mark.parametrize("world", ["sqlite"], indirect=True)


def k(raw: str) -> str:
    return canonical(raw).key


def engine(world: World, ids: list[str]) -> RecallScope:
    with world.store.reader() as reader:
        return recall(reader, ids)


def by_testid(page: str, name: str) -> str:
    found = re.search(rf'data-testid="{name}"[^>]*>([^<]*)<', page)
    assert found, f"no {name} on the page"
    return html.unescape(found.group(1)).strip()


def forms(page: str) -> list[tuple[str, str, str]]:
    """(method, action, body) of every form on the page."""
    return [
        (m.group(2).lower(), html.unescape(m.group(1)), m.group(3))
        for m in re.finditer(
            r'<form[^>]*action="([^"]*)"[^>]*method="([^"]*)"[^>]*>(.*?)</form>', page, re.S
        )
    ]


def hidden_fields(form: str) -> list[tuple[str, str]]:
    return [
        (html.unescape(n), html.unescape(v))
        for n, v in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)"', form)
    ]


def test_the_form_offers_three_labelled_ways_to_choose(world: World) -> None:
    with world.as_role("viewer") as viewer:
        page = viewer.get("/ui/recall")
    assert page.status_code == 200
    for field in ("ids", "lot", "equipment", "from", "to"):
        assert f'<label for="{field}"' in page.text and f'id="{field}"' in page.text
    found = forms(page.text)
    choices = [f for f in found if f[1] == "/ui/recall/scope"]
    assert [f[0] for f in choices] == ["get", "get", "get"]
    assert 'name="ids"' in choices[0][2] and "<textarea" in choices[0][2]
    assert 'name="lot"' in choices[1][2]
    assert all(f'name="{n}"' in choices[2][2] for n in ("equipment", "from", "to"))


def test_scope_of_a_heat_lot_by_its_lot_code(world: World) -> None:
    """On both backends: the lot code finds the supplier heat lot (SQLite's key skip-scan or
    PostgreSQL's), and the page agrees with the recall engine."""
    expected = engine(world, [H1])
    with world.as_role("viewer") as viewer:
        page = viewer.get("/ui/recall/scope", params={"lot": "H1"})
    assert page.status_code == 200, page.text
    text = page.text
    assert "supplier lot H1" in text
    assert display_key(k(H1)) in text
    assert "Heat number" in text
    assert by_testid(text, "affected") == str(len(expected.affected))
    assert by_testid(text, "stock-count") == str(len(expected.in_stock)) == "4"
    assert by_testid(text, "customer-count") == "2"
    assert by_testid(text, "shipment-count") == "2"
    # In stock grouped by location: all four entries at the warehouse, 12,000 EA and 100 KGM.
    assert text.count('data-testid="stock-group"') == 1
    assert "4 objects · 12,000 EA · 100 KGM" in text
    # Shipped, grouped by customer, with items, quantities and the shipments' time.
    assert text.count('data-testid="customer"') == 2
    assert display_key(k(C1)) in text and display_key(k(C2)) in text
    assert "5,000 EA" in text and "1,000 EA" in text
    assert "2026-03-01 08:00:00 UTC" in text and "urn:example:desadv:60" in text
    assert "<details" in text
    # Downloads keep the selection; a viewer gets no hold form.
    assert 'href="/ui/recall/customers.csv?lot=H1"' in text
    assert 'href="/ui/recall/scope.xlsx?lot=H1"' in text
    assert "/ui/recall/holds" not in text


@SQLITE
def test_a_heat_number_or_full_identifier_selects_the_same_lot(world: World) -> None:
    with world.as_role("viewer") as viewer:
        by_code = viewer.get("/ui/recall/scope", params={"lot": "H1"})
        by_urn = viewer.get("/ui/recall/scope", params={"lot": H1})
        by_id = viewer.get("/ui/recall/scope", params={"ids": H1})
    for page in (by_code, by_urn, by_id):
        assert page.status_code == 200
        assert by_testid(page.text, "affected") == by_testid(by_code.text, "affected")


@SQLITE
def test_scope_of_several_objects_one_per_line(world: World) -> None:
    expected = engine(world, [X1, X2])
    with world.as_role("viewer") as viewer:
        lines = viewer.get("/ui/recall/scope", params={"ids": f"{X1}\r\n\r\n {X2} \n{X1}"})
        repeated = viewer.get("/ui/recall/scope", params=[("ids", X1), ("ids", X2)])
    for page in (lines, repeated):
        assert page.status_code == 200, page.text
        assert "2 objects" in page.text
        assert by_testid(page.text, "affected") == str(len(expected.affected))
        assert by_testid(page.text, "stock-count") == str(len(expected.in_stock))
        assert by_testid(page.text, "customer-count") == str(len(expected.customers)) == "1"
    assert "ids=" in repeated.text and "customers.csv?ids=" in repeated.text


@SQLITE
def test_scope_of_an_equipment_window_takes_what_was_made_there(world: World) -> None:
    # The furnace merged B1 and B2 into F1 at 08:20+01:00: F1 is suspect, its inputs are not
    # (they also went elsewhere before the window).
    window = {"equipment": "FURN-1", "from": "2026-03-01T07:15:00", "to": "2026-03-01T07:25"}
    with world.as_role("viewer") as viewer:
        page = viewer.get("/ui/recall/scope", params=window)
    assert page.status_code == 200, page.text
    suspects = page.text.split('data-testid="suspects"', 1)[1].split("</ul>", 1)[0]
    assert display_key(k(F1)) in suspects
    assert display_key(k(B1)) not in suspects and display_key(k(B2)) not in suspects
    assert by_testid(page.text, "affected") == str(len(engine(world, [F1]).affected))
    assert canonical(FURNACE).key in page.text


@SQLITE
@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ({}, 400, "no suspects chosen"),
        ({"ids": "  \n "}, 400, "no suspects chosen"),
        ({"ids": f"{H1}\nurn:epc:id:sscc:4012345.0000000999"}, 404, "line 2"),
        ({"ids": "urn:epc:id:sscc:4012345.0000000999"}, 404, "0000000999"),
        ({"ids": "urn:epc:id:sscc:4012345.123"}, 400, "4012345.123"),
        ({"lot": "NO-SUCH-HEAT"}, 404, "NO-SUCH-HEAT"),
        ({"lot": "H1", "ids": H2}, 400, "one way only"),
        ({"equipment": "FURN-1"}, 400, "from"),
        ({"equipment": "FURN-1", "from": "yesterday", "to": "2026-03-02"}, 400, "from"),
        ({"equipment": "FURN-1", "from": "2026-03-02", "to": "2026-03-01"}, 400, "must be after"),
        ({"equipment": "PRESS-99", "from": "2026-03-01", "to": "2026-03-02"}, 404, "PRESS-99"),
        ({"equipment": "FURN-1", "from": "2026-03-02", "to": "2026-03-03"}, 404, "nothing was"),
    ],
)
def test_a_bad_choice_is_a_clear_error_naming_the_fault(
    world: World, params: dict[str, str], status: int, says: str
) -> None:
    with world.as_role("viewer") as viewer:
        page = viewer.get("/ui/recall/scope", params=params)
    assert page.status_code == status, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert says in by_testid(page.text, "recall-error")
    if "lot" in params:  # what was typed is offered again for correction
        assert f'value="{params["lot"]}"' in page.text


@SQLITE
def test_identifiers_and_quantities_read_as_elsewhere_in_threadline(world: World) -> None:
    with world.store.reader() as reader:
        keys = [r[0] for r in reader.query("SELECT key FROM objects")]
    assert len(keys) > 10
    # Stored keys read by their path and by full parsing say the same, and so do their links.
    assert {key: display_key(key) for key in keys} == {
        key: hri(key_values(key)) if key.startswith(CANONICAL_BASE) else key for key in keys
    }
    base = "https://trace.plant.example/dl"
    for key in keys:
        ref = passport_ref(key, base)
        assert ref is not None and ref.text == display_key(key)
        assert ref.href == (
            passport_uri(key, base) or f"{base}/ui/passport?id={quote(key, safe='')}"
        )
    assert quantity_text(12000.0, "EA") == "12,000 EA"
    assert quantity_text(64.625, "KGM") == "64.625 KGM"
    assert quantity_text(1e-12, "KGM") == "< 0.001 KGM"
    assert quantity_text(None, "EA") == ""
    assert totals_text([(1.0, "EA"), (None, "EA"), (2.5, "KGM"), (2.0, "EA")]) == "3 EA · 2.5 KGM"


HEAT_LOT = "urn:epc:class:lgtin:4098765.012345.L-778"  # wire whose certificate says HEAT-9
PLANT_LOT = "urn:epc:class:lgtin:4012345.033333.L-778"  # a batch of it with the same code


@SQLITE
def test_lot_lookup_by_heat_number_prefers_supplier_heat_lots(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    wire = receive(90, HEAT_LOT, 500)
    wire["ilmd"]["tl:heatNumber"] = "HEAT-9"
    batch = transform(92, [qty(HEAT_LOT, 10, "KGM")], [qty(PLANT_LOT, 100)])
    world.store.append(list(parse_events([wire, batch], source="test")))
    with world.as_role("viewer") as viewer:
        by_heat = viewer.get("/ui/recall/scope", params={"lot": "HEAT-9"})
        by_code = viewer.get("/ui/recall/scope", params={"lot": "L-778"})
    for page in (by_heat, by_code):
        assert page.status_code == 200, page.text
        lots = re.findall(r"<dt>Supplier lot</dt><dd><a[^>]*>([^<]*)</a>", page.text)
        assert lots == [display_key(k(HEAT_LOT))]
        assert "<dt>Heat number</dt><dd>HEAT-9</dd>" in page.text
    # The same answers where keys cannot be walked in byte order (PostgreSQL with a
    # linguistic collation): one LIKE scan instead of the index skip-scan.
    for bytewise in (True, False):
        monkeypatch.setattr(web_recall, "_bytewise", lambda _reader, b=bytewise: b)
        with world.store.reader() as reader:
            assert [o.key for o in find_lots(reader, "H1")] == [k(H1)]
            assert [o.key for o in find_lots(reader, "HEAT-9")] == [k(HEAT_LOT)]
            assert [o.key for o in find_lots(reader, "L-778")] == [k(HEAT_LOT)]
            assert [o.key for o in find_lots(reader, "B1")] == [k(B1)]  # not a heat lot
            with pytest.raises(NotFound, match="'h1'"):
                find_lots(reader, "h1")  # lot codes are case-sensitive


@SQLITE
def test_downloads_agree_with_the_recall_engine(world: World) -> None:
    expected = engine(world, [H1])
    wanted = {(c.id, i.id): i.quantity for c in expected.customers for i in c.items}
    with world.as_role("viewer") as viewer:
        answers = {
            name: viewer.get(f"/ui/recall/{name}", params={"lot": "H1"})
            for name in ("customers.csv", "customers.xlsx", "scope.csv", "scope.xlsx")
        }
    for name, answer in answers.items():
        assert answer.status_code == 200, (name, answer.text)
        stem, ext = name.split(".")
        assert (
            answer.headers["content-disposition"]
            == f'attachment; filename="recall-{stem}-H1.{ext}"'
        )
    assert answers["customers.csv"].headers["content-type"] == "text/csv; charset=utf-8"
    assert (
        answers["scope.xlsx"]
        .headers["content-type"]
        .startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    )
    rows = list(csv.DictReader(io.StringIO(answers["customers.csv"].content.decode("utf-8"))))
    assert {(r["customer"], r["item"]): float(r["quantity"]) for r in rows} == wanted
    book = openpyxl.load_workbook(io.BytesIO(answers["customers.xlsx"].content))
    sheet = book.active
    assert [c.value for c in sheet[1]][:3] == ["customer", "customer_name", "item"]
    got = {(r[0], r[2]): r[4] for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert got == wanted
    flat = list(csv.DictReader(io.StringIO(answers["scope.csv"].text)))
    assert {r["object"] for r in flat if r["status"] == "in_stock"} == {
        e.id for e in expected.in_stock
    }
    scope_book = openpyxl.load_workbook(io.BytesIO(answers["scope.xlsx"].content))
    assert scope_book["Affected"].max_row == len(expected.affected) + 1


@SQLITE
def test_downloads_need_credentials_and_a_selection(world: World) -> None:
    with world.anonymous() as nobody:
        answer = nobody.get("/ui/recall/customers.csv", params={"lot": "H1"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
    with world.as_role("viewer") as viewer:
        empty = viewer.get("/ui/recall/scope.xlsx")
        unknown = viewer.get("/ui/recall/scope.csv", params={"lot": "NOPE"})
    assert empty.status_code == 400 and "no suspects chosen" in empty.text
    assert unknown.status_code == 404 and "NOPE" in unknown.text


def login(person: httpx.Client, name: str) -> None:
    done = person.post("/login", data={"name": name, "password": PASSWORD, "next": "/"})
    assert done.status_code == 303, done.text


def form_data(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        out.setdefault(name, []).append(value)
    return out


def hold_form(page: str) -> list[tuple[str, str]]:
    found = [f for f in forms(page) if f[1] == "/ui/recall/holds"]
    assert len(found) == 1 and found[0][0] == "post"
    return hidden_fields(found[0][2])


@SQLITE
def test_holds_are_placed_by_quality_only_on_what_is_in_stock(world: World) -> None:
    """Runs last in this module: it leaves the H1 stock on hold."""
    expected = engine(world, [H1])
    in_stock = {e.id for e in expected.in_stock}
    assert not list_holds(world.store, active_only=True)

    with world.as_role("viewer") as viewer:
        refused = viewer.post("/ui/recall/holds", data={"reason": "recall", "lot": "H1"})
    assert refused.status_code == 403 and "Not allowed" in refused.text
    assert not list_holds(world.store, active_only=True)

    with world.anonymous() as person:
        login(person, "quality")
        page = person.get("/ui/recall/scope", params={"lot": "H1"})
        assert by_testid(page.text, "hold-button") == "Hold 4 in-stock objects"
        fields = hold_form(page.text)
        assert ("lot", "H1") in fields and any(n == "csrf" and v for n, v in fields)
        # A forged post (no form token) and a post without a reason change nothing.
        unsigned = [(n, v) for n, v in fields if n != "csrf"]
        forged = person.post("/ui/recall/holds", data=form_data([*unsigned, ("reason", "x")]))
        assert forged.status_code == 403
        blank = person.post("/ui/recall/holds", data=form_data([*fields, ("reason", "  ")]))
        assert blank.status_code == 400 and "reason" in blank.text
        assert not list_holds(world.store, active_only=True)

        done = person.post(
            "/ui/recall/holds", data=form_data([*fields, ("reason", "heat H1 tensile low")])
        )
        assert done.status_code == 303, done.text
        target = urlsplit(done.headers["location"])
        assert target.path == "/ui/recall/scope"
        assert parse_qs(target.query) == {"lot": ["H1"], "held": ["4"]}
        holds = list_holds(world.store, active_only=True)
        assert {h.object for h in holds} == in_stock
        assert {h.reason for h in holds} == {"heat H1 tensile low"}
        assert {h.placed_by for h in holds} == {"quality"}
        logged = [e for e in audit.entries(world.store) if e.action == "hold"]
        assert {e.target for e in logged} == in_stock

        after = person.get(done.headers["location"])
        assert "Placed 4 holds" in by_testid(after.text, "held")
        assert after.text.count('tone-warn">on hold</span>') == 4
        assert 'data-testid="all-held"' in after.text and "hold-button" not in after.text

        # Nothing left to hold: posting again places none and says why.
        again = person.post("/ui/recall/holds", data=form_data([*fields, ("reason", "again")]))
        assert parse_qs(urlsplit(again.headers["location"]).query)["held"] == ["0"]
        assert parse_qs(urlsplit(again.headers["location"]).query)["already"] == ["4"]
        assert len(list_holds(world.store, active_only=True)) == 4
