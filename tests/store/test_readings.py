"""The readings projection: every sensorReport of the official examples, nothing lost, and the
rows follow error declarations and rebuilds like every other projection."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import CONFORMANCE
from threadline.epcis.json_reader import read_json_document, utc_text
from threadline.errors import DocumentError
from threadline.gs1.keys import canonical_key
from threadline.service import import_document
from threadline.store import Store

SENSOR_JSON = CONFORMANCE / "gs1-epcis" / "json-examples" / "WithSensorData"
SENSOR_XML = (
    CONFORMANCE / "gs1-epcis" / "xml-examples" / "WithSensorData" / "SensorDataExamples.xml"
)
MISSING = f"conformance corpus not found at {CONFORMANCE} (set THREADLINE_CONFORMANCE)"

COLUMNS = (
    "equipment, parameter, time, value, min_value, max_value, mean_value, s_dev, perc_rank, "
    "perc_value, unit, device_id, source, event, extra"
)
# sensorReport field -> readings column, for the fields stored in columns of their own.
NUMBERS = {
    "minValue": "min_value",
    "maxValue": "max_value",
    "meanValue": "mean_value",
    "sDev": "s_dev",
    "percRank": "perc_rank",
    "percValue": "perc_value",
}


def examples() -> list[Path]:
    if not SENSOR_JSON.is_dir():
        return []
    return sorted(SENSOR_JSON.glob("*.jsonld"))


def readings(store: Store, where: str = "", params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with store.reader() as r:
        rows = r.query(f"SELECT {COLUMNS} FROM readings {where} ORDER BY id", params)
        out = [dict(zip([c.strip() for c in COLUMNS.split(",")], row, strict=True)) for row in rows]
        for row in out:
            row["extra"] = store.load_json(row["extra"]) if row["extra"] is not None else None
    return out


def utc(text: str) -> str:
    return utc_text(datetime.fromisoformat(text))


def bare(kind: str) -> str:
    for prefix in ("gs1:", "https://gs1.org/voc/"):
        if kind.startswith(prefix):
            return kind[len(prefix) :]
    return kind


def rebuilt_report(row: dict[str, Any]) -> dict[str, Any]:
    """The sensorReport a readings row came from, put back together from columns and extra."""
    report = {
        k: v
        for k, v in (row["extra"] or {}).items()
        if k not in ("sensorMetadata", "sensorElement")
    }
    if row["parameter"] is not None:
        report["type"] = row["parameter"]
    if row["unit"] is not None:
        report["uom"] = row["unit"]
    for name, column in NUMBERS.items():
        if row[column] is not None:
            report[name] = row[column]
    if row["value"] is not None and row["value"] != row["mean_value"]:
        report["value"] = row["value"]
    return report


def normalised(report: dict[str, Any]) -> dict[str, Any]:
    out = dict(report)
    if "type" in out:
        out["type"] = bare(out["type"])
    for name in ("value", *NUMBERS):
        if name in out:
            out[name] = float(out[name])
    if "value" in out and out.get("meanValue") == out["value"]:
        del out["value"]  # value == meanValue is stored once
    return out


@pytest.mark.skipif(not examples(), reason=MISSING)
@pytest.mark.parametrize("path", examples(), ids=lambda p: p.stem)
def test_official_sensor_examples_keep_every_field(store: Store, path: Path) -> None:
    import_document(store, path)
    doc = json.loads(path.read_text())
    with store.reader() as r:
        stored = r.query("SELECT id, is_declaration FROM events ORDER BY id")
    expected_count = 0
    rows = readings(store)
    by_event: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_event.setdefault(row["event"], []).append(row)
    for (row_id, is_declaration), event in zip(stored, doc["epcisBody"]["eventList"], strict=True):
        got = by_event.get(row_id, [])
        if is_declaration:  # a declared event has left every projection
            assert got == []
            continue
        expected: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = []
        for element in event.get("sensorElementList", []):
            metadata = element.get("sensorMetadata", {})
            rest = {k: v for k, v in element.items() if k not in ("sensorMetadata", "sensorReport")}
            expected += [(report, metadata, rest) for report in element.get("sensorReport", [])]
        expected_count += len(expected)
        assert len(got) == len(expected)
        for row, (report, metadata, rest) in zip(got, expected, strict=True):
            assert row["source"] == "epcis"
            assert normalised(rebuilt_report(row)) == normalised(report)
            assert (row["extra"] or {}).get("sensorMetadata", {}) == metadata
            assert (row["extra"] or {}).get("sensorElement", {}) == rest
            device = report.get("deviceID", metadata.get("deviceID"))
            assert row["device_id"] == (None if device is None else canonical_key(device))
            place = event.get("readPoint", {}).get("id")
            fallback = None if place is None else canonical_key(place)
            assert row["equipment"] == (row["device_id"] or fallback)
            when = report.get("time", metadata.get("time", event["eventTime"]))
            assert row["time"] == utc(when)
            if "value" not in report and "meanValue" in report:
                assert row["value"] == float(report["meanValue"])
    assert len(rows) == expected_count


@pytest.mark.skipif(not SENSOR_XML.is_file(), reason=MISSING)
def test_xml_sensor_examples_give_bare_measurement_types(store: Store) -> None:
    import_document(store, SENSOR_XML)
    rows = readings(store)
    from threadline.epcis.xml_reader import xml_document_to_json

    doc = xml_document_to_json(SENSOR_XML.read_bytes())
    reports = [
        report
        for event in doc["epcisBody"]["eventList"]
        if "errorDeclaration" not in event
        for element in event.get("sensorElementList", [])
        for report in element.get("sensorReport", [])
    ]
    assert len(rows) == len(reports) > 20
    types = {r["parameter"] for r in rows}
    assert "Temperature" in types and "gs1:Temperature" not in types
    assert {r["unit"] for r in rows} >= {"CEL", "A93"}


def sensor_event(name: str, value: float, **extra: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventID": f"urn:example:{name}",
        "action": "OBSERVE",
        "eventTime": "2026-03-01T08:00:00+01:00",
        "eventTimeZoneOffset": "+01:00",
        "epcList": ["urn:epc:id:sgtin:4012345.011111.1"],
        "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.PRESS-7"},
        "sensorElementList": [
            {"sensorReport": [{"type": "gs1:Force", "value": value, "uom": "KN"}]}
        ],
        **extra,
    }


def document(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "EPCISDocument", "epcisBody": {"eventList": events}}


def test_a_report_without_device_or_time_falls_back_to_read_point_and_event_time(
    store: Store,
) -> None:
    store.append(read_json_document(document([sensor_event("a", 41.5)])).events)
    (row,) = readings(store)
    assert row["equipment"] == canonical_key("urn:epc:id:sgln:4012345.00001.PRESS-7")
    assert row["device_id"] is None
    assert (row["parameter"], row["value"], row["unit"]) == ("Force", 41.5, "KN")
    assert row["time"] == "2026-03-01T07:00:00.000000Z"
    assert row["extra"] is None


def test_error_declaration_retracts_that_events_readings_only(store: Store) -> None:
    first, second = sensor_event("a", 41.5), sensor_event("b", 43.0)
    store.append(read_json_document(document([first, second])).events)
    assert [r["value"] for r in readings(store)] == [41.5, 43.0]
    declared = {
        **first,
        "errorDeclaration": {"declarationTime": "2026-03-02T00:00:00Z", "reason": "incorrect_data"},
    }
    result = store.append(read_json_document(document([declared])).events)
    assert result.declared_in_error == 1
    assert [r["value"] for r in readings(store)] == [43.0]


def test_an_event_declared_before_it_arrives_writes_no_readings(store: Store) -> None:
    first = sensor_event("a", 41.5)
    declared = {
        **first,
        "errorDeclaration": {"declarationTime": "2026-03-02T00:00:00Z"},
    }
    store.append(read_json_document(document([declared])).events)
    store.append(read_json_document(document([first])).events)
    assert readings(store) == []


@pytest.mark.skipif(not examples(), reason=MISSING)
def test_rebuild_gives_the_same_readings_and_keeps_other_sources(store: Store) -> None:
    for path in examples()[:6]:
        import_document(store, path)
    declared = {
        **sensor_event("x", 1.0),
        "errorDeclaration": {"declarationTime": "2026-03-02T00:00:00Z"},
    }
    store.append(
        read_json_document(document([sensor_event("x", 1.0), sensor_event("y", 2.0)])).events
    )
    store.append(read_json_document(document([declared])).events)
    with store.writer() as writer:
        writer.cursor.execute(
            writer.store.sql(
                "INSERT INTO readings (equipment, parameter, time, value, unit, source) "
                "VALUES (?, ?, ?, ?, ?, ?)"
            ),
            ("press-7", "Force", "2026-03-01T07:00:00.000000Z", 40.0, "KN", "mqtt"),
        )

    def key(row: dict[str, Any]) -> str:
        return json.dumps(row, sort_keys=True)

    before = sorted(readings(store), key=key)
    assert len(before) > 20 and any(r["source"] == "mqtt" for r in before)
    assert not any(r["value"] == 1.0 for r in before)  # the declared event's reading is gone
    store.rebuild()
    assert sorted(readings(store), key=key) == before


def test_events_without_sensor_data_write_no_readings(store: Store) -> None:
    from plantkit import small_plant

    events, _ = small_plant()
    store.append(read_json_document(document(events)).events)
    assert readings(store) == []


@pytest.mark.parametrize(
    ("report", "pointer", "fragment"),
    [
        ({"type": "Force", "value": "high"}, "/sensorElementList/0/sensorReport/0/value", "number"),
        ({"type": "Force", "time": "noon"}, "/sensorElementList/0/sensorReport/0/time", "ISO-8601"),
        ({"type": "Force", "deviceID": "urn:epc:id:giai:1.2"},
         "/sensorElementList/0/sensorReport/0/deviceID", "company prefix"),
        ({"type": 7}, "/sensorElementList/0/sensorReport/0/type", "non-empty string"),
    ],
)  # fmt: skip
def test_malformed_sensor_values_are_refused_with_their_pointer(
    store: Store, report: dict[str, Any], pointer: str, fragment: str
) -> None:
    bad = sensor_event("bad", 1.0, sensorElementList=[{"sensorReport": [report]}])
    with pytest.raises(DocumentError) as info:
        store.append(read_json_document(document([bad])).events)
    assert info.value.pointer == pointer
    assert fragment in info.value.reason and "urn:example:bad" in info.value.reason
    assert store.counts()["events"] == 0  # nothing of the batch was stored
