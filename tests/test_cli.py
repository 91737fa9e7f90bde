"""The command line: import with located errors, and the trace commands' JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from threadline.cli import app
from threadline.gs1.keys import canonical_key as k
from threadline.store import open_store

from plantkit import C1, C2, F1, H2, X1, X2, document, small_plant

runner = CliRunner()


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def plant_db(tmp_path: Path) -> str:
    events, _ = small_plant()
    doc = write(tmp_path / "plant.jsonld", document(events))
    db = str(tmp_path / "cli.db")
    result = runner.invoke(app, ["import", str(doc), "--db", db])
    assert result.exit_code == 0, result.output
    assert f"{len(events)} stored" in result.output
    return db


def test_bad_document_names_file_event_and_pointer_and_stores_nothing(tmp_path: Path) -> None:
    events, _ = small_plant()
    events[5]["childQuantityList"][0]["quantity"] = -3
    bad = write(tmp_path / "bad.jsonld", document(events))
    db = str(tmp_path / "bad.db")
    result = runner.invoke(app, ["import", str(bad), "--db", db])
    assert result.exit_code == 1
    assert "bad.jsonld" in result.output
    assert "event 5" in result.output
    assert "/epcisBody/eventList/5/childQuantityList/0/quantity" in result.output
    with open_store(db) as store:
        assert store.counts()["events"] == 0


def test_not_json_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.jsonld"
    bad.write_text('{"type": "EPCISDocument", ')
    result = runner.invoke(app, ["import", str(bad), "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 1
    assert "broken.jsonld" in result.output and "not valid JSON" in result.output


def test_good_files_land_even_when_another_file_is_rejected(tmp_path: Path) -> None:
    events, _ = small_plant()
    good = write(tmp_path / "good.jsonld", document(events))
    bad = write(
        tmp_path / "bad.jsonld", {"type": "EPCISDocument", "epcisBody": {"eventList": [{}]}}
    )
    db = str(tmp_path / "mixed.db")
    result = runner.invoke(app, ["import", str(good), str(bad), "--db", db])
    assert result.exit_code == 1
    with open_store(db) as store:
        assert store.counts()["events"] == len(events)


def test_recall_json_has_customers_with_items(plant_db: str) -> None:
    result = runner.invoke(app, ["recall", H2, "--db", plant_db, "--json"])
    assert result.exit_code == 0, result.output
    scope = json.loads(result.output)
    assert set(scope) >= {"suspects", "shipments", "customers", "in_stock"}
    customers = {c["id"]: c["items"] for c in scope["customers"]}
    assert customers == {
        k(C1): [{"id": k(F1), "quantity": 5000.0, "uom": "EA"}],
        k(C2): [{"id": k(F1), "quantity": 1000.0, "uom": "EA"}],
    }


def test_trace_and_where_json(plant_db: str) -> None:
    back = json.loads(
        runner.invoke(app, ["trace", "backward", X1, "--db", plant_db, "--json"]).output
    )
    assert back["root"] == k(X1)
    assert {n["id"] for n in back["nodes"] if n["depth"] == 1} == {k(F1)}
    assert all({"depth", "relation", "quantity", "event"} <= set(n) for n in back["nodes"])
    here = json.loads(runner.invoke(app, ["where", X2, "--db", plant_db, "--json"]).output)
    assert here["state"] == "active" and len(here["container_chain"]) == 1


def test_window_lists_lots_made_at_a_machine(plant_db: str) -> None:
    result = runner.invoke(
        app,
        [
            "window",
            "--equipment",
            "CH-01",
            "--from",
            "2026-03-01T07:00:00Z",
            "--to",
            "2026-03-01T07:11:00Z",
            "--db",
            plant_db,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    made = {(lot["id"], lot["role"]) for lot in json.loads(result.output)["lots"]}
    assert (k("https://id.example.com/01/04012345111118/10/B1"), "output_quantity") in made
    assert (k(H2), "input_quantity") in made


def test_unknown_id_exits_non_zero_with_message(plant_db: str) -> None:
    result = runner.invoke(app, ["where", "urn:epc:id:sscc:4012345.9999999999", "--db", plant_db])
    assert result.exit_code == 1
    assert "no object" in result.output


def test_malformed_gs1_key_is_rejected_with_reason(plant_db: str) -> None:
    result = runner.invoke(app, ["where", "https://id.gs1.org/00/123", "--db", plant_db])
    assert result.exit_code == 1
    assert "SSCC must be 18 digits" in result.output


def test_trace_links_only_when_asked(plant_db: str) -> None:
    plain = json.loads(
        runner.invoke(app, ["trace", "forward", H2, "--db", plant_db, "--json"]).output
    )
    full = json.loads(
        runner.invoke(app, ["trace", "forward", H2, "--db", plant_db, "--json", "--links"]).output
    )
    assert plain["links"] == []
    assert plain["nodes"] == full["nodes"]
    assert len(full["links"]) >= len(full["nodes"])
    assert {(link["source"], link["target"]) for link in full["links"]} >= {
        (k(H2), k("https://id.example.com/01/04012345111118/10/B1"))
    }


def test_bad_setting_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREADLINE_BATCH_SIZE", "lots")
    result = runner.invoke(app, ["where", X1, "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 1
    assert "THREADLINE_BATCH_SIZE must be a positive integer" in result.output


def test_import_takes_xml_by_content_whatever_the_file_name(tmp_path: Path) -> None:
    from conftest import CONFORMANCE

    source = (
        CONFORMANCE / "gs1-epcis" / "xml-examples" / "Example_9.6.1-ObjectEvent-2020_06_18a.xml"
    )
    if not source.exists():
        pytest.skip(f"conformance data not found at {CONFORMANCE}")
    disguised = tmp_path / "events.json"  # the name says JSON; the content is XML
    disguised.write_bytes(source.read_bytes())
    db = str(tmp_path / "xml.db")
    result = runner.invoke(app, ["import", str(disguised), "--db", db])
    assert result.exit_code == 0, result.output
    with open_store(db) as store:
        assert store.counts()["events"] > 0
    broken = tmp_path / "broken.xml"
    broken.write_text("<epcis:EPCISDocument xmlns:epcis='urn:epcglobal:epcis:xsd:2'>\n<oops>")
    result = runner.invoke(app, ["import", str(broken), "--db", db])
    assert result.exit_code == 1
    assert "broken.xml" in result.output and "line" in result.output


def test_validate_reports_every_fault_and_exits_non_zero(tmp_path: Path) -> None:
    events, _ = small_plant()
    good = write(tmp_path / "good.jsonld", document(events))
    events[2]["inputQuantityList"][0]["quantity"] = -1
    events[8]["action"] = "ADD"
    del events[8]["parentID"]
    bad = write(tmp_path / "bad.jsonld", document(events))
    ok = runner.invoke(app, ["validate", str(good)])
    assert ok.exit_code == 0, ok.output
    assert "valid" in ok.output
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert "/epcisBody/eventList/2/inputQuantityList/0/quantity" in result.output
    assert "/epcisBody/eventList/8/parentID" in result.output
