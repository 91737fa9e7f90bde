"""Assemble and serialise EPCIS 2.0 JSON-LD documents, and read namespaces out of ``@context``.

:func:`build_document` wraps event dicts (the objects of ``epcisBody.eventList``) into an
EPCISDocument or EPCISQueryDocument whose ``@context`` defines every extension prefix the events
use; :func:`dump_jsonld` serialises a document.  :func:`context_namespaces` is the one place
that turns a ``@context`` value into ``{prefix: namespace IRI}``; the XML writer and the semantic
comparison use it too.

Nothing is ever fetched: the standard EPCIS contexts (default and simple) are known by name, and
any other remote context URL can be supplied by the caller through ``contexts`` (URL -> context
document or ``{prefix: IRI}``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from threadline.errors import DocumentError, InvalidInput

__all__ = [
    "EPCIS_CONTEXT_URL",
    "SIMPLE_NAMESPACES",
    "STANDARD_NAMESPACES",
    "build_document",
    "context_namespaces",
    "dump_jsonld",
    "is_epcis_context",
    "unknown_context_urls",
]

EPCIS_CONTEXT_URL = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"

# Prefixes the standard EPCIS 2.0 context defines (it is @protected, so a document cannot
# rebind them); the simple context adds a few more and an @vocab for bare terms.
STANDARD_NAMESPACES: dict[str, str] = {
    "epcis": "https://ref.gs1.org/epcis/", "cbv": "https://ref.gs1.org/cbv/",
    "cbvmda": "urn:epcglobal:cbv:mda:", "gs1": "https://gs1.org/voc/",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#", "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#", "dcterms": "http://purl.org/dc/terms/",
}  # fmt: skip
SIMPLE_NAMESPACES: dict[str, str] = {
    **STANDARD_NAMESPACES,
    "vtype": "urn:epcglobal:epcis:vtype:",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "@vocab": "https://ref.gs1.org/epcis/",
}
_KNOWN_CONTEXTS = {
    "epcis-context.jsonld": STANDARD_NAMESPACES,
    "epcis-context-simple.jsonld": SIMPLE_NAMESPACES,
}

Kind = Literal["EPCISDocument", "EPCISQueryDocument"]


# --------------------------------------------------------------------------- @context


def is_epcis_context(url: str) -> bool:
    """Whether ``url`` names the standard EPCIS 2.0 context (default or simple), on any host."""
    return url.rstrip("/").rpartition("/")[2] in _KNOWN_CONTEXTS


def _absolute(iri: str) -> bool:
    return "://" in iri or iri.startswith("urn:")


def context_namespaces(
    context: Any,
    *,
    contexts: Mapping[str, Any] | None = None,
    inherited: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """``{prefix: namespace IRI}`` defined by a ``@context`` value (URL, object or list).

    Starts from ``inherited`` (the enclosing scope); the standard EPCIS context URLs add their
    prefixes, other URLs are looked up in ``contexts``, and inline objects add every entry whose
    value (or ``"@id"``) is an absolute IRI.  ``@vocab`` is kept (bare terms expand against it).
    """
    out = dict(inherited or {})
    _collect(context, contexts or {}, out, depth=0)
    return out


def _collect(context: Any, contexts: Mapping[str, Any], out: dict[str, str], depth: int) -> None:
    if depth > 8:  # contexts that reference each other in a loop
        return
    for entry in context if isinstance(context, list) else [context]:
        if isinstance(entry, str):
            known = _KNOWN_CONTEXTS.get(entry.rstrip("/").rpartition("/")[2])
            if known is not None:
                out.update(known)
            elif entry in contexts:
                supplied = contexts[entry]
                if isinstance(supplied, Mapping) and "@context" in supplied:
                    supplied = supplied["@context"]
                _collect(supplied, contexts, out, depth + 1)
        elif isinstance(entry, Mapping):
            for prefix, definition in entry.items():
                iri = definition.get("@id") if isinstance(definition, Mapping) else definition
                if not isinstance(prefix, str) or not isinstance(iri, str):
                    continue
                if prefix == "@vocab" or (not prefix.startswith("@") and _absolute(iri)):
                    out[prefix] = iri


def unknown_context_urls(context: Any, *, contexts: Mapping[str, Any] | None = None) -> list[str]:
    """The remote context URLs in ``context`` that are neither standard nor supplied."""
    supplied = contexts or {}
    entries = context if isinstance(context, list) else [context]
    return [
        e for e in entries if isinstance(e, str) and not is_epcis_context(e) and e not in supplied
    ]


# ---------------------------------------------------------------------------- documents


def _context_list(context: list[Any] | dict[str, Any] | str | None) -> list[Any]:
    if context is None:
        entries: list[Any] = []
    elif isinstance(context, list):
        entries = list(context)
    elif isinstance(context, str | dict):
        entries = [context]
    else:
        raise InvalidInput(f"context must be a URL, an object or a list, got {context!r}")
    if not any(isinstance(e, str) and is_epcis_context(e) for e in entries):
        entries.insert(0, EPCIS_CONTEXT_URL)
    return entries


def _hoist(event: dict[str, Any], namespaces: dict[str, str], extra: dict[str, str]) -> None:
    """Move an event's own ``@context`` prefixes up to the document where they do not clash."""
    local = event.get("@context")
    if local is None:
        return
    kept: list[Any] = []
    for entry in local if isinstance(local, list) else [local]:
        if isinstance(entry, str) and is_epcis_context(entry):
            continue  # already the document's context
        if not isinstance(entry, dict):
            kept.append(entry)
            continue
        rest = {}
        for prefix, iri in entry.items():
            if isinstance(iri, str) and _absolute(iri) and namespaces.get(prefix, iri) == iri:
                namespaces[prefix] = iri
                extra[prefix] = iri
            else:
                rest[prefix] = iri
        if rest:
            kept.append(rest)
    if kept:
        event["@context"] = kept if len(kept) > 1 else kept[0]
    else:
        del event["@context"]


def build_document(
    events: Sequence[dict[str, Any]],
    *,
    context: list[Any] | dict[str, Any] | str | None = None,
    kind: Kind = "EPCISDocument",
    query_name: str | None = None,
    subscription_id: str | None = None,
    header: dict[str, Any] | None = None,
    creation_date: str | None = None,
) -> dict[str, Any]:
    """An EPCIS 2.0 JSON-LD document (dict) holding ``events`` in the given order.

    ``context`` is added to ``@context`` after the standard EPCIS context URL (which is put
    first unless a standard EPCIS context, default or simple, is already there).  Prefixes an
    event defines in its own ``@context`` (as stored events carry them) move up to the
    document's ``@context`` when they do not clash with another definition; clashing ones stay
    on the event, which JSON-LD allows.  Prefixes no context defines are left as they are (the
    XML writer refuses them, naming the pointer).  ``kind="EPCISQueryDocument"`` puts the
    events under ``epcisBody.queryResults.resultsBody`` with ``queryName`` (default
    ``SimpleEventQuery``) and the optional ``subscriptionID``; ``header`` becomes
    ``epcisHeader`` (for instance ``{"epcisMasterData": {"vocabularyList": [...]}}``);
    ``creation_date`` defaults to now (UTC).
    The event dicts are not modified.
    """
    if kind not in ("EPCISDocument", "EPCISQueryDocument"):
        raise InvalidInput(f"kind must be EPCISDocument or EPCISQueryDocument, got {kind!r}")
    if kind == "EPCISDocument" and (query_name is not None or subscription_id is not None):
        raise InvalidInput("query_name and subscription_id belong to an EPCISQueryDocument")
    entries = _context_list(context)
    namespaces = context_namespaces(entries, inherited=STANDARD_NAMESPACES)
    base = (
        "/epcisBody/eventList"
        if kind == "EPCISDocument"
        else "/epcisBody/queryResults/resultsBody/eventList"
    )
    extra: dict[str, str] = {}
    out_events: list[dict[str, Any]] = []
    for event in events:
        if not isinstance(event, dict):
            index = len(out_events)
            raise DocumentError(
                "an event must be a JSON object", index=index, pointer=f"{base}/{index}"
            )
        copy = dict(event)
        _hoist(copy, namespaces, extra)
        out_events.append(copy)
    if extra:
        entries.append(extra)
    document: dict[str, Any] = {
        "@context": entries,
        "type": kind,
        "schemaVersion": "2.0",
        "creationDate": creation_date or _now(),
    }
    if header:
        document["epcisHeader"] = header
    if kind == "EPCISDocument":
        document["epcisBody"] = {"eventList": out_events}
    else:
        results: dict[str, Any] = {"queryName": query_name or "SimpleEventQuery"}
        if subscription_id is not None:
            results["subscriptionID"] = subscription_id
        results["resultsBody"] = {"eventList": out_events}
        document["epcisBody"] = {"queryResults": results}
    return document


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dump_jsonld(document: Mapping[str, Any]) -> bytes:
    """The document as indented UTF-8 JSON (two spaces, trailing newline)."""
    try:
        return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    except TypeError as exc:
        raise InvalidInput(f"the document cannot be written as JSON: {exc}") from None
