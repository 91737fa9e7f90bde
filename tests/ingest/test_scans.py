"""Scans: raw barcode data at a station -> an EPCIS ObjectEvent, over the CLI and HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from threadline.cli import app
from threadline.errors import InvalidInput
from threadline.ingest.scans import parse_scan, record_scan, scan_event
from threadline.ingest.stations import Station, get_station, list_stations, set_station
from threadline.store import Store, open_store

GS = "\x1d"
STATION = "urn:epc:id:sgln:4012345.00001.PACK-01"
LOT = "https://id.gs1.org/01/09520123456788/10/ABC123"
SSCC = "https://id.gs1.org/00/095201234500000014"
SGTIN = "https://id.gs1.org/01/09520123456788/21/S1"

runner = CliRunner()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (f"]d20109520123456788{GS}10ABC123", (LOT, "lgtin", None, None)),
        ("]d2010952012345678810ABC123", (LOT, "lgtin", None, None)),
        (f"]d2010952012345678810ABC123{GS}3012\r\n", (LOT, "lgtin", 12.0, None)),
        ("]d201095201234567883103001500" + "10ABC123", (LOT, "lgtin", 1.5, "KGM")),
        ("]C100095201234500000014", (SSCC, "sscc", None, None)),
        ("]Q1https://brand.example/00/095201234500000014", (SSCC, "sscc", None, None)),
        ("]Q3010952012345678821S1", (SGTIN, "sgtin", None, None)),
        ("]E04012345123456", ("https://id.gs1.org/01/04012345123456", "gtin", None, None)),
        ("https://id.example.com/01/09520123456788/21/S1", (SGTIN, "sgtin", None, None)),
        ("(01)09520123456788(10)ABC123", (LOT, "lgtin", None, None)),
        ("^0109520123456788^10ABC123", (LOT, "lgtin", None, None)),
        (f"0109520123456788{GS}10ABC123", (LOT, "lgtin", None, None)),
        ("00095201234500000014", (SSCC, "sscc", None, None)),
        ("urn:epc:id:sscc:9520123.0450000001", (SSCC, "sscc", None, None)),
    ],
)
def test_scan_data_in_every_form_names_the_same_key(
    data: str, expected: tuple[str, str, float | None, str | None]
) -> None:
    item = parse_scan(data)
    assert (item.id, item.kind, item.quantity, item.uom) == expected


@pytest.mark.parametrize(
    ("data", "clue"),
    [
        ("", "empty"),
        ("hello world", "not GS1 data"),
        ("]d2010952012345678710ABC123", "check digit"),  # GTIN check digit 7, not 8
        ("]C100095201234500000018", "SSCC"),
        ("]Q1just some text", "plain text"),
        ("]X9123", "symbology identifier"),
        ("]d2", "no GS1 data"),
        ("(10)ABC123", "primary key"),
        ("https://example.com/about", "no primary key"),
    ],
)
def test_bad_scan_data_is_refused_naming_the_fault(data: str, clue: str) -> None:
    with pytest.raises(InvalidInput, match="(?i)" + clue):
        parse_scan(data)


STATION_CONF = Station(
    STATION, STATION, "packing", "urn:epc:id:sgln:4012345.00001.0", "in_progress"
)


def test_the_scan_event_is_an_observe_from_the_station_at_the_scan_time() -> None:
    event, item = scan_event(STATION_CONF, "]C100095201234500000014", "2026-03-01T08:00:00+01:00")
    raw = event.raw
    assert raw["type"] == "ObjectEvent" and raw["action"] == "OBSERVE"
    assert raw["epcList"] == [SSCC] and item.kind == "sscc"
    assert raw["readPoint"] == {"id": STATION}
    assert raw["bizLocation"] == {"id": "urn:epc:id:sgln:4012345.00001.0"}
    assert (raw["bizStep"], raw["disposition"]) == ("packing", "in_progress")
    assert (raw["eventTime"], raw["eventTimeZoneOffset"]) == (
        "2026-03-01T08:00:00.000+01:00",
        "+01:00",
    )
    assert raw["eventID"] == event.event_id and event.event_id.startswith("ni:///sha-256;")
    # A repeated message (the same instant, however written) is the same event; a later scan not.
    again, _ = scan_event(STATION_CONF, "]C100095201234500000014", "2026-03-01T08:00:00.000+01:00")
    later, _ = scan_event(STATION_CONF, "]C100095201234500000014", "2026-03-01T08:00:01+01:00")
    assert again.event_id == event.event_id != later.event_id


def test_a_scan_without_zone_is_refused() -> None:
    with pytest.raises(InvalidInput, match="time zone"):
        scan_event(STATION_CONF, "]C100095201234500000014", "2026-03-01T08:00:00")


def test_a_repeated_scan_stores_once(store: Store) -> None:
    set_station(store, "PACK-01", read_point=STATION, biz_step="packing")
    first = record_scan(
        store, "PACK-01", f"]d20109520123456788{GS}10ABC123", "2026-03-01T07:00:00Z"
    )
    again = record_scan(store, "PACK-01", "(01)09520123456788(10)ABC123", "2026-03-01T07:00:00Z")
    assert first.stored and not again.stored and first.event_id == again.event_id
    with store.reader() as reader:
        rows = reader.query("SELECT event_id, read_point, biz_step FROM events")
    assert [(r[0], r[2]) for r in rows] == [(first.event_id, "packing")]
    with pytest.raises(InvalidInput, match="unknown station 'PACK-09'"):
        record_scan(store, "PACK-09", "]C100095201234500000014")


def test_stations_are_configured_and_checked(store: Store) -> None:
    made = set_station(store, STATION, biz_step="https://ref.gs1.org/cbv/BizStep-shipping")
    assert (made.read_point, made.biz_step) == (STATION, "shipping")
    set_station(store, "DOCK-2", read_point="urn:epc:id:sgln:4012345.00001.D2", biz_step="loading")
    set_station(
        store, "DOCK-2", read_point="urn:epc:id:sgln:4012345.00001.D2", biz_step="receiving"
    )
    assert [(s.id, s.biz_step) for s in list_stations(store)] == [
        ("DOCK-2", "receiving"),
        (STATION, "shipping"),
    ]
    assert get_station(store, "DOCK-2").read_point == "urn:epc:id:sgln:4012345.00001.D2"
    with pytest.raises(InvalidInput, match="--read-point"):
        set_station(store, "DOCK-3", biz_step="loading")
    with pytest.raises(InvalidInput, match="topic segment"):
        set_station(store, "dock/3", read_point=STATION, biz_step="loading")
    with pytest.raises(InvalidInput, match="bizStep"):
        set_station(store, STATION, biz_step="Not A Word")


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "scans.db")
    open_store(path).close()
    return path


def test_scan_and_stations_commands(db: str) -> None:
    made = runner.invoke(
        app,
        ["stations", "set", "PACK-01", "--read-point", STATION, "--bizstep", "packing", "--db", db],
    )
    assert made.exit_code == 0, made.output
    listed = runner.invoke(app, ["stations", "list", "--json", "--db", db])
    assert [s["id"] for s in json.loads(listed.output)] == ["PACK-01"]

    args = ["scan", "--station", "PACK-01", "--time", "2026-03-01T07:00:00Z", "--db", db]
    first = runner.invoke(app, [*args, "]C100095201234500000014"])
    assert first.exit_code == 0, first.output
    assert "stored as ni:///sha-256;" in first.output and SSCC in first.output
    again = runner.invoke(app, [*args, "--json", "]C100095201234500000014"])
    answer = json.loads(again.output)
    assert answer["stored"] is False and answer["id"] == SSCC

    unknown = runner.invoke(app, ["scan", "--station", "NOPE", "--db", db, "]E04012345123456"])
    assert unknown.exit_code == 1 and "unknown station 'NOPE'" in unknown.output
    bad = runner.invoke(app, ["scan", "--station", "PACK-01", "--db", db, "]d2011234"])
    assert bad.exit_code == 1 and "AI (01)" in bad.output
    no_rp = runner.invoke(app, ["stations", "set", "DOCK", "--bizstep", "loading", "--db", db])
    assert no_rp.exit_code == 1 and "--read-point" in no_rp.output
