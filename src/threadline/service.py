"""Service layer shared by the CLI (and later the API): import documents, run the demo plant."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from threadline.epcis.forms import IdentifierForm
from threadline.epcis.json_reader import EPCISDocument, iter_json_document, parse_event
from threadline.epcis.xml_reader import is_xml, iter_xml_document
from threadline.errors import DocumentError, InvalidInput
from threadline.model.events import AnyEvent
from threadline.store.base import AppendResult, Store

Progress = Callable[[int], None]


@dataclass
class ImportReport:
    source: str
    events: int
    result: AppendResult


def _open(path: Path) -> tuple[EPCISDocument, int, Iterator[AnyEvent]]:
    # Streamed from the file in bounded memory whatever its size; header, @context and the
    # event count are known on return, faults are located as by the whole-document readers.
    from threadline.epcis.json_stream import open_json_stream
    from threadline.epcis.xml_stream import file_is_xml, open_xml_stream

    try:
        xml = file_is_xml(path)
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror}", source=str(path)) from None
    reader = open_xml_stream if xml else open_json_stream
    return reader(path, source=str(path))


def open_document(path: Path) -> tuple[int, Iterator[AnyEvent]]:
    """Open an EPCIS document — JSON/JSON-LD or XML (2.0 or 1.2), told apart by content, not by
    file name: its event count and a lazy iterator of parsed events."""
    _document, count, events = _open(path)
    return count, events


def import_document(
    store: Store,
    path: Path,
    *,
    on_start: Callable[[int], None] | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import one document, all or nothing: a fault anywhere stores none of its events.

    The header's master data (``epcisMasterData``) is stored in the same transaction, and each
    event keeps the prefixes the document's ``@context`` defines, so that an export can say
    what its extension members mean.
    """
    from threadline.store.master_data import upsert_master_data, vocabulary_list

    document, count, events = _open(path)
    try:
        vocabulary_list(document.header)  # a malformed header fails before anything is stored
    except DocumentError as exc:
        raise exc.located(source=str(path)) from None
    if on_start:
        on_start(count)
    with store.writer() as writer:
        writer.append(keep_namespaces(events, document.context), progress=progress)
        upsert_master_data(writer, document.header, _inline_namespaces(document.context))
    return ImportReport(str(path), count, writer.result)


def parse_events(raw_events: Iterable[dict[str, Any]], *, source: str) -> Iterator[AnyEvent]:
    """Parse plain EPCIS event dicts (as the simulator yields them), locating faults."""
    for index, obj in enumerate(raw_events):
        try:
            yield parse_event(obj, index=index, pointer=f"/{index}")
        except DocumentError as exc:
            raise exc.located(source=source) from None


# -- EPCIS queries and export ---------------------------------------------------------------------

QueryParams = Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]
OutputFormat = Literal["jsonld", "xml"]


def _inline_namespaces(context: Any) -> dict[str, str]:
    """The ``{prefix: IRI}`` entries a document's ``@context`` defines inline."""
    out: dict[str, str] = {}
    for entry in context if isinstance(context, list) else [context]:
        if isinstance(entry, dict):
            for prefix, iri in entry.items():
                if isinstance(prefix, str) and not prefix.startswith("@") and isinstance(iri, str):
                    out[prefix] = iri
    return out


def _is_default_context(entry: Any) -> bool:
    return isinstance(entry, str) and entry.rstrip("/").rpartition("/")[2] == "epcis-context.jsonld"


def _event_context(context: Any) -> Any:
    """What of a document's ``@context`` each of its events must keep (None: nothing)."""
    entries = context if isinstance(context, list) else [context]
    kept: list[Any] = [e for e in entries if isinstance(e, str) and not _is_default_context(e)]
    namespaces = _inline_namespaces(context)
    if namespaces:
        kept.append(namespaces)
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else kept


def keep_namespaces(events: Iterable[AnyEvent], context: Any) -> Iterable[AnyEvent]:
    """``events`` with what the document's ``@context`` adds to the standard one kept by each.

    Events are stored one by one without their document, so the prefixes that give extension
    members and compact IRIs their meaning (and a context such as the EPCIS simple context,
    which changes what unprefixed members mean) travel with each event as its own
    ``@context``, which JSON-LD allows and the writers hoist back to the document. Documents
    that use only the standard context pass through untouched.
    """
    kept = _event_context(context)
    if kept is None:
        return events

    def attach() -> Iterator[AnyEvent]:
        for event in events:
            event.raw.setdefault("@context", kept)
            yield event

    return attach()


def _document_context(events: Sequence[Mapping[str, Any]]) -> list[Any] | None:
    """The standard context to export ``events`` under: the simple one if they came in with it."""
    from threadline.epcis.jsonld_writer import is_epcis_context

    for event in events:
        local = event.get("@context")
        for entry in local if isinstance(local, list) else [local]:
            if (
                isinstance(entry, str)
                and is_epcis_context(entry)
                and not _is_default_context(entry)
            ):
                return [entry]
    return None


@dataclass
class QueryOutput:
    """A serialised EPCIS document and, when more events match, the next page's token."""

    data: bytes
    events: int
    next_page_token: str | None = None


class _CompanyPrefixLengths(Mapping[str, int]):
    """Company prefix lengths the store learnt from EPC URNs, looked up as rendering asks."""

    def __init__(self, reader: Any) -> None:
        self.reader = reader
        self.cache: dict[str, int | None] = {}

    def __getitem__(self, key: str) -> int:
        if key not in self.cache:
            row = self.reader.objects_by_key([key]).get(key)
            self.cache[key] = None if row is None else row.gcp_length
        found = self.cache[key]
        if found is None:
            raise KeyError(key)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter([k for k, v in self.cache.items() if v is not None])

    def __len__(self) -> int:
        return sum(1 for v in self.cache.values() if v is not None)


def _serialise(document: dict[str, Any], fmt: OutputFormat) -> bytes:
    if fmt == "xml":
        from threadline.epcis.xml_writer import document_to_xml

        return document_to_xml(document)
    if fmt != "jsonld":
        raise InvalidInput(f"unknown output format {fmt!r} (use jsonld or xml)")
    from threadline.epcis.jsonld_writer import dump_jsonld

    return dump_jsonld(document)


def render_rows(
    reader: Any, rows: Iterable[Mapping[str, Any]], epc_format: IdentifierForm
) -> list[dict[str, Any]]:
    """Stored event rows (as :func:`threadline.store.query.run_query` returns them) as query
    results show them: each with its ``eventID`` (the CBV hash when the sender gave none) and
    this repository's ``recordTime``, identifiers written in ``epc_format``."""
    from threadline.epcis.forms import render_identifiers

    lengths = _CompanyPrefixLengths(reader)
    events = []
    for row in rows:
        event = render_identifiers(row["doc"], epc_format, gcp_lengths=lengths)
        event.setdefault("eventID", row["event_id"])
        event["recordTime"] = row["record_time"]
        events.append(event)
    return events


def query_document(
    events: Sequence[dict[str, Any]],
    *,
    fmt: OutputFormat = "jsonld",
    query_name: str = "SimpleEventQuery",
    subscription_id: str | None = None,
) -> bytes:
    """Query results (from :func:`render_rows`) as a serialised EPCISQueryDocument."""
    from threadline.epcis.jsonld_writer import build_document

    document = build_document(
        events,
        context=_document_context(events),
        kind="EPCISQueryDocument",
        query_name=query_name,
        subscription_id=subscription_id,
    )
    return _serialise(document, fmt)


def query_events(
    store: Store, params: QueryParams, *, epc_format: IdentifierForm = "as_captured"
) -> tuple[list[dict[str, Any]], str | None]:
    """Run an EPCIS SimpleEventQuery: the matching events as query results show them.

    Each event carries its ``eventID`` (the CBV hash when the sender gave none) and this
    repository's ``recordTime``; identifiers are written in ``epc_format``. Returns the events
    of one page and the token of the next (None on the last page).
    """
    from threadline.epcis.query_params import parse_query
    from threadline.store.query import run_query

    query = parse_query(params)
    with store.reader() as reader:
        rows = run_query(reader, query)
        events = render_rows(reader, rows, epc_format)
    return events, rows.next_page_token


def events_document(
    store: Store,
    params: QueryParams,
    *,
    fmt: OutputFormat = "jsonld",
    epc_format: IdentifierForm = "as_captured",
    query_name: str = "SimpleEventQuery",
) -> QueryOutput:
    """The EPCISQueryDocument (queryName ``query_name``) answering ``params``."""
    events, token = query_events(store, params, epc_format=epc_format)
    data = query_document(events, fmt=fmt, query_name=query_name)
    return QueryOutput(data, len(events), token)


def export_document(
    store: Store,
    params: QueryParams = (),
    *,
    fmt: OutputFormat = "jsonld",
    epc_format: IdentifierForm = "as_captured",
    kind: Literal["EPCISDocument", "EPCISQueryDocument"] = "EPCISDocument",
) -> QueryOutput:
    """The events matching ``params`` (all without any) as captured, in one EPCIS document.

    Events come in capture order unless ``orderBy`` says otherwise, exactly as they were sent
    (identifiers in ``epc_format``), an event declared in error both as first captured and as
    its declaration; stored master data goes into the header. Importing the
    result into an empty store and exporting again gives a semantically equal document.
    """
    from threadline.epcis.forms import render_identifiers
    from threadline.epcis.jsonld_writer import build_document
    from threadline.epcis.query_params import parse_query
    from threadline.store.master_data import hoist_attribute_contexts, master_data_of
    from threadline.store.query import run_query

    query = parse_query(params)
    with store.reader() as reader:
        rows = run_query(reader, query, include_superseded=True)
        lengths = _CompanyPrefixLengths(reader)
        events = [render_identifiers(r["doc"], epc_format, gcp_lengths=lengths) for r in rows]
        vocabularies = master_data_of(reader)
    header = {"epcisMasterData": {"vocabularyList": vocabularies}} if vocabularies else None
    context = _document_context(events) or []
    namespaces = hoist_attribute_contexts(vocabularies)
    if namespaces:
        context.append(namespaces)
    document = build_document(
        events,
        context=context or None,
        kind=kind,
        header=header,
        query_name="SimpleEventQuery" if kind == "EPCISQueryDocument" else None,
    )
    return QueryOutput(_serialise(document, fmt), len(events), rows.next_page_token)


def convert_file(
    path: Path,
    to: Literal["jsonld", "xml"],
    *,
    schema_path: Path | None = None,
    contexts: Mapping[str, Any] | None = None,
) -> bytes:
    """Convert an EPCIS document (JSON/JSON-LD or XML, told apart by content) to ``to``.

    The document is checked as an import would check it, and nothing is stored: every event is
    parsed, the standard's rules are applied (plus the official JSON Schema when ``schema_path``
    or ``$THREADLINE_EPCIS_SCHEMA`` names it), JSON input must carry an ``@context``, and XML
    output must be expressible in the XML binding.  The first fault raises
    :class:`DocumentError` naming the file, the event index and the JSON pointer (or XML line).
    ``contexts`` supplies remote ``@context`` documents by URL (nothing is fetched).
    """
    import orjson

    from threadline.epcis.jsonld_writer import dump_jsonld
    from threadline.epcis.validate import validate_document
    from threadline.epcis.xml_reader import xml_document_to_json
    from threadline.epcis.xml_writer import document_to_xml

    if to not in ("jsonld", "xml"):
        raise InvalidInput(f"cannot convert to {to!r}: choose jsonld or xml")
    source = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror}", source=source) from None
    document: Any
    if is_xml(data):
        _parsed, _count, events = iter_xml_document(data, source=source)
        for _event in events:  # parse every event: a fault raises with its index and line
            pass
        document = xml_document_to_json(data, source=source)
    else:
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise DocumentError(f"not valid JSON: {exc}", source=source) from None
        _parsed, _count, events = iter_json_document(document, source=source)
        for _event in events:
            pass
        if "@context" not in document:
            raise DocumentError(
                "a JSON-LD document needs an @context (the EPCIS 2.0 context URL first)",
                source=source,
                pointer="",
            )
    for fault in validate_document(data, source=source, schema_path=schema_path):
        if fault.severity == "error":
            raise DocumentError(
                fault.message, source=source, index=fault.index, pointer=fault.pointer
            )
    if to == "jsonld":
        return dump_jsonld(document)
    try:
        return document_to_xml(document, contexts=contexts)
    except DocumentError as exc:
        raise exc.located(source=source) from None
