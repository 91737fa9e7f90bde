"""Validate an EPCIS document and report every fault, located by event and JSON pointer/XML line.

Three layers run over a document:

1. the official EPCIS 2.0 JSON Schema, when a schema file is given or named by the environment
   variable ``THREADLINE_EPCIS_SCHEMA`` (nothing is ever downloaded). The document envelope and
   each event are checked separately, so a fault in one event does not hide faults in others.
   JSON-LD node annotations the schema does not model (``id`` on a node, ``type`` on a sensor
   element) are reported as warnings and the check goes on without them;
2. the rules the standard states in prose, checked per event: a TransformationEvent has inputs and
   outputs or a transformationID, quantities are non-negative, an Aggregation/AssociationEvent with
   action ADD or DELETE names a parentID, CBV-typed values are standard words or full URIs,
   eventTime has a time zone and every identifier is a well-formed key; an event with none of
   these faults is also read as an import reads it, so a document that passes validation imports;
3. for XML (EPCIS 2.0 and 1.2, told apart by namespace), the official XSDs when directories
   holding them are given or named by ``THREADLINE_EPCIS_XSD`` (see :mod:`threadline.epcis.xsd`).
   The semantic layer then runs over the converted document, and each XML fault names the XML
   line (``pointer="line N"``): XSD faults their element's line, semantic faults the line of the
   element that holds the faulty value.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import fastjsonschema
import orjson
from lxml import etree  # type: ignore[import-untyped]

from threadline.epcis.cbv import Vocabulary, cbv_word
from threadline.epcis.json_reader import iter_event_objects, parse_event
from threadline.epcis.xml_reader import is_xml, xml_document_to_json
from threadline.epcis.xsd import (
    XSD_ENV,
    check_xml,
    describe_root,
    parse_xml,
    schema_for,
    xsd_dirs_from_env,
)
from threadline.errors import DocumentError, InvalidInput
from threadline.gs1.keys import canonical

__all__ = ["SCHEMA_ENV", "XSD_ENV", "Fault", "validate_document"]

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
    """One problem found in a document: where it is, what it is and how serious.

    ``pointer`` is a JSON pointer for JSON input and ``"line N"`` for XML input, where ``line``
    holds the same number (``None`` when the fault has no line, as for JSON).
    """

    source: str | None
    index: int | None
    pointer: str
    message: str
    severity: Severity
    line: int | None = None

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
        if "persistentDisposition" in obj:
            self.persistent(obj["persistentDisposition"])
        return self.faults

    def persistent(self, value: Any) -> None:
        """persistentDisposition: set and/or unset, each a list of dispositions (SHACL shapes)."""
        where = "/persistentDisposition"
        if not isinstance(value, dict):
            self.fault(where, "persistentDisposition must be an object holding set and/or unset")
            return
        if not value.get("set") and not value.get("unset"):
            self.fault(where, "persistentDisposition must set or unset at least one disposition")
        for name in ("set", "unset"):
            words = value.get(name)
            if words is None:
                continue
            if not isinstance(words, list):
                self.fault(
                    f"{where}/{name}", f"{name} must be a list of dispositions, got {words!r}"
                )
                continue
            for i, word in enumerate(words):
                self.vocab(word, f"{where}/{name}/{i}", "disp")


def _load(data: bytes, source: str | None) -> dict[str, Any]:
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DocumentError(f"not valid JSON: {exc}", source=source, pointer="") from None
    if not isinstance(document, dict):
        raise DocumentError("an EPCIS document must be a JSON object", source=source, pointer="")
    return document


def _event_faults(
    event: Any, index: int, base: str, source: str | None, *, reader_check: bool = True
) -> list[Fault]:
    """The semantic faults of one event; with none, the reader's own check of it (if asked)."""
    pointer = f"{base}/{index}"
    if not isinstance(event, dict):
        return [Fault(source, index, pointer, "an event must be a JSON object", "error")]
    faults = (
        _Checker(source, index, pointer).check(event) if event.get("type") in _EVENT_TYPES else []
    )
    if not faults and reader_check:
        # What the import refuses (a missing or unknown action, a missing eventTime, ...) is a
        # fault here too. Only when nothing else was found, so one fault is not told twice.
        try:
            # A given eventID is checked; a missing one needs no hash to validate the event.
            parse_event(
                event, index=index, pointer=pointer, event_id=None if "eventID" in event else "-"
            )
        except DocumentError as exc:
            where = exc.pointer if exc.pointer is not None else pointer
            reason, name = exc.reason, where.rpartition("/")[2]
            if name and reason.endswith("got None") and "/" not in where[len(pointer) + 1 :]:
                reason = f"{name} is required"  # the reader's wording of a field left out
            faults.append(Fault(source, index, where, reason, "error"))
    return faults


def validate_document(
    data: bytes,
    *,
    source: str | None = None,
    schema_path: Path | None = None,
    xsd_dirs: Sequence[Path] | None = None,
) -> list[Fault]:
    """Every fault in an EPCIS 2.0 JSON/JSON-LD or EPCIS 2.0/1.2 XML document, in document order.

    ``source`` names the file in the faults. The JSON Schema check runs on JSON input when
    ``schema_path`` is given or ``THREADLINE_EPCIS_SCHEMA`` names the official schema file; the
    XSD check runs on XML input when ``xsd_dirs`` is given or ``THREADLINE_EPCIS_XSD`` names the
    directories holding the official XSDs; the semantic checks always run (over the converted
    document for XML). An empty list means the document is valid; faults of severity
    ``"warning"`` do not make it invalid. A schema that cannot be loaded raises
    :class:`InvalidInput`.
    """
    if is_xml(data):
        dirs = list(xsd_dirs) if xsd_dirs is not None else xsd_dirs_from_env()
        return _validate_xml(data, source, dirs)
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
    if schema_path is not None:
        faults.extend(_schema_check(document, base, events, schema_path, source))
    with_schema_errors = {f.index for f in faults if f.severity == "error"}
    for i, event in enumerate(events):
        faults.extend(
            _event_faults(event, i, base, source, reader_check=i not in with_schema_errors)
        )
    faults.sort(key=lambda f: -1 if f.index is None else f.index)
    return faults


# ------------------------------------------------------------------------------------- XML

_EVENT_LIST_PARTS = frozenset({"extension", "baseExtension"})
# Standard EPCIS XML documents that are not event documents: the XSD checks them, nothing else.
_OTHER_DOCUMENTS = {
    "EPCISMasterDataDocument": "a master data document",
    "EPCISCaptureJob": "a capture job (the answer of a capture interface)",
    "EPCISException": "an EPCIS exception",
}
_EPCIS_XML_NS = frozenset(
    f"urn:epcglobal:{name}:xsd:{version}"
    for name in ("epcis", "epcis-query", "epcis-masterdata")
    for version in ("1", "2")
)


def _local(tag: Any) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _namespace(tag: Any) -> str:
    return tag[1 : tag.index("}")] if isinstance(tag, str) and tag.startswith("{") else ""


def _event_elements(root: Any) -> list[Any]:
    """The event elements in the order the reader numbers them (inside <EventList>)."""
    found = []
    for element in root.iter():
        if _local(element.tag) not in _EVENT_TYPES:
            continue
        parent = element.getparent()
        while parent is not None and _local(parent.tag) in _EVENT_LIST_PARTS:
            parent = parent.getparent()
        if parent is not None and _local(parent.tag) == "EventList":
            found.append(element)
    return found


def _span(element: Any) -> tuple[int, int]:
    lines = [e.sourceline for e in element.iter() if e.sourceline]
    return (min(lines), max(lines)) if lines else (0, -1)


def _index_at(spans: Sequence[tuple[int, int]], line: int | None) -> int | None:
    if line is None:
        return None
    return next((i for i, (first, last) in enumerate(spans) if first <= line <= last), None)


def _named(element: Any, key: str) -> list[Any]:
    """Children of ``element`` called ``key`` (a JSON key), looking through extension wrappers."""
    name = key.rpartition(":")[2]
    out: list[Any] = []
    for child in element:
        local = _local(child.tag)
        if local == name:
            out.append(child)
        elif local in _EVENT_LIST_PARTS:
            out.extend(_named(child, key))
    return out


def _line_for(element: Any, pointer: str) -> int | None:
    """The line of the element holding the value at ``pointer`` (relative to the event).

    JSON arrays map to repeated elements (``sensorReport``) or to the children of a list element
    (``epcList/epc``); attributes map to their element. Where the walk cannot go on, the
    deepest element found answers.
    """
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    node, i = element, 0
    while i < len(parts):
        part = parts[i]
        if part.isdigit():
            kids = [c for c in node if isinstance(c.tag, str)]
            if int(part) >= len(kids):
                break
            node, i = kids[int(part)], i + 1
            continue
        matches = _named(node, part)
        if not matches:
            break
        following = parts[i + 1] if i + 1 < len(parts) else ""
        if len(matches) > 1 and following.isdigit() and int(following) < len(matches):
            node, i = matches[int(following)], i + 2
        else:
            node, i = matches[0], i + 1
    line = node.sourceline
    return int(line) if line else None


def _line_of(pointer: str | None) -> int | None:
    match = re.fullmatch(r"line (\d+)", pointer or "")
    return int(match[1]) if match else None


def _at_line(fault: Fault, line: int | None) -> Fault:
    if line is None:
        return fault
    return dataclasses.replace(fault, pointer=f"line {line}", line=line)


def _xsd_faults(
    root: Any, dirs: Sequence[Path], source: str | None, spans: Sequence[tuple[int, int]]
) -> list[Fault]:
    namespace, local = _namespace(root.tag), _local(root.tag)
    schema = schema_for(dirs, namespace, local)
    if schema is None:
        where = ", ".join(str(d) for d in dirs)
        message = (
            f"no XSD under {where} declares {describe_root(namespace, local)}; "
            "the XSD check was skipped"
        )
        line = root.sourceline or None
        return [Fault(source, None, f"line {line}" if line else "", message, "warning", line)]
    return [
        Fault(
            source,
            _index_at(spans, fault.line),
            f"line {fault.line}" if fault.line else "",
            fault.message,
            "error",
            fault.line,
        )
        for fault in check_xml(root, schema)
    ]


def _validate_xml(data: bytes, source: str | None, dirs: Sequence[Path]) -> list[Fault]:
    try:
        root = parse_xml(data)
    except (etree.XMLSyntaxError, ValueError):
        root = None  # not well-formed: the reader words that fault below
    elements = [] if root is None else _event_elements(root)
    faults: list[Fault] = []
    if root is not None and dirs:
        faults.extend(_xsd_faults(root, dirs, source, [_span(e) for e in elements]))
    kind = _OTHER_DOCUMENTS.get(_local(root.tag)) if root is not None else None
    if kind is not None and _namespace(root.tag) in _EPCIS_XML_NS:
        line = root.sourceline or None
        faults.append(
            Fault(
                source,
                None,
                f"line {line}" if line else "",
                f"{kind} carries no events, so only the XSD applies to it; threadline import "
                "takes an EPCISDocument or EPCISQueryDocument",
                "warning",
                line,
            )
        )
        return faults
    # One fault per line: where the XSD has spoken, the semantic layer's wording of the same
    # fault (an eventTime that is no date, an unknown element) adds nothing.
    told = {f.line for f in faults if f.severity == "error"}
    try:
        document = xml_document_to_json(data, source=source)
        base, raw_events = iter_event_objects(document)
    except DocumentError as exc:
        line = _line_of(exc.pointer)
        if line is None or line not in told:
            pointer = exc.pointer or ""
            faults.append(
                Fault(exc.source or source, exc.index, pointer, exc.reason, "error", line)
            )
    else:
        counts_match = len(elements) == len(raw_events)
        for i, event in enumerate(raw_events):
            element = elements[i] if counts_match else None
            for fault in _event_faults(event, i, base, source):
                line = None
                if element is not None:
                    line = _line_for(element, fault.pointer[len(f"{base}/{i}") :])
                if line is not None and line in told:
                    continue
                faults.append(_at_line(fault, line))
    faults.sort(key=lambda f: f.line or 0)
    return faults
