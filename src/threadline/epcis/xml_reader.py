"""EPCIS 2.0 / 1.2 XML documents -> the JSON-LD compact form that :mod:`json_reader` reads.

The XML tree is rewritten into exactly the dicts an EPCIS 2.0 JSON document holds (default
context), so :func:`~threadline.epcis.json_reader.parse_event` and the event hash work
unchanged on XML input.  In short:

* Events become ``{"type": "<EventType>", ...}``; EPCIS 1.2 ``extension`` / ``baseExtension``
  wrappers (around events in ``EventList`` and around fields in an event) are unwrapped.
* ``epc`` / ``quantityElement`` / ``bizTransaction`` / ``source`` / ``destination`` lists become
  arrays, ``type`` attributes ``"type"`` members; quantities and numeric sensor attributes
  become JSON numbers, ``booleanValue`` a boolean.  CBV values and timestamps stay as written.
* Elements and attributes in non-EPCIS namespaces (user extensions) become ``"prefix:local"``
  members, the XML prefix going into ``@context``; nested elements become objects, repeated
  siblings arrays, and text stays a string: XML text has no JSON type, and the OpenEPCIS JSON
  twins also keep ``<ext1:int>10</ext1:int>`` as ``"10"`` and drop ``xsi:type`` hints.
* Element order is not checked: it carries no meaning in EPCIS or in the JSON binding, and the
  published event-hash vectors themselves put fields out of XSD order.

Faults raise :class:`~threadline.errors.DocumentError` with the source, the event index and
the XML line (``pointer="line N"``; faults that :func:`parse_event` finds in a converted event
keep their JSON pointer and get ``(XML line N)`` added to the message).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from threadline.epcis.json_reader import EPCISDocument, iter_json_document
from threadline.errors import DocumentError
from threadline.model.events import AnyEvent

__all__ = ["EPCIS_CONTEXT_URL", "is_xml", "iter_xml_document", "xml_document_to_json"]

EPCIS_CONTEXT_URL = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"

_DOC_NS = frozenset({"urn:epcglobal:epcis:xsd:1", "urn:epcglobal:epcis:xsd:2"})
_QUERY_NS = frozenset({"urn:epcglobal:epcis-query:xsd:1", "urn:epcglobal:epcis-query:xsd:2"})
_MD_NS = frozenset({"urn:epcglobal:epcis-masterdata:xsd:1", "urn:epcglobal:epcis-masterdata:xsd:2"})
_EPCIS_NS = _DOC_NS | _QUERY_NS | _MD_NS
_SBDH = "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"
# XML machinery, not data: xsi:type / xsi:nil hints and xml:lang / xml:space.
_INFRA_NS = frozenset(
    {"http://www.w3.org/2001/XMLSchema-instance", "http://www.w3.org/XML/1998/namespace"}
)
_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
_RDF_VALUE = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}value"

# Prefixes the (@protected) standard EPCIS context defines: an XML document that binds one of
# them to another namespace (often cbvmda="urn:epcglobal:cbv:mda", no trailing colon) gets a
# fresh prefix instead, so the output stays valid JSON-LD and keeps the XML namespace exactly
# (the event-hash vectors hash such elements as {urn:epcglobal:cbv:mda}local).
_STANDARD_PREFIXES = {
    "epcis": "https://ref.gs1.org/epcis/", "cbv": "https://ref.gs1.org/cbv/",
    "cbvmda": "urn:epcglobal:cbv:mda:", "gs1": "https://gs1.org/voc/",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#", "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#", "dcterms": "http://purl.org/dc/terms/",
}  # fmt: skip
# Prefixes that would read as IRI schemes or blank nodes in JSON-LD.
_UNUSABLE_PREFIXES = frozenset({"_", "http", "https", "urn"})

_EVENT_TYPES = frozenset(
    {"ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent",
     "AssociationEvent"}
)  # fmt: skip
_COMMON = frozenset(
    {"eventTime", "recordTime", "eventTimeZoneOffset", "eventID", "errorDeclaration",
     "certificationInfo", "bizStep", "disposition", "readPoint", "bizLocation",
     "bizTransactionList", "sourceList", "destinationList", "sensorElementList",
     "persistentDisposition", "ilmd"}
)  # fmt: skip
_PARENT_CHILD = _COMMON | {"parentID", "childEPCs", "childQuantityList", "action"}
_ALLOWED = {
    "ObjectEvent": _COMMON | {"epcList", "quantityList", "action"},
    "AggregationEvent": _PARENT_CHILD,
    "AssociationEvent": _PARENT_CHILD,
    "TransactionEvent": _COMMON | {"parentID", "epcList", "quantityList", "action"},
    "TransformationEvent": _COMMON
    | {"inputEPCList", "inputQuantityList", "outputEPCList", "outputQuantityList",
       "transformationID"},
}  # fmt: skip
_WRAPPERS = frozenset({"extension", "baseExtension"})
_QUANTITY_PARTS = frozenset({"epcClass", "quantity", "uom"})
_SENSOR_NUMBERS = frozenset({"value", "minValue", "maxValue", "meanValue", "sDev", "percRank",
                             "percValue"})  # fmt: skip
_NUMBER = re.compile(r"[+-]?(?:\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)
_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}  # xsd:boolean


class _Fault(Exception):
    """A conversion fault at an XML element; the caller adds source and event index."""

    def __init__(self, element: Any, reason: str) -> None:
        super().__init__(reason)
        self.line: int | None = getattr(element, "sourceline", None)
        self.reason = reason
        self.index: int | None = None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _namespace(tag: str) -> str:
    return tag[1 : tag.index("}")] if tag[:1] == "{" else ""


def _text(element: Any) -> str:
    """The text of a simple element, whitespace-trimmed; element content is a fault."""
    text = element.text
    value = text.strip() if text else ""
    if not value and len(element):  # checked only when there is no text: the hot path
        raise _Fault(element, f"<{_local(element.tag)}> must hold text, not elements")
    return value


def _number(text: str, element: Any, what: str) -> int | float:
    """A decimal / double as a JSON number (int when written as an integer)."""
    value = text.strip()
    if value.isdigit() and value.isascii():  # the common case, without the regex
        return int(value)
    if _NUMBER.fullmatch(value) is None:  # float() alone would take "nan", "1_0", "١٢"
        raise _Fault(element, f"{what} {text!r} is not a number")
    if _INTEGER.fullmatch(value):
        return int(value)
    number = float(value)
    if math.isinf(number):
        raise _Fault(element, f"{what} {text!r} is out of range")
    return number


def _boolean(text: str, element: Any) -> bool:
    value = _BOOLEANS.get(text.strip())
    if value is None:
        raise _Fault(element, f"booleanValue {text!r} is not true/false/1/0")
    return value


def _add(target: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key``; a repeated key turns into an array (repeated sibling elements)."""
    if key not in target:
        target[key] = value
    elif isinstance(previous := target[key], list):
        previous.append(value)
    else:
        target[key] = [previous, value]


def _attribute_prefix(element: Any, namespace: str) -> str | None:
    return next((str(p) for p, uri in element.nsmap.items() if uri == namespace and p), None)


class _Converter:
    """One document's conversion: the prefix table and the element walkers."""

    def __init__(self, avoid: frozenset[str] = frozenset()) -> None:
        self.avoid = avoid | _UNUSABLE_PREFIXES  # prefixes never used for keys
        self.declared: set[str] = set()  # XML prefixes that named extension keys
        self.prefixes: dict[str, str] = {}  # output prefix -> namespace IRI
        self._keys: dict[tuple[str, str | None], str] = {}  # (Clark name, XML prefix) -> key
        self._by_namespace: dict[str, str] = {}  # namespace -> first output prefix

    # ------------------------------------------------------------------ extension names

    def key(self, tag: str, prefix: str | None) -> str:
        """``prefix:local`` for a namespaced name, registering the prefix in the context."""
        found = self._keys.get((tag, prefix))
        if found is None:
            namespace, _, local = tag[1:].partition("}")
            found = f"{self._prefix(namespace, prefix)}:{local}"
            self._keys[(tag, prefix)] = found
        return found

    def _prefix(self, namespace: str, wanted: str | None) -> str:
        if wanted is None:  # default namespace: reuse a declared prefix, else make one
            wanted = self._by_namespace.get(namespace, "ns")
        else:
            self.declared.add(wanted)
        base = "ns" if wanted in _UNUSABLE_PREFIXES else wanted
        candidate, n = base, 1
        while True:
            bound = self.prefixes.get(candidate, _STANDARD_PREFIXES.get(candidate))
            if (bound is None or bound == namespace) and candidate not in self.avoid:
                self.prefixes[candidate] = namespace
                self._by_namespace.setdefault(namespace, candidate)
                return candidate
            n += 1
            candidate = f"{base}_{n}"

    def ext_attributes(self, element: Any, out: dict[str, Any], *, bare: bool) -> None:
        """Namespaced attributes (and, with ``bare``, unqualified ones) as members of ``out``."""
        for name, value in element.attrib.items():
            if name[0] == "{":
                namespace = _namespace(name)
                if namespace in _INFRA_NS:
                    continue
                out[self.key(name, _attribute_prefix(element, namespace))] = value
            elif bare:
                out[name] = value

    def value(self, element: Any, *, attributes: bool = True) -> Any:
        """Extension content: text as a string, element content as an object.

        Unqualified children (allowed inside ``extension`` wrappers and master-data attributes)
        keep their bare local name.  An element with attributes and text keeps the text as
        ``rdf:value``, the RDF property for the main value of a structured value.
        """
        has_children = len(element) > 0
        if not has_children and not (attributes and element.keys()):
            text = element.text
            return text.strip() if text else ""
        obj: dict[str, Any] = {}
        if attributes:
            self.ext_attributes(element, obj, bare=True)
        for child in element:
            tag = child.tag
            _add(obj, self.key(tag, child.prefix) if tag[0] == "{" else tag, self.value(child))
        if not has_children:
            text = (element.text or "").strip()
            if not obj:
                return text
            if text:
                obj[self.key(_RDF_VALUE, "rdf")] = text
        return obj

    def extension_child(self, child: Any, out: dict[str, Any], wrapped: bool, where: str) -> None:
        """A child that is not a standard field: user extension, wrapper or fault."""
        tag = child.tag
        if tag[0] == "{":
            if _namespace(tag) in _EPCIS_NS:
                raise _Fault(child, f"<{_local(tag)}> must not be namespace-qualified here")
            _add(out, self.key(tag, child.prefix), self.value(child))
        elif tag == "extension":
            for grandchild in child:
                self.extension_child(grandchild, out, True, where)
        elif wrapped:  # xsd:any ##local inside an extension wrapper
            _add(out, tag, self.value(child))
        else:
            hint = next((k for k in _ALL_FIELDS if k.lower() == tag.lower()), None)
            also = f" (did you mean <{hint}>?)" if hint else ""
            raise _Fault(child, f"unknown element <{tag}> in {where}{also}")

    # ---------------------------------------------------------------------- events

    def event(self, element: Any, kind: str) -> dict[str, Any]:
        """One event element -> its JSON-LD compact dict."""
        out: dict[str, Any] = {"type": kind}
        if element.keys():
            self.ext_attributes(element, out, bare=False)
        self._fields(element, out, _ALLOWED[kind], kind, wrapped=False)
        return out

    def _fields(
        self, element: Any, out: dict[str, Any], allowed: frozenset[str], kind: str,
        *, wrapped: bool,
    ) -> None:  # fmt: skip
        # The hot loop of the reader: text fields and EPC lists are handled inline.
        for child in element:
            tag = child.tag
            if tag in _STANDARD_FIELDS:
                if tag not in allowed:
                    raise _Fault(child, f"<{tag}> is not a field of {kind}")
                if tag in out:
                    raise _Fault(child, f"<{tag}> appears more than once in the {kind}")
                if tag in _TEXT_FIELDS:
                    text = child.text
                    value = text.strip() if text else ""
                    out[tag] = value if value or not len(child) else _text(child)
                elif tag in _EPC_LISTS:
                    epcs = []
                    for epc in child:
                        if epc.tag != "epc":
                            raise _Fault(epc, f"<{tag}> may only hold <epc>, got <{epc.tag}>")
                        text = epc.text
                        epcs.append(text.strip() if text else "")
                    out[tag] = epcs
                else:
                    out[tag] = _HANDLERS[tag](self, child)
            elif tag in _WRAPPERS:
                self._fields(child, out, allowed, kind, wrapped=True)
            else:
                self.extension_child(child, out, wrapped, kind)

    def place(self, element: Any) -> dict[str, Any]:
        """readPoint / bizLocation -> ``{"id": ...}``."""
        out: dict[str, Any] = {}
        if element.keys():
            self.ext_attributes(element, out, bare=False)
        for child in element:
            if child.tag != "id":
                self.extension_child(child, out, False, element.tag)
            elif "id" in out:
                raise _Fault(child, f"<id> appears more than once in <{element.tag}>")
            else:
                out["id"] = _text(child)
        if "id" not in out:
            raise _Fault(element, f"<{element.tag}> has no <id>")
        return out

    def typed_list(self, element: Any) -> list[dict[str, Any]]:
        """bizTransactionList / sourceList / destinationList -> ``[{"type", <item>}]``."""
        item = _LIST_ITEMS[element.tag]
        out = []
        for child in element:
            if child.tag != item:
                raise _Fault(child, f"<{element.tag}> may only hold <{item}>, got {child.tag}")
            entry: dict[str, Any] = {}
            names = child.keys()
            kind = child.get("type") if names else None
            if kind is not None:
                entry["type"] = kind.strip()
            entry[item] = _text(child)
            if len(names) > (kind is not None):
                self.ext_attributes(child, entry, bare=False)
            out.append(entry)
        return out

    def quantities(self, element: Any) -> list[dict[str, Any]]:
        """A quantity list -> ``[{"epcClass", "quantity", "uom"}]`` with numeric quantities."""
        out = []
        for child in element:
            if child.tag != "quantityElement":
                raise _Fault(child, f"<{element.tag}> may only hold <quantityElement>")
            entry: dict[str, Any] = {}
            for part in child:
                tag = part.tag
                if tag not in _QUANTITY_PARTS:
                    raise _Fault(part, f"unknown element <{tag}> in <quantityElement>")
                if tag in entry:
                    raise _Fault(part, f"<{tag}> appears twice in <quantityElement>")
                if tag != "quantity":
                    entry[tag] = _text(part)
                elif (text := _text(part)) or part.get(_XSI_NIL) not in ("true", "1"):
                    entry[tag] = _number(text, part, "quantity")  # xsi:nil: no quantity
            out.append(entry)
        return out

    def sensor_elements(self, element: Any) -> list[dict[str, Any]]:
        """sensorElementList -> sensor element objects (attributes become members)."""
        out = []
        for child in element:
            if child.tag == "extension":
                continue  # SensorElementListExtension: nothing EPCIS 2.0 defines
            if child.tag != "sensorElement":
                raise _Fault(child, "<sensorElementList> may only hold <sensorElement>")
            entry: dict[str, Any] = {}
            reports: list[dict[str, Any]] = []
            for part in child:
                tag = part.tag
                if tag == "sensorMetadata":
                    if tag in entry:
                        raise _Fault(part, "<sensorMetadata> appears twice in <sensorElement>")
                    entry[tag] = self._sensor_attributes(part)
                elif tag == "sensorReport":
                    reports.append(self._sensor_attributes(part))
                else:
                    self.extension_child(part, entry, False, "sensorElement")
            if reports:
                entry["sensorReport"] = reports
            out.append(entry)
        return out

    def _sensor_attributes(self, element: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, raw in element.attrib.items():
            if name[0] == "{":
                namespace = _namespace(name)
                if namespace not in _INFRA_NS:
                    out[self.key(name, _attribute_prefix(element, namespace))] = raw
            elif name in _SENSOR_NUMBERS:
                out[name] = _number(raw, element, name)
            elif name == "booleanValue":
                out[name] = _boolean(raw, element)
            else:
                out[name] = raw.strip()
        for child in element:  # xsd:string content only; tolerate extension children
            self.extension_child(child, out, False, _local(element.tag))
        return out

    def persistent_disposition(self, element: Any) -> dict[str, Any]:
        """persistentDisposition -> ``{"set": [...], "unset": [...]}``."""
        out: dict[str, Any] = {}
        for child in element:
            if child.tag in ("set", "unset"):
                out.setdefault(child.tag, []).append(_text(child))
            else:
                self.extension_child(child, out, False, "persistentDisposition")
        return out

    def error_declaration(self, element: Any) -> dict[str, Any]:
        """errorDeclaration -> ``{"declarationTime", "reason", "correctiveEventIDs"}``."""
        out: dict[str, Any] = {}
        for child in element:
            tag = child.tag
            if tag not in ("declarationTime", "reason", "correctiveEventIDs"):
                self.extension_child(child, out, False, "errorDeclaration")
            elif tag in out:
                raise _Fault(child, f"<{tag}> appears more than once in <errorDeclaration>")
            elif tag != "correctiveEventIDs":
                out[tag] = _text(child)
            else:
                if any(c.tag != "correctiveEventID" for c in child):
                    raise _Fault(child, "<correctiveEventIDs> may only hold <correctiveEventID>")
                out[tag] = [_text(c) for c in child]
        return out

    def ilmd(self, element: Any) -> dict[str, Any]:
        """ilmd -> an object of its extension elements."""
        out: dict[str, Any] = {}
        for child in element:
            self.extension_child(child, out, False, "ilmd")
        return out

    # -------------------------------------------------------------------- documents

    def vocabularies(self, element: Any) -> list[dict[str, Any]]:
        """VocabularyList -> the JSON ``vocabularyList`` (EPCIS JSON schema shape)."""
        out = []
        for vocabulary in element:
            if vocabulary.tag != "Vocabulary":
                raise _Fault(vocabulary, "<VocabularyList> may only hold <Vocabulary>")
            entry: dict[str, Any] = {"type": (vocabulary.get("type") or "").strip()}
            entry["vocabularyElementList"] = []
            for part in vocabulary:
                if part.tag == "VocabularyElementList":
                    entry["vocabularyElementList"] += [self._vocabulary_element(v) for v in part]
                elif part.tag != "extension":
                    self.extension_child(part, entry, False, "Vocabulary")
            out.append(entry)
        return out

    def _vocabulary_element(self, element: Any) -> dict[str, Any]:
        if element.tag != "VocabularyElement":
            raise _Fault(element, "<VocabularyElementList> may only hold <VocabularyElement>")
        entry: dict[str, Any] = {"id": (element.get("id") or "").strip()}
        attributes: list[dict[str, Any]] = []
        for part in element:
            if part.tag == "attribute":
                attribute: dict[str, Any] = {"id": (part.get("id") or "").strip()}
                value = self.value(part, attributes=False)  # its own attribute is "id"
                if value != "":
                    attribute["attribute"] = value
                attributes.append(attribute)
            elif part.tag == "children":
                entry["children"] = [_text(c) for c in part if c.tag == "id"]
            elif part.tag != "extension":
                self.extension_child(part, entry, False, "VocabularyElement")
        if attributes:
            entry["attributes"] = attributes
        return entry


_TEXT_FIELDS = frozenset(
    {"eventTime", "recordTime", "eventTimeZoneOffset", "eventID", "certificationInfo", "action",
     "bizStep", "disposition", "parentID", "transformationID"}
)  # fmt: skip
_EPC_LISTS = frozenset({"epcList", "childEPCs", "inputEPCList", "outputEPCList"})
_HANDLERS: dict[str, Callable[[_Converter, Any], Any]] = {
    **dict.fromkeys(
        ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"),
        _Converter.quantities,
    ),
    **dict.fromkeys(("readPoint", "bizLocation"), _Converter.place),
    **dict.fromkeys(("bizTransactionList", "sourceList", "destinationList"),
                    _Converter.typed_list),
    "sensorElementList": _Converter.sensor_elements,
    "persistentDisposition": _Converter.persistent_disposition,
    "errorDeclaration": _Converter.error_declaration,
    "ilmd": _Converter.ilmd,
}  # fmt: skip
_STANDARD_FIELDS = _TEXT_FIELDS | _EPC_LISTS | _HANDLERS.keys()
_ALL_FIELDS = (*_STANDARD_FIELDS, "sensorMetadata", "sensorReport", "extension", "baseExtension")
_LIST_ITEMS = {"bizTransactionList": "bizTransaction", "sourceList": "source",
               "destinationList": "destination"}  # fmt: skip


def _parser_options() -> dict[str, bool]:
    """The secure settings of every EPCIS XML parser: no entities, no network, no DTD."""
    return dict(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=True, remove_pis=True,
    )  # fmt: skip


def _parser() -> Any:
    # A fresh parser per document: lxml parsers must not be shared between threads.
    return etree.XMLParser(**_parser_options())


def _parse(data: bytes, source: str | None) -> Any:
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        where = f"line {exc.lineno}" if exc.lineno else None
        message = f"not well-formed XML: {(exc.msg or str(exc)).strip()}"
        raise DocumentError(message, source=source, pointer=where) from None
    except (etree.LxmlError, ValueError) as exc:
        raise DocumentError(f"cannot read the XML: {exc}", source=source) from None
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise DocumentError("entity declarations are not accepted in EPCIS", source=source)
    return root


class _Tree:
    """How the conversion reaches the elements and hands over the events.

    Here the tree is parsed whole and the events are collected; the streaming reader
    (:mod:`threadline.epcis.xml_stream`) parses as the conversion asks for elements, drops
    each element once converted, and spills the events, so that the same walk runs in
    bounded memory.
    """

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.lines: list[int] = []
        self.count = 0

    def children(self, element: Any) -> Iterable[Any]:
        """The child elements of ``element`` in order (each possibly not yet complete)."""
        return element  # type: ignore[no-any-return]

    def complete(self, element: Any) -> Any:
        """``element`` once it is completely parsed."""
        return element

    def event(self, event: dict[str, Any], line: int) -> None:
        """Take the next converted event and the XML line it starts on."""
        self.events.append(event)
        self.lines.append(line)
        self.count += 1


def _event_list(converter: _Converter, element: Any, tree: _Tree) -> None:
    for child in tree.children(element):
        tag = child.tag
        if tag[0] == "{" and _namespace(tag) in _DOC_NS and _local(tag) in _EVENT_TYPES:
            # Some writers qualify the whole event with the EPCIS namespace, which the XSD
            # does not allow (elementFormDefault="unqualified"); the meaning is unambiguous.
            for part in tree.complete(child).iter():
                if _namespace(part.tag) in _DOC_NS:
                    part.tag = _local(part.tag)
            tag = child.tag
        if tag in _EVENT_TYPES:
            try:
                event = converter.event(tree.complete(child), tag)
            except _Fault as fault:
                fault.index = tree.count
                raise
            tree.event(event, child.sourceline or 0)
        elif tag == "extension":
            _event_list(converter, child, tree)
        elif tag == "QuantityEvent":
            raise _Fault(
                child,
                "QuantityEvent was removed in EPCIS 2.0; send an ObjectEvent with a quantityList",
            )
        else:
            raise _Fault(child, f"unknown event type <{_local(tag)}> in <EventList>")


def _header(converter: _Converter, element: Any, document: dict[str, Any]) -> dict[str, Any]:
    header: dict[str, Any] = {}
    for child in element:
        tag = child.tag
        if tag == f"{{{_SBDH}}}StandardBusinessDocumentHeader":
            _sbdh(child, document)
        elif tag == "extension":
            for part in child:
                if part.tag != "EPCISMasterData":
                    converter.extension_child(part, header, True, "EPCISHeader")
                    continue
                lists = [converter.vocabularies(v) for v in part if v.tag == "VocabularyList"]
                header["epcisMasterData"] = {"vocabularyList": [v for vs in lists for v in vs]}
        else:
            converter.extension_child(child, header, False, "EPCISHeader")
    return header


def _sbdh(element: Any, document: dict[str, Any]) -> None:
    """The pseudo-SBDH members the JSON binding uses: sender, receiver, instanceIdentifier."""
    wanted = {("Sender", "Identifier"): "sender", ("Receiver", "Identifier"): "receiver",
              ("DocumentIdentification", "InstanceIdentifier"): "instanceIdentifier"}  # fmt: skip
    for child in element:
        for part in child:
            name = wanted.get((_local(child.tag), _local(part.tag)))
            if name and part.text:
                document.setdefault(name, part.text.strip())


def _body(converter: _Converter, element: Any, query: bool, tree: _Tree) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for child in tree.children(element):
        tag = child.tag
        if not query and tag == "EventList":
            body["eventList"] = tree.events
            _event_list(converter, child, tree)
        elif query and _local(tag) == "QueryResults" and _namespace(tag) in ("", *_QUERY_NS):
            body["queryResults"] = _query_results(converter, child, tree)
        elif tag[0] == "{" and _namespace(tag) not in _EPCIS_NS:
            _add(body, converter.key(tag, child.prefix), converter.value(tree.complete(child)))
        elif tag != "extension":
            what = "an EPCISQueryDocument" if query else "an EPCISDocument"
            hint = " (only query results carry events)" if query else ""
            raise _Fault(child, f"unexpected <{_local(tag)}> in the EPCISBody of {what}{hint}")
    if query and "queryResults" not in body:
        raise _Fault(element, "the EPCISBody of an EPCISQueryDocument holds no <QueryResults>")
    if not query:
        body.setdefault("eventList", tree.events)
    return body


def _query_results(converter: _Converter, element: Any, tree: _Tree) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for child in tree.children(element):
        tag = child.tag
        if tag in ("queryName", "subscriptionID"):
            results[tag] = _text(tree.complete(child))
        elif tag == "resultsBody":
            results_body: dict[str, Any] = {"eventList": tree.events}
            for part in tree.children(child):
                if part.tag == "EventList":
                    _event_list(converter, part, tree)
                elif part.tag == "VocabularyList":
                    results_body["vocabularyList"] = converter.vocabularies(tree.complete(part))
                else:
                    converter.extension_child(
                        tree.complete(part), results_body, False, "resultsBody"
                    )
            results["resultsBody"] = results_body
        elif tag != "extension":
            converter.extension_child(tree.complete(child), results, False, "QueryResults")
    if "resultsBody" not in results:
        raise _Fault(element, "<QueryResults> has no <resultsBody>")
    return results


def _root_kind(root: Any, source: str | None) -> str:
    local, namespace = _local(root.tag), _namespace(root.tag)
    if local == "EPCISDocument" and namespace in _DOC_NS:
        return "EPCISDocument"
    if local == "EPCISQueryDocument" and namespace in _QUERY_NS:
        return "EPCISQueryDocument"
    hint = {"EPCISMasterDataDocument": " (a master data document carries no events)"}.get(
        local, " (a bare event: wrap it in an EPCISDocument)" if local in _EVENT_TYPES else ""
    )
    raise DocumentError(
        f"the root element must be EPCISDocument or EPCISQueryDocument in an EPCIS "
        f"namespace, got {local!r}" + (f" in {namespace!r}" if namespace else "") + hint,
        source=source,
        pointer=f"line {root.sourceline}",
    )


def _build(
    root: Any, kind: str, converter: _Converter, source: str | None, tree: _Tree
) -> dict[str, Any]:
    document: dict[str, Any] = {"@context": [EPCIS_CONTEXT_URL], "type": kind}
    for name in ("schemaVersion", "creationDate"):
        value = root.get(name)
        if value is not None:
            document[name] = value.strip()
    header: dict[str, Any] = {}
    body: dict[str, Any] | None = None
    try:
        for child in tree.children(root):
            tag = child.tag
            if tag == "EPCISHeader":
                header = _header(converter, tree.complete(child), document)
            elif tag == "EPCISBody":
                body = _body(converter, child, kind == "EPCISQueryDocument", tree)
            elif tag != "extension":
                converter.extension_child(tree.complete(child), document, False, kind)
        if body is None:
            raise _Fault(root, f"the {kind} has no <EPCISBody>")
    except _Fault as fault:
        raise DocumentError(
            fault.reason,
            source=source,
            index=fault.index,
            pointer=f"line {fault.line}" if fault.line else None,
        ) from None
    if header:
        document["epcisHeader"] = header
    document["epcisBody"] = body
    if converter.prefixes:
        document["@context"].append(dict(converter.prefixes))
    return document


def _value_prefixes(data: bytes, prefixes: set[str]) -> frozenset[str]:
    """Those of ``prefixes`` that also begin a value (``type="example:x"``, ``>example:x<``).

    In XML such a value is an opaque URI (the reference hash generator keeps it as written);
    with the prefix in ``@context``, JSON-LD and the hash would expand it.  So keys get a fresh
    prefix instead."""
    clashes = set()
    for prefix in prefixes:
        raw = prefix.encode()
        if any(p + raw + b":" in data for p in (b'="', b"='", b">")):
            clashes.add(prefix)
    return frozenset(clashes)


def _convert(data: bytes, source: str | None) -> tuple[dict[str, Any], list[int]]:
    """The JSON-shaped document and the XML line of each event."""
    root = _parse(data, source)
    kind = _root_kind(root, source)
    converter, tree = _Converter(), _Tree()
    document = _build(root, kind, converter, source, tree)
    clashes = _value_prefixes(data, converter.declared)
    if clashes:  # rare: convert again with those prefixes kept out of the keys
        tree = _Tree()
        document = _build(root, kind, _Converter(clashes), source, tree)
    return document, tree.lines


def xml_document_to_json(data: bytes, *, source: str | None = None) -> dict[str, Any]:
    """Convert an EPCIS 2.0 or 1.2 XML EPCISDocument / EPCISQueryDocument to its JSON-LD form.

    The result has the shape of a JSON EPCISDocument (``epcisBody.eventList``) or
    EPCISQueryDocument (``epcisBody.queryResults.resultsBody.eventList``), with the standard
    context URL and one object of ``{prefix: namespace}`` for the extension namespaces used in
    ``@context``; master data from the header sits in ``epcisHeader.epcisMasterData``.
    Malformed XML, a wrong root element or an event that cannot be mapped raise
    :class:`DocumentError` naming ``source``, the event index and the XML line.
    """
    return _convert(data, source)[0]


def iter_xml_document(
    data: bytes, *, source: str | None = None
) -> tuple[EPCISDocument, int, Iterator[AnyEvent]]:
    """Open an XML document and parse its events lazily, like :func:`iter_json_document`.

    Returns the document (``events`` still empty), the number of events and their iterator.
    A conversion fault raises :class:`DocumentError` at once; a fault in a converted event
    raises when the iterator reaches it, with the XML line of that event in the message.
    """
    document, lines = _convert(data, source)
    parsed, count, events = iter_json_document(document, source=source)

    def generate() -> Iterator[AnyEvent]:
        try:
            yield from events
        except DocumentError as exc:
            index, reason = exc.index, exc.reason
            if index is not None and 0 <= index < len(lines):
                reason = f"{reason} (XML line {lines[index]})"
            raise DocumentError(
                reason, source=exc.source, index=index, pointer=exc.pointer
            ) from None

    return parsed, count, generate()


def is_xml(data: bytes) -> bool:
    """Whether ``data`` looks like XML: optional BOM and whitespace, then ``<``."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with BOM
        head = data[:256]
        text = head[: len(head) // 2 * 2].decode("utf-16", errors="replace")
        return text.lstrip("\ufeff \t\r\n").startswith("<")
    i = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    end = len(data)
    while i < end and data[i] in b" \t\r\n":
        i += 1
    return data[i : i + 1] == b"<"
