"""Service layer shared by the CLI (and later the API): import documents, run the demo plant."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from threadline.epcis.json_reader import iter_json_document, parse_event
from threadline.epcis.xml_reader import is_xml, iter_xml_document
from threadline.errors import DocumentError
from threadline.model.events import AnyEvent
from threadline.store.base import AppendResult, Store

Progress = Callable[[int], None]


@dataclass
class ImportReport:
    source: str
    events: int
    result: AppendResult


def open_document(path: Path) -> tuple[int, Iterator[AnyEvent]]:
    """Open an EPCIS document — JSON/JSON-LD or XML (2.0 or 1.2), told apart by content, not by
    file name: its event count and a lazy iterator of parsed events."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror}", source=str(path)) from None
    reader = iter_xml_document if is_xml(data) else iter_json_document
    _document, count, events = reader(data, source=str(path))
    return count, events


def import_document(
    store: Store,
    path: Path,
    *,
    on_start: Callable[[int], None] | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import one document, all or nothing: a fault anywhere stores none of its events."""
    count, events = open_document(path)
    if on_start:
        on_start(count)
    result = store.append(events, progress=progress)
    return ImportReport(str(path), count, result)


def parse_events(raw_events: Iterable[dict[str, Any]], *, source: str) -> Iterator[AnyEvent]:
    """Parse plain EPCIS event dicts (as the simulator yields them), locating faults."""
    for index, obj in enumerate(raw_events):
        try:
            yield parse_event(obj, index=index, pointer=f"/{index}")
        except DocumentError as exc:
            raise exc.located(source=source) from None
