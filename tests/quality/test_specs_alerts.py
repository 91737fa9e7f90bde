"""Specs and alerts: limits, checks of machine and EPCIS sensor readings, storage, publication."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

from threadline.capture import CaptureService
from threadline.errors import InvalidInput, NotFound
from threadline.gs1.keys import canonical
from threadline.ingest.readings import (
    MQTT_SOURCE,
    MachineReading,
    insert_readings,
    readings_committed,
)
from threadline.quality.alerts import AlertChecker, acknowledge, list_alerts
from threadline.quality.specs import breach, list_specs, set_spec
from threadline.store import Store
from threadline.store.auth import transaction
from threadline.store.group_commit import GroupCommitter

from plantkit import HEADER, document


def reading(value: float, *, minute: int = 0, equipment: str = "CH-07") -> MachineReading:
    return MachineReading(
        equipment,
        "forming_force",
        f"2026-03-01T07:{minute:02d}:00Z",
        value,
        "KNT",
        None,
        MQTT_SOURCE,
        '{"site": "plant1"}',
    )


class Sent:
    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, object]]] = []

    def __call__(self, topic: str, payload: bytes) -> None:
        self.messages.append((topic, orjson.loads(payload)))


def test_breach_limits_are_inclusive() -> None:
    assert breach(50.0, 50.0, 70.0) is None and breach(70.0, 50.0, 70.0) is None
    assert breach(49.9, 50.0, 70.0) == "below LSL"
    assert breach(70.1, 50.0, 70.0) == "above USL"
    assert breach(1e9, 50.0, None) is None  # an open upper limit


def test_spec_set_list_and_faults(store: Store) -> None:
    first = set_spec(store, parameter="forming_force", equipment="CH-07", lsl=50, usl=70, user="q")
    again = set_spec(store, parameter="forming_force", equipment="CH-07", lsl=52, usl=70, target=60)
    assert again.id == first.id and again.lsl == 52 and again.target == 60  # replaced, not added
    set_spec(store, parameter="gs1:Temperature", usl=80, unit="CEL")
    listed = list_specs(store)
    assert [(s.parameter, s.equipment) for s in listed] == [
        ("Temperature", ""),
        ("forming_force", "CH-07"),
    ]
    assert listed[0].to_dict()["equipment"] is None
    assert [s.id for s in list_specs(store, parameter="forming_force")] == [first.id]
    with pytest.raises(InvalidInput, match="LSL"):
        set_spec(store, parameter="p", lsl=5, usl=1)
    with pytest.raises(InvalidInput, match="at least one limit"):
        set_spec(store, parameter="p")
    with pytest.raises(InvalidInput, match="target"):
        set_spec(store, parameter="p", lsl=1, usl=5, target=9)


def test_out_of_spec_readings_raise_one_alert_each_stored_and_published(store: Store) -> None:
    spec = set_spec(store, parameter="forming_force", equipment="CH-07", lsl=50, usl=70)
    set_spec(store, parameter="forming_force", equipment="CH-99", usl=10)  # another machine
    sent = Sent()
    checker = AlertChecker(sent)
    batch = [reading(60, minute=1), reading(70, minute=2), reading(71.5, minute=3)]
    batch.append(reading(40, minute=4))
    with transaction(store, write=True) as cursor:
        insert_readings(store, cursor, batch)
    readings_committed(store, batch, [checker])  # the ingesters' hook
    alerts = list_alerts(store)
    assert [(a.value, a.spec) for a in alerts] == [(40.0, spec.id), (71.5, spec.id)]
    assert "above USL (70)" in alerts[1].message and "below LSL (50)" in alerts[0].message
    assert alerts[0].site == "plant1" and alerts[0].acked_at is None
    assert [topic for topic, _ in sent.messages] == ["threadline/plant1/alerts"] * 2
    assert {body["value"] for _, body in sent.messages} == {71.5, 40.0}
    assert {body["id"] for _, body in sent.messages} == {a.id for a in alerts}
    # A redelivered batch is checked again: nothing new is stored or published.
    readings_committed(store, batch, [checker])
    assert len(list_alerts(store)) == 2 and len(sent.messages) == 2


def test_a_bare_machine_name_matches_its_sgln(store: Store) -> None:
    set_spec(store, parameter="forming_force", equipment="CH-01", usl=70)
    sgln = canonical(HEADER).key  # ...CH-01 as the readings of EPCIS events name it
    found = AlertChecker().check(store, [reading(90, equipment=sgln)])
    assert len(found) == 1 and found[0]["equipment"] == sgln


def test_acknowledge(store: Store) -> None:
    set_spec(store, parameter="forming_force", usl=70)
    AlertChecker().check(store, [reading(90)])
    alert = list_alerts(store)[0]
    done = acknowledge(store, alert.id, user="qe1")
    assert done.acked_by == "qe1" and done.acked_at is not None
    assert list_alerts(store, unacked=True) == []
    assert acknowledge(store, alert.id, user="qe2").acked_by == "qe1"  # the first one stands
    with pytest.raises(NotFound):
        acknowledge(store, alert.id + 100, user="qe1")


@pytest.fixture
def service(store: Store) -> Iterator[CaptureService]:
    committer = GroupCommitter(store)
    try:
        yield CaptureService(store, committer, alerts=AlertChecker(Sent()))
    finally:
        committer.close()


def test_captured_epcis_sensor_readings_are_checked(service: CaptureService, store: Store) -> None:
    set_spec(store, parameter="Temperature", usl=80, unit="CEL")
    event = {
        "type": "ObjectEvent",
        "eventID": "urn:uuid:5e0c7a2e-0000-4000-8000-000000000001",
        "action": "OBSERVE",
        "eventTime": "2026-03-01T08:00:00+01:00",
        "eventTimeZoneOffset": "+01:00",
        "epcList": ["urn:epc:id:sgtin:4012345.011111.1"],
        "readPoint": {"id": HEADER},
        "sensorElementList": [
            {
                "sensorReport": [
                    {"type": "gs1:Temperature", "value": 85.5, "uom": "CEL"},
                    {"type": "gs1:Temperature", "value": 20.0, "uom": "CEL",
                     "time": "2026-03-01T07:01:00Z"},
                ]
            }
        ],
    }  # fmt: skip
    job = service.capture(orjson.dumps(document([event])))
    assert job["success"]
    alerts = list_alerts(store)
    assert len(alerts) == 1 and alerts[0].value == 85.5 and alerts[0].source == "epcis"
    assert alerts[0].equipment == canonical(HEADER).key
    assert len(service.alerts.publish.messages) == 1  # type: ignore[union-attr]
