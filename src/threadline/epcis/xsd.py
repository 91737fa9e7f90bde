"""EPCIS XML against the official XSDs, offline, with faults a plant IT person can act on.

The GS1 XSDs are standard artefacts that may not be copied into the package, so the caller
names the directories that hold them (``--xsd DIR`` or ``$THREADLINE_EPCIS_XSD``, several joined
with the path separator). Every ``*.xsd`` below those directories is indexed by the global
elements it declares, so the document's root element and namespace pick the schema: an
``EPCISDocument`` in ``urn:epcglobal:epcis:xsd:2`` gets the EPCIS 2.0 schema, one in
``urn:epcglobal:epcis:xsd:1`` the EPCIS 1.2 schema, an ``EPCISQueryDocument`` the query schema.

Schemas are compiled once per file. Their includes and imports resolve on the local disk only:
a relative ``schemaLocation`` as usual, a web address to a file of the same name beside the
schema (or below its directory); anything else is refused with the address to fetch by hand.
Nothing goes over the network.

libxml2's messages ("Element 'action': This element is not expected. Expected is ( eventTime
).") become sentences that keep the element name; the line travels separately.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from threadline.errors import InvalidInput

__all__ = [
    "XSD_ENV",
    "XsdFault",
    "check_xml",
    "describe_root",
    "explain",
    "load_schema",
    "parse_xml",
    "schema_for",
    "xsd_dirs_from_env",
]

XSD_ENV = "THREADLINE_EPCIS_XSD"
_XS = "http://www.w3.org/2001/XMLSchema"
_EPCIS_NS = frozenset(
    {
        "urn:epcglobal:epcis:xsd:1",
        "urn:epcglobal:epcis:xsd:2",
        "urn:epcglobal:epcis-query:xsd:1",
        "urn:epcglobal:epcis-query:xsd:2",
        "urn:epcglobal:epcis-masterdata:xsd:1",
        "urn:epcglobal:epcis-masterdata:xsd:2",
    }
)
_VERSIONS = {"1": "EPCIS 1.x", "2": "EPCIS 2.0"}


@dataclass(frozen=True)
class XsdFault:
    """One XSD violation: the XML line, the element's local name and a plain sentence."""

    line: int | None
    element: str | None
    message: str


def xsd_dirs_from_env() -> list[Path]:
    """The XSD directories named by ``$THREADLINE_EPCIS_XSD`` (path-separator separated)."""
    raw = os.environ.get(XSD_ENV, "")
    return [Path(part) for part in raw.split(os.pathsep) if part.strip()]


def _secure_parser() -> Any:
    # The reader's settings: no entities, no DTD, no network. One parser per call (lxml parsers
    # must not be shared between threads).
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=True, remove_pis=True,
    )  # fmt: skip


def parse_xml(data: bytes) -> Any:
    """The root element of ``data`` parsed with the reader's secure settings.

    Raises :class:`lxml.etree.XMLSyntaxError` for XML that is not well-formed; the caller leaves
    that fault to the reader, which words it.
    """
    return etree.fromstring(data, _secure_parser())


# ------------------------------------------------------------------ finding and loading schemas


@lru_cache(maxsize=16)
def _catalogue(dirs: tuple[str, ...]) -> dict[tuple[str, str], str]:
    """(target namespace, global element name) -> the first XSD file declaring it."""
    found: dict[tuple[str, str], str] = {}
    for folder in dirs:
        for path in sorted(Path(folder).rglob("*.xsd")):
            try:
                root = etree.parse(str(path), _secure_parser()).getroot()
            except (etree.XMLSyntaxError, OSError):
                continue  # not a schema we can read; a schema that is asked for reports it
            namespace = root.get("targetNamespace", "")
            for element in root.iterchildren(f"{{{_XS}}}element"):
                name = element.get("name")
                if name:
                    found.setdefault((namespace, name), str(path))
    return found


def schema_for(dirs: Sequence[Path], namespace: str, element: str) -> Path | None:
    """The XSD under ``dirs`` that declares ``element`` in ``namespace``, if any."""
    key = tuple(str(Path(d).resolve()) for d in dirs)
    for folder in key:
        if not Path(folder).is_dir():
            raise InvalidInput(f"the XSD directory {folder} does not exist")
    path = _catalogue(key).get((namespace, element))
    return None if path is None else Path(path)


class _Offline(etree.Resolver):  # type: ignore[misc]
    """Resolves schema imports on the local disk; web addresses by file name, else refused."""

    def __init__(self, roots: Sequence[Path]) -> None:
        super().__init__()
        self.roots = roots
        self.refused: list[str] = []

    def resolve(self, url: str, public_id: str | None, context: Any) -> Any:
        if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]+://", url) or url.startswith("file:"):
            return None  # a local path: libxml2 loads it as usual
        name = url.rstrip("/").rsplit("/", 1)[-1]
        for root in self.roots:
            local = next(iter(sorted(root.rglob(name))), None) if name else None
            if local is not None and local.is_file():
                return self.resolve_filename(str(local), context)
        self.refused.append(url)
        return self.resolve_string("", context)


class _Schema:
    """A compiled XSD and the lock that keeps its error log to one validation at a time."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self.lock = threading.Lock()


@lru_cache(maxsize=16)
def _compiled(path: str) -> _Schema:
    source = Path(path)
    parser = _secure_parser()
    resolver = _Offline([source.parent])
    parser.resolvers.add(resolver)
    try:
        schema = etree.XMLSchema(etree.parse(path, parser))
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as exc:
        if resolver.refused:
            raise InvalidInput(
                f"the XSD {path} imports {', '.join(resolver.refused)}, which is not available "
                f"offline: put a copy of it beside the schema"
            ) from None
        raise InvalidInput(f"cannot load the XSD {path}: {exc}") from None
    return _Schema(schema)


def load_schema(path: Path) -> Any:
    """The compiled :class:`lxml.etree.XMLSchema` of ``path`` (compiled once, offline)."""
    return _compiled(str(Path(path).resolve())).schema


def check_xml(root: Any, path: Path) -> list[XsdFault]:
    """Every violation of the XSD at ``path`` in the tree under ``root``, in document order."""
    compiled = _compiled(str(Path(path).resolve()))
    with compiled.lock:
        if compiled.schema.validate(root):
            return []
        entries = [(e.line, e.message, e.type_name) for e in compiled.schema.error_log]
    declared: dict[str, set[str]] = {}
    for namespace, name in _catalogue((str(Path(path).resolve().parent),)):
        declared.setdefault(name, set()).add(namespace)
    faults = []
    for line, message, _kind in entries:
        element, sentence = explain(message, declared)
        faults.append(XsdFault(line or None, element, sentence))
    return faults


def describe_root(namespace: str, element: str) -> str:
    """``<EPCISDocument> in namespace ... (EPCIS 2.0)`` for a message about a missing schema."""
    version = _VERSIONS.get(namespace.rsplit(":", 1)[-1], "") if namespace in _EPCIS_NS else ""
    suffix = f" ({version})" if version else ""
    where = f" in namespace {namespace}" if namespace else " without a namespace"
    return f"<{element}>{where}{suffix}"


# ------------------------------------------------------------------ libxml2 message -> sentence

_HEAD = re.compile(
    r"^Element '(?P<el>[^']+)'(?:, attribute '(?P<attr>[^']+)')?: (?P<rest>.*)$", re.S
)
_NOT_EXPECTED = re.compile(
    r"^This element is not expected\.(?: Expected is (?:one of )?\( (?P<exp>.*) \)\.)?$", re.S
)
_MISSING = re.compile(
    r"^Missing child element\(s\)\. Expected is (?:one of )?\( (?P<exp>.*) \)\.$", re.S
)
_ENUM = re.compile(
    r"^\[facet 'enumeration'\] The value '(?P<v>.*)' is not an element of the set "
    r"\{(?P<set>.*)\}\.$",
    re.S,
)
_TYPE = re.compile(
    r"^'(?P<v>.*)' is not a valid value of the (?:local )?(?:atomic|list|union) type "
    r"'(?P<t>[^']*)'\.$",
    re.S,
)
_FACET = re.compile(r"^\[facet '(?P<facet>\w+)'\] (?P<detail>.*)$", re.S)
_REQUIRED_ATTR = re.compile(r"^The attribute '(?P<a>[^']+)' is required but missing\.$")
_FORBIDDEN_ATTR = re.compile(r"^The attribute '(?P<a>[^']+)' is not allowed\.$")
_QNAME = re.compile(
    r"^The QName value '(?P<q>[^']+)' has no corresponding namespace declaration in scope\.$"
)
_TYPE_WORDS = {
    "DateTimeStamp": "a date and time with a time zone, such as 2024-05-01T08:30:00Z",
    "dateTime": "a date and time, such as 2024-05-01T08:30:00Z",
    "date": "a date, such as 2024-05-01",
    "decimal": "a decimal number",
    "double": "a number",
    "float": "a number",
    "integer": "a whole number",
    "int": "a whole number",
    "long": "a whole number",
    "nonNegativeInteger": "a whole number of zero or more",
    "positiveInteger": "a whole number of one or more",
    "boolean": "true or false",
    "anyURI": "a URI",
    "QName": "a prefixed name",
    "TimeZoneOffset": "a time zone offset such as +02:00",
}


def _local(clark: str) -> str:
    return clark.rpartition("}")[2]


def _tag(clark: str) -> str:
    """``<local>``, naming the namespace when it is one of the sender's own."""
    local = _local(clark)
    if clark.startswith("{"):
        namespace = clark[1 : clark.index("}")]
        if namespace not in _EPCIS_NS:
            return f"<{local}> (namespace {namespace})"
    return f"<{local}>"


def _value(text: str) -> str:
    shown = " ".join(text.split())
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"'{shown}'"


_LIBXML_EXPECTED_MAX = 10


def _names(raw: str) -> list[str]:
    return [p.strip() for p in raw.split(",") if p.strip()]


def _expected(raw: str) -> str:
    """``( a, b, ##other{ns}* )`` -> ``<a>, <b> or an element in a namespace of your own``."""
    names: list[str] = []
    for part in _names(raw):
        if part.startswith("##other") or part.endswith("}*") or part == "*":
            names.append("an extension element in a namespace of your own")
        else:
            names.append(f"<{_local(part)}>")
    names = list(dict.fromkeys(names))
    if len(_names(raw)) >= _LIBXML_EXPECTED_MAX:  # libxml2 lists no more than this many
        return "one of " + ", ".join(names) + ", ..."
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " or " + names[-1]


def _namespace(clark: str) -> str:
    return clark[1 : clark.index("}")] if clark.startswith("{") else ""


def _not_expected(element: str, expected: str | None, declared: Mapping[str, set[str]]) -> str:
    tag, local, namespace = _tag(element), _local(element), _namespace(element)
    # The right name in the wrong namespace: the commonest slip, worth its own sentence. It is
    # either in the (possibly cut short) list of expected names, or a global element of a
    # namespace that the expected names are in.
    candidates = _names(expected or "")
    spaces = {_namespace(n) for n in candidates}
    candidates += [f"{{{ns}}}{local}" for ns in sorted(declared.get(local, ())) if ns in spaces]
    for name in candidates:
        if _local(name) == local and _namespace(name) != namespace:
            wanted = _namespace(name)
            if not wanted:
                return (
                    f"{tag} must be written without a namespace prefix here: the standard's "
                    f"elements inside <EPCISBody> are unqualified"
                )
            return f"{tag} must be in the namespace {wanted} here (use a prefix bound to it)"
    if not expected:
        if namespace in _EPCIS_NS:
            return (
                f"{tag} carries the EPCIS namespace {namespace}, which is not allowed here: the "
                f"standard writes the elements inside <EPCISBody> without a namespace prefix"
            )
        return f"{tag} is not allowed here: nothing more may follow at this point"
    return (
        f"{tag} is not allowed at this point: the standard expects {_expected(expected)} here. "
        f"Check its spelling, that it belongs in this element, and the order (the XSD fixes the "
        f"order of the fields); an element of your own needs its own XML namespace"
    )


def explain(message: str, declared: Mapping[str, set[str]] | None = None) -> tuple[str | None, str]:
    """(local element name, a plain sentence) for one libxml2 schema-validity message.

    ``declared`` maps global element names of the schema to their namespaces; with it, an
    element written in the wrong namespace is told so even where libxml2 cut its list short.
    """
    message = message.strip()
    head = _HEAD.match(message)
    if head is None:
        if "No matching global declaration available for the validation root" in message:
            return None, "the root element is not a document element of this XSD"
        return None, f"{message.rstrip('.')} (XSD)"
    element, attribute, rest = head["el"], head["attr"], head["rest"].strip()
    tag = _tag(element)
    subject = f"the attribute {attribute} of {tag}" if attribute else tag
    local = _local(element)
    if match := _NOT_EXPECTED.match(rest):
        return local, _not_expected(element, match["exp"], declared or {})
    if match := _MISSING.match(rest):
        return local, f"{tag} is missing {_expected(match['exp'])}, which the standard requires"
    if match := _ENUM.match(rest):
        allowed = ", ".join(v.strip().strip("'") for v in match["set"].split(","))
        return local, (
            f"{subject} holds {_value(match['v'])}, which is not one of the allowed values: "
            f"{allowed}"
        )
    if match := _TYPE.match(rest):
        kind = _local(match["t"]).rpartition(":")[2]
        words = _TYPE_WORDS.get(kind, f"a valid {kind}" if kind else "a valid value")
        return local, f"{subject} holds {_value(match['v'])}, which is not {words}"
    if match := _FACET.match(rest):
        detail = match["detail"].strip().rstrip(".")
        return local, f"{subject} breaks the XSD's {match['facet']} rule: {detail}"
    if match := _REQUIRED_ATTR.match(rest):
        return local, f"{tag} lacks the attribute {match['a']}, which the standard requires"
    if match := _FORBIDDEN_ATTR.match(rest):
        return local, f"{tag} does not take an attribute {match['a']}"
    if match := _QNAME.match(rest):
        prefix = match["q"].partition(":")[0]
        return local, (
            f"{subject} names the type {match['q']!r}, but the prefix {prefix!r} is not declared "
            f"(add xmlns:{prefix}=... to the document)"
        )
    if rest.startswith("Character content other than whitespace is not allowed"):
        return local, f"{tag} must hold only elements, not text"
    if rest.startswith("Element content is not allowed"):
        return local, f"{tag} must hold text, not elements"
    if rest.startswith("Character content is not allowed"):
        return local, f"{tag} must be empty"
    return local, f"{subject}: {rest.rstrip('.')} (XSD)"
