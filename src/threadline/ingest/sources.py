"""What every ingester shares: items, the batch queue, and the batch writer.

A source (MQTT, OPC UA) turns each thing it receives — a message, a data change — into one
:class:`Item`: the readings, events or scan it carries, or the reason it was refused. Items go
into a :class:`BatchQueue`; one writer thread takes them in batches bounded by size (readings)
and time (the delay since the batch's first item arrived) and hands each batch to
:class:`BatchWriter`, which commits it in one transaction. Only after :meth:`BatchWriter.write`
returns may the source acknowledge the batch's items: acknowledged data is durable.

Faults are of two kinds. A fault of the data (a refused payload, an event the store rejects)
becomes an ``ingest_errors`` row and the item is acknowledged like any other: a bad payload never
stops ingestion. A fault of the store (database unreachable, locked, disk full) is retried with
a growing pause and nothing is acknowledged meanwhile, so the broker keeps the messages.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from threadline.epcis.json_reader import utc_text
from threadline.errors import ThreadlineError
from threadline.ingest.readings import (
    MachineReading,
    ReadingsListener,
    insert_readings,
    readings_committed,
)
from threadline.ingest.scans import scan_event
from threadline.ingest.stations import stations_by_id
from threadline.model.events import AnyEvent
from threadline.store.base import Store
from threadline.store.ingest_errors import IngestError, record_errors

__all__ = [
    "BatchQueue",
    "BatchStats",
    "BatchWriter",
    "Item",
    "ScanRequest",
    "now_text",
    "stop_on_signals",
]

log = logging.getLogger("threadline.ingest")


def now_text() -> str:
    return utc_text(datetime.now(UTC))


@dataclass(frozen=True)
class ScanRequest:
    """A scan to turn into an event once its station's configuration is read."""

    station: str
    data: str
    time: str


@dataclass
class Item:
    """One received thing, parsed: what it carries, or why it was refused.

    ``token`` is the source's acknowledgement handle (an MQTT message id, ...); ``topic`` and
    ``payload`` say where it came from and what it was, for the error record.
    """

    source: str
    topic: str
    payload: bytes | str | None = None
    readings: list[MachineReading] = field(default_factory=list)
    events: list[AnyEvent] = field(default_factory=list)
    master: tuple[dict[str, Any], dict[str, str]] | None = None  # EPCIS header, namespaces
    scan: ScanRequest | None = None
    error: str | None = None
    token: Any = None
    received: float = field(default_factory=time.monotonic)
    committed: bool = False  # set once its transaction committed (a retry skips it)

    @property
    def weight(self) -> int:
        """What this item counts for against the batch size (its rows, at least 1)."""
        return max(1, len(self.readings) + len(self.events))

    def refused(self, reason: str) -> None:
        """Turn this item into an error record (nothing of it is stored)."""
        self.readings, self.events, self.master, self.scan = [], [], None, None
        self.error = reason

    def error_record(self) -> IngestError:
        return IngestError(
            now_text(), self.source, self.topic, _text(self.payload), self.error or ""
        )


def _text(payload: bytes | str | None) -> str | None:
    if payload is None or isinstance(payload, str):
        return payload
    return payload.decode("utf-8", errors="replace")


class BatchQueue:
    """A thread-safe queue of items, taken in batches bounded by weight and delay."""

    def __init__(self) -> None:
        self._items: deque[Item] = deque()
        self._ready = threading.Condition()
        self._closed = False

    def put(self, item: Item) -> None:
        with self._ready:
            self._items.append(item)
            self._ready.notify()

    def close(self) -> None:
        """Wake the taker; :meth:`take` then returns what is left, then empty batches."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def __len__(self) -> int:
        return len(self._items)

    def take(self, max_weight: int, max_delay: float, *, idle: float = 0.5) -> list[Item]:
        """The next batch: waits up to ``idle`` s for a first item, then until the batch weighs
        ``max_weight`` or ``max_delay`` s have passed since that item arrived."""
        with self._ready:
            if not self._items and not self._closed:
                self._ready.wait(idle)
            if not self._items:
                return []
            deadline = self._items[0].received + max_delay
            weight = sum(i.weight for i in self._items)
            while weight < max_weight and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                before = len(self._items)
                self._ready.wait(left)
                weight += sum(self._items[i].weight for i in range(before, len(self._items)))
            batch: list[Item] = []
            taken = 0
            while self._items and (taken < max_weight or not batch):
                item = self._items.popleft()
                batch.append(item)
                taken += item.weight
            return batch


@dataclass
class BatchStats:
    """Running totals of one writer."""

    batches: int = 0
    items: int = 0
    readings: int = 0  # readings received (stored or already stored)
    readings_stored: int = 0
    events_stored: int = 0
    duplicates: int = 0  # events already stored
    errors: int = 0
    retries: int = 0  # store faults retried


_DATA_FAULTS = frozenset({"IntegrityError", "DataError"})  # DB-API: the same data fails again


def _is_data_fault(exc: BaseException) -> bool:
    # ThreadlineErrors below 500 are about the data (a rejected event), and so are the drivers'
    # integrity and data errors: retrying them would block ingestion for good. The rest
    # (StoreError, locked or unreachable databases, I/O) are about the store: worth retrying.
    if isinstance(exc, ThreadlineError):
        return exc.status < 500
    return any(cls.__name__ in _DATA_FAULTS for cls in type(exc).__mro__)


class Stoppable(Protocol):
    def stop(self) -> None: ...


@contextmanager
def stop_on_signals(ingester: Stoppable) -> Iterator[None]:
    """SIGINT/SIGTERM stop ``ingester`` gracefully (its batch in hand commits first)."""
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def handler(_signum: int, _frame: Any) -> None:
        ingester.stop()

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class BatchWriter:
    """Commits batches of items to a store: readings, events, scans and error records."""

    def __init__(
        self,
        store: Store,
        *,
        listeners: Sequence[ReadingsListener] = (),
        max_pause: float = 5.0,
        on_error: Callable[[Item], None] | None = None,
    ) -> None:
        self.store = store
        self.listeners = list(listeners)
        self.max_pause = max_pause
        self.on_error = on_error
        self.stats = BatchStats()
        self.stopping = threading.Event()

    def write(self, batch: Sequence[Item]) -> bool:
        """Commit ``batch`` (retrying store faults until it lands or :attr:`stopping` is set).

        Returns True once everything is durable — the items may be acknowledged — and False if
        the writer was stopped first (acknowledge nothing: the source will deliver them again).
        """
        if not batch:
            return True
        pause = 0.05
        while True:
            try:
                pending = [item for item in batch if not item.committed]
                if not pending:
                    break
                self._resolve_scans(pending)
                self._commit_isolating(pending)
                break
            except Exception as exc:  # a store fault: keep the batch, try again
                if self.stopping.is_set():
                    log.warning("stopping with an uncommitted batch: %s", exc)
                    return False
                self.stats.retries += 1
                log.error("cannot commit a batch of %d items (retrying): %s", len(batch), exc)
                if self.stopping.wait(pause):
                    return False
                pause = min(self.max_pause, pause * 2)
        self.stats.batches += 1
        self.stats.items += len(batch)
        readings = [r for item in batch for r in item.readings]
        self.stats.readings += len(readings)
        readings_committed(self.store, readings, self.listeners)
        for item in batch:
            if item.error is not None:
                self.stats.errors += 1
                if self.on_error is not None:
                    self.on_error(item)
        return True

    # -- internals ---------------------------------------------------------------------------
    def _resolve_scans(self, batch: Sequence[Item]) -> None:
        scans = [item for item in batch if item.scan is not None]
        if not scans:
            return
        with self.store.reader() as reader:
            stations = stations_by_id(reader, [i.scan.station for i in scans if i.scan])
        for item in scans:
            request = item.scan
            assert request is not None
            station = stations.get(request.station)
            if station is None:
                item.refused(
                    f"unknown station {request.station!r}: configure it with "
                    f"`threadline stations set {request.station} --bizstep ...`"
                )
                continue
            try:
                event, _ = scan_event(station, request.data, request.time)
            except ThreadlineError as exc:
                item.refused(exc.message)
                continue
            item.scan = None
            item.events = [event]

    def _commit_isolating(self, batch: Sequence[Item]) -> None:
        try:
            self._commit(batch)
        except Exception as exc:
            if not _is_data_fault(exc):
                raise
            if len(batch) == 1:
                # The store rejected this item's data: record why, in a transaction of its own.
                batch[0].refused(getattr(exc, "message", str(exc)))
                self._commit(batch)
                return
            # One item spoiled the shared transaction: commit each on its own to find it.
            for item in batch:
                self._commit_isolating([item])

    def _commit(self, batch: Sequence[Item]) -> None:
        from threadline.store.master_data import upsert_master_data

        store = self.store
        readings = [r for item in batch for r in item.readings]
        errors = [item.error_record() for item in batch if item.error is not None]
        with store.writer() as writer:
            stored = insert_readings(store, writer.cursor, readings)
            for item in batch:
                if item.events:
                    writer.append(item.events)
                if item.master is not None:
                    upsert_master_data(writer, item.master[0], item.master[1])
            record_errors(store, writer.cursor, errors)
        for item in batch:
            item.committed = True
        self.stats.readings_stored += stored
        self.stats.events_stored += writer.result.inserted
        self.stats.duplicates += writer.result.duplicates
