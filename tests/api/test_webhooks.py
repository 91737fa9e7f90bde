"""Webhook subscriptions end to end: a real server delivers to a receiver on 127.0.0.1.

The receiver is a small ``http.server`` in a thread that records every POST (and can refuse the
first few); tests wait on its condition variable, with a deadline, never on a sleep.
"""

from __future__ import annotations

import hashlib
import hmac
import queue
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from lxml import etree

from threadline.service import parse_events
from threadline.store import Store, open_store
from threadline.store.auth import Role, add_user, create_token
from threadline.store.group_commit import GroupCommitter
from threadline.webhooks import Schedule, SubscriptionControlsError, sign

from hookkit import DEADLINE, Call, Receiver
from livekit import PASSWORD, LiveServer, fresh_database, settings_for, start_server
from plantkit import C1, document, receive, ship


def event_ids(call: Call) -> list[str]:
    """The eventIDs of the EPCISQueryDocument a call delivered."""
    results = call.json["epcisBody"]["queryResults"]
    return [e["eventID"] for e in results["resultsBody"]["eventList"]]


@dataclass
class Service:
    """A store with an operator and a viewer, served (and restartable) with fast retries."""

    db: str
    store: Store
    token: str
    live: LiveServer | None = None
    receivers: list[Receiver] = field(default_factory=list)

    def start(self) -> None:
        settings = settings_for(
            self.db, webhook_backoff=0.05, webhook_attempts=4, webhook_timeout=5.0
        )
        self.live = start_server(settings)

    def stop(self) -> None:
        assert self.live is not None
        self.live.stop()
        self.live = None

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        assert self.live is not None
        with self.live.client(headers={"Authorization": f"Bearer {self.token}"}) as client:
            return client.request(method, url, **kwargs)

    def receiver(self, refuse: int = 0) -> Receiver:
        made = Receiver(answers=(500,) * refuse)
        self.receivers.append(made)
        return made

    def query(self, query: dict[str, Any]) -> str:
        name = f"q-{uuid.uuid4().hex[:8]}"
        answer = self.request("POST", "/queries", json={"name": name, "query": query})
        assert answer.status_code == 201, answer.text
        return name

    def subscribe(self, name: str, body: dict[str, Any], **headers: str) -> dict[str, Any]:
        answer = self.request("POST", f"/queries/{name}/subscriptions", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
        made: dict[str, Any] = answer.json()
        return made

    def subscription(self, name: str, sub_id: str) -> dict[str, Any]:
        answer = self.request("GET", f"/queries/{name}/subscriptions/{sub_id}")
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def capture(self, *events: dict[str, Any]) -> None:
        answer = self.request("POST", "/capture", content=orjson.dumps(document(list(events))))
        assert answer.status_code == 202, answer.text


@pytest.fixture(params=["sqlite", "postgres"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    with fresh_database(request.param, tmp_path) as db:
        store = open_store(db)
        add_user(store, name="line3", role=Role.operator, password=PASSWORD)
        token = create_token(store, name="line3")[1]
        running = Service(db, store, token)
        running.start()
        try:
            yield running
        finally:
            if running.live is not None:
                running.stop()
            for receiver in running.receivers:
                receiver.close()
            store.close()


def _sscc() -> str:
    return f"urn:epc:id:sscc:4012345.{uuid.uuid4().int % 10**10:010d}"


def _lot() -> str:
    return f"urn:epc:class:lgtin:4098765.012345.L{uuid.uuid4().hex[:8]}"


def _poll(check: Callable[[], Any], what: str) -> Any:
    """``check()`` once it returns something true, polling until the deadline."""
    deadline = time.monotonic() + DEADLINE
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what} within {DEADLINE} s"
        time.sleep(0.02)  # polling interval of a state that is written asynchronously


def test_stream_notifications_are_signed_and_only_for_matching_events(service: Service) -> None:
    receiver = service.receiver()
    name = service.query({"EQ_bizStep": ["shipping"]})
    secret = "13df38d8275b13f05704629e5f1cf3d45d6132d5"
    sub = service.subscribe(
        name, {"dest": receiver.url(), "signatureToken": secret, "stream": True}
    )
    shipped, received = ship(60, C1, epcs=[_sscc()]), receive(10, _lot(), 5)
    service.capture(shipped, received)

    (call,) = receiver.wait(1)
    expected = "sha256=" + hmac.new(secret.encode(), call.body, hashlib.sha256).hexdigest()
    assert call.headers["gs1-signature"] == expected
    assert call.headers["content-type"] == "application/ld+json"
    assert call.headers["gs1-epcis-version"] == "2.0.0"
    assert call.headers["gs1-query-name"] == name
    assert call.headers["gs1-subscription-id"] == sub["subscriptionID"]
    results = call.json["epcisBody"]["queryResults"]
    assert (results["queryName"], results["subscriptionID"]) == (name, sub["subscriptionID"])
    assert event_ids(call) == [shipped["eventID"]]
    # Digital Link unless the subscription asked otherwise.
    assert results["resultsBody"]["eventList"][0]["epcList"][0].startswith("https://id.gs1.org/")

    # Receipts match nothing: they are not reported (the next shipment shows nothing came
    # in between, since notifications go out in commit order).
    service.capture(receive(11, _lot(), 7))
    again = ship(61, C1, epcs=[_sscc()])
    service.capture(again)
    _first, second = receiver.wait(2)
    assert event_ids(second) == [again["eventID"]]
    assert len(receiver.calls) == 2
    state = service.subscription(name, sub["subscriptionID"])
    assert state["lastNotifiedAt"] >= sub["createdAt"]


def test_no_double_delivery_across_a_restart(service: Service) -> None:
    receiver = service.receiver()
    name = service.query({"EQ_bizStep": ["shipping"]})
    service.subscribe(name, {"dest": receiver.url(), "stream": True})
    before = ship(60, C1, epcs=[_sscc()])
    service.capture(before)
    receiver.wait(1)

    service.stop()
    # Recorded while the service is down (an import): reported when it is back.
    meanwhile = ship(62, C1, epcs=[_sscc()])
    service.store.append(list(parse_events([meanwhile], source="import")))
    service.start()
    caught_up = receiver.wait(2)[1]
    assert event_ids(caught_up) == [meanwhile["eventID"]]

    after = ship(63, C1, epcs=[_sscc()])
    service.capture(after)
    calls = receiver.wait(3)
    assert [event_ids(c) for c in calls] == [
        [before["eventID"]],
        [meanwhile["eventID"]],
        [after["eventID"]],
    ]
    assert len(receiver.calls) == 3


def test_a_refused_delivery_is_retried_until_accepted(service: Service) -> None:
    receiver = service.receiver(refuse=2)
    name = service.query({"EQ_bizStep": ["shipping"]})
    sub = service.subscribe(name, {"dest": receiver.url(), "stream": True})
    shipped = ship(60, C1, epcs=[_sscc()])
    service.capture(shipped)
    receiver.wait(1)
    assert [c.status for c in receiver.calls] == [500, 500, 200]
    assert [event_ids(c) for c in receiver.calls] == [[shipped["eventID"]]] * 3
    state = _poll(
        lambda: (
            (s := service.subscription(name, sub["subscriptionID"])).get("lastNotifiedAt") and s
        ),
        "lastNotifiedAt",
    )
    assert "lastError" not in state


def test_after_the_last_attempt_the_next_trigger_resends_everything(service: Service) -> None:
    receiver = service.receiver(refuse=4)  # the service tries 4 times
    name = service.query({"EQ_bizStep": ["shipping"]})
    sub = service.subscribe(name, {"dest": receiver.url(), "stream": True})
    lost = ship(60, C1, epcs=[_sscc()])
    service.capture(lost)
    receiver.wait(4, accepted=False)
    state = _poll(
        lambda: (s := service.subscription(name, sub["subscriptionID"])).get("failures") == 4 and s,
        "four failures recorded",
    )
    assert "HTTP 500" in state["lastError"] and "lastNotifiedAt" not in state

    later = ship(61, C1, epcs=[_sscc()])
    service.capture(later)
    (call,) = receiver.wait(1)
    assert event_ids(call) == [lost["eventID"], later["eventID"]]


def test_scheduled_subscriptions_fire(service: Service) -> None:
    empty_receiver, event_receiver = service.receiver(), service.receiver()
    name = service.query({"EQ_bizStep": ["shipping"]})
    every_second = {"second": "[0-59]"}
    empty = service.subscribe(
        name,
        {"dest": empty_receiver.url(), "schedule": every_second, "reportIfEmpty": True},
        Accept="application/xml",
    )
    service.subscribe(name, {"dest": event_receiver.url(), "schedule": every_second})

    (report,) = empty_receiver.wait(1)
    assert report.headers["content-type"] == "application/xml"
    assert "gs1-signature" not in report.headers  # no signatureToken, no signature
    root = etree.fromstring(report.body)
    assert etree.QName(root).localname == "EPCISQueryDocument"
    assert [e.text for e in root.iter("subscriptionID")] == [empty["subscriptionID"]]
    assert list(root.iter("eventID")) == []

    shipped = ship(60, C1, epcs=[_sscc()])
    service.capture(shipped)
    (call,) = event_receiver.wait(1)
    assert event_ids(call) == [shipped["eventID"]]
    # Without reportIfEmpty nothing is sent when nothing is new: the next report of the
    # reporting subscription comes, the other stays quiet.
    empty_receiver.wait(2)
    assert len(event_receiver.calls) == 1


# -- units: the commit listener, schedules, signatures ----------------------------------------


def test_commit_listeners_hear_the_committed_rows(store: Store) -> None:
    heard: queue.Queue[tuple[int, int, int]] = queue.Queue()

    def listener(first: int, last: int) -> None:
        with store.reader() as reader:  # committed: a new reader sees the rows
            seen = reader.query(
                "SELECT count(*) FROM events WHERE id BETWEEN ? AND ?", (first, last)
            )
        heard.put((first, last, int(seen[0][0])))

    def broken(first: int, last: int) -> None:
        raise RuntimeError("a listener's bug")

    committer = GroupCommitter(store)
    committer.add_listener(broken)
    committer.add_listener(listener)
    try:
        events = list(parse_events([receive(i, _lot(), 1) for i in range(3)], source="test"))
        assert committer.append(events).inserted == 3
        assert heard.get(timeout=DEADLINE) == (1, 3, 3)
        assert committer.append(events).duplicates == 3  # nothing stored: nothing to hear
        more = list(parse_events([receive(5, _lot(), 1)], source="test"))
        assert committer.append(more).inserted == 1  # the broken listener stopped nothing
        assert heard.get(timeout=DEADLINE) == (4, 4, 1)
        assert heard.empty()
    finally:
        committer.close()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("spec", "after", "expected"),
    [
        ({"hour": "1", "minute": "5"}, "2026-03-01T00:00:00", "2026-03-01T01:05:00"),
        ({"hour": "1", "minute": "5"}, "2026-03-01T01:05:00", "2026-03-02T01:05:00"),
        ({"second": "0/30"}, "2026-03-01T10:00:10", "2026-03-01T10:00:30"),
        ({"second": "0/30"}, "2026-03-01T10:00:30.5", "2026-03-01T10:01:00"),
        ({"minute": "[10-12]", "second": "0"}, "2026-03-01T10:12:00", "2026-03-01T11:10:00"),
        ({"dayOfWeek": "1"}, "2026-03-01T12:00:00", "2026-03-02T00:00:00"),  # a Monday
        ({"month": "2", "dayOfMonth": "29"}, "2026-03-01T00:00:00", "2028-02-29T00:00:00"),
        ({"hour": "*/6"}, "2026-03-01T07:00:00", "2026-03-01T12:00:00"),
        ({"dayOfMonth": "1,15", "hour": "8"}, "2026-03-02T00:00:00", "2026-03-15T08:00:00"),
    ],
)
def test_schedules_fire_as_cron_would(spec: dict[str, str], after: str, expected: str) -> None:
    assert Schedule.parse(spec).next_after(_at(after)) == _at(expected)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"second": "60"}, "schedule.second"),
        ({"hour": "[3-1]"}, "schedule.hour"),
        ({"dayOfWeek": "0"}, "schedule.dayOfWeek"),
        ({"minute": "five"}, "schedule.minute"),
        ({"minute": "*/0"}, "schedule.minute"),
        ({"minute": True}, "schedule.minute"),
        ({"weekday": "1"}, "schedule.weekday"),
        ({"month": "4", "dayOfMonth": "31"}, "schedule"),
    ],
)
def test_bad_schedules_name_the_field(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(SubscriptionControlsError) as caught:
        Schedule.parse(spec)
    assert caught.value.field == field


def test_the_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"type": "EPCISQueryDocument"}'
    expected = hmac.new(b"key", body, hashlib.sha256).hexdigest()
    assert sign(body, "key") == f"sha256={expected}"
    assert sign(body + b" ", "key") != sign(body, "key")


def test_an_xml_subscriber_hears_of_events_xml_cannot_carry(service: Service) -> None:
    receiver = service.receiver()
    name = service.query({"EQ_bizStep": ["shipping"]})
    service.subscribe(name, {"dest": receiver.url(), "stream": True}, Accept="application/xml")
    odd = dict(ship(60, C1, epcs=[_sscc()]), **{"zz:colour": "red"})  # zz: defined nowhere
    service.capture(odd)
    (problem,) = receiver.wait(1)
    assert problem.headers["content-type"] == "application/problem+json"
    assert odd["eventID"] in problem.json["title"]
    # It does not block the subscription: the next event arrives as XML.
    plain = ship(61, C1, epcs=[_sscc()])
    service.capture(plain)
    _problem, call = receiver.wait(2)
    assert call.headers["content-type"] == "application/xml"
    assert [e.text for e in etree.fromstring(call.body).iter("eventID")] == [plain["eventID"]]
