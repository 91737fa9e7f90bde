"""EPCIS 2.0 JSON-LD documents (dicts) -> EPCIS 2.0 XML, in the element order of the 2.0 XSD.

The inverse of :func:`~threadline.epcis.xml_reader.xml_document_to_json`: reading the output
back gives a document that :func:`~threadline.epcis.compare.semantically_equal` finds equal to
the input.  The mapping, in short:

* Standard fields become unqualified elements in the order of each event type's XSD sequence;
  CBV words become the CBV URNs the XML binding uses (``shipping`` ->
  ``urn:epcglobal:cbv:bizstep:shipping``), measurement types ``gs1:<Type>`` and sensor
  components ``cbv:Comp-<word>`` as in GS1's XML examples; compact IRIs of identifier and
  vocabulary values whose prefix ``@context`` defines are expanded (in XML a value is an
  opaque URI, JSON-LD expands them).
* ``prefix:name`` members (the prefix from ``@context``, at any level, standard prefixes
  included) become elements in that namespace; objects nest, arrays repeat the element, and an
  object with ``rdf:value`` and otherwise scalar members becomes attributes plus text.  Members
  without a namespace go into the ``<extension>`` element where the XSD has one for unqualified
  content (readPoint, bizLocation, ilmd, errorDeclaration, sensorElement, master data); at event
  level EPCIS 2.0 XML has no place for them, so they are refused.
* ``sensorMetadata`` / ``sensorReport`` members become attributes; ``sender``, ``receiver``
  and ``instanceIdentifier`` an SBDH; ``epcisHeader.epcisMasterData`` the header's
  ``EPCISMasterData``.  JSON-LD node annotations (document ``id``, sensor element ``type``)
  have no XML counterpart and are left out.

A document the XML binding cannot carry (a quantity element with extra members, two
certificationInfo values, an unknown prefix, ...) raises :class:`DocumentError` naming the
event index and the JSON pointer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from threadline.epcis.cbv import Vocabulary, cbv_word
from threadline.epcis.jsonld_writer import (
    STANDARD_NAMESPACES,
    context_namespaces,
    unknown_context_urls,
)
from threadline.errors import DocumentError

__all__ = ["document_to_xml"]

EPCIS_NS = "urn:epcglobal:epcis:xsd:2"
QUERY_NS = "urn:epcglobal:epcis-query:xsd:2"
SBDH_NS = "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_RESERVED_PREFIXES = frozenset({"epcis", "epcisq", "sbdh", "xsi", "xml", "xmlns"})
_NCNAME = re.compile(r"[^\W\d][\w.\-]*")
_CURIE = re.compile(r"([A-Za-z_][\w.-]*):(.*)", re.DOTALL)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DATE_TIME_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", re.ASCII)
_TIMES = frozenset({"eventTime", "recordTime", "declarationTime", "time", "startTime", "endTime"})

_BASE = ("eventTime", "recordTime", "eventTimeZoneOffset", "eventID", "errorDeclaration",
         "certificationInfo")  # fmt: skip
_TAIL = ("sourceList", "destinationList", "sensorElementList", "persistentDisposition")
_WHERE = ("action", "bizStep", "disposition", "readPoint", "bizLocation")
# The XSD sequence of each event type, after the base fields.
_ORDER: dict[str, tuple[str, ...]] = {
    "ObjectEvent": ("epcList", *_WHERE, "bizTransactionList", "quantityList", *_TAIL, "ilmd"),
    "AggregationEvent": ("parentID", "childEPCs", *_WHERE, "bizTransactionList",
                         "childQuantityList", *_TAIL),
    "TransactionEvent": ("bizTransactionList", "parentID", "epcList", *_WHERE, "quantityList",
                         *_TAIL),
    "TransformationEvent": ("inputEPCList", "inputQuantityList", "outputEPCList",
                            "outputQuantityList", "transformationID", *_WHERE[1:],
                            "bizTransactionList", *_TAIL, "ilmd"),
    "AssociationEvent": ("parentID", "childEPCs", "childQuantityList", *_WHERE,
                         "bizTransactionList", *_TAIL),
}  # fmt: skip
_STANDARD_FIELDS = frozenset(_BASE).union(*_ORDER.values())
_EPC_LISTS = frozenset({"epcList", "childEPCs", "inputEPCList", "outputEPCList"})
_QUANTITY_LISTS = frozenset(
    {"quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"}
)
_TEXT = frozenset({"eventTime", "recordTime", "eventTimeZoneOffset", "eventID", "action"})
_IDENTIFIERS = frozenset({"parentID", "transformationID"})
_VOCAB: dict[str, Vocabulary] = {"bizStep": "bizstep", "disposition": "disp"}
_TYPED_LISTS: dict[str, tuple[str, Vocabulary]] = {
    "bizTransactionList": ("bizTransaction", "btt"),
    "sourceList": ("source", "sdt"),
    "destinationList": ("destination", "sdt"),
}
_URN_VOCAB = {"bizstep": "bizstep", "disp": "disp", "btt": "btt", "sdt": "sdt", "er": "er"}
_SENSOR_METADATA = ("time", "startTime", "endTime", "deviceID", "deviceMetadata", "rawData",
                    "dataProcessingMethod", "bizRules")  # fmt: skip
_SENSOR_REPORT = ("type", "exception", "deviceID", "deviceMetadata", "rawData",
                  "dataProcessingMethod", "bizRules", "time", "microorganism",
                  "chemicalSubstance", "value", "component", "stringValue", "booleanValue",
                  "hexBinaryValue", "uriValue", "minValue", "maxValue", "meanValue", "sDev",
                  "percRank", "percValue", "uom", "coordinateReferenceSystem")  # fmt: skip
_SENSOR_DOUBLES = frozenset(
    {"value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue"}
)
_SENSOR_URIS = frozenset(
    {"deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "bizRules",
     "microorganism", "chemicalSubstance", "uriValue", "coordinateReferenceSystem"}
)  # fmt: skip
_SENSOR_ELEMENT_TYPES = frozenset(
    {"SensorElement", "epcis:SensorElement", "https://ref.gs1.org/epcis/SensorElement"}
)
_DOCUMENT_KEYS = frozenset(
    {"@context", "type", "schemaVersion", "creationDate", "epcisHeader", "epcisBody", "sender",
     "receiver", "instanceIdentifier", "id", "@id"}
)  # fmt: skip


class _Fault(Exception):
    def __init__(self, pointer: str, reason: str) -> None:
        super().__init__(reason)
        self.pointer = pointer
        self.reason = reason


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _scalar_text(value: Any) -> str | None:
    """Text of a JSON scalar (booleans as ``true``/``false``), None for anything else."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return value
    return None


def _decimal(value: Any, pointer: str, what: str) -> str:
    """An xsd:decimal (no exponent) from a JSON number or numeric string."""
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        value = Decimal(value.strip())
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise _Fault(pointer, f"{what} must be a number, got {value!r}")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _Fault(pointer, f"{what} must be a finite number, got {value!r}")
        value = Decimal(repr(value))
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def _timestamp(value: Any) -> Any:
    """A timestamp in the XSD's DateTimeStamp form (seconds and zone written out) when it
    parses; anything else is left for the caller's checks."""
    if not isinstance(value, str) or _DATE_TIME_STAMP.fullmatch(value.strip()):
        return value
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return value
    if moment.tzinfo is None:
        return value
    return moment.isoformat().replace("+00:00", "Z")


def _double(value: Any, pointer: str, what: str) -> str:
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return value.strip()
    text = None if isinstance(value, bool) else _scalar_text(value)
    if text is None or isinstance(value, str):
        raise _Fault(pointer, f"{what} must be a finite number, got {value!r}")
    return text


class _Writer:
    """One document's conversion: the namespace prefix table and the element builders."""

    def __init__(self, contexts: Mapping[str, Any] | None) -> None:
        self.contexts = contexts or {}
        self.prefixes: dict[str, str] = {}  # namespace IRI -> XML prefix
        self.taken: set[str] = set(_RESERVED_PREFIXES)
        self.unknown_urls: list[str] = []
        self.root_ns: dict[str, str] = dict(STANDARD_NAMESPACES)

    # ------------------------------------------------------------------- names

    def scope(self, obj: Mapping[str, Any], ns: dict[str, str]) -> dict[str, str]:
        """The namespaces in force inside ``obj`` (its own ``@context`` added)."""
        local = obj.get("@context")
        if local is None:
            return ns
        self.unknown_urls += unknown_context_urls(local, contexts=self.contexts)
        return context_namespaces(local, contexts=self.contexts, inherited=ns)

    def clark(self, key: str, ns: Mapping[str, str], pointer: str) -> str | None:
        """``{namespace}local`` for a namespaced key, None for a bare one; faults otherwise."""
        namespace, local, wanted = "", key, None
        match = _CURIE.fullmatch(key)
        if key.startswith("{") and "}" in key:
            namespace, _, local = key[1:].partition("}")
        elif match and match.group(1) in ns and not match.group(2).startswith("//"):
            wanted, local = match.group(1), match.group(2)
            namespace = ns[wanted]
        elif key.startswith(("http://", "https://", "urn:")):
            cut = max(key.rfind("/"), key.rfind("#"), key.rfind(":") if key[:4] == "urn:" else -1)
            namespace, local = key[: cut + 1], key[cut + 1 :]
        elif match:
            hint = ""
            if self.unknown_urls:
                hint = f" (perhaps in {self.unknown_urls[0]}, which is not available offline)"
            raise _Fault(
                pointer,
                f"the prefix {match.group(1)!r} of {key!r} is not defined by @context{hint}",
            )
        elif "@vocab" in ns:
            namespace = ns["@vocab"]
        else:
            return None
        if not _NCNAME.fullmatch(local):
            raise _Fault(pointer, f"{key!r} cannot be written as an XML name ({local!r})")
        self._declare(namespace, wanted)
        return f"{{{namespace}}}{local}"

    def _declare(self, namespace: str, wanted: str | None) -> None:
        if namespace in self.prefixes:
            return
        base = wanted if wanted and _NCNAME.fullmatch(wanted) and ":" not in wanted else "ns"
        if base.lower().startswith("xml"):
            base = "ns"
        candidate, n = base, 1
        while candidate in self.taken:
            n += 1
            candidate = f"{base}_{n}"
        self.taken.add(candidate)
        self.prefixes[namespace] = candidate

    # ------------------------------------------------------------------ values

    def text_child(self, parent: Any, tag: str, value: Any, pointer: str) -> Any:
        text = _scalar_text(_timestamp(value) if tag in _TIMES else value)
        if text is None:
            raise _Fault(pointer, f"{tag} must be text, got {value!r}")
        child = etree.SubElement(parent, tag)
        child.text = text
        return child

    def iri(self, value: Any, ns: Mapping[str, str], pointer: str, what: str) -> str:
        """A URI value: a compact IRI with a prefix from ``@context`` is expanded."""
        if not isinstance(value, str) or not value.strip():
            raise _Fault(pointer, f"{what} must be a non-empty URI string, got {value!r}")
        text = value.strip()
        match = _CURIE.fullmatch(text)
        if match and match.group(1) in ns and not match.group(2).startswith("//"):
            prefix = match.group(1)
            # gs1: / cbv: CURIEs are how GS1's own XML examples write these values.
            if prefix not in STANDARD_NAMESPACES or ns[prefix] != STANDARD_NAMESPACES[prefix]:
                return ns[prefix] + match.group(2)
        return text

    def vocab(self, value: Any, vocabulary: Vocabulary, ns: Mapping[str, str], ptr: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise _Fault(ptr, f"a CBV value must be a non-empty string, got {value!r}")
        word = cbv_word(value.strip(), vocabulary)
        if ":" not in word:
            return f"urn:epcglobal:cbv:{_URN_VOCAB[vocabulary]}:{word}"
        return self.iri(word, ns, ptr, "a CBV value")

    def extension(self, parent: Any, tag: str, value: Any, ns: dict[str, str], ptr: str) -> None:
        """One extension member as element(s) named ``tag`` (Clark name or bare)."""
        if value is None:
            return
        if isinstance(value, list):
            for i, item in enumerate(value):
                self.extension(parent, tag, item, ns, f"{ptr}/{i}")
            return
        if tag[0] != "{" and not _NCNAME.fullmatch(tag):
            raise _Fault(ptr, f"{tag!r} cannot be written as an XML name")
        element = etree.SubElement(parent, tag)
        if not isinstance(value, dict):
            text = _scalar_text(value)
            if text is None:
                raise _Fault(ptr, f"cannot write {value!r} as XML text")
            element.text = text
            return
        self.content(element, value, ns, ptr)

    def content(self, element: Any, obj: Mapping[str, Any], ns: dict[str, str], ptr: str) -> None:
        """An extension object's members as the content of ``element``."""
        if "@value" in obj or set(obj) == {"@id"}:  # a JSON-LD value object / node reference
            text = _scalar_text(obj.get("@value", obj.get("@id")))
            if text is None:
                raise _Fault(ptr, f"cannot write {obj!r} as XML text")
            element.text = text
            return
        ns = self.scope(obj, ns)
        members = [(k, v) for k, v in obj.items() if not k.startswith("@")]
        names = {k: self.clark(k, ns, f"{ptr}/{_escape(k)}") or k for k, _ in members}
        rdf_value = next((k for k, name in names.items() if name == f"{{{RDF_NS}}}value"), None)
        attributes = rdf_value is not None and all(_scalar_text(v) is not None for k, v in members)
        for key, item in members:
            if attributes:
                text = _scalar_text(item)
                if key == rdf_value:
                    element.text = text
                else:
                    element.set(names[key], text)
            else:
                self.extension(element, names[key], item, ns, f"{ptr}/{_escape(key)}")

    def members(
        self,
        element: Any,
        obj: Mapping[str, Any],
        known: frozenset[str] | tuple[str, ...],
        ns: dict[str, str],
        ptr: str,
        *,
        bare: bool,
        skip: frozenset[str] = frozenset(),
    ) -> None:
        """Extension members of a standard structure: ``<extension>`` (bare names, where the
        XSD has a ##local wrapper) first, then namespaced elements."""
        wrapper: Any = None
        later: list[tuple[str, Any, str]] = []
        for key, value in obj.items():
            if key in known or key in skip or key.startswith("@"):
                continue
            where = f"{ptr}/{_escape(key)}"
            name = self.clark(key, ns, where)
            if name is not None:
                later.append((name, value, where))
            elif not bare:
                raise _Fault(where, f"{key!r} is neither a standard field here nor namespaced")
            else:
                if wrapper is None:
                    wrapper = etree.SubElement(element, "extension")
                self.extension(wrapper, key, value, ns, where)
        for name, value, where in later:
            self.extension(element, name, value, ns, where)

    # ------------------------------------------------------------------ events

    def event(self, parent: Any, obj: Any, ptr: str) -> None:
        if not isinstance(obj, dict):
            raise _Fault(ptr, "an event must be a JSON object")
        kind = obj.get("type")
        if kind not in _ORDER:
            raise _Fault(f"{ptr}/type", f"unknown event type {kind!r}")
        ns = self.scope(obj, self.root_ns)
        element = etree.SubElement(parent, kind)
        fields = (*_BASE, *_ORDER[kind])
        for name in fields:
            if name in obj and obj[name] is not None:
                self.field(element, name, obj[name], ns, f"{ptr}/{name}")
            elif name == "eventTimeZoneOffset":
                offset = _offset_of(obj.get("eventTime"))
                if offset is not None:  # required by the XSD; the reader derives it the same way
                    etree.SubElement(element, name).text = offset
        for key, value in obj.items():
            if key in _STANDARD_FIELDS and key not in fields and value is not None:
                raise _Fault(f"{ptr}/{key}", f"{key} is not a field of {kind} in EPCIS 2.0")
        self.members(element, obj, _STANDARD_FIELDS, ns, ptr, bare=False,
                     skip=frozenset({"type"}))  # fmt: skip

    def field(self, element: Any, name: str, value: Any, ns: dict[str, str], ptr: str) -> None:
        if name in _TEXT:
            self.text_child(element, name, value, ptr)
        elif name in _IDENTIFIERS:
            etree.SubElement(element, name).text = self.iri(value, ns, ptr, name)
        elif name == "certificationInfo":
            values = value if isinstance(value, list) else [value]
            if len(values) != 1:
                raise _Fault(ptr, f"EPCIS XML holds one certificationInfo, this event has "
                                  f"{len(values)}")  # fmt: skip
            where = ptr if not isinstance(value, list) else f"{ptr}/0"
            etree.SubElement(element, name).text = self.iri(values[0], ns, where, name)
        elif name in _VOCAB:
            etree.SubElement(element, name).text = self.vocab(value, _VOCAB[name], ns, ptr)
        elif name in _EPC_LISTS:
            holder = etree.SubElement(element, name)
            for i, epc in enumerate(self.array(value, ptr, name)):
                etree.SubElement(holder, "epc").text = self.iri(epc, ns, f"{ptr}/{i}", "an EPC")
        elif name in _QUANTITY_LISTS:
            self.quantities(etree.SubElement(element, name), value, ns, ptr)
        elif name in ("readPoint", "bizLocation"):
            self.place(element, name, value, ns, ptr)
        elif name in _TYPED_LISTS:
            self.typed_list(element, name, value, ns, ptr)
        elif name == "sensorElementList":
            self.sensor_elements(element, value, ns, ptr)
        elif name == "persistentDisposition":
            self.persistent_disposition(element, value, ns, ptr)
        elif name == "errorDeclaration":
            self.error_declaration(element, value, ns, ptr)
        else:  # ilmd
            if not isinstance(value, dict):
                raise _Fault(ptr, "ilmd must be an object")
            holder = etree.SubElement(element, "ilmd")
            self.members(holder, value, (), self.scope(value, ns), ptr, bare=True)

    @staticmethod
    def array(value: Any, ptr: str, name: str) -> list[Any]:
        if not isinstance(value, list):
            raise _Fault(ptr, f"{name} must be an array")
        return value

    @staticmethod
    def obj(value: Any, ptr: str, what: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _Fault(ptr, f"{what} must be an object")
        return value

    def quantities(self, holder: Any, value: Any, ns: dict[str, str], ptr: str) -> None:
        for i, item in enumerate(self.array(value, ptr, _local(holder.tag))):
            where = f"{ptr}/{i}"
            item = self.obj(item, where, "a quantity element")
            extra = next((k for k in item if k not in ("epcClass", "quantity", "uom")), None)
            if extra is not None:
                raise _Fault(
                    f"{where}/{_escape(extra)}",
                    f"a quantity element holds only epcClass, quantity and uom, not {extra!r}",
                )
            if "epcClass" not in item:
                raise _Fault(f"{where}/epcClass", "a quantity element needs an epcClass")
            element = etree.SubElement(holder, "quantityElement")
            epc_class = self.iri(item["epcClass"], ns, f"{where}/epcClass", "epcClass")
            etree.SubElement(element, "epcClass").text = epc_class
            if item.get("quantity") is not None:
                text = _decimal(item["quantity"], f"{where}/quantity", "quantity")
                etree.SubElement(element, "quantity").text = text
            if item.get("uom") is not None:
                self.text_child(element, "uom", item["uom"], f"{where}/uom")

    def place(self, parent: Any, name: str, value: Any, ns: dict[str, str], ptr: str) -> None:
        value = self.obj(value, ptr, name)
        if "id" not in value:
            raise _Fault(f"{ptr}/id", f'{name} must have an "id"')
        element = etree.SubElement(parent, name)
        ns = self.scope(value, ns)
        etree.SubElement(element, "id").text = self.iri(value["id"], ns, f"{ptr}/id", "id")
        self.members(element, value, ("id",), ns, ptr, bare=True)

    def typed_list(self, parent: Any, name: str, value: Any, ns: dict[str, str], ptr: str) -> None:
        item_name, vocabulary = _TYPED_LISTS[name]
        holder = etree.SubElement(parent, name)
        for i, item in enumerate(self.array(value, ptr, name)):
            where = f"{ptr}/{i}"
            item = self.obj(item, where, f"a {name} entry")
            extra = next((k for k in item if k not in ("type", item_name)), None)
            if extra is not None:
                raise _Fault(
                    f"{where}/{_escape(extra)}",
                    f"a {name} entry holds only type and {item_name}, not {extra!r}",
                )
            element = etree.SubElement(holder, item_name)
            if item.get("type") is not None:
                element.set("type", self.vocab(item["type"], vocabulary, ns, f"{where}/type"))
            element.text = self.iri(item.get(item_name), ns, f"{where}/{item_name}", item_name)

    def sensor_elements(self, parent: Any, value: Any, ns: dict[str, str], ptr: str) -> None:
        holder = etree.SubElement(parent, "sensorElementList")
        for i, item in enumerate(self.array(value, ptr, "sensorElementList")):
            where = f"{ptr}/{i}"
            item = self.obj(item, where, "a sensor element")
            inner = self.scope(item, ns)
            element = etree.SubElement(holder, "sensorElement")
            if item.get("sensorMetadata") is not None:
                metadata = self.obj(item["sensorMetadata"], f"{where}/sensorMetadata", "metadata")
                self.sensor_part(element, "sensorMetadata", metadata, inner,
                                 f"{where}/sensorMetadata", _SENSOR_METADATA)  # fmt: skip
            reports = item.get("sensorReport", [])
            for j, report in enumerate(self.array(reports, f"{where}/sensorReport", "reports")):
                at = f"{where}/sensorReport/{j}"
                report = self.obj(report, at, "a sensor report")
                self.sensor_part(element, "sensorReport", report, inner, at, _SENSOR_REPORT)
            annotation = item.get("type") in _SENSOR_ELEMENT_TYPES
            skip = frozenset({"type"}) if annotation else frozenset()
            self.members(element, item, ("sensorMetadata", "sensorReport"), inner, where,
                         bare=True, skip=skip)  # fmt: skip

    def sensor_part(
        self, parent: Any, tag: str, obj: dict[str, Any], ns: dict[str, str], ptr: str,
        known: tuple[str, ...],
    ) -> None:  # fmt: skip
        ns = self.scope(obj, ns)
        element = etree.SubElement(parent, tag)
        complex_members: list[tuple[str, Any, str]] = []
        for key, value in obj.items():
            where = f"{ptr}/{_escape(key)}"
            if key.startswith("@") or value is None:
                continue
            if key in known:
                element.set(key, self.sensor_value(key, value, ns, where))
                continue
            name = self.clark(key, ns, where) or key
            text = _scalar_text(value)
            if text is None:  # no place in the XSD; the reader takes child elements back
                complex_members.append((name, value, where))
            else:
                element.set(name, text)
        for name, value, where in complex_members:
            self.extension(element, name, value, ns, where)

    def sensor_value(self, key: str, value: Any, ns: Mapping[str, str], ptr: str) -> str:
        if key in _SENSOR_DOUBLES:
            return _double(value, ptr, key)
        if key in _SENSOR_URIS:
            return self.iri(value, ns, ptr, key)
        if key in ("type", "exception", "component"):
            if not isinstance(value, str) or not value.strip():
                raise _Fault(ptr, f"{key} must be a non-empty string, got {value!r}")
            text = value.strip()
            if ":" not in text:
                return f"cbv:Comp-{text}" if key == "component" else f"gs1:{text}"
            return self.iri(text, ns, ptr, key)
        scalar = _scalar_text(_timestamp(value) if key in _TIMES else value)
        if scalar is None:
            raise _Fault(ptr, f"{key} must be a single value, got {value!r}")
        return scalar

    def persistent_disposition(self, parent: Any, value: Any, ns: dict[str, str], ptr: str) -> None:
        value = self.obj(value, ptr, "persistentDisposition")
        extra = next((k for k in value if k not in ("set", "unset")), None)
        if extra is not None:
            raise _Fault(f"{ptr}/{_escape(extra)}", "persistentDisposition holds only set/unset")
        element = etree.SubElement(parent, "persistentDisposition")
        for name in ("unset", "set"):  # XSD order
            entries = value.get(name) or []
            entries = entries if isinstance(entries, list) else [entries]
            for i, word in enumerate(entries):
                text = self.vocab(word, "disp", ns, f"{ptr}/{name}/{i}")
                etree.SubElement(element, name).text = text

    def error_declaration(self, parent: Any, value: Any, ns: dict[str, str], ptr: str) -> None:
        value = self.obj(value, ptr, "errorDeclaration")
        ns = self.scope(value, ns)
        element = etree.SubElement(parent, "errorDeclaration")
        if value.get("declarationTime") is not None:
            self.text_child(element, "declarationTime", value["declarationTime"],
                            f"{ptr}/declarationTime")  # fmt: skip
        if value.get("reason") is not None:
            reason = self.vocab(value["reason"], "er", ns, f"{ptr}/reason")
            etree.SubElement(element, "reason").text = reason
        if value.get("correctiveEventIDs") is not None:
            where = f"{ptr}/correctiveEventIDs"
            holder = etree.SubElement(element, "correctiveEventIDs")
            for i, ident in enumerate(self.array(value["correctiveEventIDs"], where, "IDs")):
                self.text_child(holder, "correctiveEventID", ident, f"{where}/{i}")
        known = ("declarationTime", "reason", "correctiveEventIDs")
        self.members(element, value, known, ns, ptr, bare=True)

    # --------------------------------------------------------------- documents

    def document(self, document: Mapping[str, Any]) -> Any:
        kind = document.get("type")
        if kind not in ("EPCISDocument", "EPCISQueryDocument"):
            raise DocumentError(
                f"type must be EPCISDocument or EPCISQueryDocument, got {kind!r}", pointer="/type"
            )
        query = kind == "EPCISQueryDocument"
        context = document.get("@context")
        self.unknown_urls = unknown_context_urls(context, contexts=self.contexts)
        self.root_ns = context_namespaces(
            context, contexts=self.contexts, inherited=STANDARD_NAMESPACES
        )
        root_ns, prefix = (QUERY_NS, "epcisq") if query else (EPCIS_NS, "epcis")
        root = etree.Element(f"{{{root_ns}}}{kind}", nsmap={prefix: root_ns})
        version = document.get("schemaVersion", "2.0")
        root.set("schemaVersion", _scalar_text(version) or "2.0")
        root.set("creationDate", str(_timestamp(document.get("creationDate")) or _now()))
        self.header(root, document)
        body = etree.SubElement(root, "EPCISBody")
        epcis_body = self.obj(document.get("epcisBody"), "/epcisBody", "epcisBody")
        if query:
            self.query_results(body, epcis_body)
        else:
            events = etree.SubElement(body, "EventList")
            for i, event in enumerate(self.array(epcis_body.get("eventList", []),
                                                 "/epcisBody/eventList", "eventList")):  # fmt: skip
                self.event_at(events, event, f"/epcisBody/eventList/{i}", i)
            self.members(body, epcis_body, ("eventList",), self.root_ns, "/epcisBody", bare=False)
        extra = {k: v for k, v in document.items() if k not in _DOCUMENT_KEYS}
        self.members(root, extra, (), self.root_ns, "", bare=False)
        return root

    def event_at(self, parent: Any, event: Any, ptr: str, index: int) -> None:
        try:
            self.event(parent, event, ptr)
        except _Fault as fault:
            raise DocumentError(fault.reason, index=index, pointer=fault.pointer) from None
        except ValueError as exc:  # lxml refuses control characters and NUL in text and names
            raise DocumentError(
                f"the event holds text that XML cannot carry: {exc}", index=index, pointer=ptr
            ) from None

    def query_results(self, body: Any, epcis_body: dict[str, Any]) -> None:
        ptr = "/epcisBody/queryResults"
        results = self.obj(epcis_body.get("queryResults"), ptr, "queryResults")
        element = etree.SubElement(body, f"{{{QUERY_NS}}}QueryResults")
        # queryName is required by the XSD; SimpleEventQuery is the query that returns events
        name = results.get("queryName")
        self.text_child(element, "queryName", "SimpleEventQuery" if name is None else name,
                        f"{ptr}/queryName")  # fmt: skip
        if results.get("subscriptionID") is not None:
            self.text_child(element, "subscriptionID", results["subscriptionID"],
                            f"{ptr}/subscriptionID")  # fmt: skip
        results_body = self.obj(results.get("resultsBody", {}), f"{ptr}/resultsBody", "body")
        holder = etree.SubElement(element, "resultsBody")
        events = self.array(results_body.get("eventList", []), f"{ptr}/resultsBody/eventList",
                            "eventList")  # fmt: skip
        if events or "vocabularyList" not in results_body:
            event_list = etree.SubElement(holder, "EventList")
            for i, event in enumerate(events):
                self.event_at(event_list, event, f"{ptr}/resultsBody/eventList/{i}", i)
        if "vocabularyList" in results_body:
            self.vocabularies(holder, results_body["vocabularyList"],
                              f"{ptr}/resultsBody/vocabularyList")  # fmt: skip
        known = ("eventList", "vocabularyList")
        self.members(holder, results_body, known, self.root_ns, f"{ptr}/resultsBody", bare=False)
        self.members(element, results, ("queryName", "subscriptionID", "resultsBody"),
                     self.root_ns, ptr, bare=False)  # fmt: skip
        self.members(body, epcis_body, ("queryResults",), self.root_ns, "/epcisBody", bare=False)

    def header(self, root: Any, document: Mapping[str, Any]) -> None:
        parties = [document.get(k) for k in ("sender", "receiver", "instanceIdentifier")]
        header = document.get("epcisHeader") or {}
        header = self.obj(header, "/epcisHeader", "epcisHeader")
        if not any(p is not None for p in parties) and not header:
            return
        element = etree.SubElement(root, "EPCISHeader")
        if any(p is not None for p in parties):
            self.sbdh(element, document)
        master = header.get("epcisMasterData")
        if master is not None:
            master = self.obj(master, "/epcisHeader/epcisMasterData", "epcisMasterData")
            data = etree.SubElement(etree.SubElement(element, "extension"), "EPCISMasterData")
            self.vocabularies(data, master.get("vocabularyList", []),
                              "/epcisHeader/epcisMasterData/vocabularyList")  # fmt: skip
        self.members(element, header, ("epcisMasterData",), self.root_ns, "/epcisHeader",
                     bare=False)  # fmt: skip

    def sbdh(self, parent: Any, document: Mapping[str, Any]) -> None:
        def sub(holder: Any, name: str, text: Any = None) -> Any:
            child = etree.SubElement(holder, f"{{{SBDH_NS}}}{name}")
            if text is not None:
                child.text = _scalar_text(text) or str(text)
            return child

        self.prefixes.setdefault(SBDH_NS, "sbdh")
        element = sub(parent, "StandardBusinessDocumentHeader")
        sub(element, "HeaderVersion", "1.0")
        for key, name in (("sender", "Sender"), ("receiver", "Receiver")):
            if document.get(key) is not None:
                sub(sub(element, name), "Identifier", document[key])
        identification = sub(element, "DocumentIdentification")
        sub(identification, "Standard", "EPCglobal")
        sub(identification, "TypeVersion", "2.0")
        if document.get("instanceIdentifier") is not None:
            sub(identification, "InstanceIdentifier", document["instanceIdentifier"])
        kind = "QueryResults" if document.get("type") == "EPCISQueryDocument" else "Events"
        sub(identification, "Type", kind)
        sub(identification, "CreationDateAndTime", document.get("creationDate") or _now())

    def vocabularies(self, parent: Any, value: Any, ptr: str) -> None:
        # The reader skips <extension> in vocabularies, so bare names are refused here.
        holder = etree.SubElement(parent, "VocabularyList")
        ns = self.root_ns
        for i, vocabulary in enumerate(self.array(value, ptr, "vocabularyList")):
            where = f"{ptr}/{i}"
            vocabulary = self.obj(vocabulary, where, "a vocabulary")
            element = etree.SubElement(holder, "Vocabulary")
            element.set("type", str(vocabulary.get("type", "")))
            at = f"{where}/vocabularyElementList"
            items = self.array(vocabulary.get("vocabularyElementList", []), at, "elements")
            if items:
                listing = etree.SubElement(element, "VocabularyElementList")
                for j, item in enumerate(items):
                    self.vocabulary_element(listing, item, ns,
                                            f"{where}/vocabularyElementList/{j}")  # fmt: skip
            self.members(element, vocabulary, ("type", "vocabularyElementList"), ns, where,
                         bare=False)  # fmt: skip

    def vocabulary_element(self, parent: Any, item: Any, ns: dict[str, str], ptr: str) -> None:
        item = self.obj(item, ptr, "a vocabulary element")
        element = etree.SubElement(parent, "VocabularyElement")
        element.set("id", str(item.get("id", "")))
        attributes = self.array(item.get("attributes", []), f"{ptr}/attributes", "attributes")
        for k, attribute in enumerate(attributes):
            where = f"{ptr}/attributes/{k}"
            attribute = self.obj(attribute, where, "an attribute")
            child = etree.SubElement(element, "attribute")
            child.set("id", str(attribute.get("id", "")))
            value = attribute.get("attribute")
            if isinstance(value, dict):
                self.content(child, value, ns, f"{where}/attribute")
            elif value is not None:
                text = _scalar_text(value)
                if text is None:
                    raise _Fault(f"{where}/attribute", f"cannot write {value!r} as XML text")
                child.text = text
        children = item.get("children")
        if children:
            holder = etree.SubElement(element, "children")
            for k, ident in enumerate(self.array(children, f"{ptr}/children", "children")):
                self.text_child(holder, "id", ident, f"{ptr}/children/{k}")
        known = ("id", "attributes", "children")
        self.members(element, item, known, ns, ptr, bare=False)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _offset_of(event_time: Any) -> str | None:
    if not isinstance(event_time, str):
        return None
    try:
        delta = datetime.fromisoformat(event_time).utcoffset()
    except ValueError:
        return None
    if delta is None:
        return None
    total = int(delta.total_seconds() // 60)
    sign = "-" if total < 0 else "+"
    return f"{sign}{abs(total) // 60:02d}:{abs(total) % 60:02d}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def document_to_xml(
    document: Mapping[str, Any], *, contexts: Mapping[str, Any] | None = None
) -> bytes:
    """An EPCIS 2.0 JSON-LD EPCISDocument / EPCISQueryDocument as EPCIS 2.0 XML (UTF-8 bytes).

    ``contexts`` maps remote ``@context`` URLs other than the standard EPCIS ones to their
    context documents (or ``{prefix: IRI}``), since nothing is fetched.  A missing
    ``creationDate`` (required by the XSD) is set to now; a missing ``eventTimeZoneOffset`` is
    derived from ``eventTime``; a missing ``queryName`` is ``SimpleEventQuery``.  Content the
    XML binding cannot carry raises :class:`DocumentError` with the event index and pointer.
    """
    if not isinstance(document, Mapping):
        raise DocumentError("an EPCIS document must be a JSON object", pointer="")
    writer = _Writer(contexts)
    try:
        root = writer.document(document)
    except _Fault as fault:
        raise DocumentError(fault.reason, pointer=fault.pointer) from None
    except ValueError as exc:
        raise DocumentError(f"the document holds text that XML cannot carry: {exc}") from None
    top = {prefix: namespace for namespace, prefix in writer.prefixes.items()}
    etree.cleanup_namespaces(root, top_nsmap=top)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
