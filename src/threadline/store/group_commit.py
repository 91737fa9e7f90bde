"""Group commit: many concurrent captures share one transaction and one fsync.

A capture is acknowledged only after its events are committed. Committing each request on its
own would cap a busy service at the disk's fsync rate; instead one writer thread takes every
submission waiting at that moment, appends them all in one transaction and commits once, then
answers each submitter with its own :class:`AppendResult`. Under light load a group is a single
submission and nothing waits; under heavy load groups grow and throughput follows.

If the shared transaction fails, each submission of the group is retried in a transaction of
its own, so one bad submission cannot take its neighbours down with it.

Commit listeners (:meth:`GroupCommitter.add_listener`) hear, after each commit that stored event
rows, the range of row ids it committed (webhook subscriptions wake on it). They are called on
the writer thread after the transaction has committed and its submitters have been answered, so
they must only hand the news on (put it on a queue) and return.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from threadline.model.events import AnyEvent
from threadline.store.base import AppendResult, Store

log = logging.getLogger("threadline.store")

# Rows that must commit together with a submission's events (its audit entry, its capture job),
# written through the transaction's cursor once the events' outcome is known.
AlsoWrite = Callable[[Any, AppendResult], None]
# Told ``(first, last)``: the event row ids a commit stored (events rows are numbered in commit
# order, so every row committed later has a higher id).
CommitListener = Callable[[int, int], None]


@dataclass
class _Submission:
    events: Sequence[AnyEvent]
    also: AlsoWrite | None = None
    future: Future[AppendResult] = field(default_factory=Future)
    # The events as a subclass needs them carried (prepared by the submitting thread).
    payload: Any = None


@dataclass
class GroupStats:
    """Counters for observing the committer (and for the benchmark's report)."""

    commits: int = 0
    submissions: int = 0
    events: int = 0
    retried_groups: int = 0
    largest_group: int = 0


class GroupCommitter:
    """The single writer of a service. Thread-safe :meth:`submit`; call :meth:`close` at exit."""

    def __init__(self, store: Store, *, max_group_events: int = 20_000) -> None:
        self.store = store
        self.max_group_events = max_group_events
        self.stats = GroupStats()
        self._queue: queue.Queue[_Submission | None] = queue.Queue()
        self._closed = False
        self._listeners: list[CommitListener] = []
        self._thread = threading.Thread(target=self._run, name="threadline-writer", daemon=True)
        self._thread.start()

    def submit(
        self, events: Sequence[AnyEvent], *, also: AlsoWrite | None = None
    ) -> Future[AppendResult]:
        """Queue ``events`` (all or nothing); the future resolves after they are committed.

        ``also(cursor, result)`` runs in the same transaction, after the events are appended:
        what it writes commits with them or not at all.
        """
        if self._closed:
            raise RuntimeError("the writer is closed")
        submission = self._submission(list(events), also)
        self._queue.put(submission)
        return submission.future

    def _submission(self, events: list[AnyEvent], also: AlsoWrite | None) -> _Submission:
        """A queued submission; runs on the submitting thread (a subclass prepares it here)."""
        return _Submission(events, also)

    def append(self, events: Sequence[AnyEvent], *, also: AlsoWrite | None = None) -> AppendResult:
        """:meth:`submit` and wait: returns once the events are durable."""
        return self.submit(events, also=also).result()

    def add_listener(self, listener: CommitListener) -> None:
        """Call ``listener(first, last)`` after each commit that stored event rows.

        It runs on the writer thread, outside the transaction, after the submitters have their
        answers; it must return at once (hand the range to another thread). An exception it
        raises is logged and does not affect the writer.
        """
        self._listeners.append(listener)

    def close(self) -> None:
        """Finish what is queued, then stop the writer thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    # -- the writer thread -------------------------------------------------------------------------
    def _take_group(self, first: _Submission) -> tuple[list[_Submission], bool]:
        group, size, stop = [first], len(first.events), False
        while size < self.max_group_events:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                stop = True
                break
            group.append(item)
            size += len(item.events)
        return group, stop

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group, stop = self._take_group(first)
            live = [s for s in group if s.future.set_running_or_notify_cancel()]
            if live:
                self._commit(live)
            if stop:
                return

    def _commit(self, group: list[_Submission]) -> None:
        try:
            results, first, end = self._write(group)
        except BaseException as exc:  # handed to the submitters, whatever it is
            if len(group) == 1:
                group[0].future.set_exception(exc)
                return
            self.stats.retried_groups += 1
            for submission in group:
                self._commit([submission])
            return
        self.stats.commits += 1
        self.stats.submissions += len(group)
        self.stats.events += sum(len(s.events) for s in group)
        self.stats.largest_group = max(self.stats.largest_group, len(group))
        for submission, result in zip(group, results, strict=True):
            submission.future.set_result(result)
        if end > first:
            self._tell(first, end - 1)

    def _write(self, group: Sequence[_Submission]) -> tuple[list[AppendResult], int, int]:
        """Commit ``group`` in one transaction: each submission's result, and the first and
        the next free event row id (0, 0 when nobody listens); raises if nothing committed."""
        listening = bool(self._listeners)
        first = end = 0
        with self.store.writer() as writer:
            if listening:
                first = self.store.first_free_id(writer.cursor, "events")
            # One append for the whole group: one round of queries and inserts, however many
            # submissions share the commit; each submission still gets its own counts.
            results = writer.append_parts([s.events for s in group])
            for submission, result in zip(group, results, strict=True):
                if submission.also is not None:
                    submission.also(writer.cursor, result)
            if listening:
                end = self.store.first_free_id(writer.cursor, "events")
        return results, first, end

    def _tell(self, first: int, last: int) -> None:
        for listener in list(self._listeners):
            try:
                listener(first, last)
            except Exception:  # a listener's fault must never stop the writer
                log.exception("commit listener %r failed", listener)
