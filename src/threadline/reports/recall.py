"""Recall spreadsheets: the customer list and the whole recall scope, as CSV and as XLSX.

Everything here is pure: it takes the recall engine's answer
(:class:`~threadline.genealogy.recall.RecallScope`) and returns CSV text or XLSX bytes.

- **Customer list** (:func:`customer_table`): one row per customer and affected item (lot or
  serialised item) with the quantity and unit it received, how many shipments carried it, the
  first and last shipping time and the shipping documents (despatch advice, order numbers).
- **Scope** (:func:`scope_tables`): a summary, what is still in stock (by location, with
  quantities), every shipment with what it carried, the customer list and every affected object.
  The CSV form (:func:`scope_csv`) is one flat table of where the affected material is: in stock
  here, or shipped there.

Spreadsheet conventions: one header row (bold, frozen, with an auto filter in XLSX), quantities
as numbers, times in UTC (ISO-8601 text in CSV, real date-times in XLSX), CSV in UTF-8 with a
header row. Text from outside (identifiers, documents) that a spreadsheet would run as a formula
(it starts with ``=``, ``+``, ``-``, ``@``) is kept as text: prefixed with ``'`` in CSV, stored as
a string cell in XLSX.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]
from openpyxl.styles import Font  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

from threadline.genealogy.recall import RecallScope, Shipment

__all__ = [
    "Column",
    "Table",
    "customer_table",
    "customers_csv",
    "customers_xlsx",
    "scope_csv",
    "scope_tables",
    "scope_xlsx",
    "table_csv",
    "tables_xlsx",
]

Cell = str | int | float | None
Kind = Literal["text", "number", "time"]


@dataclass(frozen=True)
class Column:
    """One column: its header and what its cells hold (times are storage text, ``...Z``)."""

    name: str
    kind: Kind = "text"


@dataclass
class Table:
    """A sheet: a title (the XLSX sheet name), columns and rows of plain values."""

    title: str
    columns: tuple[Column, ...]
    rows: list[tuple[Cell, ...]] = field(default_factory=list)


def _columns(*spec: str) -> tuple[Column, ...]:
    """Columns from ``name`` or ``name:kind`` strings."""
    out = []
    for text in spec:
        name, _, kind = text.partition(":")
        out.append(Column(name, kind or "text"))  # type: ignore[arg-type]
    return tuple(out)


CUSTOMER_COLUMNS = _columns(
    "customer",
    "customer_name",
    "item",
    "kind",
    "quantity:number",
    "uom",
    "shipments:number",
    "first_shipped:time",
    "last_shipped:time",
    "documents",
)
STOCK_COLUMNS = _columns(
    "location",
    "location_name",
    "object",
    "kind",
    "quantity:number",
    "uom",
    "container",
    "disposition",
)
SHIPMENT_COLUMNS = _columns(
    "time:time",
    "shipment",
    "customer",
    "customer_name",
    "destinations",
    "documents",
    "item",
    "kind",
    "quantity:number",
    "uom",
)
AFFECTED_COLUMNS = _columns("object", "kind", "depth:number", "state", "quantity:number", "uom")
SUMMARY_COLUMNS = _columns("field", "value")
FLAT_COLUMNS = _columns(
    "status",
    "object",
    "kind",
    "quantity:number",
    "uom",
    "location",
    "location_name",
    "container",
    "disposition",
    "customer",
    "customer_name",
    "shipment",
    "time:time",
    "documents",
)


# -- rows -----------------------------------------------------------------------------------------
def _documents(shipments: Iterable[Shipment]) -> str:
    """The business documents (despatch advice, purchase order...) of ``shipments``."""
    found = {str(t["id"]) for s in shipments for t in s.biz_transactions if t.get("id")}
    return " ".join(sorted(found))


def _kinds(scope: RecallScope) -> dict[str, str]:
    return {str(a["id"]): str(a["kind"]) for a in scope.affected}


def _customer_of(scope: RecallScope) -> dict[str, str]:
    """Shipment eventID -> the customer the recall engine counted it for."""
    return {event: c.id for c in scope.customers for event in c.shipments}


def customer_table(scope: RecallScope, names: Mapping[str, str] | None = None) -> Table:
    """The customer list: per customer, each affected item with its quantity and unit.

    ``names`` (identifier -> human name, e.g. from master data) fills ``customer_name``.
    """
    names = names or {}
    kinds = _kinds(scope)
    by_event = {s.event: s for s in scope.shipments}
    # (customer, item, uom) -> the shipments that carried that item to that customer
    carried: dict[tuple[str, str, str | None], list[Shipment]] = defaultdict(list)
    for customer in scope.customers:
        for event in dict.fromkeys(customer.shipments):
            shipment = by_event.get(event)
            if shipment is None:
                continue
            for item in shipment.items:
                carried[(customer.id, item.id, item.uom)].append(shipment)
    table = Table("Customers", CUSTOMER_COLUMNS)
    for customer in scope.customers:
        for item in customer.items:
            ships = carried.get((customer.id, item.id, item.uom), [])
            times = sorted(s.time for s in ships)
            table.rows.append(
                (
                    customer.id,
                    names.get(customer.id, ""),
                    item.id,
                    kinds.get(item.id, ""),
                    item.quantity,
                    item.uom or "",
                    len(ships),
                    times[0] if times else None,
                    times[-1] if times else None,
                    _documents(ships),
                )
            )
    return table


def _stock_table(scope: RecallScope, names: Mapping[str, str]) -> Table:
    table = Table("In stock", STOCK_COLUMNS)
    for entry in sorted(scope.in_stock, key=lambda e: (e.location or "", e.id)):
        table.rows.append(
            (
                entry.location or "",
                names.get(entry.location or "", ""),
                entry.id,
                entry.kind,
                entry.quantity,
                entry.uom or "",
                entry.container or "",
                entry.disposition or "",
            )
        )
    return table


def _shipment_table(scope: RecallScope, names: Mapping[str, str]) -> Table:
    kinds = _kinds(scope)
    customer_of = _customer_of(scope)
    table = Table("Shipments", SHIPMENT_COLUMNS)
    for shipment in scope.shipments:
        customer = customer_of.get(shipment.event, "")
        head: tuple[Cell, ...] = (
            shipment.time,
            shipment.event,
            customer,
            names.get(customer, ""),
            " ".join(d["id"] for d in shipment.destinations),
            _documents([shipment]),
        )
        if not shipment.items:
            table.rows.append((*head, "", "", None, ""))
        for item in shipment.items:
            table.rows.append(
                (*head, item.id, kinds.get(item.id, ""), item.quantity, item.uom or "")
            )
    return table


def _affected_table(scope: RecallScope) -> Table:
    table = Table("Affected", AFFECTED_COLUMNS)
    for a in scope.affected:
        table.rows.append(
            (
                str(a["id"]),
                str(a["kind"]),
                int(a["depth"]),
                a.get("state") or "",
                a.get("quantity"),
                a.get("uom") or "",
            )
        )
    return table


def _totals(pairs: Iterable[tuple[float | None, str | None]]) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for quantity, uom in pairs:
        if quantity is not None:
            out[uom or ""] += quantity
    return dict(sorted(out.items()))


def _summary_table(scope: RecallScope, selection: str | None) -> Table:
    table = Table("Summary", SUMMARY_COLUMNS)
    if selection:
        table.rows.append(("selection", selection))
    for suspect in scope.suspects:
        table.rows.append(("suspect", suspect["id"]))
    table.rows += [
        ("affected objects", len(scope.affected)),
        ("in stock entries", len(scope.in_stock)),
    ]
    for uom, total in _totals((e.quantity, e.uom) for e in scope.in_stock).items():
        table.rows.append((f"in stock quantity {uom}".rstrip(), total))
    table.rows += [("shipments", len(scope.shipments)), ("customers", len(scope.customers))]
    shipped = _totals((i.quantity, i.uom) for c in scope.customers for i in c.items)
    for uom, total in shipped.items():
        table.rows.append((f"shipped quantity {uom}".rstrip(), total))
    return table


def scope_tables(
    scope: RecallScope,
    names: Mapping[str, str] | None = None,
    *,
    selection: str | None = None,
) -> list[Table]:
    """The whole scope as sheets: Summary, In stock, Shipments, Customers, Affected.

    ``selection`` says in words how the suspects were chosen (shown in the summary).
    """
    names = names or {}
    return [
        _summary_table(scope, selection),
        _stock_table(scope, names),
        _shipment_table(scope, names),
        customer_table(scope, names),
        _affected_table(scope),
    ]


def _flat_table(scope: RecallScope, names: Mapping[str, str]) -> Table:
    """Where the affected material is: one row per stock entry and per item shipped."""
    table = Table("Scope", FLAT_COLUMNS)
    for row in _stock_table(scope, names).rows:
        location, location_name, obj, kind, quantity, uom, container, disposition = row
        table.rows.append(
            ("in_stock", obj, kind, quantity, uom, location, location_name, container,
             disposition, "", "", "", None, "")
        )  # fmt: skip
    for row in _shipment_table(scope, names).rows:
        time, event, customer, customer_name, _dest, documents, item, kind, quantity, uom = row
        table.rows.append(
            ("shipped", item, kind, quantity, uom, "", "", "", "", customer, customer_name,
             event, time, documents)
        )  # fmt: skip
    return table


# -- CSV ------------------------------------------------------------------------------------------
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_value(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, int):
        return str(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def table_csv(table: Table) -> str:
    """One table as CSV text: a header row, then the rows (``\\r\\n`` line ends, RFC 4180)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.name for c in table.columns])
    writer.writerows([_csv_value(v) for v in row] for row in table.rows)
    return out.getvalue()


def customers_csv(scope: RecallScope, names: Mapping[str, str] | None = None) -> str:
    """The customer list (:func:`customer_table`) as CSV text."""
    return table_csv(customer_table(scope, names))


def scope_csv(scope: RecallScope, names: Mapping[str, str] | None = None) -> str:
    """Where the affected material is, as one CSV table (status ``in_stock`` or ``shipped``)."""
    return table_csv(_flat_table(scope, names or {}))


# -- XLSX -----------------------------------------------------------------------------------------
_BOLD = Font(bold=True)
_TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control characters XML cannot carry
_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_WIDTH_SAMPLE = 500  # rows looked at to size the columns
_MIN_WIDTH, _MAX_WIDTH = 8, 60


def _time(text: str) -> datetime | str:
    """Storage time text as a naive UTC datetime (what spreadsheets hold); text if unparsable."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _widths(table: Table) -> list[float]:
    widths = [float(len(c.name)) for c in table.columns]
    for row in table.rows[:_WIDTH_SAMPLE]:
        for i, value in enumerate(row):
            time = table.columns[i].kind == "time"
            size = 19.0 if time else float(len(_csv_value(value)))
            widths[i] = max(widths[i], size)
    return [min(_MAX_WIDTH, max(_MIN_WIDTH, w + 2)) for w in widths]


def _cell(sheet: Any, value: Cell, column: Column) -> Any:
    if isinstance(value, str):
        if column.kind == "time" and value:
            moment = _time(value)
            if isinstance(moment, datetime):
                cell = WriteOnlyCell(sheet, value=moment)
                cell.number_format = _TIME_FORMAT
                return cell
        value = _ILLEGAL.sub("", value)
        if value.startswith("="):  # openpyxl would store it as a formula
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            return cell
    return value


def _sheet_title(title: str, taken: set[str]) -> str:
    base = _SHEET_CHARS.sub("-", title)[:31] or "Sheet"
    name, n = base, 1
    while name.lower() in taken:
        n += 1
        name = f"{base[: 31 - len(str(n)) - 1]} {n}"
    taken.add(name.lower())
    return name


def tables_xlsx(tables: Sequence[Table]) -> bytes:
    """Tables as an XLSX workbook, one sheet each: bold frozen header row with an auto filter,
    columns sized to their content, numbers as numbers, times as UTC date-times."""
    book = Workbook(write_only=True)
    taken: set[str] = set()
    for table in tables:
        sheet = book.create_sheet(_sheet_title(table.title, taken))
        # Column widths and the frozen pane belong before the rows in the file.
        for i, width in enumerate(_widths(table), start=1):
            sheet.column_dimensions[get_column_letter(i)].width = width
        sheet.freeze_panes = "A2"
        header = []
        for column in table.columns:
            cell = WriteOnlyCell(sheet, value=column.name)
            cell.font = _BOLD
            header.append(cell)
        sheet.append(header)
        for row in table.rows:
            sheet.append([_cell(sheet, v, c) for v, c in zip(row, table.columns, strict=True)])
        last = get_column_letter(len(table.columns))
        sheet.auto_filter.ref = f"A1:{last}{len(table.rows) + 1}"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def customers_xlsx(scope: RecallScope, names: Mapping[str, str] | None = None) -> bytes:
    """The customer list (:func:`customer_table`) as a one-sheet XLSX workbook."""
    return tables_xlsx([customer_table(scope, names)])


def scope_xlsx(
    scope: RecallScope,
    names: Mapping[str, str] | None = None,
    *,
    selection: str | None = None,
) -> bytes:
    """The whole scope (:func:`scope_tables`) as an XLSX workbook of five sheets."""
    return tables_xlsx(scope_tables(scope, names, selection=selection))
