"""Semantic comparison of EPCIS 2.0 documents (or single events) in their JSON-LD form.

Two documents are equal when they carry the same events, in the same order, with the same
meaning, whatever the spelling:

* identifiers in canonical form (:func:`threadline.gs1.keys.canonical`: an EPC URN equals the
  Digital Link on any domain; compact IRIs are expanded with the document's prefixes);
* CBV values as bare words (``shipping`` = ``urn:epcglobal:cbv:bizstep:shipping`` =
  ``https://ref.gs1.org/cbv/BizStep-shipping``); measurement types and sensor components alike;
* timestamps as instants, their written offset taken into account (``10:00Z`` =
  ``11:00:00.000+01:00``; the local time zone of an event is its ``eventTimeZoneOffset``,
  which is compared as a field, and derived from ``eventTime`` when absent); numbers by value
  (``5`` = ``5.0``; in extensions, where XML has no types, ``"5"`` = ``5`` and ``"true"`` =
  ``true`` too);
* unordered collections (EPC lists, quantity / bizTransaction / source / destination lists,
  sensor elements and reports, correctiveEventIDs, repeated extension members) as multisets;
  an extension array of one value equals the value;
* extension members by full namespace IRI (``{IRI}name``), never by prefix;
* absent, ``null``, ``""`` (or only whitespace, which XML trims), ``[]`` and ``{}`` alike
  (the CBV event hash skips them too); the JSON-LD ``type`` annotation of sensor elements is
  ignored.

``@context`` is never compared as such, the document ``id`` neither; the header (schemaVersion,
creationDate, sender, receiver, instanceIdentifier, ``epcisHeader`` master data, queryName,
subscriptionID, document-level extensions) only with ``compare_header=True``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote, urlsplit

from threadline.epcis.cbv import Vocabulary, cbv_word
from threadline.epcis.jsonld_writer import STANDARD_NAMESPACES, context_namespaces
from threadline.errors import InvalidInput
from threadline.gs1.keys import canonical

__all__ = ["differences", "semantically_equal"]

_CURIE = re.compile(r"([A-Za-z_][\w.-]*):(.*)", re.DOTALL)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_TIMESTAMP = re.compile(
    r"(\d{4,})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?\s*([Zz]|[+-]\d\d:?\d\d)?"
)
_GS1_VOC = ("gs1:", "https://gs1.org/voc/", "http://gs1.org/voc/", "https://ref.gs1.org/voc/")
_COMPONENT = ("cbv:Comp-", "https://ref.gs1.org/cbv/Comp-", "http://ref.gs1.org/cbv/Comp-")
_PRIMARY_KEYS = frozenset({"00", "01", "253", "255", "414", "417", "8003", "8004", "8006", "8010"})
_PAIRING_LIMIT = 400  # items left unmatched on both sides of a multiset, multiplied
_SENSOR_ELEMENT_TYPES = frozenset(
    {"SensorElement", "epcis:SensorElement", "https://ref.gs1.org/epcis/SensorElement"}
)


# ------------------------------------------------------------------ normalised tree


@dataclass(frozen=True, slots=True)
class _Leaf:
    canon: str  # what is compared
    shown: Any  # what a message shows
    offset: str | None = None  # of a timestamp: not compared, but derives eventTimeZoneOffset


@dataclass(slots=True)
class _Obj:
    members: dict[str, tuple[str, Any]]  # canonical name -> (key as written, node)


@dataclass(slots=True)
class _Bag:
    items: list[tuple[int, Any]]  # (index as written, node)


Node = _Leaf | _Obj | _Bag
Norm = Callable[[Any, dict[str, str]], "Node | None"]


def _freeze(node: Node) -> Any:
    """A hashable, order-free image of a node (for multiset matching)."""
    if isinstance(node, _Leaf):
        return node.canon
    if isinstance(node, _Obj):
        return ("{", tuple(sorted((k, _freeze(v)) for k, (_, v) in node.members.items())))
    return ("[", tuple(sorted((_freeze(v) for _, v in node.items), key=repr)))


def _empty(value: Any) -> bool:
    # XML trims text, so whitespace-only text is empty too
    if isinstance(value, str):
        return not value.strip()
    return value is None or value == [] or value == {}


def _number_text(value: Any) -> str | None:
    """Canonical decimal text of a number or numeric string (``5.0`` -> ``5``), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
    elif isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        text = value.strip()
    else:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        return None
    if not number.is_finite() or abs(number.adjusted()) > 100:
        return text
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


def _expand(text: str, ns: Mapping[str, str]) -> str:
    match = _CURIE.fullmatch(text)
    if match and match.group(1) in ns and not match.group(2).startswith("//"):
        return ns[match.group(1)] + match.group(2)
    return text


def _lenient_digital_link(text: str) -> str | None:
    """The key path of a Digital Link whose check digit is wrong (its domain is irrelevant)."""
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    segments = [unquote(s) for s in parts.path.split("/") if s]
    for start, segment in enumerate(segments):
        if segment in _PRIMARY_KEYS and (len(segments) - start) % 2 == 0:
            return "dl:/" + "/".join(segments[start:])
    return None


# ------------------------------------------------------------------- normalisers


def _literal(value: Any, ns: dict[str, str]) -> Node | None:
    if _empty(value):
        return None
    if isinstance(value, bool):
        return _Leaf("true" if value else "false", value)
    number = _number_text(value)
    if number is not None and not isinstance(value, str):
        return _Leaf(number, value)
    return _Leaf(str(value).strip(), value)


def _number(value: Any, ns: dict[str, str]) -> Node | None:
    if _empty(value):
        return None
    number = _number_text(value)
    return _Leaf(number if number is not None else repr(value), value)


def _boolean(value: Any, ns: dict[str, str]) -> Node | None:
    if _empty(value):
        return None
    text = str(value).strip().lower() if not isinstance(value, bool) else str(value).lower()
    return _Leaf({"1": "true", "0": "false"}.get(text, text), value)


def _hex(value: Any, ns: dict[str, str]) -> Node | None:
    return None if _empty(value) else _Leaf(str(value).strip().upper(), value)


def _ident(value: Any, ns: dict[str, str]) -> Node | None:
    if _empty(value):
        return None
    if not isinstance(value, str):
        return _literal(value, ns)
    text = _expand(value.strip(), ns)
    try:
        return _Leaf(canonical(text).key, value)
    except InvalidInput:
        lenient = _lenient_digital_link(text) if text.startswith(("http", "HTTP")) else None
        return _Leaf(lenient or text, value)


def _time(value: Any, ns: dict[str, str]) -> Node | None:
    if _empty(value):
        return None
    text = str(value).strip()
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return _Leaf(text, value)
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    minutes = 0
    if zone and zone not in "Zz":
        digits = zone[1:].replace(":", "")
        minutes = (int(digits[:2]) * 60 + int(digits[2:4])) * (-1 if zone[0] == "-" else 1)
    try:
        local = datetime(int(year), int(month), int(day), int(hour), int(minute),
                         int(second or 0))  # fmt: skip
    except ValueError:
        return _Leaf(text, value)
    instant = (local - timedelta(minutes=minutes)).replace(tzinfo=UTC)
    nanos = (fraction or "").ljust(9, "0")[:9]
    sign = "-" if minutes < 0 else "+"
    offset: str | None = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return _Leaf(f"{instant:%Y-%m-%dT%H:%M:%S}.{nanos}Z", value, offset)


def _offset(value: Any, ns: dict[str, str]) -> Node | None:
    if _empty(value):
        return None
    text = str(value).strip()
    if text in ("Z", "z", "-00:00"):
        text = "+00:00"
    return _Leaf(text, value)


def _vocab(vocabulary: Vocabulary) -> Norm:
    def norm(value: Any, ns: dict[str, str]) -> Node | None:
        if _empty(value):
            return None
        if not isinstance(value, str):
            return _literal(value, ns)
        word = cbv_word(value.strip(), vocabulary)
        if ":" in word:
            word = cbv_word(_expand(word, ns), vocabulary)
        return _Leaf(word, value)

    return norm


def _stripped(prefixes: tuple[str, ...]) -> Norm:
    """A vocabulary value as its bare word once any of ``prefixes`` is removed."""

    def norm(value: Any, ns: dict[str, str]) -> Node | None:
        if _empty(value):
            return None
        text = str(value).strip()
        for candidate in (text, _expand(text, ns)):
            for prefix in prefixes:
                if candidate.startswith(prefix):
                    return _Leaf(candidate[len(prefix) :], value)
        return _Leaf(_expand(text, ns), value)

    return norm


def _bag(item: Norm) -> Norm:
    def norm(value: Any, ns: dict[str, str]) -> Node | None:
        if _empty(value):
            return None
        values = value if isinstance(value, list) else [value]
        nodes = [(i, item(v, ns)) for i, v in enumerate(values)]
        kept = [(i, n) for i, n in nodes if n is not None]
        return _Bag(kept) if kept else None

    return norm


def _one_or_bag(item: Norm) -> Norm:
    """A value that may be written as one item or an array of items."""

    def norm(value: Any, ns: dict[str, str]) -> Node | None:
        if isinstance(value, list):
            kept = [v for v in value if not _empty(v)]
            if len(kept) == 1:
                return item(kept[0], ns)
            return _bag(item)(value, ns)
        return item(value, ns)

    return norm


def _key(key: str, ns: Mapping[str, str]) -> str:
    """A member name by meaning: ``{namespace IRI}local`` for a namespaced one."""
    if key.startswith("{"):
        return key
    match = _CURIE.fullmatch(key)
    if match and match.group(1) in ns and not match.group(2).startswith("//"):
        return "{" + ns[match.group(1)] + "}" + match.group(2)
    if key.startswith(("http://", "https://", "urn:")):
        cut = max(key.rfind("/"), key.rfind("#"), key.rfind(":") if key[:4] == "urn:" else -1)
        return "{" + key[: cut + 1] + "}" + key[cut + 1 :]
    if ":" not in key and "@vocab" in ns and not key.startswith("@"):
        return "{" + ns["@vocab"] + "}" + key
    return key


def _extension(value: Any, ns: dict[str, str]) -> Node | None:
    """User extension content: untyped text, objects, and arrays as multisets."""
    if isinstance(value, list):
        flat: list[Any] = []
        stack = list(reversed(value))
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            else:
                flat.append(item)
        nodes = [(i, _extension(v, ns)) for i, v in enumerate(flat)]
        kept = [(i, n) for i, n in nodes if n is not None]
        if len(kept) == 1:
            return kept[0][1]
        return _Bag(kept) if kept else None
    if isinstance(value, dict):
        if "@value" in value or set(value) == {"@id"}:
            return _extension(value.get("@value", value.get("@id")), ns)
        return _object({}, value, ns, extensions=True)
    if _empty(value):
        return None
    if isinstance(value, bool):
        return _Leaf("true" if value else "false", value)
    number = _number_text(value)
    if number is not None:
        return _Leaf(number, value)
    text = str(value).strip()
    if text.startswith(("urn:epc:", "http://", "https://")):
        try:
            ident = canonical(text)
        except InvalidInput:
            return _Leaf(text, value)
        if ident.key != text:
            return _Leaf(ident.key, value)
    return _Leaf(text, value)


def _object(
    spec: Mapping[str, Norm], value: Any, ns: dict[str, str], *, extensions: bool = True
) -> Node | None:
    """An object whose standard members follow ``spec`` and the rest are extensions."""
    if _empty(value):
        return None
    if not isinstance(value, dict):
        return _literal(value, ns)
    if "@context" in value:
        ns = context_namespaces(value["@context"], inherited=ns)
    members: dict[str, tuple[str, Any]] = {}
    for key, item in value.items():
        if key == "@context":
            continue
        if key in spec:
            name, node = key, spec[key](item, ns)
        elif extensions:
            name, node = _key(key, ns), _extension(item, ns)
        else:
            continue
        if node is not None:
            members[name] = (key, node)
    return _Obj(members) if members else None


def _spec(spec: Mapping[str, Norm]) -> Norm:
    return lambda value, ns: _object(spec, value, ns)


_QUANTITY = _spec({"epcClass": _ident, "quantity": _number, "uom": _literal})
_PLACE = _spec({"id": _ident})
_METADATA = _spec(
    {"time": _time, "startTime": _time, "endTime": _time, "deviceID": _ident,
     "deviceMetadata": _ident, "rawData": _ident, "dataProcessingMethod": _ident,
     "bizRules": _ident}
)  # fmt: skip
_MEASUREMENT = _stripped(_GS1_VOC)
_REPORT = _spec(
    {"type": _MEASUREMENT, "exception": _MEASUREMENT, "component": _stripped(_COMPONENT),
     "deviceID": _ident, "deviceMetadata": _ident, "rawData": _ident,
     "dataProcessingMethod": _ident, "bizRules": _ident, "time": _time,
     "microorganism": _ident, "chemicalSubstance": _ident, "coordinateReferenceSystem": _ident,
     "uriValue": _ident, "value": _number, "minValue": _number, "maxValue": _number,
     "meanValue": _number, "sDev": _number, "percRank": _number, "percValue": _number,
     "stringValue": _literal, "booleanValue": _boolean, "hexBinaryValue": _hex,
     "uom": _literal}
)  # fmt: skip


def _sensor_element(value: Any, ns: dict[str, str]) -> Node | None:
    if isinstance(value, dict) and value.get("type") in _SENSOR_ELEMENT_TYPES:
        value = {k: v for k, v in value.items() if k != "type"}  # JSON-LD annotation
    return _object({"sensorMetadata": _METADATA, "sensorReport": _bag(_REPORT)}, value, ns)


def _typed(item: str, vocabulary: Vocabulary) -> Norm:
    return _spec({"type": _vocab(vocabulary), item: _ident})


_QUANTITIES = _bag(_QUANTITY)
_EPCS = _bag(_ident)
_EVENT: dict[str, Norm] = {
    "type": _literal, "eventTime": _time, "recordTime": _time, "eventTimeZoneOffset": _offset,
    "eventID": _literal, "certificationInfo": _one_or_bag(_ident), "action": _literal,
    "bizStep": _vocab("bizstep"), "disposition": _vocab("disp"), "parentID": _ident,
    "transformationID": _ident, "epcList": _EPCS, "childEPCs": _EPCS, "inputEPCList": _EPCS,
    "outputEPCList": _EPCS, "quantityList": _QUANTITIES, "childQuantityList": _QUANTITIES,
    "inputQuantityList": _QUANTITIES, "outputQuantityList": _QUANTITIES,
    "readPoint": _PLACE, "bizLocation": _PLACE,
    "bizTransactionList": _bag(_typed("bizTransaction", "btt")),
    "sourceList": _bag(_typed("source", "sdt")),
    "destinationList": _bag(_typed("destination", "sdt")),
    "sensorElementList": _bag(_sensor_element),
    "persistentDisposition": _spec({"set": _bag(_vocab("disp")), "unset": _bag(_vocab("disp"))}),
    "errorDeclaration": _spec({"declarationTime": _time, "reason": _vocab("er"),
                               "correctiveEventIDs": _bag(_literal)}),
    "ilmd": lambda value, ns: _object({}, value, ns),
}  # fmt: skip


def _event(value: Any, ns: dict[str, str]) -> Node | None:
    if isinstance(value, dict) and "eventTimeZoneOffset" not in value:
        time = _time(value.get("eventTime"), ns)
        if isinstance(time, _Leaf) and time.offset is not None:
            value = {**value, "eventTimeZoneOffset": time.offset}
    return _object(_EVENT, value, ns) or _Obj({})


_ATTRIBUTE = _spec({"id": _literal, "attribute": _extension})
_VOCABULARY = _spec(
    {"type": _literal,
     "vocabularyElementList": _bag(_spec({"id": _ident, "attributes": _bag(_ATTRIBUTE),
                                           "children": _bag(_ident)}))}
)  # fmt: skip
_VOCABULARIES = _bag(_VOCABULARY)
_HEADER = _spec({"epcisMasterData": _spec({"vocabularyList": _VOCABULARIES})})


# ------------------------------------------------------------------------- diffing


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _show(node: Node) -> str:
    if isinstance(node, _Leaf):
        return repr(node.shown)
    if isinstance(node, _Obj):
        inner = ", ".join(f"{key}: {_show(child)}" for key, child in node.members.values())
        return "{" + inner + "}"
    return "[" + ", ".join(_show(child) for _, child in node.items) + "]"


def _name(canon: str, key: str) -> str:
    return f"{key} ({canon})" if canon.startswith("{") and canon != key else key


def _leaf_message(a: _Leaf, b: _Leaf) -> str:
    message = f"{a.shown!r} in the first, {b.shown!r} in the second"
    if str(a.shown).strip() == str(b.shown).strip():  # same spelling, different meaning
        message += f" (read as {a.canon!r} and {b.canon!r})"
    return message


def _diff(a: Node, b: Node, pointer: str, out: list[str]) -> None:
    if isinstance(a, _Leaf) and isinstance(b, _Leaf):
        if a.canon != b.canon:
            out.append(f"{pointer}: {_leaf_message(a, b)}")
    elif isinstance(a, _Obj) and isinstance(b, _Obj):
        for name, (key, node) in a.members.items():
            if name in b.members:
                _diff(node, b.members[name][1], f"{pointer}/{_escape(key)}", out)
            else:
                out.append(f"{pointer}/{_escape(key)}: {_name(name, key)} is in the first only "
                           f"({_show(node)})")  # fmt: skip
        for name, (key, node) in b.members.items():
            if name not in a.members:
                out.append(f"{pointer}/{_escape(key)}: {_name(name, key)} is in the second "
                           f"only ({_show(node)})")  # fmt: skip
    elif isinstance(a, _Bag) and isinstance(b, _Bag):
        _diff_bags(a, b, pointer, out)
    elif isinstance(a, _Bag) or isinstance(b, _Bag):
        # one value on one side, several on the other: compare as multisets
        _diff_bags(a if isinstance(a, _Bag) else _Bag([(0, a)]),
                   b if isinstance(b, _Bag) else _Bag([(0, b)]), pointer, out)  # fmt: skip
    else:
        out.append(f"{pointer}: {_show(a)} in the first, {_show(b)} in the second")


def _diff_bags(a: _Bag, b: _Bag, pointer: str, out: list[str]) -> None:
    remaining = Counter(_freeze(node) for _, node in b.items)
    only_a = []
    for index, node in a.items:
        frozen = _freeze(node)
        if remaining[frozen]:
            remaining[frozen] -= 1
        else:
            only_a.append((index, node))
    only_b = []
    for index, node in b.items:
        frozen = _freeze(node)
        if remaining[frozen]:
            remaining[frozen] -= 1
            only_b.append((index, node))
    # Pair what is left by closeness, so that a changed item is reported field by field
    # rather than as one item missing and another extra.
    if only_a and only_b and len(only_a) * len(only_b) <= _PAIRING_LIMIT:
        costs = []
        for i, (_, node_a) in enumerate(only_a):
            for j, (_, node_b) in enumerate(only_b):
                if type(node_a) is type(node_b):
                    found: list[str] = []
                    _diff(node_a, node_b, "", found)
                    costs.append((len(found), i, j))
        used_a: set[int] = set()
        used_b: set[int] = set()
        for _cost, i, j in sorted(costs):
            if i not in used_a and j not in used_b:
                used_a.add(i)
                used_b.add(j)
                _diff(only_a[i][1], only_b[j][1], f"{pointer}/{only_a[i][0]}", out)
        only_a = [item for i, item in enumerate(only_a) if i not in used_a]
        only_b = [item for j, item in enumerate(only_b) if j not in used_b]
    for index, node in only_a:
        out.append(f"{pointer}/{index}: {_show(node)} is in the first only")
    for index, node in only_b:
        out.append(f"{pointer}/{index}: {_show(node)} is in the second only")


# ------------------------------------------------------------------------ documents


def _is_document(value: Mapping[str, Any]) -> bool:
    return "epcisBody" in value or value.get("type") in ("EPCISDocument", "EPCISQueryDocument")


def _events(document: Mapping[str, Any]) -> tuple[str, list[Any]]:
    body = document.get("epcisBody")
    body = body if isinstance(body, dict) else {}
    if "queryResults" in body:
        results = body.get("queryResults") or {}
        events = (results.get("resultsBody") or {}).get("eventList") or []
        return "/epcisBody/queryResults/resultsBody/eventList", list(events)
    return "/epcisBody/eventList", list(body.get("eventList") or [])


def _header(document: Mapping[str, Any], ns: dict[str, str]) -> Node:
    body: Any = document.get("epcisBody")
    body = body if isinstance(body, dict) else {}
    results: Any = body.get("queryResults")
    results = results if isinstance(results, dict) else {}
    results_body = results.get("resultsBody") or {}
    flat: dict[str, Any] = {
        k: v for k, v in document.items() if k not in ("@context", "epcisBody", "id", "@id", "type")
    }
    for key in ("queryName", "subscriptionID"):
        if key in results:
            flat[key] = results[key]
    if isinstance(results_body, dict) and "vocabularyList" in results_body:
        flat["resultsVocabularyList"] = results_body["vocabularyList"]
    spec: dict[str, Norm] = {
        "schemaVersion": _number, "creationDate": _time, "sender": _ident,
        "receiver": _ident, "instanceIdentifier": _literal, "epcisHeader": _HEADER,
        "queryName": _literal, "subscriptionID": _literal,
        "resultsVocabularyList": _VOCABULARIES,
    }  # fmt: skip
    return _object(spec, flat, ns) or _Obj({})


def differences(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    *,
    compare_header: bool = False,
    contexts: Mapping[str, Any] | None = None,
) -> list[str]:
    """Every semantic difference between two EPCIS documents, or two events, as sentences.

    Each sentence starts with the JSON pointer of the difference (the first document's
    spelling of keys, the second's for what only it has), for example
    ``/epcisBody/eventList/0/quantityList/0/quantity: 5 in the first, 6 in the second``.
    An empty list means the two are semantically equal (see the module docstring for what
    counts as equal).  ``compare_header`` also compares the document header and master data;
    ``contexts`` supplies remote ``@context`` documents by URL (nothing is fetched).
    """
    out: list[str] = []
    doc_a, doc_b = _is_document(a), _is_document(b)
    if doc_a != doc_b:
        what = "a document" if doc_a else "an event"
        return [f"/: the first is {what}, the second is not"]
    ns_a = context_namespaces(a.get("@context"), contexts=contexts, inherited=STANDARD_NAMESPACES)
    ns_b = context_namespaces(b.get("@context"), contexts=contexts, inherited=STANDARD_NAMESPACES)
    if not doc_a:
        _compare_events(a, b, "", ns_a, ns_b, out)
        return out
    if a.get("type") != b.get("type"):
        out.append(f"/type: {a.get('type')!r} in the first, {b.get('type')!r} in the second")
    if compare_header:
        _diff(_header(a, ns_a), _header(b, ns_b), "", out)
    base, events_a = _events(a)
    _, events_b = _events(b)
    if len(events_a) != len(events_b):
        out.append(f"{base}: {len(events_a)} events in the first, {len(events_b)} in the second")
    for i, (event_a, event_b) in enumerate(zip(events_a, events_b, strict=False)):
        _compare_events(event_a, event_b, f"{base}/{i}", ns_a, ns_b, out)
    return out


def _compare_events(
    a: Any, b: Any, pointer: str, ns_a: dict[str, str], ns_b: dict[str, str], out: list[str]
) -> None:
    if not isinstance(a, dict) or not isinstance(b, dict):
        if a != b:
            out.append(f"{pointer}: {a!r} in the first, {b!r} in the second")
        return
    if a.get("type") != b.get("type"):
        out.append(f"{pointer}/type: {a.get('type')!r} in the first, {b.get('type')!r} in the "
                   f"second")  # fmt: skip
        return
    node_a, node_b = _event(a, ns_a), _event(b, ns_b)
    assert node_a is not None and node_b is not None
    _diff(node_a, node_b, pointer, out)


def semantically_equal(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    *,
    compare_header: bool = False,
    contexts: Mapping[str, Any] | None = None,
) -> bool:
    """Whether :func:`differences` finds none."""
    return not differences(a, b, compare_header=compare_header, contexts=contexts)
