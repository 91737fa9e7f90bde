"""The quality commands: specs set|list, hold / holds / release, alerts."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from threadline.cli import app
from threadline.gs1.keys import canonical_key
from threadline.ingest.readings import MQTT_SOURCE, MachineReading
from threadline.quality.alerts import AlertChecker
from threadline.store import open_store

from plantkit import H2, P1, X1, document, small_plant

runner = CliRunner()


def _plant(tmp_path: Path) -> str:
    db = str(tmp_path / "plant.db")
    events, _ = small_plant()
    doc = tmp_path / "plant.json"
    doc.write_text(json.dumps(document(events)))
    result = runner.invoke(app, ["import", str(doc), "--db", db])
    assert result.exit_code == 0, result.output
    return db


def test_specs_set_and_list(tmp_path: Path) -> None:
    db = str(tmp_path / "specs.db")
    args = ["specs", "set", "forming_force", "--lsl", "50", "--usl", "70", "--equipment", "CH-07"]
    result = runner.invoke(app, [*args, "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["usl"] == 70
    listed = runner.invoke(app, ["specs", "list", "--db", db, "--json"])
    assert [(s["parameter"], s["equipment"]) for s in json.loads(listed.stdout)] == [
        ("forming_force", "CH-07")
    ]
    bad = runner.invoke(app, ["specs", "set", "x", "--lsl", "5", "--usl", "1", "--db", db])
    assert bad.exit_code == 1 and "LSL" in bad.output


def test_hold_status_and_release(tmp_path: Path) -> None:
    db = _plant(tmp_path)
    placed = runner.invoke(app, ["hold", H2, "--reason", "no cert", "--db", db, "--user", "qe"])
    assert placed.exit_code == 0, placed.output
    assert "hold #1" in placed.output
    # P1 carried X1, made from F1, made from H2 via B1.
    status = runner.invoke(app, ["holds", "--object", X1, "--db", db, "--json"])
    answer = json.loads(status.stdout)
    assert answer["on_hold"] and answer["holds"][0]["via"] == canonical_key(H2)
    shown = runner.invoke(app, ["holds", "--object", P1, "--db", db])
    assert "ON HOLD #1" in shown.output
    released = runner.invoke(app, ["release", H2, "--reason", "cert in", "--db", db])
    assert released.exit_code == 0 and "released" in released.output
    after = runner.invoke(app, ["holds", "--object", X1, "--db", db, "--json"])
    assert json.loads(after.stdout)["on_hold"] is False
    again = runner.invoke(app, ["release", H2, "--reason", "again", "--db", db])
    assert again.exit_code == 1 and "no active hold" in again.output
    missing = runner.invoke(app, ["hold", "urn:epc:id:sscc:4012345.9999999999", "--reason", "x",
                                  "--db", db])  # fmt: skip
    assert missing.exit_code == 1 and "no object" in missing.output


def test_alerts_list_and_ack(tmp_path: Path) -> None:
    db = str(tmp_path / "alerts.db")
    runner.invoke(app, ["specs", "set", "forming_force", "--usl", "70", "--db", db])
    store = open_store(db)
    try:
        reading = MachineReading(
            "CH-07", "forming_force", "2026-03-01T07:00:00Z", 75.0, "KNT", None, MQTT_SOURCE, None
        )
        AlertChecker().check(store, [reading])
    finally:
        store.close()
    listed = runner.invoke(app, ["alerts", "--db", db, "--json"])
    alerts = json.loads(listed.stdout)
    assert len(alerts) == 1 and "above USL (70)" in alerts[0]["message"]
    acked = runner.invoke(app, ["alerts", "--ack", str(alerts[0]["id"]), "--db", db, "--json"])
    assert acked.exit_code == 0 and json.loads(acked.stdout)["acked_at"]
    assert (
        json.loads(runner.invoke(app, ["alerts", "--unacked", "--db", db, "--json"]).stdout) == []
    )
