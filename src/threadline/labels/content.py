"""What a label says: the GS1 data its barcode carries and the text printed beside it.

:func:`label_content` turns a stored object into a :class:`LabelContent`:

* the AI values of its GS1 key: SSCC (00) for boxes and pallets; GTIN (01) + lot (10) for lots,
  with expiry (17) and production date (11) when the lot's ILMD attributes give them; GTIN +
  serial (21) for serialised items; and the key AIs of locations (414 + 254), parties (417),
  returnable assets (8003), individual assets (8004) and documents (253);
* the GS1 Digital Link URI of that key on the resolver base (what a QR code carries);
* the element string in the three forms a label needs: bracketed for the human-readable line,
  FNC1-led for the encoder, and as the scanner transmits it (group separators, no leading FNC1);
* human-readable lines (product, lot, dates, quantity, status), the contents of a container and
  the ship-to block when a shipment names one.

Every value is validated with biip (through :mod:`threadline.gs1.element_strings`) before it is
encoded; an object whose identifier is not a GS1 key is refused with a clear error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from threadline.errors import InvalidInput
from threadline.genealogy.resolve import resolve
from threadline.gs1.digital_link import build_digital_link, parse_digital_link, percent_decode
from threadline.gs1.element_strings import (
    GS,
    AIValue,
    build_element_string,
    needs_separator,
)
from threadline.gs1.keys import canonical
from threadline.model.identifiers import CANONICAL_BASE, Kind
from threadline.store.base import ObjectRow, Reader
from threadline.store.projector import Status

__all__ = [
    "KIND_NAMES",
    "LabelContent",
    "dates_from_attributes",
    "display_key",
    "hri",
    "key_values",
    "label_content",
    "passport_uri",
]

KIND_NAMES = {
    Kind.SSCC: "Logistic unit (SSCC)",
    Kind.LGTIN: "Lot",
    Kind.SGTIN: "Serialised item",
    Kind.GTIN: "Product (GTIN)",
    Kind.SGLN: "Location",
    Kind.PGLN: "Party",
    Kind.GRAI: "Returnable asset",
    Kind.GIAI: "Individual asset",
    Kind.GDTI: "Document",
    Kind.URI: "Identifier",
}

# Lot-level attribute names (the local part after a prefix such as ``cbvmda:``) that carry the
# dates a lot label prints, mapped to their AI: CBV master-data names first, common spellings
# after them.
_DATE_ATTRIBUTES: dict[str, str] = {
    "itemExpirationDate": "17",
    "expirationDate": "17",
    "expiryDate": "17",
    "useByDate": "17",
    "productionDate": "11",
    "manufacturingDate": "11",
    "manufactureDate": "11",
    "dateOfManufacture": "11",
}
_DATE_KINDS = (Kind.LGTIN, Kind.SGTIN)
# Master-data attribute names of a party or location printed in a ship-to block, in order.
_ADDRESS = ("name", "streetAddressOne", "streetAddressTwo", "streetAddressThree")
_CITY = ("postalCode", "city", "state")
_MAX_CONTENT_LINES = 6


@dataclass(frozen=True)
class LabelContent:
    """Everything a label of one object prints, derived from the store and validated."""

    key: str
    kind: Kind
    values: tuple[AIValue, ...]
    digital_link: str
    title: str
    lines: tuple[tuple[str, str], ...] = ()
    contents: tuple[str, ...] = ()
    ship_to: tuple[str, ...] = ()

    @property
    def element_string(self) -> str:
        """Bracketed, as encoders read it: ``(01)09520123456788(10)ABC``, ``(`` as ``\\(``."""
        return build_element_string(self.values, check_requisites=False)

    @property
    def printed_string(self) -> str:
        """Bracketed for a person to read: like :attr:`element_string`, no ``\\(`` escapes."""
        return "".join(f"({v.ai}){v.value}" for v in self.values)

    @property
    def fnc1_string(self) -> str:
        """Unbracketed with ``^`` for FNC1, as encoded in the symbol."""
        return build_element_string(self.values, bracketed=False, check_requisites=False)

    @property
    def scan_data(self) -> str:
        """The data a scanner transmits after the symbology identifier (``]d2``, ``]C1``)."""
        return self.fnc1_string[1:].replace("^", GS)

    @property
    def human_key(self) -> str:
        """The element string spaced for reading aloud: ``(01) 09520123456788 (10) ABC``."""
        return hri(self.values)


def hri(values: Sequence[AIValue]) -> str:
    """Human-readable interpretation of AI values: ``(00) 106141411234567897``."""
    return " ".join(f"({v.ai}) {v.value}" for v in values)


def key_values(key: str) -> list[AIValue]:
    """The AI values of a canonical GS1 key (primary key first, then its qualifiers).

    Raises :class:`InvalidInput` for an identifier that is not a GS1 key, since only GS1 keys
    can be carried by GS1 barcodes and resolved through GS1 Digital Link.
    """
    ident = canonical(key)
    if ident.kind is Kind.URI:
        raise InvalidInput(
            f"{key!r} is not a GS1 key: labels carry an SSCC, a GTIN with lot or serial, or"
            " another GS1 key (GLN, GRAI, GIAI, GDTI)"
        )
    return parse_digital_link(ident.key, check_requisites=False)


def _yymmdd(name: str, value: Any, key: str) -> str:
    text = str(value).strip()
    try:
        day = dt.date.fromisoformat(text[:10])
    except ValueError:
        raise InvalidInput(
            f"{key}: attribute {name} = {value!r} is not an ISO-8601 date (YYYY-MM-DD)"
        ) from None
    return day.strftime("%y%m%d")


def _local(name: str) -> str:
    for sep in ("#", "/", ":"):
        name = name.rsplit(sep, 1)[-1]
    return name


def dates_from_attributes(key: str, attributes: Mapping[str, Any] | None) -> list[AIValue]:
    """Expiry (17) and production date (11) from a lot's ILMD attributes, in AI order.

    Attribute names are matched on their local part (``cbvmda:itemExpirationDate`` and
    ``urn:epcglobal:cbv:mda#itemExpirationDate`` are the same); the first matching attribute
    per AI wins. A value that is not a date raises :class:`InvalidInput` naming it.
    """
    found: dict[str, AIValue] = {}
    for name, value in (attributes or {}).items():
        ai = _DATE_ATTRIBUTES.get(_local(name))
        if ai is not None and ai not in found and value not in (None, ""):
            found[ai] = AIValue(ai, _yymmdd(name, value, key))
    return [found[ai] for ai in sorted(found)]


def _encoding_order(key: list[AIValue], extra: list[AIValue]) -> list[AIValue]:
    # The primary key first, then fixed-length AIs (dates), then variable-length ones (lot,
    # serial, extension): a variable-length value that ends the string needs no FNC1 after it.
    rest = key[1:] + extra
    fixed = [v for v in rest if not needs_separator(v.ai)]
    variable = [v for v in rest if needs_separator(v.ai)]
    return [key[0], *fixed, *variable]


def passport_uri(key: str, base: str) -> str | None:
    """The Digital Link URI of a canonical GS1 key on ``base`` (where its passport is served).

    ``None`` for an identifier that is not a GS1 key.
    """
    if canonical(key).kind is Kind.URI or not key.startswith(CANONICAL_BASE + "/"):
        return None
    return build_digital_link(key_values(key), base=base, check_requisites=False)


def _attribute_value(attributes: Any, wanted: str) -> str | None:
    for item in attributes or []:
        if isinstance(item, dict) and _local(str(item.get("id", ""))) == wanted:
            value = item.get("attribute")
            if isinstance(value, str | int | float) and str(value).strip():
                return str(value).strip()
    return None


def _address(reader: Reader, key: str) -> list[str]:
    rows = reader.query("SELECT attributes FROM master_data WHERE id = ?", (key,))
    attributes: list[Any] = []
    for (raw,) in rows:
        attributes += reader.store.load_json(raw) or []
    lines = [v for name in _ADDRESS if (v := _attribute_value(attributes, name))]
    city = " ".join(v for name in _CITY if (v := _attribute_value(attributes, name)))
    if city:
        lines.append(city)
    country = _attribute_value(attributes, "countryCode")
    if country:
        lines.append(country)
    return lines or [display_key(key)]


def stored_key_pairs(key: str) -> list[tuple[str, str]] | None:
    """The (AI, value) pairs of a canonical GS1 key read straight off its path, or ``None`` when
    the key needs parsing (not a plain ``https://id.gs1.org/AI/value/...`` path).

    For keys read from the store, which were validated on their way in: pages list hundreds of
    them, and parsing one again with full GS1 checks costs about a millisecond.
    """
    prefix = CANONICAL_BASE + "/"
    if not key.startswith(prefix) or "?" in key or "#" in key:
        return None
    parts = key[len(prefix) :].split("/")
    if len(parts) % 2:
        return None
    pairs = list(zip(parts[::2], parts[1::2], strict=True))
    if not all(ai.isdigit() and value for ai, value in pairs):
        return None
    return [(ai, percent_decode(value)) for ai, value in pairs]


@lru_cache(maxsize=65536)
def display_key(key: str) -> str:
    """A canonical key as a person reads it: bracketed AIs for GS1 keys, else as stored."""
    pairs = stored_key_pairs(key)
    if pairs is not None:
        return " ".join(f"({ai}) {value}" for ai, value in pairs)
    try:
        return hri(key_values(key))
    except InvalidInput:
        return key


def _ship_to(reader: Reader, chain: list[int]) -> list[str]:
    """Ship-to lines from the latest shipment of the object or of a container holding it."""
    for oid in chain:
        shipped = [e for e in reader.edges_from([oid]) if e.relation == "shipped_to"]
        if not shipped:
            continue
        latest = max(shipped, key=lambda e: (e.valid_from, e.event))
        targets = [e.dst for e in shipped if e.event == latest.event]
        keys = reader.objects_by_id(targets)
        lines: list[str] = []
        for target in targets:
            if target in keys:
                lines += _address(reader, keys[target].key)
        return lines
    return []


def _quantity(value: float | None, uom: str | None) -> str:
    if value is None:
        return ""
    return f"{value:g} {uom}" if uom else f"{value:g}"


def _contents(reader: Reader, oid: int) -> list[str]:
    inside = [
        e
        for e in reader.edges_to([oid])
        if e.relation in ("packed_in", "installed_in") and e.valid_to is None
    ]
    keys = reader.objects_by_id({e.src for e in inside})
    lines = []
    for edge in sorted(inside, key=lambda e: keys[e.src].key if e.src in keys else ""):
        if edge.src in keys:
            amount = _quantity(edge.quantity, edge.uom)
            shown = display_key(keys[edge.src].key)
            lines.append(f"{shown}  {amount}".rstrip())
    if len(lines) > _MAX_CONTENT_LINES:
        more = len(lines) - _MAX_CONTENT_LINES + 1
        lines = [*lines[: _MAX_CONTENT_LINES - 1], f"... and {more} more"]
    return lines


def _container_chain(reader: Reader, obj: ObjectRow) -> list[int]:
    chain, seen = [obj.id], {obj.id}
    current = reader.statuses([obj.id]).get(obj.id)
    while current is not None and current.container is not None:
        if current.container in seen:
            break
        chain.append(current.container)
        seen.add(current.container)
        current = reader.statuses([current.container]).get(current.container)
    return chain


def _lines(
    values: list[AIValue], attributes: Mapping[str, Any] | None, status: Status | None
) -> list[tuple[str, str]]:
    names = {
        "00": "SSCC",
        "01": "GTIN",
        "10": "Lot",
        "21": "Serial",
        "17": "Expiry (YYMMDD)",
        "11": "Produced (YYMMDD)",
        "414": "GLN",
        "254": "Extension",
        "417": "Party GLN",
        "8003": "GRAI",
        "8004": "GIAI",
        "253": "GDTI",
    }
    lines = [(names.get(v.ai, f"AI ({v.ai})"), v.value) for v in values]
    product = (attributes or {}).get("tl:product") or (attributes or {}).get("product")
    if isinstance(product, str) and product.strip():
        lines.insert(0, ("Product", product.strip()))
    if status is not None:
        amount = _quantity(status.quantity, status.uom)
        if amount:
            lines.append(("Quantity", amount))
        state = status.disposition or status.state
        if state:
            lines.append(("Status", str(state)))
    return lines


def _title(kind: Kind, values: list[AIValue]) -> str:
    if kind is Kind.LGTIN:
        lot = next((v.value for v in values if v.ai == "10"), "")
        return f"Lot {lot}"
    if kind is Kind.SGTIN:
        serial = next((v.value for v in values if v.ai == "21"), "")
        return f"Serial {serial}"
    if kind is Kind.SSCC:
        return f"SSCC {values[0].value}"
    return f"{KIND_NAMES[kind]} {values[0].value}"


def label_content(reader: Reader, identifier: str, *, base: str) -> LabelContent:
    """The label of the stored object ``identifier`` (any GS1 form), with its QR on ``base``.

    Raises :class:`~threadline.errors.NotFound` when the store does not know the object and
    :class:`InvalidInput` when it is not a GS1 key or its data fails GS1 validation.
    """
    obj = resolve(reader, identifier)
    kind = Kind(obj.kind)
    values = key_values(obj.key)
    attributes = reader.object_attrs(obj.id)
    dates = dates_from_attributes(obj.key, attributes) if kind in _DATE_KINDS else []
    ordered = _encoding_order(values, dates)
    # biip validates each value and the associations once here, before anything is encoded.
    build_element_string(ordered)
    uri = build_digital_link(ordered, base=base)
    status = reader.statuses([obj.id]).get(obj.id)
    chain = _container_chain(reader, obj)
    return LabelContent(
        key=obj.key,
        kind=kind,
        values=tuple(ordered),
        digital_link=uri,
        title=_title(kind, values),
        lines=tuple(_lines(ordered, attributes, status)),
        contents=tuple(_contents(reader, obj.id)),
        # Ship-to belongs on a logistic unit's label; a lot shipped in part is still here.
        ship_to=tuple(_ship_to(reader, chain)) if kind is Kind.SSCC else (),
    )
