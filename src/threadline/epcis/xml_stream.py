"""Streaming reader for large EPCIS 2.0 / 1.2 XML documents, in bounded memory.

:func:`open_xml_stream` runs the conversion of :mod:`threadline.epcis.xml_reader` - the same
walk, converter and secure parser settings (no entities, no network, no DTD loading) - over
a tree that lxml builds incrementally from fixed-size chunks of the file: the walk asks for
elements, the file is fed to the parser until they are complete, and each element is dropped
from the tree once converted, so the tree never holds more than a chunk's worth of elements.

Opening converts the whole document once, as the whole-document reader does, so that the
header, the ``@context`` prefixes and the event count are known before the first event is
stored, and every fault the whole-document reader reports when it opens a document (not
well-formed XML, entity declarations, a wrong root element, an event that cannot be mapped)
is reported at open time in the same order and with the same line. The converted events wait
in a temporary file (in memory up to 8 MiB, then in the system's temporary directory, removed
when closed); the iterator reads them back and parses them one at a time, adding the XML line
to a fault exactly as :func:`~threadline.epcis.xml_reader.iter_xml_document` does.
"""

from __future__ import annotations

import os
import pickle
import re
import struct
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, Any, BinaryIO

import orjson
from lxml import etree  # type: ignore[import-untyped]

from threadline.epcis.json_reader import (
    EPCISDocument,
    iter_event_objects,
    iter_json_document,
    parse_event,
)
from threadline.epcis.xml_reader import (
    _DOC_NS,
    _EVENT_TYPES,
    _QUERY_NS,
    _build,
    _Converter,
    _parser_options,
    _root_kind,
    _Tree,
    is_xml,
)
from threadline.errors import DocumentError
from threadline.model.events import AnyEvent

__all__ = ["CHUNK_SIZE", "file_is_xml", "open_xml_stream"]

CHUNK_SIZE = 1 << 20
# Start tags that reveal the root element early: the document elements, and the events (whose
# root is found through them even when its name is wrong, so that such a file is not kept
# whole in memory while the parser looks for its end).
_ROOT_TAGS = [
    *(f"{{{ns}}}EPCISDocument" for ns in sorted(_DOC_NS)),
    *(f"{{{ns}}}EPCISQueryDocument" for ns in sorted(_QUERY_NS)),
    *_EVENT_TYPES,
    *(f"{{{ns}}}{kind}" for ns in sorted(_DOC_NS) for kind in sorted(_EVENT_TYPES)),
]
# What the whole-document reader's clash check (``_value_prefixes``) looks for: a prefix right
# after an attribute's opening quote or a start tag's '>', followed by ':'. A prefix is an
# NCName, so it runs up to the first ':' and holds none of the excluded characters.
# ("urn" and "http(s)" are left out: they begin most values, and the converter never uses them
# as prefixes whatever the check says.)
_VALUE_PREFIX = re.compile(rb"""(?:=["']|>)(?!urn:|https?:)([^:"'<>=\s]{1,512}):""")
_OVERLAP = 520  # bytes of the previous chunk scanned again, so no match is split
SPILL_IN_MEMORY = 8 << 20  # bytes of converted events kept in memory before going to disk
_RECORD = struct.Struct("<IIc")  # payload length, XML line, encoding (j: JSON, p: pickle)


class _SyntaxFault(Exception):
    """Malformed XML, located as the whole-document reader locates it."""

    def __init__(self, error: DocumentError) -> None:
        super().__init__(error.message)
        self.error = error


_UNFINISHED_TAG = re.compile(r"(Couldn't find end of Start Tag \S+)(?=, line )")


def _last_tag_line(path: str) -> int:
    """The line of the last '<' in the file."""
    lines, found = 1, 1
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK_SIZE):
            at = chunk.rfind(b"<")
            if at >= 0:
                found = lines + chunk.count(b"\n", 0, at)
            lines += chunk.count(b"\n")
    return found


def _syntax_error(exc: Exception, source: str | None, path: str) -> DocumentError:
    """The DocumentError that :func:`xml_reader._parse` raises for the same fault."""
    if not isinstance(exc, etree.XMLSyntaxError):
        return DocumentError(f"cannot read the XML: {exc}", source=source)
    message, line = (exc.msg or str(exc)).strip(), exc.lineno
    # lxml's incremental parser raises for the last error it met, and after some faults (an
    # undefined entity) that is a follow-up ("no element found", "Start tag expected" at line
    # 1) on a later chunk. The whole-document parser reports the parse's first error (level
    # ERROR or FATAL) of the log, which _StreamTree clears when it starts.
    for entry in exc.error_log:
        if entry.level_name in ("ERROR", "FATAL"):
            message = f"{entry.message.strip()}, line {entry.line}, column {entry.column}"
            line = entry.line
            break
    if _UNFINISHED_TAG.match(message):
        # A file that ends inside a start tag: the whole-document parser also names the line
        # the tag starts on, which the incremental one leaves out. That tag is the last '<'.
        message = _UNFINISHED_TAG.sub(rf"\1 line {_last_tag_line(path)}", message, count=1)
    where = f"line {line}" if line else None
    return DocumentError(f"not well-formed XML: {message}", source=source, pointer=where)


class _StreamTree(_Tree):
    """A tree parsed on demand from a file; converted elements are dropped, events spilled."""

    def __init__(
        self, path: str, file: BinaryIO, spill: IO[bytes], chunk_size: int, source: str | None
    ) -> None:
        super().__init__()
        self.path = path
        self.file = file
        self.spill = spill
        self.chunk_size = chunk_size
        self.source = source
        # lxml's error log is per thread and keeps earlier parses' errors; this parse's
        # first fatal error must be found in it (see _syntax_error).
        etree.clear_error_log()
        self.parser = etree.XMLPullParser(events=("start",), tag=_ROOT_TAGS, **_parser_options())
        self.root: Any = None
        self.finished = False
        self.value_prefixes: set[bytes] = set()
        self._tail = b""

    # -- parsing -------------------------------------------------------------------------------
    def feed(self) -> bool:
        """Parse the next chunk; False once the whole file is parsed."""
        if self.finished:
            return False
        chunk = self.file.read(self.chunk_size)
        try:
            if chunk:
                text = self._tail + chunk
                self.value_prefixes.update(_VALUE_PREFIX.findall(text))
                self._tail = text[-_OVERLAP:]
                self.parser.feed(chunk)
            else:
                self.finished = True
                if not self.file.tell():  # libxml2 words an empty file so only when parsing whole
                    raise etree.XMLSyntaxError("Document is empty, line 1, column 1", 4, 1, 1)
                closed = self.parser.close()
                if self.root is None:
                    self.root = closed
                return True
        except (etree.LxmlError, ValueError) as exc:
            self.finished = True
            raise _SyntaxFault(_syntax_error(exc, self.source, self.path)) from None
        for _event, element in self.parser.read_events():  # drained: events hold elements
            if self.root is None:
                self.root = element.getroottree().getroot()
        return True

    def find_root(self) -> Any:
        """The root element, as soon as its start tag is parsed (or at the end, if its name is
        not an EPCIS document's, for the error message)."""
        while self.root is None and self.feed():
            pass
        return self.root

    def drain(self) -> None:
        """Parse the rest of the file (for its well-formedness), dropping what is parsed."""
        while self.feed():
            node = self.root
            while node is not None and len(node):
                while len(node) > 1:  # all but the last child are complete
                    del node[0]
                node = node[0]

    # -- the walk's view of the tree -----------------------------------------------------------
    def _parsed(self, element: Any) -> bool:
        """Whether the parser has gone past the end of ``element``."""
        if self.finished:
            return True
        while element is not None:
            if element.getnext() is not None:
                return True
            element = element.getparent()
        return False

    def children(self, element: Any) -> Iterable[Any]:
        while True:
            while not len(element) and not self._parsed(element):
                self.feed()
            if not len(element):
                return
            child = element[0]
            yield child
            # Converted (or skipped, as extension wrappers are): drop it from the tree.
            self.complete(child)
            element.remove(child)

    def complete(self, element: Any) -> Any:
        while not self._parsed(element):
            self.feed()
        return element

    def event(self, event: dict[str, Any], line: int) -> None:
        try:
            payload, kind = orjson.dumps(event), b"j"
        except TypeError:  # an integer beyond 64 bits, which orjson does not write
            payload, kind = pickle.dumps(event, protocol=5), b"p"
        self.spill.write(_RECORD.pack(len(payload), line, kind))
        self.spill.write(payload)
        self.count += 1


def _convert(
    path: str, spill: IO[bytes], avoid: frozenset[str], chunk_size: int, source: str | None
) -> tuple[dict[str, Any], _StreamTree, frozenset[str]]:
    """Convert the document, spilling its events: the JSON-shaped document (event list
    empty), the tree (event count) and the prefixes that clash with values."""
    converter = _Converter(avoid)
    document: dict[str, Any] = {}
    fault: DocumentError | None = None
    with open(path, "rb") as file:
        tree = _StreamTree(path, file, spill, chunk_size, source)
        try:
            root = tree.find_root()
            # The whole-document reader reports, in this order: malformed XML anywhere, entity
            # declarations, a wrong root element, then the first conversion fault. A fault
            # found early is therefore held until the rest of the file proved well-formed.
            dtd = root.getroottree().docinfo.internalDTD
            if dtd is not None and any(True for _ in dtd.iterentities()):
                fault = DocumentError(
                    "entity declarations are not accepted in EPCIS", source=source
                )
            else:
                try:
                    kind = _root_kind(root, source)
                    document = _build(root, kind, converter, source, tree)
                except DocumentError as exc:
                    fault = exc
            tree.drain()
        except _SyntaxFault as syntax:
            raise syntax.error from None
    if fault is not None:
        raise fault
    clashes = {p for p in converter.declared if p.encode() in tree.value_prefixes}
    return document, tree, frozenset(clashes)


def open_xml_stream(
    path: str | os.PathLike[str], *, source: str | None = None, chunk_size: int = CHUNK_SIZE
) -> tuple[EPCISDocument, int, Iterator[AnyEvent]]:
    """Open an EPCIS 2.0 or 1.2 XML document file for streaming, in bounded memory.

    Returns what :func:`~threadline.epcis.xml_reader.iter_xml_document` returns for the same
    document - the document (``events`` empty), the number of events and a lazy iterator of
    parsed events - and raises the same faults at the same time (see the module notes).
    Memory holds one chunk's worth of XML and the document header; the converted events wait
    in a temporary file. ``source`` names the document in errors (default: ``path``).
    """
    path = os.fspath(path)
    source = path if source is None else source
    # Closed by the event iterator (or below, on a fault): it outlives this call. Small
    # documents stay in memory; creating a file costs more than reading them.
    spill = tempfile.SpooledTemporaryFile(max_size=SPILL_IN_MEMORY)  # noqa: SIM115
    try:
        try:
            document, tree, clashes = _convert(path, spill, frozenset(), chunk_size, source)
            if clashes:  # rare: convert again with those prefixes kept out of the keys
                spill.seek(0)
                spill.truncate()
                document, tree, _ = _convert(path, spill, clashes, chunk_size, source)
        except OSError as exc:
            raise DocumentError(f"cannot read: {exc.strerror}", source=source) from None
        parsed, _count, _events = iter_json_document(document, source=source)
        base, _ = iter_event_objects(document)
    except BaseException:
        spill.close()
        raise
    spill.seek(0)
    return parsed, tree.count, _events_of(spill, tree.count, base, parsed.namespaces, source)


def _events_of(
    spill: IO[bytes], count: int, base: str, namespaces: dict[str, str], source: str | None
) -> Iterator[AnyEvent]:
    with spill:
        for index in range(count):
            size, line, kind = _RECORD.unpack(spill.read(_RECORD.size))
            payload = spill.read(size)
            obj = orjson.loads(payload) if kind == b"j" else pickle.loads(payload)
            try:
                yield parse_event(
                    obj, index=index, pointer=f"{base}/{index}", namespaces=namespaces
                )
            except DocumentError as exc:
                raise DocumentError(
                    f"{exc.reason} (XML line {line})",
                    source=source,
                    index=exc.index,
                    pointer=exc.pointer,
                ) from None


def file_is_xml(path: str | os.PathLike[str]) -> bool:
    """:func:`~threadline.epcis.xml_reader.is_xml` for a file, reading no further than its
    first non-blank byte."""
    with open(path, "rb") as file:
        head = file.read(4096)
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16: is_xml decodes the head
            return is_xml(head)
        rest = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
        while True:
            text = rest.lstrip(b" \t\r\n")
            if text:
                return text[:1] == b"<"
            rest = file.read(CHUNK_SIZE)
            if not rest:
                return False
