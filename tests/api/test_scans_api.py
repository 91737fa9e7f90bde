"""``POST /scans``: a scan at a station becomes an event, stored once; faults are 400s."""

from __future__ import annotations

import uuid

from threadline.ingest.stations import set_station
from threadline.store import audit

from livekit import World, world_fixture  # noqa: F401 (fixture)

GS = "\x1d"


def _station(world: World) -> str:
    station = f"SCAN-{uuid.uuid4().hex[:6]}"
    set_station(
        world.store,
        station,
        read_point=f"urn:epc:id:sgln:4012345.00001.{station}",
        biz_step="packing",
        biz_location="urn:epc:id:sgln:4012345.00001.0",
    )
    return station


def test_a_scan_is_captured_once_and_audited(world: World) -> None:
    station = _station(world)
    lot = uuid.uuid4().hex[:10].upper()
    body = {
        "station": station,
        "data": f"]d20109520123456788{GS}10{lot}",
        "time": "2026-03-01T07:00:00Z",
    }
    with world.as_role("operator") as client:
        first = client.post("/scans", json=body)
        again = client.post("/scans", json=body)
        events = client.get(
            "/events", params={"EQ_readPoint": f"urn:epc:id:sgln:4012345.00001.{station}"}
        )
    assert first.status_code == 201, first.text
    answer = first.json()
    assert answer["stored"] is True and answer["kind"] == "lgtin"
    assert answer["id"] == f"https://id.gs1.org/01/09520123456788/10/{lot}"
    assert answer["event"]["bizLocation"] == {"id": "urn:epc:id:sgln:4012345.00001.0"}
    assert again.status_code == 200 and again.json()["stored"] is False
    assert again.json()["eventID"] == answer["eventID"]
    listed = events.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [e["eventID"] for e in listed] == [answer["eventID"]]
    entries = [e for e in audit.entries(world.store) if e.action == "POST /scans"]
    assert {e.outcome for e in entries if station in (e.target or "")} == {"ok", "duplicate"}


def test_unknown_station_and_bad_data_are_400s_naming_the_fault(world: World) -> None:
    station = _station(world)
    with world.as_role("operator") as client:
        unknown = client.post("/scans", json={"station": "NOPE-1", "data": "]E04012345123456"})
        bad = client.post("/scans", json={"station": station, "data": "]C100095201234500000018"})
        zoneless = client.post(
            "/scans",
            json={"station": station, "data": "]E04012345123456", "time": "2026-03-01T07:00"},
        )
        missing = client.post("/scans", json={"station": station})
    assert unknown.status_code == 400 and "unknown station 'NOPE-1'" in unknown.json()["title"]
    assert bad.status_code == 400 and "SSCC" in bad.json()["title"]
    assert zoneless.status_code == 400 and "time zone" in zoneless.json()["title"]
    assert missing.status_code == 422 and "data" in missing.text
