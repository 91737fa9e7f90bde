"""Recall spreadsheets read back (csv, openpyxl) and compared with the recall engine's answer."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from threadline.genealogy import RecallScope, recall
from threadline.genealogy.recall import Customer, Item, Shipment, StockEntry
from threadline.gs1.keys import canonical
from threadline.reports import recall as report
from threadline.service import parse_events
from threadline.store import open_store

from plantkit import C1, C2, F1, H1, small_plant


def k(raw: str) -> str:
    return canonical(raw).key


@pytest.fixture(scope="module")
def scope(tmp_path_factory: pytest.TempPathFactory) -> RecallScope:
    """The recall scope of heat lot H1 of the hand-built plant."""
    store = open_store(str(tmp_path_factory.mktemp("report") / "plant.db"))
    try:
        events, _ = small_plant()
        store.append(list(parse_events(events, source="plantkit")))
        with store.reader() as reader:
            answer = recall(reader, [H1])
    finally:
        store.close()
    return answer


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def read_xlsx(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def sheet_rows(sheet: openpyxl.worksheet.worksheet.Worksheet) -> list[dict[str, object]]:
    rows = list(sheet.iter_rows(values_only=True))
    header = [str(h) for h in rows[0]]
    return [dict(zip(header, row, strict=True)) for row in rows[1:]]


def engine_customers(scope: RecallScope) -> dict[tuple[str, str], tuple[float, str]]:
    return {
        (c.id, i.id): (i.quantity or 0.0, i.uom or "") for c in scope.customers for i in c.items
    }


def test_the_plant_scope_is_what_these_tests_expect(scope: RecallScope) -> None:
    # Guards the comparisons below against an empty answer agreeing with an empty file.
    assert engine_customers(scope) == {
        (k(C1), k(F1)): (5000.0, "EA"),
        (k(C2), k(F1)): (1000.0, "EA"),
    }
    assert len(scope.in_stock) == 4 and len(scope.shipments) == 2


def test_customer_csv_lists_each_customer_item_with_its_quantity(scope: RecallScope) -> None:
    text = report.customers_csv(scope, {k(C1): "Windkraft Nord"})
    rows = read_csv(text)
    assert list(rows[0]) == [c.name for c in report.CUSTOMER_COLUMNS]
    got = {(r["customer"], r["item"]): (float(r["quantity"]), r["uom"]) for r in rows}
    assert got == engine_customers(scope)
    by_customer = {r["customer"]: r for r in rows}
    c1 = by_customer[k(C1)]
    assert c1["customer_name"] == "Windkraft Nord" and by_customer[k(C2)]["customer_name"] == ""
    assert c1["quantity"] == "5000"  # a whole number is written as one
    assert c1["kind"] == "lgtin"
    assert c1["shipments"] == "1"
    assert c1["first_shipped"] == c1["last_shipped"] == "2026-03-01T08:00:00.000000Z"
    assert c1["documents"] == "urn:example:desadv:60"
    assert text.startswith("customer,") and text.endswith("\r\n")


def test_customer_xlsx_has_a_bold_frozen_filtered_header_and_real_numbers(
    scope: RecallScope,
) -> None:
    book = read_xlsx(report.customers_xlsx(scope))
    assert book.sheetnames == ["Customers"]
    sheet = book["Customers"]
    assert sheet.freeze_panes == "A2"
    width = len(report.CUSTOMER_COLUMNS)
    assert sheet.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(width)}3"
    assert all(cell.font.b for cell in sheet[1])
    assert not any(cell.font.b for cell in sheet[2])
    rows = sheet_rows(sheet)
    got = {(r["customer"], r["item"]): (r["quantity"], r["uom"]) for r in rows}
    assert got == engine_customers(scope)
    for row in rows:
        assert isinstance(row["quantity"], int | float) and isinstance(row["shipments"], int)
        assert isinstance(row["first_shipped"], datetime)
    c1 = next(r for r in rows if r["customer"] == k(C1))
    assert c1["first_shipped"] == datetime(2026, 3, 1, 8, 0)  # UTC
    widths = [sheet.column_dimensions[openpyxl.utils.get_column_letter(i)].width for i in (1, 3)]
    assert all(8 <= w <= 60 for w in widths) and widths[1] > len("item")


def test_scope_xlsx_sheets_agree_with_the_engine(scope: RecallScope) -> None:
    book = read_xlsx(report.scope_xlsx(scope, selection="supplier lot H1"))
    assert book.sheetnames == ["Summary", "In stock", "Shipments", "Customers", "Affected"]
    for sheet in book:
        assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
    summary = {(r["field"], r["value"]) for r in sheet_rows(book["Summary"])}
    assert ("selection", "supplier lot H1") in summary
    assert ("suspect", k(H1)) in summary
    assert ("affected objects", len(scope.affected)) in summary
    assert ("in stock quantity EA", 12000) in summary  # two boxes of 5,000 and 2,000 loose
    assert ("in stock quantity KGM", 100) in summary
    assert ("shipped quantity EA", 6000) in summary

    stock = sheet_rows(book["In stock"])
    assert {(r["object"], r["location"], r["quantity"], r["uom"]) for r in stock} == {
        (e.id, e.location, e.quantity, e.uom) for e in scope.in_stock
    }
    shipped = sheet_rows(book["Shipments"])
    assert sorted((r["shipment"], r["item"], r["quantity"]) for r in shipped) == sorted(
        (s.event, i.id, i.quantity) for s in scope.shipments for i in s.items
    )
    assert {r["customer"] for r in shipped} == {k(C1), k(C2)}
    assert all(isinstance(r["time"], datetime) for r in shipped)
    affected = sheet_rows(book["Affected"])
    assert [r["object"] for r in affected] == [a["id"] for a in scope.affected]
    assert all(isinstance(r["depth"], int) for r in affected)


def test_scope_csv_says_where_every_part_of_the_scope_is(scope: RecallScope) -> None:
    rows = read_csv(report.scope_csv(scope))
    stock = [r for r in rows if r["status"] == "in_stock"]
    shipped = [r for r in rows if r["status"] == "shipped"]
    assert len(stock) + len(shipped) == len(rows)
    assert {(r["object"], r["location"], float(r["quantity"]), r["container"]) for r in stock} == {
        (e.id, e.location, e.quantity, e.container or "") for e in scope.in_stock
    }
    assert sorted((r["customer"], r["object"], float(r["quantity"])) for r in shipped) == sorted(
        (c.id, i.id, i.quantity) for c in scope.customers for i in c.items
    )
    assert {r["time"] for r in shipped} == {s.time for s in scope.shipments}


def hostile_scope() -> RecallScope:
    """A scope whose identifiers a spreadsheet would run as formulas, or cannot store."""
    item = Item('=HYPERLINK("http://evil.example","x")', 3.5, "KGM")
    ship = Shipment(
        event="urn:uuid:1",
        time="2026-03-01T08:00:00.000000Z",
        biz_step="shipping",
        destinations=[{"type": "owning_party", "id": "+cmd|' /C calc'!A0"}],
        biz_transactions=[{"type": "po", "id": "@SUM(1)"}],
        objects=[item.id],
        items=[item],
    )
    return RecallScope(
        suspects=[{"id": item.id, "kind": "lgtin"}],
        affected=[{"id": item.id, "kind": "lgtin", "depth": 0, "state": None,
                   "quantity": 3.5, "uom": "KGM"}],
        shipments=[ship],
        customers=[Customer("+cmd|' /C calc'!A0", [item], ["urn:uuid:1"])],
        in_stock=[StockEntry("-bell\x07", "lgtin", None, 1.25, None, None, None)],
    )  # fmt: skip


def test_text_that_looks_like_a_formula_stays_text() -> None:
    scope = hostile_scope()
    rows = read_csv(report.customers_csv(scope))
    assert rows[0]["item"] == "'" + scope.customers[0].items[0].id
    assert rows[0]["customer"] == "'" + scope.customers[0].id
    assert rows[0]["documents"] == "'@SUM(1)"
    assert rows[0]["quantity"] == "3.5"

    book = read_xlsx(report.scope_xlsx(scope))
    customers = book["Customers"]
    item_cell = customers.cell(row=2, column=3)
    assert item_cell.data_type == "s" and item_cell.value == scope.customers[0].items[0].id
    assert customers.cell(row=2, column=1).value == scope.customers[0].id
    stock = book["In stock"]
    assert stock.cell(row=2, column=3).value == "-bell"  # the control character is dropped
    assert stock.cell(row=2, column=5).value == 1.25


def test_an_empty_scope_gives_header_only_files() -> None:
    empty = RecallScope(suspects=[{"id": "urn:x:1", "kind": "uri"}])
    assert read_csv(report.customers_csv(empty)) == []
    assert report.scope_csv(empty).splitlines() == [",".join(c.name for c in report.FLAT_COLUMNS)]
    book = read_xlsx(report.scope_xlsx(empty))
    assert book["Customers"].max_row == 1 and book["Customers"].auto_filter.ref == "A1:J1"


def test_reports_do_not_depend_on_the_web_layer() -> None:
    source = Path(report.__file__).read_text()
    for forbidden in ("fastapi", "threadline.api", "threadline.web", "starlette"):
        assert forbidden not in source
