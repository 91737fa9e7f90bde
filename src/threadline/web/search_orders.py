"""The order search of :mod:`threadline.web.search`: business transactions containing the text.

Orders (purchase orders, production orders, despatch advices...) are ``bizTransaction`` values.
The store keeps these only inside the event documents, with no index, so :func:`find_orders`
reads the events newest first, in chunks, until :data:`ORDER_BUDGET` is spent (but always the
latest 10,000), and at most :data:`ORDER_WINDOW` of them. It answers the orders whose value
contains the text, exact matches first, each with the objects its events name, and says how
many events were read when older ones were not.

Pure: a :class:`~threadline.store.base.Reader` in, dataclasses out.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from threadline.epcis.cbv import cbv_word
from threadline.errors import InvalidInput
from threadline.gs1.keys import canonical
from threadline.store.base import ObjectRow, Reader
from threadline.store.writer import BIZ_TRANSACTION
from threadline.web.passport import readable_time

__all__ = ["ORDER_BUDGET", "ORDER_WINDOW", "FoundOrder", "OrderSearch", "find_orders"]

ORDER_WINDOW = 2_000_000
"""The most events the order search reads, newest first (see :data:`ORDER_BUDGET`)."""

ORDER_BUDGET = 0.04
"""Seconds the order search may spend; it reads events in chunks until this is spent (but
always the latest 10,000, so that a small plant is searched whole however busy the machine)."""

_ORDER_CANDIDATES = 200  # event documents read back from the order scan, at most
_ORDER_CHUNK = 2500  # events the order scan reads per statement (a few ms)
_ORDER_ALWAYS = 10_000  # events the order scan reads whatever the time (a small plant: all)
_RELATED = 8  # objects listed under one order
_ORDER_TYPES = {
    "po": "Purchase order", "poc": "Purchase order confirmation", "prodorder": "Production order",
    "desadv": "Despatch advice", "recadv": "Receiving advice", "inv": "Invoice",
    "bol": "Bill of lading", "rma": "Return authorisation", "cert": "Certificate",
    "testprd": "Test procedure", "pedigree": "Pedigree", "upevt": "Upstream event",
}  # fmt: skip
# Where an event document names objects (lists of ids, lists of classes) and parties.
_ID_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_CLASS_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
_PARTY_LISTS = (("destinationList", "destination"), ("sourceList", "source"))


@dataclass(frozen=True)
class FoundOrder:
    """One order found: its ``bizTransaction`` value and what the events read say about it."""

    value: str
    kind_name: str  # Purchase order, Production order... (from the transaction type)
    details: tuple[str, ...]  # how many events, the latest one, their business steps
    objects: tuple[str, ...]  # keys (or the text, when not a key) of objects its events name
    exact: bool  # the text is the whole value, or its last part (the order number)
    key: str | None = None  # the stored object of the order (its passport), when it is one


@dataclass(frozen=True)
class OrderSearch:
    """The orders found (exact first, each newest first) and how much was read to find them."""

    orders: tuple[FoundOrder, ...]
    more: bool  # more orders matched than were asked for
    note: str = ""  # how many events were read, when older ones were not


def find_orders(
    reader: Reader,
    query: str,
    *,
    per: int,
    window: int = ORDER_WINDOW,
    budget: float = ORDER_BUDGET,
) -> OrderSearch:
    """Orders (bizTransaction values) containing the text, in the latest events.

    Reads at most ``window`` of the latest events, and stops after the chunk that spends
    ``budget`` seconds; answers at most ``per`` orders.
    """
    q = query
    postgres = reader.store.engine.dialect.name == "postgresql"
    top = int(reader.query("SELECT max(id) FROM events")[0][0] or 0)
    floor = max(0, top - window)
    if postgres:
        test = (
            "doc -> 'bizTransactionList' IS NOT NULL AND "
            "CAST(doc -> 'bizTransactionList' AS TEXT) ILIKE ? ESCAPE '\\'"
        )
        pattern = f"%{_like(q)}%"
    else:
        # The value follows its own key in the document, whatever the key order.
        test = "doc LIKE ? ESCAPE '\\'"
        pattern = f"%bizTransaction%{_like(q)}%"
    sql = (
        "SELECT id, event_time, doc FROM events WHERE id > ? AND id <= ? "
        f"AND error_declared = ? AND is_declaration = ? AND {test} ORDER BY id DESC LIMIT ?"
    )
    deadline = time.perf_counter() + budget
    rows: list[Any] = []
    high = top
    while high > floor and len(rows) < _ORDER_CANDIDATES:
        low = max(floor, high - _ORDER_CHUNK)
        left = _ORDER_CANDIDATES - len(rows)
        rows += reader.query(sql, (low, high, False, False, pattern, left))
        high = low
        if time.perf_counter() > deadline and top - high >= _ORDER_ALWAYS:
            break
    wanted = q.casefold()
    orders: dict[tuple[str, str], _Order] = {}
    for _row, stamp, raw in rows:
        doc = reader.store.load_json(raw)
        entries = doc.get("bizTransactionList") if isinstance(doc, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            value = entry.get("bizTransaction") if isinstance(entry, dict) else None
            if not isinstance(value, str) or wanted not in value.casefold():
                continue
            kind = cbv_word(str(entry.get("type") or ""), "btt")
            order = orders.setdefault((value, kind), _Order(value, kind))
            order.add(stamp, doc)
    ranked = sorted(orders.values(), key=lambda o: o.latest, reverse=True)
    ranked.sort(key=lambda o: not o.exact(q))  # exact first, each newest first
    note = ""
    if high > 0:
        note = (
            f"Orders were looked for in the latest {top - high:,} of {top:,} events; "
            "older ones were not searched."
        )
    return OrderSearch(tuple(o.found(q) for o in ranked[:per]), len(ranked) > per, note)


def orders_by_key(reader: Reader, rows: Sequence[ObjectRow], query: str) -> list[FoundOrder]:
    """The stored objects among ``rows`` that are business transactions, as orders.

    The store links each event to the entries of its bizTransactionList (``event_objects``
    role ``biz_transaction``), so a whole order value is found through the key index and its
    events through the object's own rows, however old: no scan. At most
    :data:`_ORDER_CANDIDATES` of its newest events are read for the details.
    """
    out: list[FoundOrder] = []
    for row in rows:
        events = reader.query(
            "SELECT e.event_time, e.doc FROM event_objects eo JOIN events e ON e.id = eo.event "
            "WHERE eo.object = ? AND eo.role = ? AND e.error_declared = ? "
            "ORDER BY e.event_time DESC LIMIT ?",
            (row.id, BIZ_TRANSACTION, False, _ORDER_CANDIDATES),
        )
        if not events:
            continue
        order: _Order | None = None
        for stamp, raw in events:
            doc = reader.store.load_json(raw)
            if order is None:
                order = _Order(row.key, _transaction_type(doc, row.key))
            order.add(stamp, doc)
        if order is not None:
            out.append(replace(order.found(query), key=row.key))
    return out


def _transaction_type(doc: Any, key: str) -> str:
    entries = doc.get("bizTransactionList") if isinstance(doc, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        value = entry.get("bizTransaction") if isinstance(entry, dict) else None
        if isinstance(value, str) and _key_or_text(value) == key:
            return cbv_word(str(entry.get("type") or ""), "btt")
    return ""


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _key_or_text(value: str) -> str:
    try:
        return canonical(value).key
    except InvalidInput:
        return value


class _Order:
    """One bizTransaction value and the events (of those read) that carry it."""

    def __init__(self, value: str, kind: str) -> None:
        self.value = value
        self.kind = kind
        self.events = 0
        self.latest = ""
        self.steps: dict[str, None] = {}
        self.objects: dict[str, None] = {}  # in the order first named

    def add(self, time: str, doc: dict[str, Any]) -> None:
        self.events += 1
        self.latest = max(self.latest, time)
        step = doc.get("bizStep")
        if isinstance(step, str):
            self.steps[cbv_word(step, "bizstep").replace("_", " ")] = None
        for raw in _named(doc):
            if len(self.objects) >= _RELATED:
                break
            key = _key_or_text(raw)
            self.objects.setdefault(key, None)

    def exact(self, query: str) -> bool:
        value = self.value.casefold()
        wanted = query.casefold()
        return value == wanted or re.split(r"[/:.#=]", value)[-1] == wanted

    def found(self, query: str) -> FoundOrder:
        details = [f"{self.events} event{'s' if self.events != 1 else ''}"]
        if self.latest:
            details.append(f"latest {readable_time(self.latest)}")
        details += list(self.steps)
        return FoundOrder(
            value=self.value,
            kind_name=_ORDER_TYPES.get(self.kind, self.kind or "Business transaction"),
            details=tuple(details),
            objects=tuple(self.objects),
            exact=self.exact(query),
        )


def _named(doc: dict[str, Any]) -> list[Any]:
    """The identifiers an event document names: parent, EPCs, classes, then parties."""

    def items(name: str) -> list[Any]:
        value = doc.get(name)
        return value if isinstance(value, list) else []

    out: list[Any] = [doc.get("parentID")]
    out += [v for name in _ID_LISTS for v in items(name)]
    pairs = [(name, "epcClass") for name in _CLASS_LISTS] + list(_PARTY_LISTS)
    out += [i.get(field) for name, field in pairs for i in items(name) if isinstance(i, dict)]
    return [v for v in out if isinstance(v, str) and v]
