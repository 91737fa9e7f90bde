"""Backup and restore on both backends (and across them): same rows, same answers, same rules."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from threadline.cli import app
from threadline.genealogy import recall, trace, where
from threadline.service import parse_events
from threadline.store import Store, audit, open_store
from threadline.store.auth import Role, add_user, check_login, create_token, list_tokens
from threadline.store.backup import backup, restore

from livekit import PASSWORD, fresh_database, load_plant
from plantkit import F1, H1, H2, X1, X2, qty, receive, transform

runner = CliRunner()
PAIRS = [
    ("sqlite", "sqlite"),
    ("postgres", "postgres"),
    ("sqlite", "postgres"),
    ("postgres", "sqlite"),
]


def _populate(store: Store) -> None:
    load_plant(store)
    add_user(store, name="ann", role=Role.quality, password=PASSWORD)
    create_token(store, name="ann", label="scanner")
    audit.record(store, action="login", outcome="ok", actor="ann", address="10.0.0.7")
    audit.record(store, action="POST /capture", outcome="error 400", actor="ann")


def _counts(db: str) -> dict[str, int]:
    with open_store(db) as store:
        counts = {}
        with store.reader() as r:
            for table in (
                "events",
                "objects",
                "edges",
                "event_objects",
                "status",
                "meta",
                "error_declarations",
                "users",
                "tokens",
                "sessions",
                "audit_log",
            ):
                counts[table] = r.count(table)
        return counts


def _answers(db: str) -> dict[str, Any]:
    with open_store(db) as store, store.reader() as r:
        return {
            "back": trace(r, X1, "backward", links=True).to_dict(),
            "fwd": trace(r, H2, "forward", links=True).to_dict(),
            "recall": recall(r, [H1]).to_dict(),
            "where": where(r, X2).to_dict(),
        }


def _audit(db: str) -> list[dict[str, Any]]:
    with open_store(db) as store:
        return [e.to_dict() for e in audit.entries(store)]


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[Any]:
    with ExitStack() as stack:

        def make(kind: str) -> str:
            return stack.enter_context(fresh_database(kind, tmp_path))

        yield make


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=lambda p: p)
def test_backup_then_restore_into_an_empty_store_gives_the_same_rows_and_answers(
    databases: Any, tmp_path: Path, source: str, target: str
) -> None:
    src, dst = databases(source), databases(target)
    with open_store(src) as store:
        _populate(store)
    file = tmp_path / "plant.backup"
    made = runner.invoke(app, ["backup", str(file), "--db", src])
    assert made.exit_code == 0, made.output
    assert "backed up" in made.output and "schema" in made.output
    assert file.read_bytes()[:2] == (b"SQ" if source == "sqlite" else b"\x1f\x8b")
    loaded = runner.invoke(app, ["restore", str(file), "--db", dst])
    assert loaded.exit_code == 0, loaded.output
    assert _counts(dst) == _counts(src)
    assert _answers(dst) == _answers(src)
    assert _audit(dst) == _audit(src)
    verified = runner.invoke(app, ["verify", "--db", dst])  # the event hash chain survived
    assert verified.exit_code == 0 and "chain intact" in verified.output, verified.output
    with open_store(dst) as restored:
        assert check_login(restored, name="ann", password=PASSWORD) is not None
        assert [t.label for t in list_tokens(restored)] == ["scanner"]
        # Ids continue after the restored ones (PostgreSQL sequences were moved on).
        add_user(restored, name="bob", role=Role.viewer, password=PASSWORD)
        audit.record(restored, action="login", outcome="ok", actor="bob")
        assert [e.id for e in audit.entries(restored)] == [1, 2, 3]
        # The audit log is still append-only after a restore.
        with pytest.raises(Exception, match="append-only"), restored.reader() as r:
            r.cursor.execute("UPDATE audit_log SET outcome = 'ok'")


def test_restore_refuses_a_store_that_holds_data_unless_forced(
    databases: Any, tmp_path: Path
) -> None:
    for kind in ("sqlite", "postgres"):
        src, dst = databases(kind), databases(kind)
        with open_store(src) as store:
            _populate(store)
        with open_store(dst) as store:
            add_user(store, name="someone", role=Role.admin, password=PASSWORD)
            audit.record(store, action="login", outcome="ok", actor="someone")
        file = tmp_path / f"{kind}.backup"
        assert runner.invoke(app, ["backup", str(file), "--db", src]).exit_code == 0
        refused = runner.invoke(app, ["restore", str(file), "--db", dst])
        assert refused.exit_code == 1
        assert "not empty" in refused.output and "--force" in refused.output
        assert "1 audit_log" in refused.output and "1 users" in refused.output
        forced = runner.invoke(app, ["restore", str(file), "--db", dst, "--force"])
        assert forced.exit_code == 0, forced.output
        assert _counts(dst) == _counts(src)
        assert _audit(dst) == _audit(src)  # the target's own log was replaced too


def test_a_damaged_or_foreign_file_is_refused_and_the_target_left_alone(
    databases: Any, tmp_path: Path
) -> None:
    src, dst = databases("postgres"), databases("sqlite")
    with open_store(src) as store:
        _populate(store)
    file = tmp_path / "full.backup"
    with open_store(src) as store:
        report = backup(store, file)
    assert report.form == "jsonl.gz" and report.tables["events"] > 0
    lines = gzip.decompress(file.read_bytes()).splitlines(keepends=True)
    cut = tmp_path / "cut.backup"
    cut.write_bytes(gzip.compress(b"".join(lines[: len(lines) // 2])))
    foreign = tmp_path / "notes.txt"
    foreign.write_text("hello")
    for bad, reason in ((cut, "damaged backup"), (foreign, "not a Threadline backup")):
        result = runner.invoke(app, ["restore", str(bad), "--db", dst])
        assert result.exit_code == 1, result.output
        assert reason in result.output and bad.name in result.output
    assert not Path(dst).exists()  # no store file appears where there was none
    assert not Path(dst + ".restoring").exists()


def _burst(start: int, pairs: int) -> list[dict[str, Any]]:
    """Receive-and-transform pairs on fresh lots (unique eventIDs, one new edge per pair)."""
    events = []
    for i in range(start, start + pairs):
        heat = f"urn:epc:class:lgtin:4098765.012345.BK{i}"
        lot = f"urn:epc:class:lgtin:4012345.022222.BL{i}"
        events.append(receive(i % 600, heat, 100))
        events.append(transform(i % 600, [qty(heat, 100, "KGM")], [qty(lot, 1000)]))
    return events


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_backup_taken_while_writes_go_on_is_one_committed_state(
    databases: Any, tmp_path: Path, kind: str
) -> None:
    src, dst = databases(kind), databases(kind)
    batches = [list(parse_events(_burst(n * 40, 40), source="burst")) for n in range(60)]
    committed: list[int] = []
    stop = threading.Event()
    with open_store(src) as store:
        load_plant(store)
        base = store.counts()["events"]

        def write() -> None:
            for batch in batches:
                if stop.is_set():
                    return
                store.append(batch)
                committed.append(len(batch))

        writer = threading.Thread(target=write)
        writer.start()
        try:
            deadline = time.monotonic() + 120
            while len(committed) < 3:
                assert time.monotonic() < deadline and writer.is_alive()
                time.sleep(0.01)
            report = backup(store, tmp_path / "busy.backup")
        finally:
            stop.set()
            writer.join()
    assert len(committed) < len(batches), "the writes ended before the backup; nothing tested"
    restore(tmp_path / "busy.backup", dst)
    with open_store(dst) as restored:
        events = restored.counts()["events"]
        # Exactly the first k batches, whole: never a batch in part.
        assert events - base in {sum(committed[:k]) for k in range(len(committed) + 1)}
        assert report.tables["events"] == events
        before = restored.counts()
        restored.rebuild()  # projections recomputed from the events alone agree
        assert restored.counts() == before
        with restored.reader() as r:
            assert trace(r, F1, "backward").to_dict() == _answers_f1(src)


def _answers_f1(db: str) -> dict[str, Any]:
    with open_store(db) as store, store.reader() as r:
        return trace(r, F1, "backward").to_dict()
