"""Alert webhooks: subscriptions, the outbox written with each alert, signed delivery, retries.

Receivers are small ``http.server`` instances on 127.0.0.1 (port 0) in a thread that record
every POST; tests wait on their condition variable with a deadline, never on a sleep. Every
signature is recomputed here with :mod:`hmac` over the raw body received.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from threadline.cli import app
from threadline.cli import console as cli_console
from threadline.errors import InvalidInput, NotFound
from threadline.gs1.keys import canonical
from threadline.ingest.alert_webhooks import AlertWebhookDispatcher
from threadline.ingest.mqtt import MqttIngester, MqttOptions, parse_broker
from threadline.ingest.readings import MQTT_SOURCE, MachineReading
from threadline.ingest.sources import BatchWriter, Item
from threadline.quality.alerts import (
    AlertChecker,
    alert_deliveries,
    alert_subscription,
    alert_subscriptions,
    list_alerts,
    subscribe,
    unsubscribe,
)
from threadline.quality.specs import set_spec
from threadline.store import Store, open_store
from threadline.store import audit as audit_log
from threadline.store.auth import transaction

from hookkit import DEADLINE, Call, Receiver
from livekit import World, audit_rows, world_fixture  # noqa: F401 (fixture)
from plantkit import HEADER, document

runner = CliRunner()


# -- receivers ---------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    try:
        yield found
    finally:
        found.close()


def dead_url() -> str:
    """A URL on a port nobody listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/gone"


def signed_by(call: Call, secret: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), call.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(call.headers.get("gs1-signature", ""), expected)


# -- helpers ---------------------------------------------------------------------------------


def reading(
    value: float,
    *,
    minute: int = 0,
    equipment: str = "CH-07",
    parameter: str = "forming_force",
    site: str = "plant1",
) -> MachineReading:
    return MachineReading(
        equipment, parameter, f"2026-03-01T07:{minute:02d}:00Z", value, "KNT", None,
        MQTT_SOURCE, json.dumps({"site": site}),
    )  # fmt: skip


@contextmanager
def delivering(store: Store, **changes: Any) -> Iterator[AlertWebhookDispatcher]:
    settings: dict[str, Any] = {"timeout": 5.0, "backoff": 0.05, "poll": 0.05}
    settings.update(changes)
    dispatcher = AlertWebhookDispatcher(store, **settings).start()
    try:
        yield dispatcher
    finally:
        dispatcher.close()


def pending(store: Store) -> dict[str, int]:
    return {s.id: s.pending or 0 for s in alert_subscriptions(store)}


def count(store: Store, sql: str) -> int:
    with store.reader() as reader:
        return int(reader.query(sql)[0][0])


def wait_until(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)  # polling interval, not synchronisation


# -- subscriptions -----------------------------------------------------------------------------


def test_subscribe_checks_its_input_and_never_shows_the_secret(store: Store) -> None:
    for dest, fault in [
        ("ftp://example.com/x", "dest"),
        ("http:///no-host", "dest"),
        ("not a url", "dest"),
    ]:
        with pytest.raises(InvalidInput, match=fault):
            subscribe(store, dest)
    with pytest.raises(InvalidInput, match="kind"):
        subscribe(store, "http://127.0.0.1:9/x", kind="bogus")
    with pytest.raises(InvalidInput, match="secret"):
        subscribe(store, "http://127.0.0.1:9/x", secret="")
    with pytest.raises(InvalidInput, match="site"):
        subscribe(store, "http://127.0.0.1:9/x", site="a/b")
    with pytest.raises(InvalidInput, match="equipment"):
        subscribe(store, "http://127.0.0.1:9/x", equipment="  ")
    assert alert_subscriptions(store) == []  # nothing refused was stored

    made = subscribe(
        store, "http://127.0.0.1:9/x", secret="s3cret", equipment=HEADER,
        parameter="gs1:Temperature", kind="out_of_spec", user="qe",
    )  # fmt: skip
    assert made.equipment == canonical(HEADER).key and made.parameter == "Temperature"
    shown = alert_subscription(store, made.id).to_dict()
    assert shown["signed"] is True and "secret" not in shown and shown["pending"] == 0
    assert shown["created_by"] == "qe" and shown["failures"] == 0
    assert "s3cret" not in json.dumps([s.to_dict() for s in alert_subscriptions(store)])

    unsubscribe(store, made.id, user="qe2")
    with pytest.raises(NotFound, match=made.id):
        alert_subscription(store, made.id)
    with pytest.raises(NotFound, match=made.id):
        unsubscribe(store, made.id)
    entries = [e for e in audit_log.entries(store) if e.target == made.id]
    assert [(e.action, e.actor) for e in entries] == [
        ("alert-subscribe", "qe"),
        ("alert-unsubscribe", "qe2"),
    ]
    assert "http://127.0.0.1:9/x" in (entries[0].detail or "")
    assert "s3cret" not in (entries[0].detail or "") and "signed" in (entries[0].detail or "")


# -- queueing and delivery -------------------------------------------------------------------


def test_alerts_are_queued_with_the_alert_and_posted_signed_to_each_match(
    store: Store, receiver: Receiver
) -> None:
    set_spec(store, parameter="forming_force", usl=70)
    set_spec(store, parameter="torque", usl=10)
    every = subscribe(store, receiver.url("/every"), secret="k-every")
    force = subscribe(store, receiver.url("/force"), parameter="forming_force", equipment="CH-07")
    held = subscribe(store, receiver.url("/held"), kind="held_material")
    elsewhere = subscribe(store, receiver.url("/plant2"), site="plant2")
    batch = [
        reading(75, minute=1),  # out, CH-07 force
        reading(80, minute=2, equipment="CH-08"),  # out, another machine
        reading(12, minute=3, parameter="torque"),  # out, another parameter
        reading(60, minute=4),  # inside
    ]
    fresh = AlertChecker().check(store, batch)
    assert len(fresh) == 3
    # Queued in the alert's own transaction: no delivery loop has run yet.
    assert pending(store) == {every.id: 3, force.id: 1, held.id: 0, elsewhere.id: 0}
    assert AlertChecker().check(store, batch) == []  # a redelivered batch queues nothing again
    assert pending(store)[every.id] == 3

    with delivering(store):
        calls = receiver.wait(4)
        wait_until(lambda: sum(pending(store).values()) == 0, "the deliveries to be recorded")
    assert {c.path for c in calls} == {"/every", "/force"}
    to_every = [c for c in calls if c.path == "/every"]
    ids = sorted(int(a["id"]) for a in fresh)
    assert [int(c.headers["threadline-alert-id"]) for c in to_every] == ids  # in order
    for call in to_every:
        assert signed_by(call, "k-every"), call.headers
        assert call.headers["content-type"] == "application/json"
        assert call.headers["threadline-subscription-id"] == every.id
        assert call.headers["threadline-delivery-attempt"] == "1"
        assert call.json["id"] == int(call.headers["threadline-alert-id"])
    (to_force,) = [c for c in calls if c.path == "/force"]
    assert "gs1-signature" not in to_force.headers  # no secret, no signature
    body = to_force.json
    assert (body["equipment"], body["parameter"], body["value"]) == ("CH-07", "forming_force", 75)
    assert body["usl"] == 70 and body["site"] == "plant1" and "above USL" in body["message"]

    record = alert_deliveries(store, every.id)
    assert [d.alert for d in record] == ids[::-1]  # newest alert first
    assert all(d.delivered_at and d.status == 200 and d.attempts == 1 for d in record)
    state = alert_subscription(store, every.id)
    assert state.last_delivered_at is not None and state.failures == 0 and state.pending == 0


def test_a_refusing_receiver_is_retried_until_it_takes_the_alert(store: Store) -> None:
    set_spec(store, parameter="forming_force", usl=70)
    flaky = Receiver(answers=(500, 503))
    try:
        sub = subscribe(store, flaky.url(), secret="k")
        gone = subscribe(store, dead_url())
        (alert,) = AlertChecker().check(store, [reading(90)])
        with delivering(store):
            calls = flaky.wait(3, accepted=False)
            wait_until(lambda: pending(store)[sub.id] == 0, "the accepted delivery")
            wait_until(
                lambda: alert_subscription(store, gone.id).failures >= 2, "retries of the dead"
            )
    finally:
        flaky.close()
    assert [c.status for c in calls] == [500, 503, 200]
    assert [c.headers["threadline-delivery-attempt"] for c in calls] == ["1", "2", "3"]
    assert {c.json["id"] for c in calls} == {alert["id"]}  # the same alert each time
    assert all(signed_by(c, "k") for c in calls)
    (done,) = alert_deliveries(store, sub.id)
    assert done.attempts == 3 and done.status == 200 and done.delivered_at and not done.last_error
    healed = alert_subscription(store, sub.id)
    assert healed.failures == 0 and healed.last_error is None and healed.retry_at is None
    # The dead endpoint keeps its alert queued, with why, and is tried again later.
    dead = alert_subscription(store, gone.id)
    assert dead.pending == 1 and dead.retry_at is not None
    assert "ConnectError" in (dead.last_error or "")
    (waiting,) = alert_deliveries(store, gone.id)
    assert waiting.delivered_at is None and waiting.attempts >= 2 and waiting.status is None


class Hanging:
    """An endpoint that accepts connections and never answers (until closed)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.accepted = threading.Event()
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        self.conns.append(conn)
        self.accepted.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/slow"

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        self.sock.close()


def test_a_receiver_that_hangs_never_holds_up_ingestion(store: Store) -> None:
    set_spec(store, parameter="forming_force", usl=70)
    hanging = Hanging()
    try:
        sub = subscribe(store, hanging.url)
        writer = BatchWriter(store, listeners=[AlertChecker()])
        first = Item(MQTT_SOURCE, "threadline/plant1/CH-07/readings", readings=[reading(91)])
        assert writer.write([first])
        with delivering(store, timeout=60.0):
            assert hanging.accepted.wait(DEADLINE), "the first alert was never posted"
            # The delivery loop now waits on the receiver; ingestion must not.
            began = time.monotonic()
            topic = "threadline/plant1/CH-07/readings"
            more = [Item(MQTT_SOURCE, topic, readings=[reading(95, minute=m)]) for m in range(1, 6)]
            assert writer.write(more)
            took = time.monotonic() - began
            assert took < 10.0, f"ingestion waited {took:.1f} s for a receiver"
            assert count(store, "SELECT count(*) FROM readings") == 6
            assert len(list_alerts(store)) == 6 and pending(store)[sub.id] == 6
            hanging.close()  # the post in flight fails now; the alert stays queued
            wait_until(lambda: alert_subscription(store, sub.id).failures >= 1, "the failure")
    finally:
        hanging.close()
    assert alert_subscription(store, sub.id).pending == 6


def test_what_one_process_queued_another_delivers_once_the_lease_is_free(
    store: Store, receiver: Receiver
) -> None:
    set_spec(store, parameter="forming_force", usl=70)
    sub = subscribe(store, receiver.url())
    raised = AlertChecker().check(store, [reading(71, minute=1), reading(72, minute=2)])
    ids = [int(a["id"]) for a in raised]

    def lease(holder: str, until: str) -> None:
        with transaction(store, write=True) as cursor:
            cursor.execute(
                store.sql(
                    "UPDATE alert_subscriptions SET claimed_by = ?, claimed_until = ? WHERE id = ?"
                ),
                (holder, until, sub.id),
            )

    other = AlertWebhookDispatcher(store, timeout=5.0)  # not started: rounds run here
    with httpx.Client(trust_env=False) as client:
        lease("crashed-ingester", "2999-01-01T00:00:00.000000Z")  # a live lease of another
        other.deliver_due(client)
        assert receiver.calls == [] and pending(store)[sub.id] == 2
        lease("crashed-ingester", "2000-01-01T00:00:00.000000Z")  # it ran out
        other.deliver_due(client)
        assert [int(c.headers["threadline-alert-id"]) for c in receiver.calls] == ids
        assert pending(store)[sub.id] == 0
        with store.reader() as reader:
            holder = reader.query(
                "SELECT claimed_by FROM alert_subscriptions WHERE id = ?", (sub.id,)
            )
        assert holder[0][0] is None  # given back after the round

        # A crash between the receiver's 2xx and the write recording it: posted again, with the
        # same alert id for the receiver to deduplicate on.
        with transaction(store, write=True) as cursor:
            cursor.execute(
                store.sql("UPDATE alert_deliveries SET delivered_at = NULL WHERE alert = ?"),
                (ids[0],),
            )
        other.deliver_due(client)
    again = receiver.calls[2:]
    assert [int(c.headers["threadline-alert-id"]) for c in again] == [ids[0]]
    assert again[0].body == receiver.calls[0].body


def test_an_ended_subscription_gets_nothing_more(store: Store, receiver: Receiver) -> None:
    set_spec(store, parameter="forming_force", usl=70)
    sub = subscribe(store, receiver.url())
    AlertChecker().check(store, [reading(71)])
    unsubscribe(store, sub.id)
    AlertChecker().check(store, [reading(72, minute=1)])
    with store.reader() as reader:
        assert reader.query("SELECT count(*) FROM alert_deliveries")[0][0] == 0
    other = AlertWebhookDispatcher(store)
    with httpx.Client(trust_env=False) as client:
        other.deliver_due(client)
    assert receiver.calls == []


# -- the CLI -----------------------------------------------------------------------------------


def test_cli_subscribe_list_deliveries_unsubscribe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_console, "width", 200)  # one table row per line
    db = str(tmp_path / "hooks.db")
    bad = runner.invoke(app, ["alerts", "subscribe", "ftp://x", "--db", db])
    assert bad.exit_code == 1 and "dest" in bad.output
    made = runner.invoke(
        app,
        ["alerts", "subscribe", "http://127.0.0.1:9/hook", "--secret", "cli-secret",
         "--parameter", "forming_force", "--db", db, "--json", "--user", "qe"],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    sub = json.loads(made.stdout)
    assert sub["signed"] is True and sub["parameter"] == "forming_force"
    assert "cli-secret" not in made.stdout

    store = open_store(db)
    try:
        set_spec(store, parameter="forming_force", usl=70)
        (alert,) = AlertChecker().check(store, [reading(99)])
    finally:
        store.close()
    listed = runner.invoke(app, ["alerts", "subscriptions", "--db", db, "--json"])
    assert listed.exit_code == 0, listed.output
    assert [(s["id"], s["pending"]) for s in json.loads(listed.stdout)] == [(sub["id"], 1)]
    table = runner.invoke(app, ["alerts", "subscriptions", "--db", db])
    assert table.exit_code == 0
    (row,) = [line for line in table.output.splitlines() if sub["id"] in line]
    assert "http://127.0.0.1:9/hook" in row and "parameter=forming_force" in row
    record = runner.invoke(app, ["alerts", "deliveries", sub["id"], "--db", db, "--json"])
    assert [(d["alert"], d["delivered_at"]) for d in json.loads(record.stdout)] == [
        (alert["id"], None)
    ]
    # The plain listing of alerts is still `threadline alerts`.
    alerts = runner.invoke(app, ["alerts", "--db", db, "--json"])
    assert [a["id"] for a in json.loads(alerts.stdout)] == [alert["id"]]

    ended = runner.invoke(app, ["alerts", "unsubscribe", sub["id"], "--db", db])
    assert ended.exit_code == 0 and sub["id"] in ended.output
    again = runner.invoke(app, ["alerts", "unsubscribe", sub["id"], "--db", db])
    assert again.exit_code == 1 and "no alert subscription" in again.output


# -- the processes that raise alerts ---------------------------------------------------------


BROKER = os.environ.get("THREADLINE_TEST_MQTT", "mqtt://127.0.0.1:1883")


def broker_or_skip() -> None:
    where = parse_broker(BROKER)
    try:
        with socket.create_connection((where.host, where.port), timeout=3):
            pass
    except OSError as exc:
        if os.environ.get("THREADLINE_REQUIRE_SERVICES") == "1":
            pytest.fail(f"MQTT broker required but unreachable at {BROKER}: {exc}")
        pytest.skip(f"MQTT broker unreachable at {BROKER}: {exc}")


def publish(topic: str, payload: dict[str, Any]) -> None:
    """Publish with QoS 1; returns once the broker has the message."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    where = parse_broker(BROKER)
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect(where.host, where.port)
    client.loop_start()
    try:
        info = client.publish(topic, orjson.dumps(payload), qos=1)
        info.wait_for_publish(timeout=DEADLINE)
        assert info.is_published(), f"the broker did not take a message on {topic}"
    finally:
        client.disconnect()
        client.loop_stop()


def test_the_mqtt_ingester_delivers_the_alerts_it_raises(store: Store, receiver: Receiver) -> None:
    broker_or_skip()
    set_spec(store, parameter="forming_force", usl=70)
    sub = subscribe(store, receiver.url(), secret="plant-key", equipment="CH-07")
    subscribe(store, dead_url())  # a dead subscriber changes nothing for the others
    site = f"t{uuid.uuid4().hex[:10]}"
    settings = MqttOptions(
        broker=BROKER, site=site, client_id=f"threadline-test-{site}", session_expiry=300,
        max_delay=0.02,
    )  # fmt: skip
    ingester = MqttIngester(store, settings, listeners=[AlertChecker()])
    ingester.start()
    thread = threading.Thread(target=ingester.run, name="test-ingester", daemon=True)
    thread.start()
    try:
        assert ingester.alert_delivery is not None
        publish(
            f"threadline/{site}/CH-07/readings",
            {"readings": [
                {"time": "2026-03-01T07:00:00Z", "parameter": "forming_force", "value": 88},
                {"time": "2026-03-01T07:00:01Z", "parameter": "forming_force", "value": 60},
            ]},
        )  # fmt: skip
        (call,) = receiver.wait(1)
        wait_until(lambda: count(store, "SELECT count(*) FROM readings") == 2, "2 readings")
    finally:
        ingester.stop()
        thread.join(timeout=30)
        ingester.close()
    assert ingester.alert_delivery is None  # closed with the ingester
    assert signed_by(call, "plant-key")
    assert call.json["value"] == 88 and call.json["site"] == site
    assert call.headers["threadline-subscription-id"] == sub.id


@pytest.fixture
def hook() -> Iterator[Receiver]:
    found = Receiver()
    try:
        yield found
    finally:
        found.close()


def test_the_server_delivers_alerts_of_captured_readings(world: World, hook: Receiver) -> None:
    set_spec(world.store, parameter="Temperature", usl=80, unit="CEL")
    wanted = {"dest": hook.url(), "secret": "srv-key", "parameter": "gs1:Temperature"}
    with world.as_role("operator") as client:
        assert client.post("/alerts/subscriptions", json=wanted).status_code == 403
    with world.as_role("quality") as client:
        refused = client.post("/alerts/subscriptions", json={"dest": "ftp://x"})
        assert refused.status_code == 400 and "dest" in refused.text
        made = client.post(
            "/alerts/subscriptions", json=wanted, headers={"X-Request-ID": "sub-made-1"}
        )
    assert made.status_code == 201, made.text
    sub = made.json()
    assert made.headers["Location"] == f"/alerts/subscriptions/{sub['id']}"
    assert (
        sub["signed"] is True and sub["parameter"] == "Temperature" and "srv-key" not in made.text
    )
    (entry,) = audit_rows(world.store, "sub-made-1")
    assert (entry["action"], entry["role"], entry["target"]) == (
        "alert-subscribe",
        "quality",
        sub["id"],
    )
    assert entry["actor"].startswith("quality") and hook.url() in entry["detail"]
    with world.as_role("viewer") as client:
        listed = client.get("/alerts/subscriptions")
        one = client.get(f"/alerts/subscriptions/{sub['id']}")
    assert listed.status_code == 200 and sub["id"] in [s["id"] for s in listed.json()]
    assert one.json()["pending"] == 0 and "srv-key" not in listed.text + one.text

    event = {
        "type": "ObjectEvent",
        "eventID": "urn:uuid:5e0c7a2e-0000-4000-8000-00000000a1e7",
        "action": "OBSERVE",
        "eventTime": "2026-03-02T08:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": ["urn:epc:id:sgtin:4012345.011111.1"],
        "readPoint": {"id": HEADER},
        "sensorElementList": [
            {"sensorReport": [{"type": "gs1:Temperature", "value": 85.5, "uom": "CEL"}]}
        ],
    }
    with world.as_role("operator") as client:
        captured = client.post("/capture", content=orjson.dumps(document([event])))
    assert captured.status_code == 202, captured.text
    (call,) = hook.wait(1)
    assert signed_by(call, "srv-key")
    assert call.json["value"] == 85.5 and call.json["parameter"] == "Temperature"

    def delivered() -> list[dict[str, Any]]:
        with world.as_role("viewer") as client:
            answer = client.get(f"/alerts/subscriptions/{sub['id']}/deliveries")
        assert answer.status_code == 200, answer.text
        return [d for d in answer.json() if d["delivered_at"]]

    wait_until(lambda: len(delivered()) == 1, "the delivery record")
    assert delivered()[0]["alert"] == call.json["id"] and delivered()[0]["status"] == 200

    with world.as_role("quality") as client:
        assert client.delete(f"/alerts/subscriptions/{sub['id']}").status_code == 204
        assert client.get(f"/alerts/subscriptions/{sub['id']}").status_code == 404
        assert client.delete(f"/alerts/subscriptions/{sub['id']}").status_code == 404
