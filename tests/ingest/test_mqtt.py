"""MQTT ingestion against the real broker: every topic, refused payloads, redelivery."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from threadline.ingest.mqtt import BrokerUnavailable, MqttIngester, parse_message
from threadline.ingest.readings import find_readings
from threadline.ingest.stations import set_station
from threadline.store import Store
from threadline.store.ingest_errors import list_errors

from mqttkit import (
    broker_or_skip,
    count,
    listening,
    new_site,
    options,
    publisher,
    running_ingester,
    wait_for,
)

GS = "\x1d"
STATION = "urn:epc:id:sgln:4012345.00001.PACK-01"
LOT = "https://id.gs1.org/01/09520123456788/10/ABC123"
SSCC = "https://id.gs1.org/00/095201234500000014"


@pytest.fixture
def site() -> str:
    broker_or_skip()
    return new_site()


def _readings(store: Store) -> int:
    return count(store, "SELECT count(*) FROM readings WHERE source = ?", ("mqtt",))


def test_readings_messages_are_stored_with_their_site(store: Store, site: str) -> None:
    with running_ingester(store, site), publisher() as publish:
        publish(
            f"threadline/{site}/CH-07/readings",
            {
                "time": "2026-03-01T08:00:00+01:00",
                "readings": [
                    {"parameter": "forming_force", "value": 61.2, "unit": "KNT"},
                    {"parameter": "stroke_rate", "value": 120, "unit": "2A"},
                ],
            },
        )
        publish(
            f"threadline/{site}/CH-08/readings",
            {"time": "2026-03-01T07:00:01Z", "parameter": "temperature", "value": -3.5},
        )
        wait_for(lambda: _readings(store) == 3, what="3 readings")
    with store.reader() as reader:
        ch07 = find_readings(reader, "CH-07")
        ch08 = find_readings(reader, "CH-08")
        extra = reader.query("SELECT extra FROM readings WHERE equipment = ?", ("CH-08",))[0][0]
    assert [(r["parameter"], r["value"], r["unit"], r["time"]) for r in ch07] == [
        ("forming_force", 61.2, "KNT", "2026-03-01T07:00:00.000000Z"),
        ("stroke_rate", 120.0, "2A", "2026-03-01T07:00:00.000000Z"),
    ]
    assert [(r["parameter"], r["value"], r["unit"]) for r in ch08] == [("temperature", -3.5, None)]
    assert store.load_json(extra) == {"site": site}


def test_scans_over_mqtt_become_events(store: Store, site: str) -> None:
    set_station(store, "PACK-01", read_point=STATION, biz_step="packing")
    topic = f"threadline/{site}/PACK-01/scans"
    with running_ingester(store, site) as ingester, publisher() as publish:
        publish(topic, {"time": "2026-03-01T07:00:00Z", "data": f"]d20109520123456788{GS}10ABC123"})
        publish(topic, {"time": "2026-03-01T07:00:05Z", "data": "]C100095201234500000014"})
        publish(
            topic,
            {"time": "2026-03-01T07:00:09Z", "data": "]Q1https://x.example/00/095201234500000014"},
        )
        # The first scan again: the same event, stored once.
        publish(topic, {"time": "2026-03-01T07:00:00Z", "data": f"]d20109520123456788{GS}10ABC123"})
        wait_for(lambda: ingester.stats.items == 4, what="four scans handled")
    with store.reader() as reader:
        rows = reader.query(
            "SELECT action, biz_step, read_point, event_time, doc FROM events ORDER BY event_time"
        )
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("OBSERVE", "packing", "2026-03-01T07:00:00.000000Z"),
        ("OBSERVE", "packing", "2026-03-01T07:00:05.000000Z"),
        ("OBSERVE", "packing", "2026-03-01T07:00:09.000000Z"),
    ]
    docs = [store.load_json(r[4]) for r in rows]
    assert docs[0]["quantityList"] == [{"epcClass": LOT}]
    assert docs[1]["epcList"] == [SSCC] and docs[2]["epcList"] == [SSCC]
    assert all(d["readPoint"] == {"id": STATION} for d in docs)


def _event(n: int) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": f"2026-03-01T07:00:0{n}Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "epcList": [f"urn:epc:id:sgtin:4012345.011111.{n}"],
        "bizStep": "inspecting",
    }


def test_events_topic_takes_an_event_or_a_document(store: Store, site: str) -> None:
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-01T07:00:00Z",
        "epcisBody": {"eventList": [_event(2), _event(3)]},
    }
    with running_ingester(store, site) as ingester, publisher() as publish:
        publish(f"threadline/{site}/events", _event(1))
        publish(f"threadline/{site}/events", document)
        publish(f"threadline/{site}/events", document)  # again: nothing new
        wait_for(lambda: ingester.stats.items == 3, what="three messages handled")
    assert count(store, "SELECT count(*) FROM events") == 3
    assert ingester.stats.duplicates == 2


BAD = [
    ("CH-07/readings", b"{not json", "not valid JSON"),
    ("CH-07/readings", {"readings": [{"parameter": "f", "value": 1}]}, "/readings/0/time"),
    ("CH-07/readings", {"time": "2026-03-01T07:00:00Z", "parameter": "f", "value": "x"}, "/value"),
    ("CH-07/readings", {"time": "2026-03-01T07:00:00", "parameter": "f", "value": 1}, "time zone"),
    ("CH-07/readings", {"time": "2026-03-01T07:00:00Z", "readings": []}, "/readings"),
    ("PACK-01/scans", {"time": "2026-03-01T07:00:00Z", "data": "hello"}, "not GS1 data"),
    ("PACK-01/scans", {"data": "]C100095201234500000014"}, "/time"),
    ("NOWHERE/scans", {"time": "2026-03-01T07:00:00Z", "data": "]E04012345123456"}, "NOWHERE"),
    ("events", {"type": "ObjectEvent", "action": "OBSERVE"}, "eventTime"),
]


def test_bad_payloads_are_recorded_published_and_do_not_stop_ingestion(
    store: Store, site: str
) -> None:
    set_station(store, "PACK-01", read_point=STATION, biz_step="packing")
    good = {"time": "2026-03-01T09:00:00Z", "parameter": "forming_force", "value": 1.0}
    with (
        listening(f"threadline/{site}/errors") as errors,
        running_ingester(store, site),
        publisher() as publish,
    ):
        for suffix, payload, _ in BAD:
            publish(f"threadline/{site}/{suffix}", payload)
        publish(f"threadline/{site}/CH-07/readings", good)
        wait_for(lambda: _readings(store) == 1, what="the good reading after the bad ones")
        wait_for(lambda: len(errors.bodies()) == len(BAD), what="one error message per bad one")
    recorded = list(reversed(list_errors(store)))
    assert len(recorded) == len(BAD)
    for row, (suffix, _payload, clue) in zip(recorded, BAD, strict=True):
        assert row.topic == f"threadline/{site}/{suffix}" and row.source == "mqtt"
        assert clue in row.reason, (clue, row.reason)
        assert row.payload  # an excerpt of what was refused
    published = {(b["topic"], b["reason"]) for b in errors.bodies()}
    assert published == {(row.topic, row.reason) for row in recorded}


def test_a_committed_but_unacknowledged_message_comes_again_and_stores_once(
    store: Store, site: str
) -> None:
    """The crash window between commit and PUBACK: the broker redelivers, nothing doubles."""
    message = {
        "time": "2026-03-01T07:00:00Z",
        "readings": [{"parameter": f"p{i}", "value": i} for i in range(50)],
    }
    first = MqttIngester(store, options(site))
    first.start()
    first._acknowledge = lambda batch: None  # type: ignore[method-assign]  # dies before PUBACK
    runner = threading.Thread(target=first.run, daemon=True)
    runner.start()
    with publisher() as publish:
        publish(f"threadline/{site}/CH-07/readings", message)
        wait_for(lambda: _readings(store) == 50, what="the first delivery committed")
    first.stop()
    runner.join(timeout=30)
    first.close()
    with running_ingester(store, site) as second:
        wait_for(lambda: second.stats.readings == 50, what="the redelivery")
    assert second.stats.readings_stored == 0
    assert _readings(store) == 50


def test_an_unreachable_broker_is_a_clear_error(store: Store) -> None:
    ingester = MqttIngester(store, options("x", broker="mqtt://127.0.0.1:9", connect_timeout=2))
    with pytest.raises(BrokerUnavailable, match=r"127\.0\.0\.1:9"):
        ingester.start()


class _SlowGrant(MqttIngester):
    """An ingester whose broker answers SUBSCRIBE late, or refuses it when told to."""

    refuse = False

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: list[Any],
                      properties: Any) -> None:  # fmt: skip
        time.sleep(0.3)
        if self.refuse:
            reasons = [ReasonCode(PacketTypes.SUBACK, "Not authorized") for _ in reasons]
        self.granted_at = time.monotonic()
        super()._on_subscribe(client, userdata, mid, reasons, properties)


def test_start_returns_once_the_subscriptions_are_granted(store: Store, site: str) -> None:
    # A message published before the broker has the subscriptions reaches no subscriber of a
    # new session, so a caller of start() must be able to publish at once.
    ingester = _SlowGrant(store, options(site))
    try:
        ingester.start()
        returned = time.monotonic()
        assert getattr(ingester, "granted_at", None) is not None, "start() did not wait"
        assert ingester.granted_at <= returned
    finally:
        ingester.close()


def test_a_refused_subscription_is_a_clear_error(store: Store, site: str) -> None:
    ingester = _SlowGrant(store, options(site))
    ingester.refuse = True
    with pytest.raises(BrokerUnavailable, match=rf"subscription refused for threadline/{site}/"):
        ingester.start()
    ingester.close()


def test_messages_on_unknown_topics_are_refused_not_raised() -> None:
    item = parse_message("threadline/s1/CH-07/something", b"{}")
    assert item.error is not None and "not a Threadline topic" in item.error
    item = parse_message("threadline/s1/CH-07/readings", b'{"time": 1, "parameter": "p"}')
    assert item.error is not None and "/time" in item.error
