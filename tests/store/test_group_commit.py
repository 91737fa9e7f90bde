"""Group commit: concurrent submissions share transactions, each is answered after commit."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import pytest

from threadline.epcis.json_reader import read_json_document
from threadline.model.events import AnyEvent
from threadline.store import AppendResult, Store, audit
from threadline.store import writer as writer_module
from threadline.store.group_commit import GroupCommitter
from threadline.store.writer_process import ProcessGroupCommitter

from plantkit import declare_error, document, receive


@pytest.fixture(params=["thread", "process"])
def make_committer(request: pytest.FixtureRequest, store: Store) -> Callable[[], GroupCommitter]:
    """Both kinds of committer: the writer thread, and (SQLite) the writer process."""
    if request.param == "process" and store.engine.dialect.name != "sqlite":
        pytest.skip("the writer process is for SQLite stores")
    kind = ProcessGroupCommitter if request.param == "process" else GroupCommitter
    return lambda: kind(store)


def _events(first_minute: int, count: int) -> list[AnyEvent]:
    raw = [
        receive(
            (first_minute + i) % 900, f"urn:epc:class:lgtin:4098765.012345.G{first_minute + i}", 10
        )
        for i in range(count)
    ]
    return list(read_json_document(document(raw)).events)


def _until_taken(committer: GroupCommitter, seconds: float = 10) -> None:
    """Return once the writer thread has taken everything submitted so far."""
    deadline = time.monotonic() + seconds
    while committer._queue.qsize():
        assert time.monotonic() < deadline, "the writer thread took nothing"
        time.sleep(0.01)  # polling interval, not synchronisation


def _wait(futures: list[Future[AppendResult]], seconds: float = 60) -> list[AppendResult]:
    deadline = time.monotonic() + seconds
    return [f.result(timeout=max(0.1, deadline - time.monotonic())) for f in futures]


def test_waiting_submissions_share_one_commit(
    store: Store, make_committer: Callable[[], GroupCommitter]
) -> None:
    committer = make_committer()
    try:
        # Hold the store's write lock so that submissions pile up behind the first one.
        with store.writer():
            held = [committer.submit(_events(0, 2))]
            _until_taken(committer)  # the writer thread has the first submission
            held += [committer.submit(_events(100 + 10 * i, 3)) for i in range(31)]
            assert not any(f.done() for f in held)  # nothing acknowledged before its commit
        results = _wait(held)
    finally:
        committer.close()
    assert [r.inserted for r in results] == [2] + [3] * 31
    assert committer.stats.largest_group == 31
    assert committer.stats.commits == 2
    assert store.counts()["events"] == 2 + 93


def test_concurrent_clients_store_everything_once(
    store: Store, make_committer: Callable[[], GroupCommitter]
) -> None:
    committer = make_committer()
    batches = [_events(1000 + 5 * i, 5) for i in range(32)]
    results: list[AppendResult] = []
    lock = threading.Lock()

    def client(events: list[AnyEvent]) -> None:
        first = committer.append(events)
        again = committer.append(events)  # a retried request stores nothing twice
        with lock:
            results.extend([first, again])

    threads = [threading.Thread(target=client, args=(b,)) for b in batches]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        committer.close()
    assert sum(r.inserted for r in results) == 160
    assert sum(r.duplicates for r in results) == 160
    assert store.counts()["events"] == 160


def test_a_failing_submission_does_not_sink_its_group(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = _events(5000, 1)
    poison = bad[0].event_id
    original = writer_module.Writer.append

    def append(self: writer_module.Writer, events, **kw):  # type: ignore[no-untyped-def]
        events = list(events)
        if any(e.event_id == poison for e in events):
            raise RuntimeError("disk on fire")
        return original(self, events, **kw)

    monkeypatch.setattr(writer_module.Writer, "append", append)
    committer = GroupCommitter(store)
    try:
        with store.writer():
            first = committer.submit(_events(6000, 1))
            _until_taken(committer)  # the writer thread has the first submission
            good = [committer.submit(_events(7000 + 10 * i, 2)) for i in range(3)]
            failing = committer.submit(bad)
            good.append(committer.submit(_events(8000, 2)))
        assert _wait([first])[0].inserted == 1
        assert [r.inserted for r in _wait(good)] == [2, 2, 2, 2]
        with pytest.raises(RuntimeError, match="disk on fire"):
            failing.result(timeout=60)
    finally:
        committer.close()
    assert committer.stats.retried_groups == 1
    assert store.counts()["events"] == 9


def test_close_finishes_queued_work_and_refuses_more(
    store: Store, make_committer: Callable[[], GroupCommitter]
) -> None:
    committer = make_committer()
    futures = [committer.submit(_events(9000 + 10 * i, 1)) for i in range(5)]
    committer.close()
    assert all(f.done() for f in futures)
    assert store.counts()["events"] == 5
    with pytest.raises(RuntimeError):
        committer.submit(_events(9900, 1))


def test_a_shared_commit_tells_each_submission_its_own_counts(
    store: Store, make_committer: Callable[[], GroupCommitter]
) -> None:
    """One group, one append: duplicates and declarations are counted for the part they are in."""
    committer = make_committer()
    first_raw = [
        receive(100 + i, f"urn:epc:class:lgtin:4098765.012345.G91{i}", 10) for i in range(3)
    ]
    first = list(read_json_document(document(first_raw)).events)
    # The same event as first's first, parsed again (as a retried request would be).
    again = list(read_json_document(document(first_raw[:1])).events)
    original_raw = receive(200, "urn:epc:class:lgtin:4098765.012345.G9200", 10)
    original = list(read_json_document(document([original_raw])).events)
    declared = list(read_json_document(document([declare_error(original_raw, 300)])).events)
    try:
        with store.writer():
            held = committer.submit(_events(9000, 1))
            _until_taken(committer)  # the writer thread has the first submission
            futures = [
                committer.submit(first),
                committer.submit(again),  # the same event as first's first: a duplicate
                committer.submit(original),
                committer.submit(declared),  # declares the previous part's event in error
            ]
        _wait([held])
        results = _wait(futures)
    finally:
        committer.close()
    assert committer.stats.largest_group == 4
    assert [(r.inserted, r.duplicates, r.declared_in_error) for r in results] == [
        (3, 0, 0),
        (0, 1, 0),
        (1, 0, 0),
        (1, 0, 1),
    ]
    assert store.counts()["events"] == 1 + 3 + 1 + 1


def test_a_failing_write_beside_the_events_rolls_back_only_its_submission(
    store: Store, make_committer: Callable[[], GroupCommitter]
) -> None:
    """A capture's job or audit row that cannot be written takes its own events down with it,
    and nobody else's."""

    def job_row(cursor: Any, result: AppendResult) -> None:
        audit.append(store, cursor, action="test", outcome=f"stored {result.inserted}")

    def broken_row(cursor: Any, result: AppendResult) -> None:
        cursor.execute(store.sql("INSERT INTO no_such_table (x) VALUES (?)"), (1,))

    committer = make_committer()
    try:
        with store.writer():
            held = committer.submit(_events(4000, 1))
            _until_taken(committer)  # the writer thread has the first submission
            good = [committer.submit(_events(4100 + 10 * i, 2), also=job_row) for i in range(3)]
            failing = committer.submit(_events(4500, 2), also=broken_row)
        assert [r.inserted for r in _wait([held, *good])] == [1, 2, 2, 2]
        with pytest.raises(Exception, match="no_such_table"):
            failing.result(timeout=60)
    finally:
        committer.close()
    assert committer.stats.retried_groups == 1
    assert store.counts()["events"] == 1 + 6
    with store.reader() as reader:
        outcomes = reader.query("SELECT outcome FROM audit_log WHERE action = 'test'")
    assert sorted(row[0] for row in outcomes) == ["stored 2"] * 3
