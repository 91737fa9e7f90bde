"""The recall pages' data: choosing suspects, and the recall scope grouped for people.

Suspects are chosen one of three ways (a :class:`Selection`):

- **objects**: identifiers in any form, one per line;
- **supplier lot**: the lot code or heat number of a supplier heat lot (wire received with its
  mill certificate in the ILMD: ``heatNumber``, ``certificate``, ``supplier``), resolved to its
  LGTIN (:func:`find_lots`);
- **equipment and time window**: the lots produced or processed at a read point between two
  times (the process-window query), leaving out what a transformation there consumed — a heat
  lot consumed in the window also went into batches made outside it.

:func:`gather` resolves the selection and asks the recall engine, with one read view;
:func:`build_scope_view` groups the answer for the page: stock by location, shipments by
customer, each with counts and totals and at most a screenful of detail rows (a heat lot of a
large plant reaches thousands of objects; the spreadsheets carry everything).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlencode

from threadline.errors import InvalidInput, NotFound
from threadline.genealogy.index import GraphIndex
from threadline.genealogy.recall import RecallScope, Shipment, recall
from threadline.genealogy.resolve import resolve
from threadline.genealogy.window import WindowResult, parse_time, window
from threadline.gs1.keys import canonical
from threadline.labels.content import KIND_NAMES, display_key
from threadline.model.identifiers import CANONICAL_BASE, Kind
from threadline.quality.holds import held_map
from threadline.store.base import ObjectRow, Reader
from threadline.web.passport import readable_time

__all__ = [
    "MAX_SUSPECTS",
    "Gathered",
    "ScopeView",
    "Selection",
    "Suspects",
    "build_scope_view",
    "find_lots",
    "gather",
    "hold_targets",
    "parse_selection",
    "resolve_selection",
]

MAX_SUSPECTS = 1000
MAX_LENGTH = 2000  # characters of one identifier or field
ROWS_SHOWN = 50  # detail rows per group on the page; the spreadsheets have them all
# Roles in a process window that are not "made or processed there": what a transformation there
# consumed. Recalling those would recall everything else made from them too.
_CONSUMED_ROLES = frozenset({"input", "input_quantity"})
_GTIN_KEYS = f"{CANONICAL_BASE}/01/"
_MAX_PRODUCTS = 2000  # GTINs walked by the index skip-scan before falling back to one LIKE scan
_BYTEWISE_COLLATIONS = frozenset({"c", "posix", "c.utf-8", "c.utf8", "ucs_basic"})
_HEAT_NAMES = frozenset({"heatnumber", "heat", "heatno", "heat_number", "heatid"})

Way = Literal["ids", "lot", "window"]


# -- the selection --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Selection:
    """How the suspects were chosen; exactly one way is filled in."""

    ids: tuple[str, ...] = ()
    lot: str = ""
    equipment: str = ""
    start: str = ""
    end: str = ""

    @property
    def way(self) -> Way:
        if self.ids:
            return "ids"
        return "lot" if self.lot else "window"

    def params(self) -> list[tuple[str, str]]:
        """Query (or hidden form) fields that choose the same suspects again."""
        if self.way == "ids":
            return [("ids", i) for i in self.ids]
        if self.way == "lot":
            return [("lot", self.lot)]
        return [("equipment", self.equipment), ("from", self.start), ("to", self.end)]

    def query(self) -> str:
        return urlencode(self.params())

    def describe(self) -> str:
        """The selection in words (page headings, spreadsheet summaries)."""
        if self.way == "ids":
            if len(self.ids) == 1:
                return self.ids[0]
            return f"{len(self.ids)} objects"
        if self.way == "lot":
            return f"supplier lot {self.lot}"
        return f"{self.equipment} from {self.start} to {self.end}"

    def slug(self) -> str:
        """A short file-name-safe name for downloads."""
        if self.way == "ids":
            text = self.ids[0].rstrip("/").rsplit("/", 1)[-1] if len(self.ids) == 1 else ""
            text = text.rsplit(":", 1)[-1] if text else f"{len(self.ids)}-objects"
        elif self.way == "lot":
            text = self.lot
        else:
            name = self.equipment.rstrip("/").replace("/", ".").replace(":", ".")
            text = f"{name.rsplit('.', 1)[-1]}-{self.start[:16]}"
        safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "-" for c in text)
        return safe.strip("-.")[:60] or "scope"


def _lines(values: Iterable[str]) -> list[str]:
    """Identifiers from form values, each of which may hold several lines; blanks dropped,
    repeats kept once."""
    out = [line.strip() for value in values for line in value.splitlines()]
    return list(dict.fromkeys(line for line in out if line))


def parse_selection(
    ids: Sequence[str] = (),
    lot: str | None = None,
    equipment: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> Selection:
    """The selection from query or form fields (``ids``; ``lot``; ``equipment``, ``from``,
    ``to``); :class:`InvalidInput` when none or several ways are given, or one is incomplete."""
    lines = _lines(ids)
    lot = (lot or "").strip()
    equipment, start, end = (equipment or "").strip(), (start or "").strip(), (end or "").strip()
    for name, values in (
        ("ids", lines), ("lot", [lot]), ("equipment", [equipment]), ("from", [start]),
        ("to", [end]),
    ):  # fmt: skip
        for value in values:
            if "\x00" in value:
                raise InvalidInput(f"{name}: holds a NUL character (\\x00)")
            if len(value) > MAX_LENGTH:
                shown = f"{value[:40]!r}..."
                raise InvalidInput(f"{name}: {shown} is longer than {MAX_LENGTH} characters")
    chosen = [
        name
        for name, given in (
            ("identifiers", bool(lines)),
            ("a supplier lot", bool(lot)),
            ("equipment and a time window", bool(equipment or start or end)),
        )
        if given
    ]
    if not chosen:
        raise InvalidInput(
            "no suspects chosen: enter one or more identifiers (ids), a supplier lot or heat "
            "number (lot), or equipment with a time window (equipment, from, to)"
        )
    if len(chosen) > 1:
        raise InvalidInput(f"choose the suspects one way only, not {' and '.join(chosen)} together")
    if lines:
        if len(lines) > MAX_SUSPECTS:
            raise InvalidInput(
                f"ids: {len(lines)} identifiers given; at most {MAX_SUSPECTS} at a time"
            )
        return Selection(ids=tuple(lines))
    if lot:
        return Selection(lot=lot)
    for name, value in (("equipment", equipment), ("from", start), ("to", end)):
        if not value:
            raise InvalidInput(f"{name}: a time-window recall needs equipment, from and to")
    if parse_time(end, "to") <= parse_time(start, "from"):
        raise InvalidInput(f"to ({end}) must be after from ({start})")
    return Selection(equipment=equipment, start=start, end=end)


# -- supplier lots --------------------------------------------------------------------------------
def _bytewise(reader: Reader) -> bool:
    """Whether the store orders keys byte by byte (SQLite; PostgreSQL with a C collation),
    which the GTIN skip-scan relies on."""
    dialect = reader.store.engine.dialect.name
    if dialect == "sqlite":
        return True
    if dialect != "postgresql":
        return False
    rows = reader.query("SELECT datcollate FROM pg_database WHERE datname = current_database()")
    return bool(rows) and str(rows[0][0]).lower() in _BYTEWISE_COLLATIONS


def _gtin_prefixes(reader: Reader) -> list[str] | None:
    """``https://id.gs1.org/01/<GTIN>`` of every product with stored keys, by jumping along the
    key index one GTIN at a time; None when there are too many to walk."""
    out: list[str] = []
    at, end = _GTIN_KEYS, _GTIN_KEYS[:-1] + "0"  # "0" sorts right after "/"
    width = len(_GTIN_KEYS) + 14
    for _ in range(_MAX_PRODUCTS):
        rows = reader.query(
            "SELECT key FROM objects WHERE key >= ? AND key < ? ORDER BY key LIMIT 1", (at, end)
        )
        if not rows:
            return out
        prefix = str(rows[0][0])[:width]
        out.append(prefix)
        at = prefix + "0"  # past "<prefix>" and every "<prefix>/..." key
    return None


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_OBJECT_COLS = "id, key, kind, product, gcp_length"


def _lots_by_code(reader: Reader, code: str, prefixes: list[str] | None) -> list[ObjectRow]:
    """Stored LGTINs (any product) whose lot is ``code``."""
    # The lot as canonical keys spell it (percent-encoded where needed).
    probe = canonical(f"{_GTIN_KEYS}00000000000000/10/{quote(code, safe='')}").key
    tail = "/10/" + probe.rsplit("/10/", 1)[1]
    if prefixes is not None:
        found = reader.objects_by_key(p + tail for p in prefixes)
        return sorted(found.values(), key=lambda o: o.key)
    rows = reader.query(
        f"SELECT {_OBJECT_COLS} FROM objects WHERE key LIKE ? ESCAPE '\\'",
        (_like(_GTIN_KEYS) + "%" + _like(tail),),
    )
    # SQLite's LIKE ignores case; lot codes do not.
    found_rows = [ObjectRow(*r) for r in rows]
    return sorted(
        (o for o in found_rows if o.key.endswith(tail) and o.key.startswith(_GTIN_KEYS)),
        key=lambda o: o.key,
    )


def _local(name: str) -> str:
    for sep in ("#", "/", ":"):
        name = name.rsplit(sep, 1)[-1]
    return name


def heat_number(attrs: Mapping[str, Any] | None) -> str | None:
    """The heat number a lot's ILMD carries (``tl:heatNumber`` and similar names), if any."""
    for name, value in (attrs or {}).items():
        if _local(str(name)).lower() in _HEAT_NAMES and isinstance(value, str | int):
            return str(value)
    return None


_HEAT_SAMPLE = 5  # lots looked at per product to tell supplier material (with heat numbers)


def _lots_by_heat(reader: Reader, heat: str, prefixes: list[str] | None) -> list[ObjectRow]:
    """Stored LGTINs whose ILMD names heat number ``heat`` (when it differs from the lot code).

    With ``prefixes`` (the GTINs in key order) only the lots of products whose first lots carry
    heat numbers are read; otherwise every lot with attributes is.
    """
    text = "attrs" if reader.store.engine.dialect.name == "sqlite" else "CAST(attrs AS TEXT)"
    pattern = "%" + _like(heat) + "%"
    select = f"SELECT {_OBJECT_COLS}, attrs FROM objects WHERE "
    rows: list[Any] = []
    if prefixes is None:
        rows = reader.query(
            select + f"kind = ? AND attrs IS NOT NULL AND {text} LIKE ? ESCAPE '\\'",
            ("lgtin", pattern),
        )
    for prefix in prefixes or []:
        lots = (prefix + "/10/", prefix + "/100")  # every "<GTIN>/10/<lot>" key sorts between
        sample = reader.query(
            "SELECT attrs FROM objects WHERE key >= ? AND key < ? ORDER BY key LIMIT ?",
            (*lots, _HEAT_SAMPLE),
        )
        if any(a is not None and heat_number(reader.store.load_json(a)) for (a,) in sample):
            rows += reader.query(
                select + f"key >= ? AND key < ? AND {text} LIKE ? ESCAPE '\\'", (*lots, pattern)
            )
    return sorted(
        (ObjectRow(*r[:5]) for r in rows if heat_number(reader.store.load_json(r[5])) == heat),
        key=lambda o: o.key,
    )


def find_lots(reader: Reader, lot: str) -> list[ObjectRow]:
    """The supplier heat lot(s) a person means by ``lot``: a full identifier, a lot code or a
    heat number. Lots carrying a heat number in their ILMD win over other lots with the same
    code (a plant batch that happens to share it); :class:`NotFound` if nothing matches."""
    lot = lot.strip()
    if lot.startswith("urn:") or "://" in lot:
        return [resolve(reader, lot)]
    prefixes = _gtin_prefixes(reader) if _bytewise(reader) else None
    found = _lots_by_code(reader, lot, prefixes)
    if not found:
        found = _lots_by_heat(reader, lot, prefixes)
        if not found:
            raise NotFound(f"lot: no lot with the code or heat number {lot!r} in the store")
    heats = [o for o in found if heat_number(reader.object_attrs(o.id)) is not None]
    return heats or found


# -- resolving the selection ---------------------------------------------------------------------
@dataclass
class Suspects:
    """The selection resolved: the suspects' canonical keys and how they were found."""

    selection: Selection
    keys: list[str]
    lots: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (key, ILMD)
    window: WindowResult | None = None


def resolve_selection(reader: Reader, selection: Selection) -> Suspects:
    """Canonical keys of the chosen suspects; an unknown identifier is named in the error."""
    if selection.way == "ids":
        keys: list[str] = []
        for n, raw in enumerate(selection.ids, start=1):
            where = f"ids (line {n})" if len(selection.ids) > 1 else "ids"
            try:
                keys.append(resolve(reader, raw).key)
            except InvalidInput as exc:
                raise InvalidInput(f"{where}: {exc.message}") from None
            except NotFound as exc:
                raise NotFound(f"{where}: {exc.message}") from None
        return Suspects(selection, list(dict.fromkeys(keys)))
    if selection.way == "lot":
        lots = find_lots(reader, selection.lot)
        return Suspects(
            selection,
            [o.key for o in lots],
            lots=[(o.key, reader.object_attrs(o.id) or {}) for o in lots],
        )
    try:
        ran = window(reader, selection.equipment, selection.start, selection.end)
    except NotFound as exc:
        raise NotFound(f"equipment: {exc.message}") from None
    keys = list(dict.fromkeys(lot.id for lot in ran.lots if lot.role not in _CONSUMED_ROLES))
    if not keys:
        raise NotFound(
            f"nothing was produced or processed at {ran.equipment} from "
            f"{readable_time(ran.start)} to {readable_time(ran.end)} ({ran.events} events)"
        )
    if len(keys) > MAX_SUSPECTS:
        raise InvalidInput(
            f"{len(keys)} objects ran at {ran.equipment} in that window; at most "
            f"{MAX_SUSPECTS} at a time: narrow the window"
        )
    return Suspects(selection, keys, window=ran)


def _names(reader: Reader, keys: Iterable[str]) -> dict[str, str]:
    """Human names of parties and locations from master data (``name`` attribute), if any."""
    wanted = sorted({k for k in keys if k})
    if not wanted:
        return {}
    out: dict[str, str] = {}
    for key, raw in reader.query_in("SELECT id, attributes FROM master_data WHERE id {IN}", wanted):
        for item in reader.store.load_json(raw) or []:
            if isinstance(item, dict) and _local(str(item.get("id", ""))) == "name":
                value = item.get("attribute")
                if isinstance(value, str) and value.strip():
                    out.setdefault(key, value.strip())
    return out


@dataclass
class Gathered:
    """Everything one answer about the selection needs, read in one view of the store."""

    suspects: Suspects
    scope: RecallScope
    held: set[str]  # keys of in-stock entries already covered by an active hold
    names: dict[str, str]


def gather(reader: Reader, selection: Selection, *, index: GraphIndex | None = None) -> Gathered:
    """Resolve ``selection``, ask the recall engine, and look up holds and names."""
    suspects = resolve_selection(reader, selection)
    scope = recall(reader, suspects.keys, index=index)
    covered = held_map(reader, index=index)
    held = {e.id for e in scope.in_stock if e.id in covered}
    places = {e.location or "" for e in scope.in_stock}
    places |= {c.id for c in scope.customers}
    places |= {d["id"] for s in scope.shipments for d in s.destinations}
    return Gathered(suspects, scope, held, _names(reader, places))


# -- grouping for the page ------------------------------------------------------------------------
@dataclass(frozen=True)
class Ref:
    """An identifier on the page: as stored, as people read it, and its passport address."""

    key: str
    text: str
    href: str
    name: str = ""


@dataclass
class StockRow:
    ref: Ref
    kind: str
    quantity: str
    container: Ref | None
    disposition: str
    held: bool


@dataclass
class StockGroup:
    location: Ref | None
    count: int
    totals: str
    held: int
    rows: list[StockRow]
    more: int


@dataclass
class ShipmentRow:
    event: str
    stamp: str
    time: str
    destinations: list[Ref]
    documents: list[str]
    items: int
    totals: str


@dataclass
class CustomerGroup:
    ref: Ref
    item_count: int
    totals: str
    items: list[tuple[Ref, str]]
    items_more: int
    shipments: list[ShipmentRow]
    shipments_more: int
    first: str
    last: str


@dataclass
class ScopeView:
    """The recall scope as the page shows it."""

    title: str
    way: Way
    suspects: list[tuple[Ref, str]]  # (suspect, kind name)
    lots: list[tuple[Ref, list[tuple[str, str]]]]  # supplier lots with their mill facts
    window: WindowResult | None
    affected: int
    stock_count: int
    stock_totals: str
    stock_groups: list[StockGroup]
    held: int
    to_hold: int
    customers: list[CustomerGroup]
    shipment_count: int
    shipped_totals: str
    unassigned: list[ShipmentRow]  # shipments without a destination party


def quantity_text(value: float | None, uom: str | None) -> str:
    """``12,000 EA``; ``''`` when unknown."""
    if value is None:
        return ""
    if value.is_integer():
        number = f"{int(value):,}"
    elif abs(value) < 0.001:  # a remainder left by floating-point sums, not zero
        number = "< 0.001"
    else:
        number = f"{value:,.3f}".rstrip("0").rstrip(".")
    return f"{number} {uom}" if uom else number


def totals_text(pairs: Iterable[tuple[float | None, str | None]]) -> str:
    """Quantities summed per unit: ``12,000 EA · 3,500 KGM``."""
    sums: dict[str, float] = defaultdict(float)
    for value, uom in pairs:
        if value is not None:
            sums[uom or ""] += value
    return " · ".join(quantity_text(v, u or None) for u, v in sorted(sums.items()))


def _kind_name(kind: str) -> str:
    try:
        return KIND_NAMES[Kind(kind)]
    except ValueError:
        return kind


_FACTS = (
    ("heatnumber", "Heat number"),
    ("supplier", "Supplier"),
    ("certificate", "Mill certificate"),
    ("steelgrade", "Steel grade"),
)


def build_scope_view(
    gathered: Gathered, link: Callable[[str], str], *, rows_shown: int = ROWS_SHOWN
) -> ScopeView:
    """Group the recall scope for the page; ``link`` gives an object's passport address."""
    scope, names = gathered.scope, gathered.names

    def ref(key: str) -> Ref:
        return Ref(key, display_key(key), link(key), names.get(key, ""))

    suspects = [(ref(s["id"]), _kind_name(s["kind"])) for s in scope.suspects]
    lots = []
    for key, attrs in gathered.suspects.lots:
        by_local = {_local(str(k)).lower(): v for k, v in attrs.items()}
        facts = [(label, str(by_local[n])) for n, label in _FACTS if by_local.get(n) is not None]
        lots.append((ref(key), facts))

    by_place: dict[str, list[Any]] = defaultdict(list)
    for entry in scope.in_stock:
        by_place[entry.location or ""].append(entry)
    groups = []
    for place, entries in sorted(by_place.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        rows = [
            StockRow(
                ref(e.id),
                _kind_name(e.kind),
                quantity_text(e.quantity, e.uom),
                ref(e.container) if e.container else None,
                (e.disposition or "").replace("_", " "),
                e.id in gathered.held,
            )
            for e in entries[:rows_shown]
        ]
        groups.append(
            StockGroup(
                ref(place) if place else None,
                len(entries),
                totals_text((e.quantity, e.uom) for e in entries),
                sum(1 for e in entries if e.id in gathered.held),
                rows,
                len(entries) - len(rows),
            )
        )

    def shipment_row(s: Shipment) -> ShipmentRow:
        docs = sorted({str(t["id"]) for t in s.biz_transactions if t.get("id")})
        return ShipmentRow(
            s.event,
            s.time,
            readable_time(s.time),
            [ref(d["id"]) for d in s.destinations],
            docs,
            len(s.items),
            totals_text((i.quantity, i.uom) for i in s.items),
        )

    by_event = {s.event: s for s in scope.shipments}
    customers = []
    counted: set[str] = set()
    for c in sorted(scope.customers, key=lambda c: (-len(c.items), c.id)):
        ships = [by_event[e] for e in dict.fromkeys(c.shipments) if e in by_event]
        counted.update(s.event for s in ships)
        ships.sort(key=lambda s: s.time, reverse=True)
        times = sorted(s.time for s in ships)
        customers.append(
            CustomerGroup(
                ref(c.id),
                len(c.items),
                totals_text((i.quantity, i.uom) for i in c.items),
                [(ref(i.id), quantity_text(i.quantity, i.uom)) for i in c.items[:rows_shown]],
                max(0, len(c.items) - rows_shown),
                [shipment_row(s) for s in ships[:rows_shown]],
                max(0, len(ships) - rows_shown),
                readable_time(times[0]) if times else "",
                readable_time(times[-1]) if times else "",
            )
        )
    unassigned = [shipment_row(s) for s in scope.shipments if s.event not in counted]

    held = len(gathered.held)
    return ScopeView(
        title=gathered.suspects.selection.describe(),
        way=gathered.suspects.selection.way,
        suspects=suspects,
        lots=lots,
        window=gathered.suspects.window,
        affected=len(scope.affected),
        stock_count=len(scope.in_stock),
        stock_totals=totals_text((e.quantity, e.uom) for e in scope.in_stock),
        stock_groups=groups,
        held=held,
        to_hold=len(scope.in_stock) - held,
        customers=customers,
        shipment_count=len(scope.shipments),
        shipped_totals=totals_text((i.quantity, i.uom) for c in scope.customers for i in c.items),
        unassigned=unassigned,
    )


def hold_targets(gathered: Gathered) -> list[str]:
    """In-stock objects of the scope not yet covered by an active hold, in scope order."""
    return [e.id for e in gathered.scope.in_stock if e.id not in gathered.held]
