"""Identifier forms on the way out: every GS1 key of an event as EPC URN, Digital Link, or as sent.

Threadline stores events exactly as captured and compares identifiers canonically; a client
chooses how keys are written in what it gets back (the EPCIS ``GS1-EPC-Format`` header):

* ``"dl"`` — GS1 Digital Link on ``https://id.gs1.org`` (the canonical key);
* ``"urn"`` — EPC URN (``urn:epc:id:sgtin:…``, ``urn:epc:class:lgtin:…``,
  ``urn:epc:idpat:sgtin:…:*`` for a GTIN without lot). A URN needs the GS1 company prefix
  length, which a Digital Link does not carry: it comes from ``gcp_lengths`` (what the store
  learnt from the URNs it has seen), else from the GS1 prefix table in biip; a key whose
  length stays unknown is left as written;
* ``"as_captured"`` — unchanged.

Values that are not GS1 keys (any other URI) are never touched.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any, Literal

from threadline.errors import InvalidInput
from threadline.gs1.keys import canonical, to_epc_urn
from threadline.model.identifiers import CANONICAL_BASE, Identifier, Kind

__all__ = ["FORMS", "IdentifierForm", "render_identifier", "render_identifiers"]

IdentifierForm = Literal["urn", "dl", "as_captured"]
FORMS: tuple[IdentifierForm, ...] = ("urn", "dl", "as_captured")

_LEADING_DIGITS = re.compile(r"[0-9]+")
_EPC_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
_PLACES = ("readPoint", "bizLocation")
_TYPED_LISTS = (
    ("sourceList", "source"),
    ("destinationList", "destination"),
    ("bizTransactionList", "bizTransaction"),
)


def _digits_after_key(ident: Identifier) -> str | None:
    """The digits a GS1 company prefix begins, for a key's kind."""
    segments = ident.key[len(CANONICAL_BASE) + 1 :].split("/")
    if len(segments) < 2:
        return None
    value = segments[1]
    if ident.kind in (Kind.SGTIN, Kind.LGTIN, Kind.GTIN, Kind.SSCC, Kind.GRAI):
        value = value[1:]  # after the indicator / extension digit (GRAI: the leading zero)
    digits = _LEADING_DIGITS.match(value)  # GDTI, GIAI and GRAI go on with a serial
    return digits.group(0) if digits else None


@lru_cache(maxsize=16384)
def _table_prefix_length(digits: str) -> int | None:
    from biip.gs1_prefixes import GS1CompanyPrefix

    try:
        found = GS1CompanyPrefix.extract(digits)
    except Exception:  # biip raises its own error types for values outside its tables
        return None
    return None if found is None else len(found.value)


def render_identifier(
    value: Any, form: IdentifierForm, gcp_lengths: Mapping[str, int] | None = None
) -> Any:
    """One identifier in ``form``; non-GS1 values and unrenderable keys come back unchanged."""
    if form == "as_captured" or not isinstance(value, str):
        return value
    try:
        ident = canonical(value)
    except InvalidInput:
        return value
    if ident.kind is Kind.URI:
        return value
    if form == "dl":
        return ident.key
    if value.lower().startswith("urn:epc:"):
        return value
    length = ident.gcp_length or (gcp_lengths or {}).get(ident.key)
    if length is None:
        digits = _digits_after_key(ident)
        length = None if digits is None else _table_prefix_length(digits)
    if length is None:
        return value
    try:
        urn = to_epc_urn(replace(ident, gcp_length=length))
    except (IndexError, ValueError):
        return value
    return value if urn is None else urn


def render_identifiers(
    event: Mapping[str, Any],
    form: IdentifierForm,
    *,
    gcp_lengths: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """A copy of the JSON ``event`` with every GS1 key written in ``form``.

    Covers the EPC lists, ``parentID``, the ``epcClass`` of every quantity list, read point and
    business location ids, sources, destinations, business transaction ids and sensor
    ``deviceID``s. ``gcp_lengths`` maps canonical keys to known company prefix lengths.
    """
    if form not in FORMS:
        raise InvalidInput(f"unknown identifier form {form!r} (use one of {', '.join(FORMS)})")
    out = copy.deepcopy(dict(event))
    if form == "as_captured":
        return out

    def one(value: Any) -> Any:
        return render_identifier(value, form, gcp_lengths)

    _apply(out, one)
    return out


def _apply(out: dict[str, Any], one: Callable[[Any], Any]) -> None:
    for name in _EPC_LISTS:
        if isinstance(out.get(name), list):
            out[name] = [one(v) for v in out[name]]
    if "parentID" in out:
        out["parentID"] = one(out["parentID"])
    for name in _QUANTITY_LISTS:
        for item in out.get(name) or ():
            if isinstance(item, dict) and "epcClass" in item:
                item["epcClass"] = one(item["epcClass"])
    for name in _PLACES:
        place = out.get(name)
        if isinstance(place, dict) and "id" in place:
            place["id"] = one(place["id"])
    for name, key in _TYPED_LISTS:
        for item in out.get(name) or ():
            if isinstance(item, dict) and key in item:
                item[key] = one(item[key])
    for element in out.get("sensorElementList") or ():
        if not isinstance(element, dict):
            continue
        metadata = element.get("sensorMetadata")
        if isinstance(metadata, dict) and "deviceID" in metadata:
            metadata["deviceID"] = one(metadata["deviceID"])
        for report in element.get("sensorReport") or ():
            if isinstance(report, dict) and "deviceID" in report:
                report["deviceID"] = one(report["deviceID"])
