"""Tamper evidence: the events' hash chain and `threadline verify`."""

from __future__ import annotations

import itertools
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

import threadline.store as package
from threadline.cli import app
from threadline.epcis.json_reader import read_json_document
from threadline.store import Store, open_store
from threadline.store.chain import GENESIS, canonical_doc, link_hash, verify

from plantkit import document, small_plant


def _fill(store: Store) -> None:
    events, named = small_plant()
    store.append(read_json_document(document(events)).events)
    # A second transaction and an error declaration: the chain spans both.
    store.append(read_json_document(document([named["declaration"]])).events)


def _report(store: Store):  # type: ignore[no-untyped-def]
    with store.reader() as reader:
        return verify(reader)


def _execute(store: Store, sql: str, params: tuple[object, ...] = ()) -> None:
    with store._raw() as connection:
        cursor = connection.cursor()
        cursor.execute(store.sql(sql), params)
        connection.commit()


def _rows(store: Store) -> list[tuple[int, str, str | None, str | None]]:
    with store.reader() as reader:
        return [
            (r[0], r[1], r[2], r[3])
            for r in reader.query(
                "SELECT e.id, e.event_id, c.prev_hash, c.hash FROM events e "
                "LEFT JOIN event_chain c ON c.id = e.id ORDER BY e.id"
            )
        ]


def test_intact_chain_links_every_event_in_record_order(store: Store) -> None:
    _fill(store)
    rows = _rows(store)
    assert rows[0][2] == GENESIS
    for before, after in itertools.pairwise(rows):
        assert after[2] == before[3]
    report = _report(store)
    assert report.ok and report.checked == len(rows) and report.head == rows[-1][3]
    # Rebuilding the projections (which rewrites error_declared flags) keeps the chain intact.
    store.rebuild()
    assert _report(store).ok


def test_modified_event_is_named(store: Store) -> None:
    _fill(store)
    row, event_id = _rows(store)[4][:2]
    with store.reader() as reader:
        doc = store.load_json(reader.query("SELECT doc FROM events WHERE id = ?", (row,))[0][0])
    doc["bizStep"] = "shipping"
    _execute(
        store,
        f"UPDATE events SET doc = {store.json_param()} WHERE id = ?",
        (orjson.dumps(doc).decode(), row),
    )
    report = _report(store)
    assert report.fault is not None
    assert (report.fault.kind, report.fault.row, report.fault.event_id) == (
        "modified",
        row,
        event_id,
    )
    assert report.checked == 4


def test_deleted_event_is_found_at_the_next_one(store: Store) -> None:
    _fill(store)
    rows = _rows(store)
    _execute(store, "DELETE FROM events WHERE id = ?", (rows[3][0],))
    report = _report(store)
    assert report.fault is not None
    assert (report.fault.kind, report.fault.row) == ("deleted", rows[4][0])
    assert "deleted" in report.fault.message


def test_naive_insert_is_found(store: Store) -> None:
    _fill(store)
    last = _rows(store)[-1][0]
    _execute(
        store,
        "INSERT INTO events (id, event_id, is_declaration, type, event_time, event_tz, "
        f"record_time, error_declared, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, {store.json_param()})",
        (
            last + 1,
            "urn:uuid:forged",
            False,
            "ObjectEvent",
            "2026-03-01T07:00:00.000000Z",
            "+00:00",
            "2026-03-01T07:00:00.000000Z",
            False,
            "{}",
        ),
    )
    report = _report(store)
    assert report.fault is not None
    assert (report.fault.kind, report.fault.row, report.fault.event_id) == (
        "inserted",
        last + 1,
        "urn:uuid:forged",
    )


def test_insert_chained_in_front_of_the_record_is_found(store: Store) -> None:
    """A forger who computes a valid hash for a row placed before the first event still breaks
    the link of the event that used to come first."""
    _fill(store)
    doc = {"type": "ObjectEvent", "eventTime": "2026-01-01T00:00:00Z"}
    stamp = "2026-01-01T00:00:00.000000Z"
    forged = link_hash(GENESIS, 0, "urn:uuid:forged", stamp, False, canonical_doc(doc))
    _execute(
        store,
        "INSERT INTO events (id, event_id, is_declaration, type, event_time, event_tz, "
        f"record_time, error_declared, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, {store.json_param()})",
        (0, "urn:uuid:forged", False, "ObjectEvent", stamp, "+00:00", stamp, False,
         orjson.dumps(doc).decode()),
    )  # fmt: skip
    _execute(
        store,
        "INSERT INTO event_chain (id, prev_hash, hash) VALUES (?, ?, ?)",
        (0, GENESIS, forged),
    )
    report = _report(store)
    assert report.fault is not None
    assert (report.fault.kind, report.fault.row) == ("inserted", 0)
    assert report.checked == 1  # the forged row itself is well formed; the next link is not


def test_existing_events_are_chained_by_the_migration(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    path = str(tmp_path / "old.db")
    store = open_store(path)
    try:
        _fill(store)
        config = Config()
        config.set_main_option("script_location", str(Path(package.__file__).parent / "migrations"))
        with store.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0004")
        store.migrate()
        assert _report(store).ok
        assert all(r[3] for r in _rows(store))
    finally:
        store.close()


@pytest.mark.parametrize("tamper", [False, True])
def test_cli_verify(tmp_path: Path, tamper: bool) -> None:
    path = str(tmp_path / "t.db")
    store = open_store(path)
    try:
        _fill(store)
        if tamper:
            _execute(store, "UPDATE events SET event_id = 'urn:uuid:changed' WHERE id = 2")
    finally:
        store.close()
    result = CliRunner().invoke(app, ["verify", "--db", path, "--json"])
    report = orjson.loads(result.stdout)
    if tamper:
        assert result.exit_code == 1
        assert report["fault"]["kind"] == "modified" and report["fault"]["row"] == 2
    else:
        assert result.exit_code == 0, result.output
        assert report["ok"] and report["checked"] > 10


def test_deleting_an_event_with_its_link_is_found(store: Store) -> None:
    _fill(store)
    rows = _rows(store)
    _execute(store, "DELETE FROM events WHERE id = ?", (rows[6][0],))
    _execute(store, "DELETE FROM event_chain WHERE id = ?", (rows[6][0],))
    report = _report(store)
    assert report.fault is not None
    assert (report.fault.kind, report.fault.row) == ("deleted", rows[7][0])
    assert report.checked == 6
