"""EPCIS master data from document headers: vocabulary elements, their attributes and children.

A document's ``epcisHeader.epcisMasterData.vocabularyList`` (JSON, or XML converted to the same
shape by the XML reader) is upserted into ``master_data`` in the transaction that stores the
document's events. Element ids that are GS1 keys are stored canonically, so a location named as
an SGLN URN in the header and as a Digital Link in an event is one element. A later document
adds attributes (a new value for an attribute id replaces the old one) and children to an
element already known; it never removes any.

``children`` is what makes ``WD_readPoint`` / ``WD_bizLocation`` work: :func:`descendants`
follows it transitively.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from threadline.errors import DocumentError, InvalidInput
from threadline.gs1.keys import canonical

if TYPE_CHECKING:
    from threadline.store.base import Reader
    from threadline.store.writer import Writer

__all__ = [
    "BUSINESS_LOCATION",
    "LOCATION_TYPES",
    "READ_POINT",
    "canonical_element_id",
    "descendants",
    "hoist_attribute_contexts",
    "master_data_of",
    "upsert_master_data",
    "vocabulary_list",
]

READ_POINT = "urn:epcglobal:epcis:vtype:ReadPoint"
BUSINESS_LOCATION = "urn:epcglobal:epcis:vtype:BusinessLocation"
# Vocabularies whose elements are places; several senders use the EPCIS 1.x "Location" type.
LOCATION_TYPES = (READ_POINT, BUSINESS_LOCATION, "urn:epcglobal:epcis:vtype:Location")

_UPSERT = (
    "INSERT INTO master_data (type, id, attributes, children) VALUES (?, ?, {J}, {J}) "
    "ON CONFLICT (type, id) DO UPDATE SET attributes = excluded.attributes, "
    "children = excluded.children"
)


def canonical_element_id(value: str) -> str:
    """The stored form of a vocabulary element id: canonical for a GS1 key, else as written.

    A malformed GS1 key in master data is kept as written rather than refusing the document's
    events over a header entry.
    """
    try:
        return canonical(value).key
    except InvalidInput:
        return value


def _fault(pointer: str, reason: str) -> DocumentError:
    return DocumentError(reason, pointer=pointer)


def vocabulary_list(header: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The header's ``epcisMasterData.vocabularyList`` (``[]`` when absent), shape-checked."""
    if not header:
        return []
    master = header.get("epcisMasterData")
    if master is None:
        return []
    base = "/epcisHeader/epcisMasterData"
    if not isinstance(master, dict):
        raise _fault(base, "epcisMasterData must be an object")
    vocabularies = master.get("vocabularyList", [])
    if not isinstance(vocabularies, list):
        raise _fault(f"{base}/vocabularyList", "vocabularyList must be an array")
    for i, vocabulary in enumerate(vocabularies):
        where = f"{base}/vocabularyList/{i}"
        if not isinstance(vocabulary, dict):
            raise _fault(where, "a vocabulary must be an object")
        if not isinstance(vocabulary.get("type"), str) or not vocabulary["type"]:
            raise _fault(f"{where}/type", "a vocabulary needs a type (a vocabulary type URI)")
        elements = vocabulary.get("vocabularyElementList", [])
        if not isinstance(elements, list):
            raise _fault(f"{where}/vocabularyElementList", "vocabularyElementList must be an array")
        for j, element in enumerate(elements):
            at = f"{where}/vocabularyElementList/{j}"
            if not isinstance(element, dict):
                raise _fault(at, "a vocabulary element must be an object")
            if not isinstance(element.get("id"), str) or not element["id"]:
                raise _fault(f"{at}/id", "a vocabulary element needs an id")
            if not isinstance(element.get("attributes", []), list):
                raise _fault(f"{at}/attributes", "attributes must be an array")
            children = element.get("children", [])
            if not isinstance(children, list) or not all(isinstance(c, str) for c in children):
                raise _fault(f"{at}/children", "children must be an array of ids")
    return vocabularies


def _merge_attributes(old: list[Any], new: list[Any]) -> list[Any]:
    def attr_id(item: Any) -> Any:
        return item.get("id") if isinstance(item, dict) else None

    replaced = {attr_id(a) for a in new if attr_id(a) is not None}
    return [a for a in old if attr_id(a) is None or attr_id(a) not in replaced] + list(new)


def _merge_children(old: list[str], new: list[str]) -> list[str]:
    out, seen = list(old), set(old)
    for child in new:
        if child not in seen:
            seen.add(child)
            out.append(child)
    return out


def _prefixes_used(value: Any, namespaces: Mapping[str, str], out: set[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _prefixes_used(key, namespaces, out)
            _prefixes_used(item, namespaces, out)
    elif isinstance(value, list):
        for item in value:
            _prefixes_used(item, namespaces, out)
    elif isinstance(value, str):
        prefix, sep, rest = value.partition(":")
        if sep and prefix in namespaces and not rest.startswith("//"):
            out.add(prefix)


def _with_context(attribute: Any, namespaces: Mapping[str, str] | None) -> Any:
    """The attribute, carrying the prefixes it uses as its own ``@context`` (JSON-LD allows it).

    Master data is stored without its document, so the namespaces of extension content travel
    with the attribute that uses them.
    """
    if not namespaces or not isinstance(attribute, dict) or "@context" in attribute:
        return attribute
    used: set[str] = set()
    _prefixes_used(attribute.get("attribute"), namespaces, used)
    if not used:
        return attribute
    return {**attribute, "@context": {p: namespaces[p] for p in sorted(used)}}


def upsert_master_data(
    writer: Writer,
    header: Mapping[str, Any] | None,
    namespaces: Mapping[str, str] | None = None,
) -> int:
    """Store the header's master data in the writer's transaction; returns elements written.

    ``namespaces`` are the prefixes the document's ``@context`` defines; an attribute whose
    value uses one keeps its definition.
    """
    merged: dict[tuple[str, str], tuple[list[Any], list[str]]] = {}
    for vocabulary in vocabulary_list(header):
        vtype = vocabulary["type"]
        for element in vocabulary.get("vocabularyElementList", []):
            key = (vtype, canonical_element_id(element["id"]))
            attributes = [_with_context(a, namespaces) for a in element.get("attributes", [])]
            children = list(element.get("children", []))
            if key in merged:
                old_attrs, old_children = merged[key]
                attributes = _merge_attributes(old_attrs, attributes)
                children = _merge_children(old_children, children)
            merged[key] = (attributes, children)
    if not merged:
        return 0
    store = writer.store
    stored: dict[tuple[str, str], tuple[list[Any], list[str]]] = {}
    for vtype in {t for t, _ in merged}:
        ids = [i for t, i in merged if t == vtype]
        for _type, ident, attributes, children in writer.query_in(
            "SELECT type, id, attributes, children FROM master_data WHERE id {IN} AND type = ?",
            ids,
            (vtype,),
        ):
            stored[(vtype, ident)] = (
                store.load_json(attributes) or [],
                store.load_json(children) or [],
            )
    rows = []
    for key, (attributes, children) in merged.items():
        if key in stored:
            old_attrs, old_children = stored[key]
            attributes = _merge_attributes(old_attrs, attributes)
            children = _merge_children(old_children, children)
        rows.append((*key, store.dump_json(attributes), store.dump_json(children)))
    writer.cursor.executemany(store.sql(_UPSERT.replace("{J}", store.json_param())), rows)
    return len(rows)


def master_data_of(reader: Reader, vtypes: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Stored master data as a JSON ``vocabularyList`` (for export headers), ordered by type/id."""
    sql = "SELECT type, id, attributes, children FROM master_data"
    rows = (
        reader.query_in(f"{sql} WHERE type {{IN}}", list(vtypes))
        if vtypes is not None
        else reader.query(sql)
    )
    by_type: dict[str, list[dict[str, Any]]] = {}
    for vtype, ident, attributes, children in sorted(rows, key=lambda r: (r[0], r[1])):
        element: dict[str, Any] = {"id": ident}
        attrs = reader.store.load_json(attributes)
        kids = reader.store.load_json(children)
        if attrs:
            element["attributes"] = attrs
        if kids:
            element["children"] = kids
        by_type.setdefault(vtype, []).append(element)
    return [{"type": t, "vocabularyElementList": els} for t, els in by_type.items()]


def hoist_attribute_contexts(vocabularies: list[dict[str, Any]]) -> dict[str, str]:
    """Move the prefixes attributes carry in their own ``@context`` up, for a document header.

    Returns ``{prefix: IRI}`` for the document's ``@context``; a prefix bound to two different
    IRIs by different attributes stays with the attributes that disagree with the first.
    """
    out: dict[str, str] = {}
    for vocabulary in vocabularies:
        for element in vocabulary.get("vocabularyElementList", []):
            for attribute in element.get("attributes", []):
                local = attribute.get("@context") if isinstance(attribute, dict) else None
                if not isinstance(local, dict):
                    continue
                rest = {}
                for prefix, iri in local.items():
                    if out.setdefault(prefix, iri) != iri:
                        rest[prefix] = iri
                if rest:
                    attribute["@context"] = rest
                else:
                    del attribute["@context"]
    return out


def descendants(reader: Reader, vtypes: Iterable[str], ident: str) -> set[str]:
    """Canonical ids of every direct or indirect child of ``ident`` (not ``ident`` itself).

    ``ident`` may be written in any form; children are followed through the elements of all
    ``vtypes``. Cycles in master data end the walk instead of looping.
    """
    types = list(vtypes)
    start = canonical_element_id(ident)
    seen: set[str] = {start}
    frontier = [start]
    while frontier:
        rows = reader.query_in(
            "SELECT children FROM master_data WHERE id {IN} AND type IN ("
            + ",".join("?" * len(types))
            + ")",
            frontier,
            types,
        )
        frontier = []
        for (children,) in rows:
            for child in reader.store.load_json(children) or []:
                key = canonical_element_id(child)
                if key not in seen:
                    seen.add(key)
                    frontier.append(key)
    seen.discard(start)
    return seen
