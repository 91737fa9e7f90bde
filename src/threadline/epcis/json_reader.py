"""EPCIS 2.0 JSON / JSON-LD documents -> typed events, with faults located by JSON pointer.

This reader checks what Threadline relies on (types, required fields, identifiers, quantities,
timestamps) and reports the first fault as a :class:`~threadline.errors.DocumentError` naming the
event index and the JSON pointer. Unknown fields are kept verbatim in ``extensions``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from threadline.epcis.cbv import Vocabulary, cbv_word
from threadline.errors import DocumentError, InvalidInput
from threadline.gs1.keys import canonical
from threadline.model.events import (
    Action,
    AggregationEvent,
    AnyEvent,
    AssociationEvent,
    BizTransaction,
    ErrorDeclaration,
    ObjectEvent,
    QuantityElement,
    SourceDest,
    TransactionEvent,
    TransformationEvent,
)

__all__ = [
    "EPCISDocument",
    "iter_event_objects",
    "iter_json_document",
    "parse_event",
    "read_json_document",
    "utc_text",
]

_COMMON = frozenset(
    {
        "type",
        "eventID",
        "eventTime",
        "eventTimeZoneOffset",
        "recordTime",
        "action",
        "bizStep",
        "disposition",
        "readPoint",
        "bizLocation",
        "bizTransactionList",
        "sourceList",
        "destinationList",
        "sensorElementList",
        "persistentDisposition",
        "errorDeclaration",
        "certificationInfo",
        "ilmd",
    }
)
_SPECIFIC = {
    "ObjectEvent": frozenset({"epcList", "quantityList"}),
    "AggregationEvent": frozenset({"parentID", "childEPCs", "childQuantityList"}),
    "AssociationEvent": frozenset({"parentID", "childEPCs", "childQuantityList"}),
    "TransactionEvent": frozenset({"parentID", "epcList", "quantityList"}),
    "TransformationEvent": frozenset(
        {
            "inputEPCList",
            "inputQuantityList",
            "outputEPCList",
            "outputQuantityList",
            "transformationID",
        }
    ),
}
_KNOWN = {kind: _COMMON | fields for kind, fields in _SPECIFIC.items()}
_ACTIONS = {"ADD": Action.ADD, "OBSERVE": Action.OBSERVE, "DELETE": Action.DELETE}


@dataclass
class EPCISDocument:
    """A parsed EPCISDocument or EPCISQueryDocument."""

    kind: str
    context: Any
    events: list[AnyEvent]
    header: dict[str, Any] = field(default_factory=dict)
    namespaces: dict[str, str] = field(default_factory=dict)


class _Fault(Exception):
    """A fault inside one event; the caller adds index and pointer prefix."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


def _str(obj: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise _Fault(f"/{name}", f"{name} is required")
        return None
    if not isinstance(value, str) or not value:
        raise _Fault(f"/{name}", f"{name} must be a non-empty string, got {value!r}")
    return value


def _ident(value: Any, path: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise _Fault(path, f"{what} must be a non-empty identifier string, got {value!r}")
    try:
        canonical(value)
    except InvalidInput as exc:
        raise _Fault(path, exc.message) from None
    return value


def _id_list(obj: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = obj.get(name)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _Fault(f"/{name}", f"{name} must be an array of identifiers")
    return tuple(_ident(v, f"/{name}/{i}", "an EPC") for i, v in enumerate(value))


def _quantities(obj: Mapping[str, Any], name: str) -> tuple[QuantityElement, ...]:
    value = obj.get(name)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _Fault(f"/{name}", f"{name} must be an array of quantity elements")
    out = []
    for i, item in enumerate(value):
        where = f"/{name}/{i}"
        if not isinstance(item, dict):
            raise _Fault(where, "a quantity element must be an object")
        cls = _ident(item.get("epcClass"), f"{where}/epcClass", "epcClass")
        qty = item.get("quantity")
        if qty is not None and (
            isinstance(qty, bool) or not isinstance(qty, int | float) or qty < 0
        ):
            raise _Fault(
                f"{where}/quantity", f"quantity must be a non-negative number, got {qty!r}"
            )
        uom = item.get("uom")
        if uom is not None and not isinstance(uom, str):
            raise _Fault(f"{where}/uom", "uom must be a string (a UN/ECE rec 20 code)")
        if uom is not None and qty is None:
            raise _Fault(f"{where}/quantity", "uom is given without a quantity")
        out.append(QuantityElement(cls, None if qty is None else float(qty), uom))
    return tuple(out)


def _time(value: Any, path: str) -> datetime:
    if not isinstance(value, str):
        raise _Fault(path, f"a timestamp must be an ISO-8601 string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _Fault(path, f"{value!r} is not an ISO-8601 timestamp") from None
    if parsed.tzinfo is None:
        raise _Fault(path, f"timestamp {value!r} has no time zone (add Z or an offset)")
    return parsed


def _offset(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 6 or value[0] not in "+-" or value[3] != ":":
        raise _Fault("/eventTimeZoneOffset", f"eventTimeZoneOffset must be ±hh:mm, got {value!r}")
    try:
        hours, minutes = int(value[1:3]), int(value[4:6])
    except ValueError:
        raise _Fault(
            "/eventTimeZoneOffset", f"eventTimeZoneOffset {value!r} is not ±hh:mm"
        ) from None
    if hours > 14 or minutes > 59:
        raise _Fault("/eventTimeZoneOffset", f"eventTimeZoneOffset {value!r} is out of range")
    return value


def _vocab(obj: Mapping[str, Any], name: str, vocabulary: Vocabulary) -> str | None:
    value = _str(obj, name)
    return None if value is None else cbv_word(value, vocabulary)


def _place(obj: Mapping[str, Any], name: str) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, dict) or "id" not in value:
        raise _Fault(f"/{name}", f'{name} must be an object with an "id"')
    return _ident(value["id"], f"/{name}/id", f"{name} id")


def _biz_transactions(obj: Mapping[str, Any]) -> tuple[BizTransaction, ...]:
    value = obj.get("bizTransactionList")
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _Fault("/bizTransactionList", "bizTransactionList must be an array")
    out = []
    for i, item in enumerate(value):
        where = f"/bizTransactionList/{i}"
        if not isinstance(item, dict):
            raise _Fault(where, "a business transaction must be an object")
        ident = item.get("bizTransaction")
        if not isinstance(ident, str) or not ident:
            raise _Fault(f"{where}/bizTransaction", "bizTransaction must be a non-empty string")
        kind = item.get("type")
        if kind is not None and not isinstance(kind, str):
            raise _Fault(f"{where}/type", "type must be a string")
        out.append(BizTransaction(ident, None if kind is None else cbv_word(kind, "btt")))
    return tuple(out)


def _source_dest(obj: Mapping[str, Any], name: str, key: str) -> tuple[SourceDest, ...]:
    value = obj.get(name)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _Fault(f"/{name}", f"{name} must be an array, got {type(value).__name__}")
    out = []
    for i, item in enumerate(value):
        where = f"/{name}/{i}"
        if not isinstance(item, dict):
            raise _Fault(where, f"each {name} entry must be an object")
        kind = item.get("type")
        if not isinstance(kind, str) or not kind:
            raise _Fault(f"{where}/type", "type is required (owning_party, location, ...)")
        ident = _ident(item.get(key), f"{where}/{key}", key)
        out.append(SourceDest(cbv_word(kind, "sdt"), ident))
    return tuple(out)


def _error_declaration(obj: Mapping[str, Any]) -> ErrorDeclaration | None:
    value = obj.get("errorDeclaration")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Fault("/errorDeclaration", "errorDeclaration must be an object")
    when = _time(value.get("declarationTime"), "/errorDeclaration/declarationTime")
    reason = value.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise _Fault("/errorDeclaration/reason", "reason must be a string")
    corrective = value.get("correctiveEventIDs", [])
    if not isinstance(corrective, list) or not all(isinstance(c, str) for c in corrective):
        raise _Fault("/errorDeclaration/correctiveEventIDs", "must be an array of event IDs")
    known = {"declarationTime", "reason", "correctiveEventIDs"}
    return ErrorDeclaration(
        declaration_time=when,
        reason=None if reason is None else cbv_word(reason, "er"),
        corrective_event_ids=tuple(corrective),
        extensions={k: v for k, v in value.items() if k not in known},
    )


def _sensor_elements(obj: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    value = obj.get("sensorElementList")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _Fault("/sensorElementList", "sensorElementList must be an array of objects")
    return tuple(value)


def _event(obj: Mapping[str, Any], namespaces: Mapping[str, str], known_id: str | None) -> AnyEvent:
    kind = obj.get("type")
    if kind not in _SPECIFIC:
        raise _Fault("/type", f"unknown event type {kind!r}")
    event_time = _time(obj.get("eventTime"), "/eventTime")
    if "eventTimeZoneOffset" in obj:
        offset = _offset(obj["eventTimeZoneOffset"])
    else:
        # Required by the schema; derive it from eventTime rather than refuse, as most senders do.
        delta = event_time.utcoffset() or timedelta(0)
        total = int(delta.total_seconds() // 60)
        sign = "-" if total < 0 else "+"
        offset = f"{sign}{abs(total) // 60:02d}:{abs(total) % 60:02d}"
    record_time = obj.get("recordTime")
    common: dict[str, Any] = {
        "event_time": event_time,
        "event_time_zone_offset": offset,
        "record_time": None if record_time is None else _time(record_time, "/recordTime"),
        "biz_step": _vocab(obj, "bizStep", "bizstep"),
        "disposition": _vocab(obj, "disposition", "disp"),
        "read_point": _place(obj, "readPoint"),
        "biz_location": _place(obj, "bizLocation"),
        "biz_transactions": _biz_transactions(obj),
        "sources": _source_dest(obj, "sourceList", "source"),
        "destinations": _source_dest(obj, "destinationList", "destination"),
        "sensor_elements": _sensor_elements(obj),
        "error_declaration": _error_declaration(obj),
        "certification_info": obj.get("certificationInfo"),
        "persistent_disposition": obj.get("persistentDisposition"),
        "raw": obj,
    }
    ilmd = obj.get("ilmd")
    if ilmd is not None and not isinstance(ilmd, dict):
        raise _Fault("/ilmd", "ilmd must be an object")
    common["ilmd"] = ilmd
    known = _KNOWN[kind]
    common["extensions"] = (
        {k: v for k, v in obj.items() if k not in known} if not known.issuperset(obj) else {}
    )

    action: Action | None = None
    if kind != "TransformationEvent":
        raw_action = obj.get("action")
        if raw_action not in _ACTIONS:
            raise _Fault("/action", f"action must be ADD, OBSERVE or DELETE, got {raw_action!r}")
        action = _ACTIONS[raw_action]
    elif "action" in obj:
        raise _Fault("/action", "a TransformationEvent has no action")

    event: AnyEvent
    if kind == "ObjectEvent":
        event = ObjectEvent(
            event_id="",
            action=action,
            epc_list=_id_list(obj, "epcList"),
            quantity_list=_quantities(obj, "quantityList"),
            **common,
        )
    elif kind in ("AggregationEvent", "AssociationEvent"):
        parent = obj.get("parentID")
        if parent is None and action in (Action.ADD, Action.DELETE):
            raise _Fault("/parentID", f"parentID is required for a {kind} with action {action}")
        cls = AggregationEvent if kind == "AggregationEvent" else AssociationEvent
        event = cls(
            event_id="",
            action=action,
            parent_id=None if parent is None else _ident(parent, "/parentID", "parentID"),
            child_epcs=_id_list(obj, "childEPCs"),
            child_quantity_list=_quantities(obj, "childQuantityList"),
            **common,
        )
    elif kind == "TransactionEvent":
        parent = obj.get("parentID")
        event = TransactionEvent(
            event_id="",
            action=action,
            parent_id=None if parent is None else _ident(parent, "/parentID", "parentID"),
            epc_list=_id_list(obj, "epcList"),
            quantity_list=_quantities(obj, "quantityList"),
            **common,
        )
    else:
        transformation_id = _str(obj, "transformationID")
        event = TransformationEvent(
            event_id="",
            input_epcs=_id_list(obj, "inputEPCList"),
            input_quantities=_quantities(obj, "inputQuantityList"),
            output_epcs=_id_list(obj, "outputEPCList"),
            output_quantities=_quantities(obj, "outputQuantityList"),
            transformation_id=transformation_id,
            **common,
        )
        has_in = bool(event.input_epcs or event.input_quantities)
        has_out = bool(event.output_epcs or event.output_quantities)
        if not transformation_id and not (has_in and has_out):
            raise _Fault(
                "",
                "a TransformationEvent needs both inputs and outputs, or a transformationID",
            )

    given = obj.get("eventID")
    if known_id is not None:
        event.event_id = known_id
        event.event_id_given = given is not None
    elif given is None:
        from threadline.epcis.hashing import event_hash_id

        event.event_id = event_hash_id(obj, context=namespaces)
        event.event_id_given = False
    elif not isinstance(given, str) or not given:
        raise _Fault("/eventID", f"eventID must be a non-empty string, got {given!r}")
    else:
        event.event_id = given
    return event


def parse_event(
    obj: Any,
    *,
    index: int | None = None,
    pointer: str = "",
    namespaces: Mapping[str, str] | None = None,
    event_id: str | None = None,
) -> AnyEvent:
    """Parse one event object; a fault raises :class:`DocumentError` located at ``pointer``.

    ``event_id`` is the already-known eventID of a stored event (skips hashing on replay).
    """
    if not isinstance(obj, dict):
        raise DocumentError("an event must be a JSON object", index=index, pointer=pointer)
    try:
        return _event(obj, namespaces or {}, event_id)
    except _Fault as fault:
        raise DocumentError(fault.reason, index=index, pointer=pointer + fault.path) from None


def _namespaces(context: Any) -> dict[str, str]:
    entries = context if isinstance(context, list) else [context]
    out: dict[str, str] = {}
    for entry in entries:
        if isinstance(entry, dict):
            out.update({k: v for k, v in entry.items() if isinstance(v, str)})
    return out


def iter_event_objects(document: Mapping[str, Any]) -> tuple[str, Sequence[Any]]:
    """The JSON pointer of the event list and the list itself, for either document kind."""
    body = document.get("epcisBody")
    if not isinstance(body, dict):
        raise DocumentError("epcisBody is missing or not an object", pointer="/epcisBody")
    kind = document.get("type")
    if kind == "EPCISQueryDocument" or "queryResults" in body:
        results = body.get("queryResults")
        base = "/epcisBody/queryResults/resultsBody/eventList"
        if not isinstance(results, dict) or not isinstance(results.get("resultsBody"), dict):
            raise DocumentError("queryResults.resultsBody is missing", pointer=base)
        events = results["resultsBody"].get("eventList", [])
    else:
        base = "/epcisBody/eventList"
        events = body.get("eventList", [])
    if not isinstance(events, list):
        raise DocumentError("eventList must be an array", pointer=base)
    return base, events


def read_json_document(
    data: bytes | str | Mapping[str, Any], *, source: str | None = None
) -> EPCISDocument:
    """Parse a whole EPCIS 2.0 JSON/JSON-LD document; the first fault raises DocumentError."""
    document, _count, events = iter_json_document(data, source=source)
    document.events = list(events)
    return document


def iter_json_document(
    data: bytes | str | Mapping[str, Any], *, source: str | None = None
) -> tuple[EPCISDocument, int, Iterator[AnyEvent]]:
    """Open a document and parse its events lazily, one by one (for progress bars).

    Returns the document (its ``events`` still empty), the number of events and their iterator;
    a fault raises :class:`DocumentError` when the iterator reaches it.
    """
    if isinstance(data, Mapping):
        document: Any = data
    else:
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise DocumentError(f"not valid JSON: {exc}", source=source) from None
    if not isinstance(document, dict):
        raise DocumentError("an EPCIS document must be a JSON object", source=source, pointer="")
    kind = document.get("type")
    if kind not in ("EPCISDocument", "EPCISQueryDocument"):
        raise DocumentError(
            f"type must be EPCISDocument or EPCISQueryDocument, got {kind!r}",
            source=source,
            pointer="/type",
        )
    try:
        base, raw_events = iter_event_objects(document)
    except DocumentError as exc:
        raise exc.located(source=source) from None
    context = document.get("@context")
    namespaces = _namespaces(context)
    header = document.get("epcisHeader")

    def generate() -> Iterator[AnyEvent]:
        for i, obj in enumerate(raw_events):
            try:
                yield parse_event(obj, index=i, pointer=f"{base}/{i}", namespaces=namespaces)
            except DocumentError as exc:
                raise exc.located(source=source) from None

    parsed = EPCISDocument(
        kind=kind,
        context=context,
        events=[],
        header=header if isinstance(header, dict) else {},
        namespaces=namespaces,
    )
    return parsed, len(raw_events), generate()


def utc_text(moment: datetime) -> str:
    """The storage form of a timestamp: UTC, microseconds, 'Z' — sortable as text on any engine."""
    # isoformat is several times faster than strftime; "+00:00" becomes "Z".
    return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"
