"""The writer process: group commits written by a child process, and what happens when it fails.

The behaviour it shares with the writer thread (groups, counts, retries, closing) is tested for
both in test_group_commit.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from threadline.epcis.json_reader import read_json_document
from threadline.errors import StoreError, StoreUnavailable
from threadline.model.events import AnyEvent
from threadline.store import AppendResult, Store, audit, open_store
from threadline.store.sqlite import SQLiteStore
from threadline.store.writer_process import ProcessGroupCommitter, StatementRecorder

from plantkit import document, receive


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Any:
    store = open_store(str(tmp_path / "writer.db"), batch_size=7)
    try:
        yield store
    finally:
        store.close()


def _events(first: int, count: int) -> list[AnyEvent]:
    raw = [
        receive(first + i, f"urn:epc:class:lgtin:4098765.012345.W{first + i}", 5)
        for i in range(count)
    ]
    return list(read_json_document(document(raw)).events)


def _child(committer: ProcessGroupCommitter) -> subprocess.Popen[bytes]:
    child = committer._child
    assert child is not None
    return child.process


def _gone(pid: int, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_events_and_their_rows_commit_in_the_child(sqlite_store: Store) -> None:
    def audited(cursor: Any, result: AppendResult) -> None:
        audit.append(sqlite_store, cursor, action="test", outcome=f"{result.inserted} stored")

    committer = ProcessGroupCommitter(sqlite_store)
    try:
        pid = _child(committer).pid
        assert pid != os.getpid()
        events = _events(0, 4)
        result = committer.append(events, also=audited)
        again = committer.append(events)  # a retried request: stored once
    finally:
        committer.close()
    assert (result.inserted, again.inserted, again.duplicates) == (4, 0, 4)
    assert sqlite_store.counts()["events"] == 4
    with sqlite_store.reader() as reader:
        rows = reader.query("SELECT outcome FROM audit_log WHERE action = 'test'")
    assert [r[0] for r in rows] == ["4 stored"]
    assert _gone(pid), "the writer process did not end with close()"


def test_a_write_that_reads_back_is_refused_and_rolls_back(sqlite_store: Store) -> None:
    def reads(cursor: Any, _result: AppendResult) -> None:
        cursor.execute("SELECT count(*) FROM events")
        cursor.fetchone()

    committer = ProcessGroupCommitter(sqlite_store)
    try:
        with pytest.raises(AttributeError, match=r"can only execute statements.*fetchone"):
            committer.append(_events(100, 2), also=reads)
        assert committer.append(_events(200, 1)).inserted == 1  # the child is still there
    finally:
        committer.close()
    assert sqlite_store.counts()["events"] == 1


def test_a_killed_writer_fails_its_group_and_is_replaced(sqlite_store: Store) -> None:
    committer = ProcessGroupCommitter(sqlite_store)
    first = _child(committer)

    def kill_the_writer(_cursor: Any, _result: AppendResult) -> None:
        # Runs while the child holds the group's open transaction, waiting for these rows.
        first.kill()
        first.wait()

    try:
        with pytest.raises(StoreUnavailable, match="writer process ended unexpectedly"):
            committer.append(_events(300, 3), also=kill_the_writer)
        assert sqlite_store.counts()["events"] == 0  # nothing half-written
        # Killed between groups: the next group starts a new writer first.
        assert committer.append(_events(400, 1)).inserted == 1
        second = _child(committer)
        second.kill()
        second.wait()
        assert committer.append(_events(500, 2)).inserted == 2
        assert _child(committer).pid not in (first.pid, second.pid)
    finally:
        committer.close()
    assert sqlite_store.counts()["events"] == 3


def test_the_writer_ignores_signals_sent_to_the_whole_service(sqlite_store: Store) -> None:
    # Ctrl-C or a service manager signals every process of the group; the service then finishes
    # what is queued through its writer, which must still be there.
    committer = ProcessGroupCommitter(sqlite_store)
    try:
        child = _child(committer)
        child.send_signal(signal.SIGINT)
        child.send_signal(signal.SIGTERM)
        # The child must run to answer this group, so the signals have reached it by then.
        assert committer.append(_events(600, 2)).inserted == 2
        assert _child(committer) is child and child.poll() is None
    finally:
        committer.close()


def test_the_writer_ends_when_the_service_is_killed(tmp_path: Path) -> None:
    db = tmp_path / "orphan.db"
    open_store(str(db)).close()
    script = textwrap.dedent(
        f"""
        import sys, time
        from threadline.store import open_store
        from threadline.store.writer_process import ProcessGroupCommitter
        committer = ProcessGroupCommitter(open_store({str(db)!r}))
        print(committer._child.process.pid, flush=True)
        time.sleep(600)
        """
    )
    service = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert service.stdout is not None
        child_pid = int(service.stdout.readline())
    finally:
        service.kill()
        service.wait()
    assert _gone(child_pid), "the writer process outlived the killed service"


def test_a_store_the_writer_cannot_use_is_a_clear_error(tmp_path: Path) -> None:
    in_memory = cast(Store, SimpleNamespace(path=":memory:"))
    with pytest.raises(StoreError, match="SQLite store in a file"):
        ProcessGroupCommitter(in_memory)
    not_a_db = tmp_path / "notes.db"
    not_a_db.write_text("shopping list: bolts, nuts\n" * 200)
    store = SQLiteStore(str(not_a_db))
    committer = ProcessGroupCommitter(store)
    try:
        with pytest.raises(Exception, match="not a database"):
            committer.append(_events(700, 1))
    finally:
        committer.close()
        store.close()


def test_the_recorder_keeps_statements_in_order() -> None:
    recorder = StatementRecorder()
    recorder.execute("INSERT INTO t VALUES (?)", (1,))
    recorder.executemany("INSERT INTO t VALUES (?)", iter([(2,), (3,)]))
    assert recorder.statements == [
        ("INSERT INTO t VALUES (?)", (1,), False),
        ("INSERT INTO t VALUES (?)", [(2,), (3,)], True),
    ]
    with pytest.raises(AttributeError, match="lastrowid"):
        _ = recorder.lastrowid
