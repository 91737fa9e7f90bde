"""Persistent dispositions and corrective events, as EPCIS 2.0 states them, on both backends.

persistentDisposition: "values that are set are considered to remain valid until explicitly
unset", each value independently of the others, unlike ``disposition``, which each event
replaces. correctiveEventIDs: the events that replace the one an error declaration declares
erroneous. Every test here runs on SQLite and PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import CONFORMANCE
from threadline.cli import app
from threadline.epcis.json_reader import read_json_document
from threadline.genealogy import trace, where
from threadline.gs1.keys import canonical_key as k
from threadline.service import import_document
from threadline.store import Store, open_store
from threadline.store.corrections import correction, corrections
from threadline.store.projector import fold_persistent, persistent_in_force

from plantkit import H1, H2, declare_error, document, qty, transform

GS1 = CONFORMANCE / "gs1-epcis"
MISSING = f"conformance corpus not found at {CONFORMANCE} (set THREADLINE_CONFORMANCE)"
BOX = "urn:epc:id:sgtin:4012345.011111.1001"
OTHER = "urn:epc:id:sgtin:4012345.011111.1002"
LOT_A = "urn:epc:class:lgtin:4012345.022222.A1"
LOT_B = "urn:epc:class:lgtin:4012345.022222.B1"
DISP = "https://ref.gs1.org/cbv/Disp-"


def observe(
    minute: int, epcs: list[str], *, persistent: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventID": f"urn:uuid:7e57da7a-0000-4000-8000-{minute:012d}",
        "eventTime": f"2026-04-01T{8 + minute // 60:02d}:{minute % 60:02d}:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "epcList": epcs,
        "bizStep": "inspecting",
        **fields,
    }
    if persistent is not None:
        event["persistentDisposition"] = persistent
    return event


def load(store: Store, *events: dict[str, Any]) -> None:
    store.append(read_json_document(document(list(events))).events)


def in_force(store: Store, identifier: str) -> list[str]:
    with store.reader() as r:
        return where(r, identifier).persistent_dispositions


def status_rows(store: Store) -> list[tuple[Any, ...]]:
    with store.reader() as r:
        return [tuple(row) for row in r.query("SELECT * FROM status ORDER BY object")]


def test_a_set_value_survives_unrelated_events(store: Store) -> None:
    load(store, observe(1, [BOX], persistent={"set": ["completeness_inferred"]}))
    load(store, observe(2, [BOX, OTHER], disposition="in_progress", bizStep="receiving"))
    load(store, observe(3, [BOX], disposition="conformant"))
    with store.reader() as r:
        here = where(r, BOX)
        other = where(r, OTHER)
    assert here.persistent_dispositions == ["completeness_inferred"]
    assert here.disposition == "conformant"  # the plain disposition is replaced each time
    assert other.persistent_dispositions == []  # never set on OTHER


def test_unset_removes_only_the_value_it_names(store: Store) -> None:
    load(store, observe(1, [BOX], persistent={"set": ["completeness_inferred", "mismatch_class"]}))
    assert in_force(store, BOX) == ["completeness_inferred", "mismatch_class"]
    # Any spelling of a CBV word names the same value.
    change = {"unset": [f"{DISP}completeness_inferred"], "set": ["completeness_verified"]}
    load(store, observe(2, [BOX], persistent=change))
    assert in_force(store, BOX) == ["completeness_verified", "mismatch_class"]
    load(store, observe(3, [BOX], persistent={"unset": ["urn:epcglobal:cbv:disp:mismatch_class"]}))
    assert in_force(store, BOX) == ["completeness_verified"]


def test_arrival_order_does_not_matter(store: Store) -> None:
    # The newer unset arrives first; the older set that arrives later must not revive the value.
    load(store, observe(5, [BOX], persistent={"unset": ["needs_replacement"]}))
    load(store, observe(1, [BOX], persistent={"set": ["needs_replacement"]}))
    assert in_force(store, BOX) == []
    # A newer set wins over both, whenever it arrives.
    load(store, observe(9, [BOX], persistent={"set": ["needs_replacement"]}))
    load(store, observe(7, [BOX], persistent={"unset": ["needs_replacement"]}))
    assert in_force(store, BOX) == ["needs_replacement"]


def test_declaring_the_setting_event_in_error_removes_the_value(store: Store) -> None:
    setting = observe(1, [BOX, OTHER], persistent={"set": ["mismatch_quantity"]})
    load(store, setting, observe(2, [BOX], disposition="in_progress"))
    assert in_force(store, BOX) == ["mismatch_quantity"]
    result = store.append(read_json_document(document([declare_error(setting, 3)])).events)
    assert result.declared_in_error == 1
    with store.reader() as r:
        box = where(r, BOX)
        other = where(r, OTHER)
    assert box.persistent_dispositions == []
    assert box.disposition == "in_progress" and box.state is not None  # the rest still holds
    assert other.persistent_dispositions == [] and other.state is None  # its only event is gone


def test_declaring_the_unsetting_event_in_error_restores_the_value(store: Store) -> None:
    unsetting = observe(2, [BOX], persistent={"unset": ["completeness_inferred"]})
    load(store, observe(1, [BOX], persistent={"set": ["completeness_inferred"]}), unsetting)
    assert in_force(store, BOX) == []
    load(store, declare_error(unsetting, 3))
    assert in_force(store, BOX) == ["completeness_inferred"]


def test_rebuild_gives_the_same_status(store: Store) -> None:
    setting = observe(2, [BOX], persistent={"set": ["mismatch_instance"]})
    load(
        store,
        observe(1, [BOX, OTHER], persistent={"set": ["completeness_inferred"]}),
        setting,
        observe(4, [OTHER], persistent={"unset": ["completeness_inferred"], "set": ["conformant"]}),
    )
    load(store, observe(3, [BOX], persistent={"set": ["needs_replacement"]}))  # late arrival
    load(store, declare_error(setting, 5))
    before = status_rows(store)
    assert in_force(store, BOX) == ["completeness_inferred", "needs_replacement"]
    assert in_force(store, OTHER) == ["conformant"]
    assert store.rebuild() == 3  # four events, one of them declared in error
    assert status_rows(store) == before


@pytest.mark.parametrize(
    "name",
    ["json-examples/PersistentDisposition-example.jsonld",
     "xml-examples/Example-PersistentDisposition.xml"],
)  # fmt: skip
def test_the_official_persistent_disposition_example(store: Store, name: str) -> None:
    path = GS1 / name
    if not path.is_file():
        pytest.skip(MISSING)
    report = import_document(store, path)
    assert report.result.inserted == 2
    epc = "urn:epc:id:sgtin:9520001.012346.10000001001"
    # Event 1 sets completeness_inferred; event 2 unsets it and sets completeness_verified.
    with store.reader() as r:
        here = where(r, epc)
    assert here.persistent_dispositions == ["completeness_verified"]
    assert here.disposition == "in_progress"


def test_where_on_the_command_line_shows_them(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    with open_store(db) as store:
        load(store, observe(1, [BOX], persistent={"set": ["completeness_inferred"]}))
    result = CliRunner().invoke(app, ["where", BOX, "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["persistent_dispositions"] == ["completeness_inferred"]


def test_trace_of_an_object_declared_in_error_follows_the_corrective_event(store: Store) -> None:
    wrong = transform(10, [qty(H1, 100.0, "KGM")], [qty(LOT_A, 50.0)])
    right = transform(11, [qty(H2, 100.0, "KGM")], [qty(LOT_A, 50.0)])  # H2 was really used
    declaration = declare_error(wrong, 12)
    declaration["errorDeclaration"]["correctiveEventIDs"] = [right["eventID"]]
    load(store, wrong)
    with store.reader() as r:
        assert {n.id for n in trace(r, LOT_A, "backward").nodes} == {k(H1)}
    load(store, declaration, right)
    with store.reader() as r:
        backward = {n.id: n.event for n in trace(r, LOT_A, "backward").nodes}
        forward = {n.id for n in trace(r, H1, "forward").nodes}
        found = correction(r, wrong["eventID"])
        assert correction(r, right["eventID"]) is None  # not declared in error
    assert backward == {k(H2): right["eventID"]}  # through the corrective event only
    assert k(LOT_A) not in forward
    assert found is not None
    assert found.corrective_ids == found.corrected_by == (right["eventID"],)
    assert found.reason == "incorrect_data" and found.missing == ()


def test_corrective_events_not_yet_captured_are_reported_missing(store: Store) -> None:
    wrong = transform(10, [qty(H1, 100.0, "KGM")], [qty(LOT_B, 50.0)])
    later = "urn:uuid:7e57da7a-0000-4000-8000-99999999999a"
    declaration = declare_error(wrong, 12)
    declaration["errorDeclaration"]["correctiveEventIDs"] = [later]
    load(store, wrong, declaration)
    with store.reader() as r:
        found = corrections(r, [wrong["eventID"], "urn:uuid:not-stored"])
        assert trace(r, LOT_B, "backward").nodes == []
    assert list(found) == [wrong["eventID"]]
    assert found[wrong["eventID"]].missing == (later,)
    assert found[wrong["eventID"]].corrected_by == ()


def test_fold_is_pure_and_canonical() -> None:
    one = fold_persistent(None, {"set": ["b", "a"]}, "2026-01-01T00:00:00.000000Z", 1)
    two = fold_persistent(None, {"set": ["a", "b"]}, "2026-01-01T00:00:00.000000Z", 1)
    assert one == two and persistent_in_force(one) == ["a", "b"]
    assert fold_persistent(one, {"set": 5, "unset": [None]}, "2026-01-02T00:00:00Z", 2) == one
    single = fold_persistent(one, {"unset": "a"}, "2026-01-02T00:00:00.000000Z", 2)
    assert persistent_in_force(single) == ["b"]
    assert fold_persistent(one, ["garbage"], "2026-01-02T00:00:00.000000Z", 2) == one
    both = fold_persistent(None, {"unset": ["x"], "set": ["x"]}, "2026-01-01T00:00:00Z", 3)
    assert persistent_in_force(both) == ["x"]  # within one event, the set wins


def _migrate(store: Store, revision: str, *, down: bool = False) -> None:
    from alembic import command
    from alembic.config import Config

    import threadline.store.base as base

    config = Config()
    config.set_main_option("script_location", str(Path(base.__file__).parent / "migrations"))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def test_the_migration_fills_the_column_from_stored_events(store: Store) -> None:
    setting = observe(2, [OTHER], persistent={"set": ["mismatch_instance"]})
    load(
        store,
        observe(1, [BOX, OTHER], persistent={"set": ["completeness_inferred"]}),
        setting,
        observe(3, [BOX], persistent={"unset": ["completeness_inferred"], "set": ["conformant"]}),
        observe(4, [BOX], extension_note="persistentDisposition is only a word here"),
    )
    load(store, declare_error(setting, 5))
    before = status_rows(store)
    _migrate(store, "0006", down=True)  # as a store written before persistent dispositions
    with store.reader() as r:
        r.query("SELECT * FROM status LIMIT 1")
        columns = [c[0] for c in r.cursor.description]
    assert "last_time" in columns and "persistent" not in columns
    _migrate(store, "head")
    assert in_force(store, BOX) == ["conformant"]
    assert in_force(store, OTHER) == ["completeness_inferred"]  # the erroneous set is skipped
    assert status_rows(store) == before
