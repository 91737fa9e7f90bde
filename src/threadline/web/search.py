"""Search: one box for whatever a person has at hand, answered as stored objects grouped by kind.

:func:`search` tries every reading of the text and returns a :class:`SearchResult` of
:class:`Group` s of :class:`Hit` s, ready for the template. Every object lookup is bounded: an
exact key, or a prefix range of the ``objects.key`` index with a LIMIT, never a scan. Readings:

* GS1 data in any written form: raw scan text with or without a symbology identifier (``]d2``,
  ``]C1``, ``]Q1``...), a bracketed element string ``(01)...(10)...`` (spaces as printed under a
  barcode allowed), a GS1 Digital Link URI on any domain, an EPC URN. Read with
  :func:`threadline.ingest.scans.parse_scan` and looked up by canonical key.
* Bare digits: 18 an SSCC; 8, 12, 13 or 14 a GTIN (the product, its lots and serials); 13 also a
  GLN (a party, a location and its sub-locations); 6 to 17 the start of an SSCC, PGLN or GLN.
  Digits led by an AI (``00``, ``01``...) are read as element strings too.
* Any other text: a lot code or a serial, looked up under every GTIN the store knows (the GTINs
  are listed by skipping through the key index, one seek per product); a location's SGLN
  extension (``CH-07``); an individual asset (GIAI); a party's or location's name in EPCIS
  master data. From three characters on, these are prefix matches.
* A heat number: lots among those found whose attributes carry a heat number
  (``tl:heatNumber``) equal to or starting with the text. Heat lots are found through their lot
  code, which the demo plant's mills (and most mills) set to the heat number.
* An order: a ``bizTransaction`` value (purchase order, production order, despatch advice...)
  containing the text, when nothing else matched. The store keeps these only inside the event
  documents, with no index, so the events are read newest first, in chunks, until
  :data:`ORDER_BUDGET` is spent; the result says how many were read when older ones were not
  (:mod:`threadline.web.search_orders`).

Pure: a :class:`~threadline.store.base.Reader` in, dataclasses out; the caller makes the links
from :attr:`Hit.key` (the object's canonical key).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, unquote

from threadline.epcis.cbv import cbv_word
from threadline.errors import InvalidInput
from threadline.genealogy.where import WhereResult
from threadline.gs1.element_strings import GS
from threadline.gs1.keys import canonical, check_digit
from threadline.ingest.scans import parse_scan
from threadline.labels.content import KIND_NAMES
from threadline.model.identifiers import CANONICAL_BASE, Kind
from threadline.store.base import ObjectRow, Reader
from threadline.store.master_data import LOCATION_TYPES
from threadline.store.projector import Status
from threadline.web.passport import status_badge
from threadline.web.search_orders import (
    ORDER_BUDGET,
    ORDER_WINDOW,
    FoundOrder,
    _key_or_text,
    _like,
    find_orders,
    orders_by_key,
)

__all__ = [
    "GROUPS",
    "MAX_QUERY",
    "ORDER_BUDGET",
    "ORDER_WINDOW",
    "PER_GROUP",
    "Group",
    "Hit",
    "Link",
    "SearchResult",
    "search",
]

PER_GROUP = 20
"""Hits shown per group; a group with more says so (``Group.more``)."""

MAX_QUERY = 500
"""Longer input is refused with a message (no identifier or scan is that long)."""

MIN_PREFIX = 3
"""Shorter text matches lot codes, serials and names exactly only."""

# Group slug -> heading, in the order the page shows them (groups with an exact match first).
GROUPS: dict[str, str] = {
    "lots": "Lots",
    "serials": "Serials",
    "containers": "Containers (SSCC)",
    "products": "Products",
    "orders": "Orders",
    "parties": "Customers / parties",
    "locations": "Locations",
    "heats": "Heat numbers",
    "assets": "Assets",
    "other": "Other identifiers",
}

_GROUP_OF_KIND = {
    Kind.LGTIN: "lots", Kind.SGTIN: "serials", Kind.SSCC: "containers", Kind.GTIN: "products",
    Kind.PGLN: "parties", Kind.SGLN: "locations", Kind.GIAI: "assets", Kind.GRAI: "assets",
}  # fmt: skip

_BASE = CANONICAL_BASE
_GTINS = f"{_BASE}/01/"
_GLNS = f"{_BASE}/414/"
_COLS = "id, key, kind, product, gcp_length"
_MAX_SKIP = 5000  # products (or GLNs) listed for the lot-code search, at most
_CHUNK = 100  # prefix ranges per statement
_URI_HEAD = ("urn:", "http://", "https://")
_VTYPE = "urn:epcglobal:epcis:vtype:"
# Vocabularies whose elements may carry a name: places and parties.
_NAMED_TYPES = (*LOCATION_TYPES, f"{_VTYPE}Party", f"{_VTYPE}SourceDest")
_HEAT_ATTRIBUTES = frozenset({"heatnumber", "heatno", "heat", "heatlot", "meltnumber"})
_PRODUCT_ATTRIBUTES = ("product", "productName", "descriptionShort", "tradeItemDescription")
_BRACKET_GAP = re.compile(r"\)\s+|\s+(?=\()")


@dataclass(frozen=True)
class Link:
    """An object named beside a hit (an order's lots and containers)."""

    key: str
    text: str


@dataclass(frozen=True)
class Hit:
    """One result: a stored object (``key``), or an order (``key`` None, no passport)."""

    key: str | None
    title: str
    kind_name: str
    subtitle: str = ""
    badge: tuple[str, str] | None = None
    details: tuple[str, ...] = ()
    related: tuple[Link, ...] = ()
    exact: bool = False
    has_passport: bool = True


@dataclass(frozen=True)
class Group:
    """The hits of one kind; ``more`` when the group was cut at :data:`PER_GROUP`."""

    slug: str
    title: str
    hits: tuple[Hit, ...]
    more: bool = False


@dataclass(frozen=True)
class SearchResult:
    """What a search found, how the text was read, and what went wrong with it."""

    query: str
    groups: tuple[Group, ...] = ()
    readings: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        """Hits over all groups (an object found in two groups counts twice)."""
        return sum(len(g.hits) for g in self.groups)

    @property
    def single(self) -> str | None:
        """The key of the one object found, when the text named exactly it and nothing else.

        ``None`` when several objects (or any order) matched, or the one match was only a
        prefix match.
        """
        hits = [h for g in self.groups for h in g.hits]
        if len({h.key for h in hits}) != 1 or any(g.more for g in self.groups):
            return None
        named = all(h.has_passport for h in hits) and any(h.exact for h in hits)
        return hits[0].key if named else None


def search(
    reader: Reader,
    text: str,
    *,
    per_group: int = PER_GROUP,
    order_window: int = ORDER_WINDOW,
    order_budget: float = ORDER_BUDGET,
) -> SearchResult:
    """Everything in the store that ``text`` may name, grouped by kind (see the module doc).

    Never raises for bad input: what cannot be read is reported in
    :attr:`SearchResult.problems` and the other readings still run. ``per_group`` caps each
    group; the order search reads at most ``order_window`` of the latest events, and stops
    after the chunk that spends ``order_budget`` seconds.
    """
    # Control characters (a scanner's CR/LF, a NUL no database accepts) go; GS is FNC1 in scans.
    query = "".join(c for c in text if c.isprintable() or c == GS).strip()
    if not query:
        return SearchResult(query="")
    if len(query) > MAX_QUERY:
        return SearchResult(
            query=query[:MAX_QUERY],
            problems=(
                f"The search text is {len(query)} characters long; no identifier is longer "
                f"than {MAX_QUERY}. Search for one identifier at a time.",
            ),
        )
    return _Search(reader, query, per_group, (order_window, order_budget)).run()


# -- helpers -------------------------------------------------------------------------------------


def _after(prefix: str) -> str:
    """The smallest string greater than every string that starts with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _encoded(value: str) -> str:
    """``value`` as canonical keys spell a lot or serial (percent-encoding what needs it)."""
    key = canonical(f"{_GTINS}00000000000000/10/{quote(value, safe='')}").key
    return key.rsplit("/10/", 1)[1]


def _local(name: str) -> str:
    """An attribute name without its prefix or namespace (``tl:heatNumber`` -> ``heatNumber``)."""
    return re.split(r"[:#/]", name)[-1]


def _digit_check(value: str) -> bool:
    return value.isdigit() and check_digit(value[:-1]) == value[-1]


def _tail(key: str, marker: str) -> str:
    return unquote(key.rsplit(marker, 1)[1]) if marker in key else key


def _human(key: str) -> str:
    """A canonical key as bracketed AIs, ``(01) 04012345111118 (10) B1``; others as they are.

    What :func:`~threadline.labels.content.display_key` shows, without validating the key again
    (stored keys were validated when captured, and validation costs milliseconds a key).
    """
    parts = key[len(_BASE) + 1 :].split("/") if key.startswith(_BASE + "/") else []
    if not parts or len(parts) % 2:
        return key
    return " ".join(f"({parts[i]}) {unquote(parts[i + 1])}" for i in range(0, len(parts), 2))


def _quantity(value: float | None, uom: str | None) -> str:
    return f"{value:,.10g} {uom or ''}".strip() if value is not None else ""


@dataclass
class _Found:
    row: ObjectRow
    exact: bool
    details: list[str] = field(default_factory=list)
    title: str | None = None


class _Search:
    """One search: the readings of the text, each adding hits to the groups."""

    def __init__(
        self, reader: Reader, query: str, per_group: int, order_limits: tuple[int, float]
    ) -> None:
        self.reader = reader
        self.order_window, self.order_budget = order_limits
        self.query = query
        self.per = per_group
        self.found: dict[str, dict[str, _Found]] = {slug: {} for slug in GROUPS}
        self.more: set[str] = set()
        self.orders: list[Hit] = []
        self.readings: list[str] = []
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.exact_keys: dict[str, str] = {}  # canonical key -> how the text was read
        self.gtins: list[str] = []  # GTIN-14s the text names (products to show)
        self.items: list[str] = []  # lots and serials the text names (product if not stored)
        self.missing: list[str] = []  # what the text named but the store lacks
        self.prefixes: list[str] = []  # key prefixes the text may start (digits)
        self.understood = False  # the text was read as GS1 data
        self.on_hand: dict[int, str] = {}  # filled with the badges, for the hits' details
        self.badges: dict[int, tuple[str, str]] = {}
        self.customers: set[int] = set()
        self.names: dict[str, str] = {}  # master-data names of parties and locations
        self.postgres = reader.store.engine.dialect.name == "postgresql"

    # -- the run -------------------------------------------------------------------------------
    def run(self) -> SearchResult:
        self._read_text()
        exact = self.reader.objects_by_key(self.exact_keys)
        # A whole order value is a stored object linked to its events: an order, not an
        # "other identifier", found without reading any event document.
        named_orders = orders_by_key(
            self.reader, [row for row in exact.values() if row.kind == Kind.URI.value], self.query
        )
        self._order_hits(named_orders)
        for key in self.exact_keys:
            if key in exact and not any(o.key == key for o in named_orders):
                self._add(exact[key], exact=True)
        for key in self.items:
            if key not in exact:
                self.missing.append(f"No {_human(key)} is stored.")
                self.gtins.append(key[len(_GTINS) :][:14])
        for gtin in self.gtins:
            self._product(gtin)
        if self.prefixes:
            for row in self._prefix_rows(self.prefixes, self.per + 1):
                self._add(row, exact=False)
        if not self.understood and not exact:
            self._codes()
            self._names()
        self._heats()
        # Orders are looked for only when the text named no object: the order search reads event
        # documents, the one lookup here without an index of its own.
        if not self._any() and len(self.query) >= MIN_PREFIX:
            self._orders()
        if not self._any() and not self.problems:
            self.notes += self.missing
            for key, reading in self.exact_keys.items():
                if reading == "GS1 data" and key not in self.items:
                    self.notes.append(f"No {_human(key)} is stored.")
        elif self.missing and self._any():
            self.notes += [m for m in self.missing if not m.startswith("No product")]
        return self._result()

    def _any(self) -> bool:
        return bool(self.orders) or any(self.found.values())

    # -- reading the text ----------------------------------------------------------------------
    def _read_text(self) -> None:
        q = self.query
        low = q.lower()
        scan_like = q[0] in "](^" or GS in q
        if scan_like or low.startswith(("urn:epc:", "http://", "https://")):
            text = _BRACKET_GAP.sub(lambda m: ")" if ")" in m.group() else "", q)
            self._gs1(text, report=scan_like or low.startswith("urn:epc:"))
        elif q[0].isdigit() and not q.isdigit() and " " not in q:
            # Element strings from a scanner without symbology identifier: 0104...10LOT
            self._gs1("^" + q, report=False)
        if ":" in q:
            try:
                ident = canonical(q)
            except InvalidInput as exc:
                if not self.problems:
                    self.problems.append(exc.message)
            else:
                self.exact_keys.setdefault(ident.key, "identifier")
        self.exact_keys.setdefault(q, "identifier")
        if q.isdigit():
            self._digits(q)

    def _gs1(self, text: str, *, report: bool) -> None:
        try:
            item = parse_scan(text)
        except InvalidInput as exc:
            if report:
                self.problems.append(exc.message)
            return
        self.understood = True
        shown = _human(item.id)
        self.readings.append(f"GS1 data: {shown}")
        self.exact_keys[item.id] = "GS1 data"
        kind = Kind.of(item.kind)
        if kind is Kind.GTIN:
            self.gtins.append(item.id[len(_GTINS) :][:14])
        elif kind in (Kind.LGTIN, Kind.SGTIN):
            self.items.append(item.id)

    def _digits(self, q: str) -> None:
        n = len(q)
        if n == 18:
            if _digit_check(q):
                self.understood = True
                self.readings.append(f"SSCC: {q}")
                self.exact_keys[f"{_BASE}/00/{q}"] = "GS1 data"
            else:
                self.problems.append(
                    f"{q} has 18 digits like an SSCC, but its check digit should be "
                    f"{check_digit(q[:-1])}, not {q[-1]}"
                )
        if n in (8, 12, 13, 14):
            gtin = q.zfill(14)
            if _digit_check(gtin):
                self.understood = True
                self.readings.append(f"GTIN: {gtin}")
                self.gtins.append(gtin)
            elif n in (8, 14):
                self.problems.append(
                    f"{q} has {n} digits like a GTIN, but its check digit should be "
                    f"{check_digit(gtin[:-1])}, not {q[-1]}"
                )
        if n == 13 and _digit_check(q):  # a GLN: the party, the place and its sub-locations
            self.readings.append(f"GLN: {q}")
            self.exact_keys.update({f"{_BASE}/417/{q}": "GLN", f"{_GLNS}{q}": "GLN"})
            self.prefixes.append(f"{_GLNS}{q}/254/")
        if n in (16, 20) or n > 18:
            self._gs1("^" + q, report=False)  # digits led by an AI: (01)... or (00)...
        if 6 <= n <= 17:
            self.prefixes += [f"{_BASE}/00/{q}", f"{_BASE}/417/{q}", f"{_GLNS}{q}"]

    # -- lookups -------------------------------------------------------------------------------
    def _add(self, row: ObjectRow, *, exact: bool, group: str | None = None) -> _Found | None:
        slug = group or _GROUP_OF_KIND.get(Kind.of(row.kind), "other")
        hits = self.found[slug]
        if row.key in hits:
            found = hits[row.key]
            if exact:
                found.exact = True
            return found
        if len(hits) >= self.per and not exact:
            self.more.add(slug)
            return None
        hits[row.key] = found = _Found(row, exact)
        return found

    def _prefix_rows(self, prefixes: Sequence[str], per: int) -> list[ObjectRow]:
        """Objects whose key starts with any of ``prefixes``, at most ``per`` for each."""
        if not prefixes:
            return []
        if self.postgres:
            # One plan run per range (planning a long UNION ALL costs more than running it).
            rows = self.reader.query(
                f"SELECT o.id, o.key, o.kind, o.product, o.gcp_length FROM unnest("
                "CAST(? AS TEXT[]), CAST(? AS TEXT[])) AS r(lo, hi) CROSS JOIN LATERAL ("
                f"SELECT {_COLS} FROM objects WHERE key >= r.lo AND key < r.hi "
                f"ORDER BY key LIMIT {int(per)}) AS o",
                (list(prefixes), [_after(p) for p in prefixes]),
            )
            return [ObjectRow(*r) for r in rows]
        out: list[ObjectRow] = []
        for start in range(0, len(prefixes), _CHUNK):
            chunk = prefixes[start : start + _CHUNK]
            parts: list[str] = []
            params: list[str] = []
            for i, prefix in enumerate(chunk):
                parts.append(
                    f"SELECT * FROM (SELECT {_COLS} FROM objects WHERE key >= ? AND key < ? "
                    f"ORDER BY key LIMIT {int(per)}) AS p{i}"
                )
                params += [prefix, _after(prefix)]
            out += [ObjectRow(*r) for r in self.reader.query(" UNION ALL ".join(parts), params)]
        return out

    def _skip(self, head: str, width: int) -> list[str]:
        """The distinct ``width`` characters after ``head`` among stored keys (GTINs, GLNs).

        A loose index scan: each step seeks the first key past the previous value, so the cost
        is one index seek per distinct value, however many objects each has.
        """
        end = len(head) + width
        sql = (
            "WITH RECURSIVE g(k, n) AS ("
            "SELECT (SELECT key FROM objects WHERE key >= ? AND key < ? ORDER BY key LIMIT 1), 1 "
            "UNION ALL "
            f"SELECT (SELECT key FROM objects WHERE key >= substr(g.k, 1, {end}) || '0' "
            "AND key < ? ORDER BY key LIMIT 1), g.n + 1 "
            f"FROM g WHERE g.k IS NOT NULL AND g.n < {_MAX_SKIP}"
            ") SELECT k FROM g WHERE k IS NOT NULL"
        )
        rows = self.reader.query(sql, (head, _after(head), _after(head)))
        values = [r[0][len(head) : end] for r in rows]
        if len(values) >= _MAX_SKIP:
            self.notes.append(
                f"Lot codes and serials were looked up under the first {_MAX_SKIP:,} products "
                "only; give the GTIN too (a scan or Digital Link) to find the rest."
            )
        return [v for v in values if len(v) == width and v.isdigit()]

    def _product(self, gtin: str) -> None:
        """A GTIN: the product, and its lots and serials (the first ones by key)."""
        key = f"{_GTINS}{gtin}"
        lots = self._prefix_rows([f"{key}/10/", f"{key}/21/"], self.per + 1)
        own = self.reader.objects_by_key([key]).get(key)
        if own is None and not lots:
            self.missing.append(f"No product, lot or serial of GTIN {gtin} is stored.")
            return
        for row in lots:
            self._add(row, exact=False)
        found = self._add(own or ObjectRow(0, key, "gtin", gtin, None), exact=True)
        if found is not None:
            found.title = gtin
            for kind, what in ((Kind.LGTIN, "lot"), (Kind.SGTIN, "serial")):
                n = sum(1 for r in lots if r.kind == kind.value)
                if n:
                    shown = f"{self.per}+" if n > self.per else str(n)
                    found.details.append(f"{shown} {what}{'s' if n != 1 else ''}")

    def _codes(self) -> None:
        """The text as a lot code, serial, SGLN extension or GIAI (any product, any site)."""
        q = self.query
        if GS in q or q.lower().startswith(_URI_HEAD):
            return
        variants = list(dict.fromkeys([q, q.upper()]))
        encoded = [_encoded(v) for v in variants]
        gtins = self._skip(_GTINS, 14)
        glns = self._skip(_GLNS, 13)
        keys = [f"{_GTINS}{g}/{ai}/{e}" for e in encoded for g in gtins for ai in ("10", "21")]
        keys += [f"{_GLNS}{g}/254/{e}" for e in encoded for g in glns]
        keys += [f"{_BASE}/8004/{e}" for e in encoded]
        wanted = set(keys)
        if len(q) >= MIN_PREFIX:
            rows = self._prefix_rows(keys, self.per + 1)
        else:
            rows = list(self.reader.objects_by_key(keys).values())
        rows.sort(key=lambda r: (r.key not in wanted, r.key))
        for row in rows:
            self._add(row, exact=row.key in wanted)

    def _names(self) -> None:
        """Parties and locations whose master-data name contains the text."""
        q = self.query
        if len(q) < 2 or q.lower().startswith(_URI_HEAD):
            return
        marks = ", ".join("?" for _ in _NAMED_TYPES)
        rows = self.reader.query(
            f"SELECT id, attributes FROM master_data WHERE type IN ({marks}) "
            "AND lower(CAST(attributes AS TEXT)) LIKE ? ESCAPE '\\' LIMIT ?",
            (*_NAMED_TYPES, f"%{_like(q.lower())}%", 4 * self.per),
        )
        names: dict[str, str] = {}
        for element, attributes in rows:
            name = _name_of(self.reader.store.load_json(attributes))
            if name and q.casefold() in name.casefold():
                names[element] = name
        for row in self.reader.objects_by_key(names).values():
            self._add(row, exact=names[row.key].casefold() == q.casefold())

    def _heats(self) -> None:
        """Lots found so far whose heat number matches the text join the heat-number group."""
        lots = list(self.found["lots"].values())
        if not lots:
            return
        attrs = self._attributes([f.row.id for f in lots])
        wanted = self.query.casefold()
        for found in lots:
            values = attrs.get(found.row.id) or {}
            heat = next(
                (str(v) for k, v in values.items() if _local(k).lower() in _HEAT_ATTRIBUTES), None
            )
            product = next(
                (str(values[k]) for k in values if _local(k) in _PRODUCT_ATTRIBUTES), None
            )
            if product:
                found.details.append(product)
            if heat is None:
                continue
            if heat != _tail(found.row.key, "/10/"):
                found.details.append(f"heat {heat}")
            if heat.casefold().startswith(wanted):
                hit = self._add(found.row, exact=heat.casefold() == wanted, group="heats")
                if hit is not None:
                    hit.title = heat
                    hit.details = _heat_details(values, found.row)

    def _attributes(self, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        rows = self.reader.query_in("SELECT id, attrs FROM objects WHERE id {IN}", list(ids))
        values = {oid: self.reader.store.load_json(raw) for oid, raw in rows if raw is not None}
        return {oid: v for oid, v in values.items() if isinstance(v, dict)}

    # -- orders --------------------------------------------------------------------------------
    def _orders(self) -> None:
        """Orders (bizTransaction values) containing the text, in the latest events."""
        found = find_orders(
            self.reader,
            self.query,
            per=self.per,
            window=self.order_window,
            budget=self.order_budget,
        )
        stored = self.reader.objects_by_key([_key_or_text(o.value) for o in found.orders])
        self._order_hits(
            [
                replace(o, key=_key_or_text(o.value)) if _key_or_text(o.value) in stored else o
                for o in found.orders
            ]
        )
        if found.more:
            self.more.add("orders")
        if found.note:
            self.notes.append(found.note)

    def _order_hits(self, orders: Sequence[FoundOrder]) -> None:
        for order in orders:
            self.orders.append(
                Hit(
                    key=order.key,
                    title=order.value,
                    kind_name=order.kind_name,
                    details=order.details,
                    related=tuple(Link(key, _human(key)) for key in order.objects),
                    exact=order.exact,
                    has_passport=order.key is not None,
                )
            )

    # -- the answer ----------------------------------------------------------------------------
    def _result(self) -> SearchResult:
        ids = [f.row.id for hits in self.found.values() for f in hits.values() if f.row.id]
        self.badges = self._badges(ids)
        self.customers = self._customers([f.row.id for f in self.found["parties"].values()])
        self.names = self._names_of([k for s in ("parties", "locations") for k in self.found[s]])
        groups: list[Group] = []
        for slug, title in GROUPS.items():
            if slug == "orders":
                hits = tuple(self.orders)
            else:
                made = [self._hit(slug, f) for f in self.found[slug].values()]
                hits = tuple(sorted(made, key=lambda h: (not h.exact, h.title, h.key or "")))
            if hits:
                groups.append(Group(slug, title, hits, slug in self.more))
        groups.sort(key=lambda g: not any(h.exact for h in g.hits))  # stable: GROUPS order
        return SearchResult(
            query=self.query,
            groups=tuple(groups),
            readings=tuple(dict.fromkeys(self.readings)),
            problems=tuple(dict.fromkeys(self.problems)),
            notes=tuple(dict.fromkeys(self.notes)),
        )

    def _hit(self, slug: str, found: _Found) -> Hit:
        row = found.row
        kind = Kind.of(row.kind)
        human = _human(row.key)
        title = self.names.get(row.key) or found.title or _title(kind, row.key, human)
        kind_name = KIND_NAMES.get(kind, "Identifier")
        if slug == "heats":
            kind_name = "Heat lot"
        elif kind is Kind.PGLN:
            kind_name = "Customer" if row.id in self.customers else "Party"
        details = list(dict.fromkeys(found.details))
        if kind in (Kind.LGTIN, Kind.SGTIN) and row.product and slug != "heats":
            details.insert(0, f"GTIN {row.product}")
        return Hit(
            key=row.key,
            title=title,
            kind_name=kind_name,
            subtitle=human if human != title else "",
            badge=self.badges.get(row.id),
            details=(*details, self.on_hand[row.id]) if row.id in self.on_hand else tuple(details),
            exact=found.exact,
            has_passport=row.id != 0,
        )

    def _badges(self, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """Status badges (and quantities on hand, into ``on_hand``) of the objects ``ids``."""
        if not ids:
            return {}
        statuses = self.reader.statuses(list(set(ids)))
        carried = self._carried(statuses)
        out: dict[int, tuple[str, str]] = {}
        for oid, st in statuses.items():
            out[oid] = status_badge(_where(st), carried.get(oid))
            if st.quantity is not None and st.state not in _GONE_STATES:
                shown = _quantity(st.quantity, st.uom)
                if st.total is not None:
                    shown += f" of {_quantity(st.total, st.uom)}"
                self.on_hand[oid] = f"{shown} on hand"
        return out

    def _carried(self, statuses: dict[int, Status]) -> dict[int, str]:
        """The first 'gone' state (shipped...) among the containers holding each object: a box
        on a shipped pallet has shipped, whatever its own last event said."""
        known = dict(statuses)
        current = {oid: st.container for oid, st in statuses.items() if st.container}
        out: dict[int, str] = {}
        for _ in range(4):  # box, pallet, container, truck: a few levels at most
            missing = [c for c in set(current.values()) if c not in known]
            if missing:
                known.update(self.reader.statuses(missing))
            step: dict[int, int] = {}
            for oid, container in current.items():
                parent = known.get(container)
                if parent is None:
                    continue
                if parent.state in _GONE_STATES:
                    out[oid] = parent.state or ""
                elif parent.container and parent.container != container:
                    step[oid] = parent.container
            if not step:
                break
            current = step
        return out

    def _customers(self, ids: Sequence[int]) -> set[int]:
        """The parties among ``ids`` that shipments went to (one indexed probe each)."""
        sql = "SELECT 1 FROM edges WHERE dst = ? AND relation = ? LIMIT 1"
        return {oid for oid in ids if oid and self.reader.query(sql, (oid, "shipped_to"))}

    def _names_of(self, keys: Sequence[str]) -> dict[str, str]:
        """Master-data names of parties and locations (by primary key, no scan)."""
        if not keys:
            return {}
        marks = ", ".join("?" for _ in _NAMED_TYPES)
        rows = self.reader.query_in(
            f"SELECT id, attributes FROM master_data WHERE id {{IN}} AND type IN ({marks})",
            list(keys),
            _NAMED_TYPES,
        )
        names = {e: _name_of(self.reader.store.load_json(a)) for e, a in rows}
        return {e: name for e, name in names.items() if name}


_GONE_STATES = frozenset({"shipped", "consumed", "destroyed", "decommissioned", "installed"})


def _where(st: Status) -> WhereResult:
    """Just what :func:`status_badge` reads, from a status row (no further queries)."""
    disposition = cbv_word(st.disposition, "disp") if st.disposition else None
    persistent = st.persistent_dispositions()
    return WhereResult("", "", st.state, disposition, None, None, None, None, None, persistent)


_TITLE_AFTER = {Kind.LGTIN: "/10/", Kind.SGTIN: "/21/", Kind.SSCC: "/00/", Kind.GTIN: "/01/"}


def _title(kind: Kind, key: str, human: str) -> str:
    """The part of the key a person knows the object by: lot code, serial, SSCC, GTIN."""
    return _tail(key, _TITLE_AFTER[kind]) if kind in _TITLE_AFTER else human


def _name_of(attributes: Any) -> str | None:
    for item in attributes if isinstance(attributes, list) else []:
        if isinstance(item, dict) and _local(str(item.get("id", ""))) == "name":
            value = item.get("attribute")
            if isinstance(value, str) and value:
                return value
    return None


def _heat_details(values: dict[str, Any], row: ObjectRow) -> list[str]:
    lot = _tail(row.key, "/10/")
    out = [] if any(str(v) == lot for v in values.values()) else [f"lot {lot}"]
    for name, value in values.items():
        local = _local(name)
        if local == "supplier" and isinstance(value, str):
            out.append(f"supplier {_human(_key_or_text(value))}")
        elif local in ("steelGrade", "grade"):
            out.append(f"grade {value}")
        elif local == "certificate":
            out.append(f"certificate {value}")
    return out
