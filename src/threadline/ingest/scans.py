"""Scans: raw barcode data read at a station becomes an EPCIS ObjectEvent (OBSERVE).

Accepted scan data, as a scanner sends it:

* with a symbology identifier: ``]d2`` (GS1 DataMatrix), ``]C1`` (GS1-128), ``]Q3`` (GS1 QR),
  ``]e0``, ``]J1`` carry GS1 element strings with GS (``\\x1d``) separators; ``]E0``/``]E4``
  an EAN/UPC GTIN; ``]Q1``, ``]d1``, ``]J0`` a GS1 Digital Link URI;
* without one: a Digital Link URI (``https://id.example.com/01/.../10/...``), a bracketed element
  string ``(01)...(10)...``, an unbracketed one led by FNC1 (``^`` or GS) or bare digits
  (``0109520123456788`` ``10ABC``, as scanners without AIM identifiers send it), or an EPC URN.

Parsing and validation are :mod:`threadline.gs1.element_strings` and
:mod:`threadline.gs1.digital_link` (biip underneath): a wrong check digit or an unknown AI is an
:class:`~threadline.errors.InvalidInput` naming the AI.

The event: ``action`` OBSERVE, ``readPoint`` the station's read point, ``bizStep`` (and
``bizLocation``, ``disposition`` where configured) from the station, ``eventTime`` the scan time.
A lot (GTIN + batch/lot) or a bare GTIN is observed as a ``quantityList`` entry (with the count
of AI (30) or the net weight of AI (310n) when the scan carries one); everything else (SSCC,
serialised GTIN, GRAI, GIAI, ...) in the ``epcList``. Its eventID is the CBV 2.0 event hash, so
the same scan at the same station and time — a repeated message — stores once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from threadline.epcis.hashing import event_hash_id
from threadline.epcis.json_reader import parse_event
from threadline.errors import InvalidInput
from threadline.gs1.digital_link import build_digital_link, parse_digital_link
from threadline.gs1.element_strings import GS, AIValue, parse_element_string
from threadline.gs1.keys import canonical
from threadline.ingest.stations import Station, get_station
from threadline.model.events import AnyEvent
from threadline.model.identifiers import Kind
from threadline.store.base import Store

__all__ = ["ScanResult", "ScannedItem", "parse_scan", "record_scan", "scan_event", "scan_time"]

# Trailing characters scanners append (CR, LF, TAB); GS must survive, so no plain strip().
_TRIM = "\r\n\t "
_CLASS_KINDS = frozenset({Kind.LGTIN, Kind.GTIN})


@dataclass(frozen=True)
class ScannedItem:
    """What one scan names: a canonical identifier, and a quantity for class-level ones."""

    id: str
    kind: str
    quantity: float | None = None
    uom: str | None = None


@dataclass(frozen=True)
class ScanResult:
    """A recorded scan: its event, and whether it was new (False: stored before)."""

    event_id: str
    stored: bool
    station: str
    item: ScannedItem
    event: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "eventID": self.event_id,
            "stored": self.stored,
            "station": self.station,
            "id": self.item.id,
            "kind": self.item.kind,
            "event": self.event,
        }


def _values(text: str) -> list[AIValue]:
    head = text[:1]
    if head == "]" or head in "(^" or head == GS:
        return parse_element_string(text)
    if text.lower().startswith(("http://", "https://")):
        return parse_digital_link(text)
    if text.isdigit() or (head.isdigit() and GS in text):
        # Unbracketed AI data from a scanner that sends no symbology identifier.
        return parse_element_string("^" + text)
    raise InvalidInput(
        "not GS1 data: expected a symbology identifier such as "
        "]d2, ]C1 or ]Q1, a GS1 Digital Link URI, an element string such as (01)...(10)..., "
        "or an EPC URN"
    )


def _quantity(values: list[AIValue]) -> tuple[float | None, str | None]:
    for item in values:
        if item.ai == "30":
            return float(int(item.value)), None
        if item.ai.startswith("310") and len(item.ai) == 4:
            return int(item.value) / 10 ** int(item.ai[3]), "KGM"
    return None, None


def parse_scan(data: str) -> ScannedItem:
    """What raw scan ``data`` identifies; :class:`InvalidInput` names the fault."""
    text = data.strip(_TRIM)
    if not text:
        raise InvalidInput("the scan data is empty")
    if text.lower().startswith("urn:epc:"):
        ident = canonical(text)
        if ident.kind is Kind.URI:
            raise InvalidInput(f"scan data {text!r}: not an EPC URN Threadline can read")
        return ScannedItem(ident.key, ident.kind.value)
    try:
        values = _values(text)
        uri = build_digital_link(values, check_requisites=False)
    except InvalidInput as exc:
        if exc.message.startswith("scan data"):
            raise
        raise InvalidInput(f"scan data {text[:60]!r}: {exc.message}") from None
    ident = canonical(uri.partition("?")[0])
    if ident.kind in _CLASS_KINDS:
        quantity, uom = _quantity(values)
        return ScannedItem(ident.key, ident.kind.value, quantity, uom)
    return ScannedItem(ident.key, ident.kind.value)


def scan_time(value: str | datetime | None) -> datetime:
    """The time of a scan: an ISO-8601 time with zone, a datetime, or now (None)."""
    if value is None:
        return datetime.now(UTC)
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"scan time {value!r} is not an ISO-8601 time") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"scan time {value!s} has no time zone (add Z or an offset)")
    return moment


def _offset(moment: datetime) -> str:
    delta = moment.utcoffset()
    minutes = 0 if delta is None else int(delta.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def scan_event(
    station: Station, data: str, time: str | datetime | None = None
) -> tuple[AnyEvent, ScannedItem]:
    """The ObjectEvent (OBSERVE) recording a scan of ``data`` at ``station``, and what it names."""
    item = parse_scan(data)
    moment = scan_time(time)
    obj: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": moment.isoformat(timespec="milliseconds"),
        "eventTimeZoneOffset": _offset(moment),
        "action": "OBSERVE",
    }
    if item.kind in _CLASS_KINDS:
        element: dict[str, Any] = {"epcClass": item.id}
        if item.quantity is not None:
            element["quantity"] = item.quantity
        if item.uom is not None:
            element["uom"] = item.uom
        obj["epcList"] = []
        obj["quantityList"] = [element]
    else:
        obj["epcList"] = [item.id]
    obj["bizStep"] = station.biz_step
    if station.disposition:
        obj["disposition"] = station.disposition
    obj["readPoint"] = {"id": station.read_point}
    if station.biz_location:
        obj["bizLocation"] = {"id": station.biz_location}
    # The eventID is the CBV event hash, written into the event so that clients see it.
    obj["eventID"] = event_hash_id(obj)
    return parse_event(obj, pointer=""), item


def record_scan(
    store: Store, station_id: str, data: str, time: str | datetime | None = None
) -> ScanResult:
    """Record one scan in its own transaction (the CLI's path; the service uses its writer)."""
    station = get_station(store, station_id)
    event, item = scan_event(station, data, time)
    result = store.append([event])
    return ScanResult(event.event_id, result.inserted > 0, station.id, item, event.raw)
