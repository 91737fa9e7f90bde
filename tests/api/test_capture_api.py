"""EPCIS capture over HTTP against a real server: /capture jobs, POST /events, limits, audit."""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from threadline.store import Store, open_store
from threadline.store.auth import Role, add_user, create_token

from livekit import PASSWORD, LiveServer, fresh_database, settings_for, start_server
from plantkit import document, receive


class Capture:
    def __init__(self, live: LiveServer, store: Store, token: str, admin: str) -> None:
        self.live, self.store, self.token, self.admin = live, store, token, admin

    def post(self, path: str, body: bytes, **headers: str) -> Any:
        with self.live.client(headers={"Authorization": f"Bearer {self.token}"}) as client:
            return client.post(path, content=body, headers=headers)

    def get(self, path: str, *, admin: bool = False, **params: Any) -> Any:
        token = self.admin if admin else self.token
        with self.live.client(headers={"Authorization": f"Bearer {token}"}) as client:
            return client.get(path, params=params)

    def events(self) -> int:
        return self.store.counts()["events"]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def cap(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Capture]:
    with fresh_database(request.param, tmp_path_factory.mktemp("capture")) as db:
        store = open_store(db)
        add_user(store, name="line3", role=Role.operator, password=PASSWORD)
        add_user(store, name="boss", role=Role.admin, password=PASSWORD)
        token = create_token(store, name="line3", label="line 3 scanner")[1]
        admin = create_token(store, name="boss")[1]
        live = start_server(settings_for(db, capture_max_events=20, capture_max_bytes=60_000))
        try:
            yield Capture(live, store, token, admin)
        finally:
            live.stop()
            store.close()


def _lot() -> str:
    return f"urn:epc:class:lgtin:4098765.012345.L{uuid.uuid4().hex[:10]}"


def _doc(count: int) -> dict[str, Any]:
    return document([receive(10 + i, _lot(), 5) for i in range(count)])


def test_a_document_is_committed_before_the_answer(cap: Capture) -> None:
    before = cap.events()
    answer = cap.post("/capture", orjson.dumps(_doc(3)))
    assert answer.status_code == 202, answer.text
    assert cap.events() == before + 3  # durable when acknowledged
    job = answer.json()
    assert answer.headers["Location"] == f"/capture/{job['captureID']}"
    assert answer.headers["GS1-EPCIS-Capture-Limit"] == "20"
    assert answer.headers["GS1-EPCIS-Capture-File-Size-Limit"] == "60000"
    assert job["success"] and job["eventsCaptured"] == 3 and not job["running"]
    assert cap.get(answer.headers["Location"]).json() == job
    listed = cap.get("/capture").json()
    assert job["captureID"] in [j["captureID"] for j in listed]
    # The audit entry was written in the same transaction as the events.
    entries = cap.get("/audit", admin=True).json()
    mine = [e for e in entries if job["captureID"] in (e.get("detail") or "")]
    assert len(mine) == 1 and mine[0]["outcome"] == "ok"
    assert mine[0]["actor"] == "line3 (token line 3 scanner)"


def test_the_same_document_twice_stores_it_once(cap: Capture) -> None:
    body = orjson.dumps(_doc(2))
    first, second = cap.post("/capture", body), cap.post("/capture", body)
    assert first.json()["eventsCaptured"] == 2
    assert (second.json()["eventsCaptured"], second.json()["duplicates"]) == (0, 2)


def _bad() -> dict[str, Any]:
    doc = _doc(3)
    bad = copy.deepcopy(doc)
    bad["epcisBody"]["eventList"][2]["eventTime"] = "yesterday"
    return bad


def test_rollback_is_the_default_and_names_the_fault(cap: Capture) -> None:
    before = cap.events()
    answer = cap.post("/capture", orjson.dumps(_bad()))
    assert answer.status_code == 400
    problem = answer.json()
    assert problem["errors"][0]["pointer"] == "/epcisBody/eventList/2/eventTime"
    assert problem["errors"][0]["index"] == 2
    assert cap.events() == before
    job = cap.get(answer.headers["Location"]).json()
    assert job["success"] is False and job["eventsCaptured"] == 0


def test_proceed_keeps_the_good_events(cap: Capture) -> None:
    before = cap.events()
    answer = cap.post(
        "/capture", orjson.dumps(_bad()), **{"GS1-Capture-Error-Behaviour": "proceed"}
    )
    assert answer.status_code == 202
    job = answer.json()
    assert (job["eventsCaptured"], len(job["errors"]), job["success"]) == (2, 1, False)
    assert cap.events() == before + 2


def test_limits_are_advertised_and_enforced(cap: Capture) -> None:
    with cap.live.client(headers={"Authorization": f"Bearer {cap.token}"}) as client:
        options = client.options("/capture")
    assert options.status_code == 204
    assert options.headers["GS1-EPCIS-Capture-Limit"] == "20"
    too_many = cap.post("/capture", orjson.dumps(_doc(21)))
    assert too_many.status_code == 413 and "at most 20 events" in too_many.json()["title"]
    too_big = cap.post("/capture", b" " * 60_001)
    assert too_big.status_code == 413 and "60,000 bytes" in too_big.json()["title"]


def test_document_faults(cap: Capture) -> None:
    broken = cap.post("/capture", b'{"type": "EPCISDocument", "epcisBody": ')
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["title"]
    wrong = cap.post("/capture", orjson.dumps(_doc(1)), **{"GS1-Capture-Error-Behaviour": "x"})
    assert wrong.status_code == 400 and "rollback or proceed" in wrong.json()["title"]


def test_post_events_captures_one_event(cap: Capture) -> None:
    event = receive(40, _lot(), 3)
    answer = cap.post("/events", orjson.dumps(event))
    assert answer.status_code == 201
    assert answer.headers["Location"].endswith(event["eventID"].replace(":", "%3A"))
    again = cap.post("/events", orjson.dumps(event))
    assert again.status_code == 409 and again.json()["type"] == "conflict"
    bad = dict(event, eventTime="soon")
    refused = cap.post("/events", orjson.dumps(bad))
    assert refused.status_code == 400 and refused.json()["pointer"] == "/eventTime"


def test_concurrent_captures_share_commits_and_lose_nothing(cap: Capture) -> None:
    before = cap.events()
    bodies = [orjson.dumps(_doc(4)) for _ in range(32)]
    codes: list[int] = []
    lock = threading.Lock()

    def client(body: bytes) -> None:
        code = cap.post("/capture", body).status_code
        with lock:
            codes.append(code)

    threads = [threading.Thread(target=client, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert codes == [202] * 32
    assert cap.events() == before + 128


def test_xml_documents_are_captured_by_content(cap: Capture, tmp_path: Path) -> None:
    from threadline.epcis.xml_writer import document_to_xml

    xml = document_to_xml(_doc(2))
    answer = cap.post("/capture", xml, **{"Content-Type": "application/xml"})
    assert answer.status_code == 202, answer.text
    assert answer.json()["eventsCaptured"] == 2
