"""Kill -9 in the middle of an import: re-running it stores every event exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from threadline.store import open_store
from threadline.store.sqlite import SQLiteStore

EVENTS = 60_000


def _document(first: int, count: int) -> dict[str, object]:
    events = [
        {
            "type": "ObjectEvent",
            "eventID": f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
            "eventTime": f"2026-01-01T00:{(i // 60) % 60:02d}:{i % 60:02d}Z",
            "eventTimeZoneOffset": "+00:00",
            "action": "ADD",
            "bizStep": "commissioning",
            "epcList": [f"urn:epc:id:sgtin:4012345.011111.{i}"],
            "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.L1"},
        }
        for i in range(first, first + count)
    ]
    return {"type": "EPCISDocument", "epcisBody": {"eventList": events}}


def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_sigkill_midway_then_reimport_stores_each_event_once(tmp_path: Path) -> None:
    first = tmp_path / "a.jsonld"
    second = tmp_path / "b.jsonld"
    first.write_text(json.dumps(_document(0, 1000)))
    second.write_text(json.dumps(_document(1000, EVENTS)))
    db = tmp_path / "crash.db"
    wal = Path(f"{db}-wal")
    command = [
        sys.executable,
        "-m",
        "threadline",
        "import",
        str(first),
        str(second),
        "--db",
        str(db),
    ]
    env = {**os.environ, "THREADLINE_BATCH_SIZE": "2000"}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()  # the first document is committed ...
    assert "a.jsonld: 1000 stored" in line, line
    size_after_first = wal.stat().st_size if wal.exists() else 0
    # ... and the second is being written (its batches grow the WAL) when the kill lands.
    _wait_for(
        lambda: wal.exists() and wal.stat().st_size > size_after_first + 2_000_000,
        60,
        "the second import to write",
    )
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    with open_store(str(db)) as store:
        assert store.counts()["events"] == 1000  # the killed document left nothing behind

    again = subprocess.run(command, capture_output=True, env=env, timeout=600, check=False)
    assert again.returncode == 0, again.stderr.decode()
    assert b"a.jsonld: 0 stored, 1000 already stored" in again.stdout
    with open_store(str(db)) as store:
        assert isinstance(store, SQLiteStore)
        assert store.counts()["events"] == 1000 + EVENTS
        with store.reader() as r:
            dupes = r.query(
                "SELECT count(*) FROM (SELECT event_id FROM events GROUP BY event_id "
                "HAVING count(*) > 1) d"
            )
        assert dupes[0][0] == 0
        assert store.integrity_check() == "ok"
