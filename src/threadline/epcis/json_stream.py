"""Streaming reader for large EPCIS 2.0 JSON / JSON-LD documents, in bounded memory.

:func:`open_json_stream` reads a document file in two passes over fixed-size chunks and never
holds more than a chunk, one event and the small rest of the document (``@context``, header):

1. **Structure pass.** A vectorised scan (numpy over each chunk) finds the brackets outside
   string literals and their nesting depth. Every array opened at depth 3 or 5 - the only
   depths at which ``epcisBody.eventList`` and ``epcisBody.queryResults.resultsBody.eventList``
   can sit - is cut out of the text and replaced by a placeholder, and its elements are counted.
   What is left (the *skeleton*: ``@context``, ``type``, header, body members) is decoded with
   orjson and checked exactly as :func:`~threadline.epcis.json_reader.iter_json_document` checks
   a whole document, so ``@context`` may come before or after the body. Cut-out arrays other
   than the event list are decoded from the file and put back.
2. **Event pass.** The same scan over the event list's byte range yields one byte slice per
   event, which orjson decodes and :func:`~threadline.epcis.json_reader.parse_event` turns
   into a typed event.

The slices and the separators between them tile the event list exactly; every slice is decoded
by orjson and every separator checked, so a malformed document cannot slip through. Faults
raise the :class:`~threadline.errors.DocumentError` that the whole-document reader raises: the
same event index and JSON pointer for a bad event and, for malformed JSON, the same
``not valid JSON: <reason>: line L column C (char N)`` message with positions counted over the
whole file. One difference is inherent to streaming: the whole-document reader reports a
syntax error anywhere ahead of any event fault, while this reader reports whichever comes first
in the event list (a fault outside the event list, such as a truncated file, is still reported
before any event is parsed).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import orjson

from threadline.epcis.json_reader import (
    EPCISDocument,
    iter_event_objects,
    iter_json_document,
    parse_event,
)
from threadline.errors import DocumentError
from threadline.model.events import AnyEvent

__all__ = ["CHUNK_SIZE", "MAX_EVENT_SIZE", "open_json_stream"]

CHUNK_SIZE = 1 << 20
# Streaming holds one event at a time; one larger than this is refused (no EPCIS event is
# anywhere near it, and the limit keeps a malformed file from being buffered whole).
MAX_EVENT_SIZE = 64 << 20
_WHITESPACE = b" \t\r\n"  # JSON's whitespace (bytes.strip() alone would also take \v and \f)
_OPEN, _CLOSE = 0x7B, 0x7D  # '{' and '}', which '[' and ']' become when folded with 0x20
_ARRAY_OPEN = 0x5B
_CONTINUATION = bytes(range(0x80, 0xC0))  # UTF-8 continuation bytes: not characters of their own
_PLACEHOLDER = "\x00threadline-cut:"

Offsets = npt.NDArray[np.intp]
Bytes = npt.NDArray[np.uint8]
Depths = npt.NDArray[np.int64]


class _Scanner:
    """Finds the structural brackets (those outside string literals) of consecutive chunks.

    Carried from chunk to chunk: the nesting depth, whether a string literal is open, and
    whether a backslash at the end of the previous chunk escapes the first byte of this one.
    Backslashes are honoured everywhere; outside a string they are invalid JSON anyway, which
    the decoding of the slice (or the check of the separator) that holds them reports.
    """

    def __init__(self, depth: int = 0) -> None:
        self.depth = depth
        self.in_string = False
        self.escaped_first = False

    def scan(self, chunk: bytes) -> tuple[Offsets, Bytes, Depths]:
        """Offsets in ``chunk``, byte values and nesting depth after each structural bracket."""
        a = np.frombuffer(chunk, dtype=np.uint8)
        # Boolean masks, not a translated byte table: numpy's nonzero is several times faster
        # on booleans, and this is the whole cost of the splitter.
        folded = a | 0x20
        brackets = np.flatnonzero((folded == _OPEN) | (folded == _CLOSE))
        quotes = np.flatnonzero(a == 0x22)
        if self.escaped_first or chunk.find(b"\\") >= 0:
            quotes = self._unescaped(a, quotes)
        # A bracket lies inside a string when an odd number of quotes precede it.
        inside = np.searchsorted(quotes, brackets) & 1
        if self.in_string:
            inside ^= 1
        if len(quotes) & 1:
            self.in_string = not self.in_string
        brackets = brackets[inside == 0]
        values = a[brackets]
        steps = np.where((values | 0x20) == _OPEN, 1, -1).astype(np.int64)
        depth = np.cumsum(steps)
        depth += self.depth
        if len(depth):
            self.depth = int(depth[-1])
        return brackets, values, depth

    def _unescaped(self, a: Bytes, quotes: Offsets) -> Offsets:
        """``quotes`` without those escaped by a backslash, counting runs of backslashes."""
        slashes = np.flatnonzero(a == 0x5C)
        hidden: list[Offsets] = []
        if self.escaped_first:
            hidden.append(np.zeros(1, dtype=np.intp))
        if len(slashes):
            fresh = np.ones(len(slashes), dtype=bool)
            fresh[1:] = slashes[1:] != slashes[:-1] + 1
            starts = np.flatnonzero(fresh)
            rank = np.arange(len(slashes)) - starts[np.cumsum(fresh) - 1]
            if self.escaped_first and slashes[0] == 0:  # the first run continues an escape
                rank[: starts[1] if len(starts) > 1 else len(slashes)] += 1
            hidden.append(slashes[rank & 1 == 0] + 1)  # an escaping slash hides the next byte
        escaped = np.concatenate(hidden) if hidden else np.zeros(0, dtype=np.intp)
        self.escaped_first = bool(len(escaped)) and int(escaped[-1]) == len(a)
        if not len(escaped) or not len(quotes):
            return quotes
        return quotes[~np.isin(quotes, escaped, assume_unique=True)]


def _chunks(
    file: BinaryIO, size: int, *, start: int = 0, stop: int | None = None
) -> Iterator[bytes]:
    """The file's bytes [start, stop) in chunks of ``size``."""
    file.seek(start)
    left = None if stop is None else stop - start
    while left is None or left > 0:
        chunk = file.read(size if left is None else min(size, left))
        if not chunk:
            return
        if left is not None:
            left -= len(chunk)
        yield chunk


# -- locating syntax faults ---------------------------------------------------------------------


class _Fault(Exception):
    """A syntax fault at a byte offset of the file, in orjson's words."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


def _char_to_byte(data: bytes, chars: int) -> int:
    """The byte offset in UTF-8 ``data`` of character ``chars`` (orjson counts characters)."""
    starts = np.flatnonzero((np.frombuffer(data, dtype=np.uint8) & 0xC0) != 0x80)
    return int(starts[chars]) if chars < len(starts) else len(data)


def _decode_fault(exc: orjson.JSONDecodeError, data: bytes, at: int) -> _Fault:
    """An orjson fault in ``data``, which starts at file offset ``at``."""
    return _Fault(at + _char_to_byte(data, exc.pos), exc.msg)


def _located(path: str, fault: _Fault, source: str | None) -> DocumentError:
    """The fault as the whole-document reader words it: line, column and character in the file."""
    line, chars, line_start = 1, 0, 0
    with open(path, "rb") as file:
        for chunk in _chunks(file, CHUNK_SIZE, stop=fault.offset):
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                line += chunk.count(b"\n")
                line_start = chars + len(chunk[: newline + 1].translate(None, _CONTINUATION))
            chars += len(chunk.translate(None, _CONTINUATION))
    return DocumentError(
        f"not valid JSON: {fault.reason}: line {line} column {chars - line_start + 1} "
        f"(char {chars})",
        source=source,
    )


# -- pass 1: the skeleton -----------------------------------------------------------------------


@dataclass
class _Cut:
    """An array cut out of the skeleton: its bracket offsets, depth and number of elements."""

    start: int
    depth: int  # depth inside the array
    end: int = -1  # offset of the closing bracket; -1 while (or if it stays) open
    count: int = 0


@dataclass
class _Skeleton:
    text: bytes
    cuts: list[_Cut]
    copies: list[tuple[int, int, int]]  # (skeleton offset, file offset, length) of each copy
    size: int  # of the file

    def file_offset(self, at: int) -> int:
        """The file offset of skeleton byte ``at`` (a placeholder maps to what follows it)."""
        for skeleton_at, file_at, length in self.copies:
            if at < skeleton_at:
                return file_at  # inside the placeholder before this copy: its closing bracket
            if at < skeleton_at + length:
                return file_at + at - skeleton_at
        return self.size


def _structure(file: BinaryIO, chunk_size: int, nonce: str) -> _Skeleton:
    scanner = _Scanner()
    parts: list[bytes] = []
    cuts: list[_Cut] = []
    copies: list[tuple[int, int, int]] = []
    written = 0  # bytes of skeleton so far
    copied = 0  # file offset of the first byte not yet copied (nor cut)
    cut: _Cut | None = None
    offset = 0

    def copy(chunk: bytes, stop: int) -> None:
        nonlocal written, copied
        if stop > copied:
            copies.append((written, copied, stop - copied))
            parts.append(chunk[copied - offset : stop - offset])
            written += stop - copied
            copied = stop

    for chunk in _chunks(file, chunk_size):
        positions, values, depth = scanner.scan(chunk)
        i = 0
        while True:
            if cut is None:
                opens = np.flatnonzero(
                    (values[i:] == _ARRAY_OPEN) & ((depth[i:] == 3) | (depth[i:] == 5))
                )
                if not len(opens):
                    break
                i += int(opens[0])
                start = offset + int(positions[i])
                copy(chunk, start + 1)
                cut = _Cut(start, int(depth[i]))
                cuts.append(cut)
                marker = orjson.dumps(f"{_PLACEHOLDER}{nonce}:{len(cuts) - 1}")
                parts.append(marker)
                written += len(marker)
                i += 1
            else:
                inner = depth[i:]
                closes = np.flatnonzero(inner < cut.depth)
                stop = int(closes[0]) if len(closes) else len(inner)
                element_opens = (inner[:stop] == cut.depth + 1) & (
                    (values[i : i + stop] | 0x20) == _OPEN
                )
                cut.count += int(np.count_nonzero(element_opens))
                if not len(closes):
                    copied = offset + len(chunk)  # nothing of the cut array is copied
                    break
                i += stop
                cut.end = offset + int(positions[i])
                copied = cut.end  # the skeleton keeps the closing bracket
                cut = None
                i += 1
        if cut is None:
            copy(chunk, offset + len(chunk))
        offset += len(chunk)
    return _Skeleton(b"".join(parts), cuts, copies, offset)


def _restore(value: Any, nonce: str, load: Callable[[int], Any], keep: int) -> Any:
    """``value`` with each placeholder but number ``keep`` replaced by ``load(number)``."""
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = _restore(item, nonce, load, keep)
    elif isinstance(value, list):
        number = _placeholder(value, nonce)
        if number is not None:
            return value if number == keep else load(number)
        for i, item in enumerate(value):
            value[i] = _restore(item, nonce, load, keep)
    return value


def _placeholder(value: Any, nonce: str) -> int | None:
    """The cut number if ``value`` is a placeholder, else None."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        head, _, number = value[0].rpartition(":")
        if head == f"{_PLACEHOLDER}{nonce}":
            return int(number)
    return None


# -- pass 2: the events -------------------------------------------------------------------------


def _separator(gap: bytes, at: int, before: bool, after: bool, close: bytes) -> list[bytes]:
    """Check the bytes between two elements (or an element and a bracket) of the event list.

    ``before``/``after``: whether an element precedes / follows; ``close`` is the array's
    closing bracket when none follows. Returns any scalar elements found in the gap (each an
    encoded JSON value), which the event parser then rejects at their own index.
    """
    body = gap.strip(_WHITESPACE)
    if body == (b"," if before and after else b"") and (after or close == b"]"):
        return []
    prefix = b"[0" if before else b"["
    suffix = b"0]" if after else close
    synthetic = prefix + gap + suffix
    try:
        # Parsing the gap between dummy elements puts orjson in the parser state the whole
        # document would have there, so the fault reads as it would for the whole document.
        values = orjson.loads(synthetic)
    except orjson.JSONDecodeError as exc:
        inner = _char_to_byte(synthetic, exc.pos) - len(prefix)
        raise _Fault(at + min(inner, len(gap)), exc.msg) from None
    if before:
        values = values[1:]
    if after:
        values = values[:-1]
    return [orjson.dumps(v) for v in values]


class _TooLarge(Exception):
    """An element of the event list exceeds the streaming size limit."""


def _unfinished(data: bytes, at: int, end_of_data: int) -> _Fault:
    """The fault of an element that never closes: its first syntax fault, if orjson finds one
    before the data runs out, else the end of the data."""
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        fault = _decode_fault(exc, data, at)
        if fault.offset < at + len(data):
            return fault
    return _Fault(end_of_data, "unexpected end of data")


def _elements(
    file: BinaryIO,
    start: int,
    end: int,
    *,
    chunk_size: int = CHUNK_SIZE,
    max_element: int = MAX_EVENT_SIZE,
) -> Iterator[tuple[int, bytes]]:
    """``(file offset, bytes)`` of each element of the JSON array whose brackets are at file
    offsets ``start`` and ``end``, in order, reading ``chunk_size`` bytes at a time.

    Raises ``_Fault`` (located by file offset) for a malformed separator or an element that
    does not close; the elements' own syntax is left to their decoder. An element longer than
    ``max_element`` bytes raises ``_TooLarge`` (unless its first bytes already hold a fault),
    so that a lost quote cannot make one "element" of the rest of the file.
    """
    scanner = _Scanner()
    buffer, buffer_at = b"", start + 1  # unconsumed bytes and the file offset of buffer[0]
    element = -1  # file offset of the open element's first bracket; -1 between elements
    previous = start + 1  # file offset just past the previous element (or the '[')
    before = False
    offset = start + 1
    for chunk in _chunks(file, chunk_size, start=start + 1, stop=end + 1):
        positions, values, depth = scanner.scan(chunk)
        # Top-level elements open at depth 1 and close at depth 0; the array closes at -1.
        marks = ((depth == 1) & ((values | 0x20) == _OPEN)) | (depth <= 0)
        buffer = buffer + chunk if buffer else chunk
        for at in (positions[marks] + offset).tolist():
            if element < 0:
                after = at != end
                close = b"" if after else buffer[at - buffer_at : at - buffer_at + 1]
                gap = buffer[previous - buffer_at : at - buffer_at]
                for scalar in _separator(gap, previous, before, after, close):
                    yield previous, scalar
                element, before = at, True
                if not after:
                    return
            else:
                yield element, buffer[element - buffer_at : at - buffer_at + 1]
                previous, element = at + 1, -1
        keep = element if element >= 0 else previous
        buffer, buffer_at = buffer[keep - buffer_at :], keep
        offset += len(chunk)
        if element >= 0 and offset - element > max_element:
            fault = _unfinished(buffer, element, -1)
            if fault.offset >= 0:
                raise fault
            raise _TooLarge(element)
    # The data ended inside the array: a truncated file (or a structure lost to a fault).
    if element >= 0:
        raise _unfinished(buffer, element, offset)
    _separator(buffer[previous - buffer_at :], previous, before, False, b"")
    raise _Fault(offset, "unexpected end of data")


# -- the reader ---------------------------------------------------------------------------------


def open_json_stream(
    path: str | os.PathLike[str], *, source: str | None = None, chunk_size: int = CHUNK_SIZE
) -> tuple[EPCISDocument, int, Iterator[AnyEvent]]:
    """Open an EPCIS 2.0 JSON/JSON-LD document file for streaming, in bounded memory.

    Returns what :func:`~threadline.epcis.json_reader.iter_json_document` returns for the
    same document - the document (``events`` empty), the number of events and a lazy iterator
    of parsed events - with the same faults (see the module notes). Memory holds one chunk,
    one event and the document without its event list. ``source`` names the document in
    errors (default: ``path``).
    """
    path = os.fspath(path)
    source = path if source is None else source
    nonce = secrets.token_hex(8)
    try:
        with open(path, "rb") as file:
            skeleton = _structure(file, chunk_size, nonce)
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror}", source=source) from None
    try:
        document = orjson.loads(skeleton.text)
    except orjson.JSONDecodeError as exc:
        where = skeleton.file_offset(_char_to_byte(skeleton.text, exc.pos))
        fault = _first_fault(path, skeleton, _Fault(where, exc.msg), chunk_size)
        raise _located(path, fault, source) from None
    streamed = _event_cut(document, nonce)

    def load(number: int) -> Any:
        cut = skeleton.cuts[number]
        with open(path, "rb") as file:
            file.seek(cut.start)
            data = file.read(cut.end + 1 - cut.start)
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise _located(path, _decode_fault(exc, data, cut.start), source) from None

    document = _restore(document, nonce, load, -1 if streamed is None else streamed)
    parsed, count, events = iter_json_document(document, source=source)
    if streamed is None:
        return parsed, count, events
    base, _ = iter_event_objects(document)
    cut = skeleton.cuts[streamed]
    return parsed, cut.count, _events_of(path, cut, base, parsed.namespaces, source, chunk_size)


def _first_fault(path: str, skeleton: _Skeleton, fault: _Fault, chunk_size: int) -> _Fault:
    """The first syntax fault in the file, given one found in the skeleton.

    A fault inside a cut array (say a lost quote, which flips every later string boundary)
    often surfaces in the skeleton only much later, typically as an unexpected end of data.
    The whole-document reader reports the first fault, so the cut arrays before the skeleton's
    fault are checked element by element (bounded memory; this runs only on the error path).
    """
    with open(path, "rb") as file:
        for cut in skeleton.cuts:
            if cut.start >= fault.offset:
                break
            end = cut.end if cut.end >= 0 else skeleton.size
            try:
                for at, data in _elements(file, cut.start, end, chunk_size=chunk_size):
                    if at > fault.offset:
                        break
                    try:
                        orjson.loads(data)
                    except orjson.JSONDecodeError as exc:
                        raise _decode_fault(exc, data, at) from None
            except _Fault as found:
                # At the same byte (the array's closing bracket), the cut's reading knows
                # what precedes it, as the whole document's parser does; the skeleton does not.
                if found.offset <= fault.offset:
                    return found
            except _TooLarge:
                pass
    return fault


def _event_cut(document: Any, nonce: str) -> int | None:
    """The number of the cut holding the document's event list, if it was cut out."""
    if not isinstance(document, dict):
        return None
    try:
        _base, events = iter_event_objects(document)
    except DocumentError:
        return None
    return _placeholder(events, nonce)


def _events_of(
    path: str,
    cut: _Cut,
    base: str,
    namespaces: dict[str, str],
    source: str | None,
    chunk_size: int,
) -> Iterator[AnyEvent]:
    loads = orjson.loads
    with open(path, "rb") as file:
        elements = _elements(
            file, cut.start, cut.end, chunk_size=chunk_size, max_element=MAX_EVENT_SIZE
        )
        index = 0
        try:
            for at, data in elements:
                try:
                    obj = loads(data)
                except orjson.JSONDecodeError as exc:
                    raise _decode_fault(exc, data, at) from None
                try:
                    yield parse_event(
                        obj, index=index, pointer=f"{base}/{index}", namespaces=namespaces
                    )
                except DocumentError as exc:
                    raise exc.located(source=source) from None
                index += 1
        except _Fault as fault:
            raise _located(path, fault, source) from None
        except _TooLarge:
            raise DocumentError(
                f"the event is larger than {MAX_EVENT_SIZE:,} bytes, the limit for one event",
                source=source,
                index=index,
                pointer=f"{base}/{index}",
            ) from None
