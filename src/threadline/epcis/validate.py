"""Validate an EPCIS 2.0 document and report every fault, each located by event and JSON pointer.

Two layers run over a JSON (or converted XML) document:

1. the official EPCIS 2.0 JSON Schema, when a schema file is given or named by the environment
   variable ``THREADLINE_EPCIS_SCHEMA`` (nothing is ever downloaded). The document envelope and
   each event are checked separately, so a fault in one event does not hide faults in others.
   JSON-LD node annotations the schema does not model (``id`` on a node, ``type`` on a sensor
   element) are reported as warnings and the check goes on without them;
2. the rules the standard states in prose, checked per event: a TransformationEvent has inputs and
   outputs or a transformationID, quantities are non-negative, an Aggregation/AssociationEvent with
   action ADD or DELETE names a parentID, CBV-typed values are standard words or full URIs,
   eventTime has a time zone and every identifier is a well-formed key.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import fastjsonschema
import orjson

from threadline.epcis.cbv import Vocabulary, cbv_word
from threadline.epcis.json_reader import iter_event_objects
from threadline.epcis.xml_reader import is_xml, xml_document_to_json
from threadline.errors import DocumentError, InvalidInput
from threadline.gs1.keys import canonical

__all__ = ["SCHEMA_ENV", "Fault", "validate_document"]

SCHEMA_ENV = "THREADLINE_EPCIS_SCHEMA"
Severity = Literal["error", "warning"]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# The standard CBV 2.0 words (the enumerations of the EPCIS 2.0 JSON Schema / CBV contexts).
_STANDARD: dict[Vocabulary, frozenset[str]] = {
    "bizstep": frozenset(
        _words(
            "accepting arriving assembling collecting commissioning consigning "
            "creating_class_instance cycle_counting decommissioning departing destroying "
            "disassembling dispensing encoding entering_exiting holding inspecting "
            "installing killing loading other packing picking receiving removing "
            "repackaging repairing replacing reserving retail_selling shipping "
            "staging_outbound stock_taking stocking storing transporting unloading "
            "unpacking void_shipping sensor_reporting sampling"
        )
    ),
    "disp": frozenset(
        _words(
            "active container_closed damaged destroyed dispensed disposed encoded expired "
            "in_progress in_transit inactive no_pedigree_match non_sellable_other "
            "partially_dispensed recalled reserved retail_sold returned sellable_accessible "
            "sellable_not_accessible stolen unknown available completeness_verified "
            "completeness_inferred conformant container_open mismatch_instance "
            "mismatch_class mismatch_quantity needs_replacement non_conformant unavailable"
        )
    ),
    "btt": frozenset(
        _words("bol cert desadv inv pedigree po poc prodorder recadv rma testprd testres upevt")
    ),
    "sdt": frozenset(("owning_party", "possessing_party", "location")),
    "er": frozenset(("did_not_occur", "incorrect_data")),
}
_VOCAB_NAME = {
    "bizstep": "business step",
    "disp": "disposition",
    "btt": "business transaction type",
    "sdt": "source/destination type",
    "er": "error reason",
}
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")
_CBV_SPACES = ("https://ref.gs1.org/cbv/", "http://ref.gs1.org/cbv/", "urn:epcglobal:cbv:")
_EVENT_TYPES = frozenset(
    (
        "ObjectEvent",
        "AggregationEvent",
        "AssociationEvent",
        "TransactionEvent",
        "TransformationEvent",
    )
)
_EPC_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")


@dataclass(frozen=True)
class Fault:
    """One problem found in a document: where it is, what it is and how serious."""

    source: str | None
    index: int | None
    pointer: str
    message: str
    severity: Severity

    def __str__(self) -> str:
        where = "the document" if self.source is None else self.source
        event = "at document level" if self.index is None else f"in event {self.index}"
        return (
            f"{self.severity.capitalize()} in {where} {event} at {self.pointer or '/'}: "
            f"{self.message}."
        )


Validator = Callable[[Any], Any]


@lru_cache(maxsize=8)
def _validators(path: str) -> tuple[Validator, Validator]:
    """Compiled validators for a whole document and for one event (compiled once per path)."""
    try:
        schema = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise InvalidInput(f"cannot read the EPCIS JSON Schema {path}: {exc}") from None
    event_schema = {k: v for k, v in schema.items() if k in ("$id", "$schema", "definitions")}
    event_schema["$ref"] = "#/definitions/EPCIS-Document-Event"
    return fastjsonschema.compile(schema), fastjsonschema.compile(event_schema)


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _lookup(root: Any, parts: list[str]) -> Any:
    node = root
    for part in parts:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def _annotation(node: Any, parts: list[str], rule: str | None) -> str | None:
    """The JSON-LD annotation key to blame for a schema failure at ``node``, if it is one."""
    if not isinstance(node, dict) or rule not in ("propertyNames", "format"):
        return None
    if rule == "format":  # a blank-node "id" such as "_:document1" is not a URI to the schema
        return "id" if parts[-1:] == ["id"] else None
    if "id" in node:
        return "id"
    in_sensor_list = len(parts) >= 2 and parts[-2] == "sensorElementList"
    return "type" if in_sensor_list and "type" in node else None


def _schema_faults(
    obj: Any, validator: Validator, base: str, source: str | None, index: int | None
) -> Iterator[Fault]:
    """Schema faults of ``obj``: JSON-LD annotations as warnings, then the first real fault."""
    work = obj
    for _ in range(64):
        try:
            validator(work)
            return
        except fastjsonschema.JsonSchemaValueException as exc:
            parts = [str(p) for p in (exc.path or ["data"])[1:]]
            # "format" faults point at the value; the annotation key is then the last part.
            owner = parts[:-1] if exc.rule == "format" else parts
            key = _annotation(_lookup(work, owner), parts, exc.rule)
            pointer = base + "".join(f"/{_escape(p)}" for p in parts)
            name = str(exc.name or "data")
            rest = exc.message[len(name) :].strip() if exc.message.startswith(name) else exc.message
            label = parts[-1] if parts else ("event" if index is not None else "document")
            if key is None:
                yield Fault(source, index, pointer, f"{label} {rest} (JSON Schema)", "error")
                return
            if work is obj:
                work = copy.deepcopy(obj)
            target = _lookup(work, owner)
            assert isinstance(target, dict)
            del target[key]
            where = pointer if exc.rule == "format" else f"{pointer}/{key}"
            yield Fault(
                source,
                index,
                where,
                f'JSON-LD annotation "{key}" is not modelled by the JSON Schema; accepted',
                "warning",
            )


def _schema_check(
    document: dict[str, Any],
    base: str,
    events: list[Any],
    path: Path,
    source: str | None,
) -> Iterator[Fault]:
    whole, one_event = _validators(str(path.resolve()))
    envelope = copy.copy(document)
    parts = base.strip("/").split("/")
    # Replace the event list by an empty one along its path, copying each level on the way.
    node = envelope
    for part in parts[:-1]:
        node[part] = copy.copy(node[part])
        node = node[part]
    node[parts[-1]] = []
    yield from _schema_faults(envelope, whole, "", source, None)
    for i, event in enumerate(events):
        yield from _schema_faults(event, one_event, f"{base}/{i}", source, i)


class _Checker:
    """Semantic checks of one event; collects faults instead of stopping at the first."""

    def __init__(self, source: str | None, index: int, base: str) -> None:
        self.source, self.index, self.base = source, index, base
        self.faults: list[Fault] = []

    def fault(self, path: str, message: str) -> None:
        self.faults.append(Fault(self.source, self.index, self.base + path, message, "error"))

    def ident(self, value: Any, path: str, what: str) -> None:
        if not isinstance(value, str) or not value.strip():
            self.fault(path, f"{what} must be a non-empty identifier string, got {value!r}")
            return
        try:
            canonical(value)
        except InvalidInput as exc:
            self.fault(path, f"{what} is not a valid identifier: {exc.message}")

    def vocab(self, value: Any, path: str, vocabulary: Vocabulary) -> None:
        what = _VOCAB_NAME[vocabulary]
        if not isinstance(value, str):
            self.fault(path, f"{what} must be a string, got {value!r}")
            return
        word = cbv_word(value, vocabulary)
        if word in _STANDARD[vocabulary]:
            return
        if not _URI.match(word):
            self.fault(path, f"{what} {value!r} is neither a standard CBV word nor a full URI")
        elif word.startswith(_CBV_SPACES):
            self.fault(path, f"{what} {value!r} is in the CBV namespace but not a standard word")

    def time_zone(self, value: Any, path: str) -> None:
        if not isinstance(value, str):
            self.fault(path, f"eventTime must be an ISO-8601 string, got {value!r}")
            return
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            self.fault(path, f"eventTime {value!r} is not an ISO-8601 timestamp")
            return
        if moment.tzinfo is None:
            self.fault(path, f"eventTime {value!r} has no time zone (add Z or an offset)")

    def items(self, obj: Mapping[str, Any], name: str) -> Iterator[tuple[str, dict[str, Any]]]:
        value = obj.get(name)
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    yield f"/{name}/{i}", item

    def check(self, obj: Mapping[str, Any]) -> list[Fault]:
        kind = obj.get("type")
        if "eventTime" in obj:
            self.time_zone(obj["eventTime"], "/eventTime")
        adds = obj.get("action") in ("ADD", "DELETE")
        if (
            kind in ("AggregationEvent", "AssociationEvent")
            and adds
            and obj.get("parentID") is None
        ):
            action = obj["action"]
            self.fault("/parentID", f"parentID is required for a {kind} with action {action}")
        if kind == "TransformationEvent":
            has_in = bool(obj.get("inputEPCList") or obj.get("inputQuantityList"))
            has_out = bool(obj.get("outputEPCList") or obj.get("outputQuantityList"))
            if not obj.get("transformationID") and not (has_in and has_out):
                self.fault(
                    "", "a TransformationEvent needs both inputs and outputs, or a transformationID"
                )
        if obj.get("parentID") is not None:
            self.ident(obj["parentID"], "/parentID", "parentID")
        for name in _EPC_LISTS:
            value = obj.get(name)
            if isinstance(value, list):
                for i, epc in enumerate(value):
                    self.ident(epc, f"/{name}/{i}", f"{name} entry")
        for name in _QUANTITY_LISTS:
            for where, item in self.items(obj, name):
                self.ident(item.get("epcClass"), f"{where}/epcClass", "epcClass")
                qty = item.get("quantity")
                if qty is not None and (
                    isinstance(qty, bool) or not isinstance(qty, int | float) or qty < 0
                ):
                    self.fault(
                        f"{where}/quantity", f"quantity must be a non-negative number, got {qty!r}"
                    )
        for name in ("readPoint", "bizLocation"):
            place = obj.get(name)
            if isinstance(place, dict) and "id" in place:
                self.ident(place["id"], f"/{name}/id", f"{name} id")
        if "bizStep" in obj:
            self.vocab(obj["bizStep"], "/bizStep", "bizstep")
        if "disposition" in obj:
            self.vocab(obj["disposition"], "/disposition", "disp")
        for where, item in self.items(obj, "bizTransactionList"):
            if "type" in item:
                self.vocab(item["type"], f"{where}/type", "btt")
        for name, key in (("sourceList", "source"), ("destinationList", "destination")):
            for where, item in self.items(obj, name):
                self.vocab(item.get("type"), f"{where}/type", "sdt")
                self.ident(item.get(key), f"{where}/{key}", key)
        declaration = obj.get("errorDeclaration")
        if isinstance(declaration, dict) and "reason" in declaration:
            self.vocab(declaration["reason"], "/errorDeclaration/reason", "er")
        return self.faults


def _load(data: bytes, source: str | None) -> dict[str, Any]:
    if is_xml(data):
        return xml_document_to_json(data, source=source)
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DocumentError(f"not valid JSON: {exc}", source=source, pointer="") from None
    if not isinstance(document, dict):
        raise DocumentError("an EPCIS document must be a JSON object", source=source, pointer="")
    return document


def validate_document(
    data: bytes, *, source: str | None = None, schema_path: Path | None = None
) -> list[Fault]:
    """Every fault in an EPCIS 2.0 JSON/JSON-LD or XML document, in document order.

    ``source`` names the file in the faults. The JSON Schema check runs when ``schema_path`` is
    given or ``THREADLINE_EPCIS_SCHEMA`` names the official schema file, for JSON input only
    (XML is converted, then checked semantically); the semantic checks always run. An empty
    list means the document is valid; faults of severity ``"warning"`` (JSON-LD annotations
    the schema does not model) do not make it invalid.
    """
    if schema_path is None and os.environ.get(SCHEMA_ENV):
        schema_path = Path(os.environ[SCHEMA_ENV])
    try:
        document = _load(data, source)
        base, raw_events = iter_event_objects(document)
    except DocumentError as exc:
        index, pointer = exc.index, exc.pointer or ""
        return [Fault(exc.source or source, index, pointer, exc.reason, "error")]
    events = list(raw_events)
    faults: list[Fault] = []
    # The JSON Schema describes the JSON binding: converted XML keeps its URN vocabulary spellings,
    # which the schema rejects, so XML gets the semantic checks only (its own schema is the XSD).
    if schema_path is not None and not is_xml(data):
        faults.extend(_schema_check(document, base, events, schema_path, source))
    for i, event in enumerate(events):
        if not isinstance(event, dict):
            faults.append(
                Fault(source, i, f"{base}/{i}", "an event must be a JSON object", "error")
            )
        elif event.get("type") in _EVENT_TYPES:
            faults.extend(_Checker(source, i, f"{base}/{i}").check(event))
    faults.sort(key=lambda f: -1 if f.index is None else f.index)
    return faults
