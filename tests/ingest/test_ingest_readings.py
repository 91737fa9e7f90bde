"""Machine readings: parsing messages, one identity per reading, the hook, reading them back."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from threadline.cli import app
from threadline.epcis.sensors import measurement_word
from threadline.errors import DocumentError, InvalidInput
from threadline.ingest.readings import (
    READINGS_LISTENERS,
    MachineReading,
    find_readings,
    insert_readings,
    parse_readings_payload,
    readings_committed,
)
from threadline.ingest.sources import BatchQueue, BatchWriter, Item
from threadline.service import parse_events
from threadline.store import Store, open_store

TOPIC = "threadline/s1/CH-07/readings"
SGLN = "urn:epc:id:sgln:4012345.00001.CH-07"


def _parse(payload: Any, **kwargs: Any) -> list[MachineReading]:
    data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return parse_readings_payload(data, equipment="CH-07", origin=TOPIC, **kwargs)


def test_a_message_of_readings_and_a_single_reading() -> None:
    many = _parse(
        {
            "time": "2026-03-01T08:00:00.5+01:00",
            "readings": [
                {"parameter": "forming_force", "value": 61.2, "unit": "KNT"},
                {"parameter": "gs1:Temperature", "value": 40, "time": "2026-03-01T07:00:01Z"},
                {"parameter": "stroke", "value": 3, "device": "urn:dev:1", "quality": "good"},
            ],
        },
        extra={"site": "s1"},
    )
    assert [(r.parameter, r.time, r.value, r.unit, r.device_id) for r in many] == [
        ("forming_force", "2026-03-01T07:00:00.500000Z", 61.2, "KNT", None),
        ("Temperature", "2026-03-01T07:00:01.000000Z", 40.0, None, None),
        ("stroke", "2026-03-01T07:00:00.500000Z", 3.0, None, "urn:dev:1"),
    ]
    assert [r.to_dict()["extra"] for r in many] == [
        {"site": "s1"},
        {"site": "s1"},
        {"site": "s1", "quality": "good"},
    ]
    (one,) = _parse({"time": "2026-03-01T07:00:00Z", "parameter": "p", "value": -1})
    assert (one.equipment, one.parameter, one.value, one.source, one.extra) == (
        "CH-07",
        "p",
        -1.0,
        "mqtt",
        None,
    )
    (sgln,) = parse_readings_payload(
        b'{"time": "2026-03-01T07:00:00Z", "parameter": "p", "value": 1}', equipment=SGLN
    )
    assert sgln.equipment == "https://id.gs1.org/414/4012345000016/254/CH-07"


@pytest.mark.parametrize(
    ("payload", "pointer", "clue"),
    [
        (b"[1, 2", None, "not valid JSON"),
        ([1, 2], "", "JSON object"),
        ({"parameter": "p", "value": 1}, "/time", "no time given"),
        ({"time": "2026-03-01T07:00:00", "parameter": "p", "value": 1}, "/time", "time zone"),
        ({"time": "yesterday", "parameter": "p", "value": 1}, "/time", "not an ISO-8601"),
        ({"time": "2026-03-01T07:00:00Z", "parameter": "", "value": 1}, "/parameter", "parameter"),
        ({"time": "2026-03-01T07:00:00Z", "parameter": "p", "value": True}, "/value", "number"),
        ({"time": "2026-03-01T07:00:00Z", "parameter": "p"}, "/value", "number"),
        (
            {"time": "2026-03-01T07:00:00Z", "parameter": "p", "value": 1, "unit": 5},
            "/unit",
            "unit",
        ),
        ({"time": "2026-03-01T07:00:00Z", "readings": {}}, "/readings", "non-empty array"),
        (
            {"time": "2026-03-01T07:00:00Z", "readings": [{"parameter": "p", "value": 1}, 7]},
            "/readings/1",
            "JSON object",
        ),
        (
            {"readings": [{"parameter": "p", "value": 1}]},
            "/readings/0/time",
            "no time given",
        ),
    ],
)
def test_a_faulty_message_names_topic_pointer_and_reason(
    payload: Any, pointer: str | None, clue: str
) -> None:
    with pytest.raises(DocumentError) as caught:
        _parse(payload)
    fault = caught.value
    assert fault.source == TOPIC and fault.pointer == pointer and clue in fault.reason


def test_non_finite_values_are_refused() -> None:
    # JSON has no NaN or infinity; a number too large for a double is refused all the same.
    with pytest.raises(DocumentError, match="infinity"):
        _parse(b'{"time": "2026-03-01T07:00:00Z", "parameter": "p", "value": 1e999}')


values = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=20), values, st.none() | st.text(max_size=5)),
        min_size=1,
        max_size=20,
    ),
    st.datetimes(timezones=st.timezones()),
)
def test_every_valid_reading_round_trips(
    items: list[tuple[str, float, str | None]], moment: Any
) -> None:
    from threadline.epcis.json_reader import utc_text

    message = {
        "time": moment.isoformat(),
        "readings": [{"parameter": p, "value": v, "unit": u} for p, v, u in items],
    }
    rows = _parse(message)
    assert len(rows) == len(items)
    for row, (parameter, value, unit) in zip(rows, items, strict=True):
        assert row.value == float(value) and math.isfinite(row.value)
        assert row.unit == unit and row.time == utc_text(moment)
        assert row.parameter == measurement_word(parameter)  # gs1:Temperature -> Temperature


def _rows(n: int, *, value: float = 1.0) -> list[MachineReading]:
    return [
        MachineReading(
            "CH-07", f"p{i}", "2026-03-01T07:00:00.000000Z", value, "KNT", None, "mqtt", None
        )
        for i in range(n)
    ]


def test_a_reading_is_stored_once_per_identity(store: Store) -> None:
    with store.writer() as writer:
        assert insert_readings(store, writer.cursor, _rows(5)) == 5
    with store.writer() as writer:
        # Redelivered (and one new): only the new one lands; a new value does not overwrite.
        assert insert_readings(store, writer.cursor, _rows(6, value=2.0)) == 1
    with store.reader() as reader:
        rows = reader.query("SELECT parameter, value FROM readings ORDER BY parameter")
    assert rows == [(f"p{i}", 1.0) for i in range(5)] + [("p5", 2.0)]


def test_the_same_values_from_another_source_are_other_readings(store: Store) -> None:
    opcua = [r._replace(source="opcua") for r in _rows(3)]
    with store.writer() as writer:
        insert_readings(store, writer.cursor, _rows(3))
        assert insert_readings(store, writer.cursor, opcua) == 3


def test_listeners_hear_each_committed_batch_and_cannot_stop_it(store: Store) -> None:
    heard: list[int] = []

    def listen(_store: Store, readings: Sequence[MachineReading]) -> None:
        heard.append(len(readings))

    def broken(_store: Store, _readings: Sequence[MachineReading]) -> None:
        raise RuntimeError("a faulty listener")

    READINGS_LISTENERS.append(broken)
    try:
        writer = BatchWriter(store, listeners=[listen])
        items = [Item("mqtt", "t", readings=_rows(2)), Item("mqtt", "t", readings=_rows(4))]
        assert writer.write(items)
    finally:
        READINGS_LISTENERS.remove(broken)
    assert heard == [6] and writer.stats.readings_stored == 4
    readings_committed(store, [], [listen])  # an empty batch is not news
    assert heard == [6]


def test_a_rejected_event_is_isolated_and_recorded(store: Store) -> None:
    """The store refuses one item's data inside a shared transaction: the rest still lands."""
    bad = {
        "type": "ObjectEvent",
        "eventTime": "2026-03-01T07:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "epcList": ["urn:epc:id:sscc:4012345.0000000042"],
        "sensorElementList": [{"sensorReport": [{"type": "Temperature", "value": "hot"}]}],
    }
    (event,) = parse_events([bad], source="test")
    items = [
        Item("mqtt", "threadline/s/CH-07/readings", readings=_rows(3)),
        Item("mqtt", "threadline/s/events", b"{...}", events=[event]),
    ]
    writer = BatchWriter(store)
    assert writer.write(items)
    assert items[1].error is not None and "/sensorElementList/0" in items[1].error
    assert writer.stats.readings_stored == 3 and writer.stats.errors == 1
    with store.reader() as reader:
        assert reader.count("events") == 0
        assert reader.query("SELECT topic FROM ingest_errors") == [("threadline/s/events",)]


def test_the_batch_queue_bounds_batches_by_weight_and_delay() -> None:
    queue = BatchQueue()
    for _ in range(5):
        queue.put(Item("mqtt", "t", readings=_rows(4)))
    first = queue.take(10, 60.0)  # weight reached: no waiting for the delay
    assert [len(i.readings) for i in first] == [4, 4, 4]
    rest = queue.take(100, 0.0)  # delay passed: what is there
    assert len(rest) == 2
    assert queue.take(100, 0.0, idle=0.0) == []


# -- reading back: EPCIS sensor reports and machine readings alike -------------------------------


def _sensor_event() -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-03-01T07:30:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "epcList": ["urn:epc:id:sgtin:4012345.011111.1"],
        "readPoint": {"id": SGLN},
        "sensorElementList": [
            {"sensorReport": [{"type": "gs1:Temperature", "value": 41.5, "uom": "CEL"}]}
        ],
    }


@pytest.fixture
def plant_db(tmp_path: Path) -> str:
    path = str(tmp_path / "readings.db")
    with open_store(path) as store:
        store.append(list(parse_events([_sensor_event()], source="test")))
        with store.writer() as writer:
            insert_readings(
                store,
                writer.cursor,
                [
                    MachineReading(
                        "CH-07",
                        "forming_force",
                        f"2026-03-01T07:{m:02d}:00.000000Z",
                        60.0 + m,
                        "KNT",
                        None,
                        "mqtt",
                        None,
                    )
                    for m in range(0, 60, 15)
                ],
            )
    return path


def test_readings_read_back_from_every_source(plant_db: str) -> None:
    with open_store(plant_db) as store, store.reader() as reader:
        everything = find_readings(reader, "CH-07")
        force = find_readings(reader, "CH-07", parameter="forming_force", start="2026-03-01T07:10")
        window = find_readings(
            reader, "CH-07", start="2026-03-01T07:15:00Z", end="2026-03-01T07:45:00Z"
        )
        by_urn = find_readings(reader, SGLN, parameter="gs1:Temperature")
        with pytest.raises(InvalidInput, match="--to"):
            find_readings(reader, "CH-07", start="2026-03-01T08:00", end="2026-03-01T07:00")
    assert [(r["time"][11:16], r["source"]) for r in everything] == [
        ("07:00", "mqtt"),
        ("07:15", "mqtt"),
        ("07:30", "epcis"),  # the sensor report of an event at the SGLN whose extension is CH-07
        ("07:30", "mqtt"),
        ("07:45", "mqtt"),
    ]
    assert [r["value"] for r in force] == [75.0, 90.0, 105.0]
    assert {r["parameter"] for r in window} == {"forming_force", "Temperature"} and len(window) == 3
    assert [(r["value"], r["unit"], r["source"]) for r in by_urn] == [(41.5, "CEL", "epcis")]
    assert by_urn[0]["event"].startswith("ni:///sha-256;")


runner = CliRunner()


def test_readings_command(plant_db: str) -> None:
    shown = runner.invoke(app, ["readings", "--equipment", "CH-07", "--db", plant_db])
    assert shown.exit_code == 0, shown.output
    assert "forming_force" in shown.output and "Temperature" in shown.output
    assert "5 readings" in shown.output
    as_json = runner.invoke(
        app,
        [
            "readings",
            "--equipment",
            "CH-07",
            "--parameter",
            "forming_force",
            "--from",
            "2026-03-01T07:15:00Z",
            "--to",
            "2026-03-01T07:45:00Z",
            "--json",
            "--db",
            plant_db,
        ],
    )
    assert as_json.exit_code == 0, as_json.output
    assert [(r["time"], r["value"]) for r in json.loads(as_json.output)] == [
        ("2026-03-01T07:15:00.000000Z", 75.0),
        ("2026-03-01T07:30:00.000000Z", 90.0),
    ]
    bad = runner.invoke(
        app, ["readings", "--equipment", "CH-07", "--from", "soon", "--db", plant_db]
    )
    assert bad.exit_code == 1 and "--from: 'soon' is not an ISO-8601 time" in bad.output


def test_a_store_fault_is_retried_until_the_batch_lands(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from threadline.ingest import sources

    real = sources.insert_readings
    calls: list[int] = []

    def flaky(*args: Any) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database is locked")
        return real(*args)

    monkeypatch.setattr(sources, "insert_readings", flaky)
    writer = BatchWriter(store)
    assert writer.write([Item("mqtt", "t", readings=_rows(3))])
    assert writer.stats.retries == 1 and writer.stats.readings_stored == 3
    assert writer.stats.errors == 0  # a store fault is not the payload's fault
    # A stopped writer gives up instead (nothing acknowledged, the broker keeps the messages).
    calls.clear()
    writer.stopping.set()
    assert not writer.write([Item("mqtt", "t", readings=_rows(4))])


def test_which_faults_are_the_datas() -> None:
    import sqlite3

    from threadline.errors import StoreError
    from threadline.ingest.sources import _is_data_fault

    assert _is_data_fault(InvalidInput("bad")) and _is_data_fault(sqlite3.IntegrityError("x"))
    assert not _is_data_fault(StoreError("down"))
    assert not _is_data_fault(sqlite3.OperationalError("database is locked"))
