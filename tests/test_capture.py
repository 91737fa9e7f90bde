"""Capture jobs: error behaviour, limits and job documents (the service layer under the API)."""

from __future__ import annotations

import copy

import orjson
import pytest

from threadline.capture import CaptureLimits, CaptureService, parse_single_event
from threadline.errors import CaptureLimitExceeded, DocumentError, InvalidInput, NotFound
from threadline.store import Store
from threadline.store.group_commit import GroupCommitter

from plantkit import document, receive


@pytest.fixture
def service(store: Store):  # type: ignore[no-untyped-def]
    committer = GroupCommitter(store)
    yield CaptureService(store, committer, CaptureLimits(max_events=5, max_bytes=20_000))
    committer.close()


def _doc(*minutes: int) -> dict:  # type: ignore[type-arg]
    return document([receive(m, f"urn:epc:class:lgtin:4098765.012345.C{m}", 5) for m in minutes])


def _body(doc: dict) -> bytes:  # type: ignore[type-arg]
    return orjson.dumps(doc)


def test_good_document_is_committed_and_the_job_reads_back(
    service: CaptureService, store: Store
) -> None:
    body = _body(_doc(1, 2, 3))
    job = service.capture(body, user="op1")
    assert job["success"] and not job["running"]
    assert (job["eventsReceived"], job["eventsCaptured"]) == (3, 3)
    assert store.counts()["events"] == 3  # committed before capture() returned
    assert service.job(job["captureID"]) == job
    again = service.capture(body)
    assert (again["eventsCaptured"], again["duplicates"]) == (0, 3)
    assert [j["captureID"] for j in service.jobs()] == [again["captureID"], job["captureID"]]


def _with_bad_second_event() -> dict:  # type: ignore[type-arg]
    doc = _doc(10, 11, 12)
    bad = copy.deepcopy(doc)
    bad["epcisBody"]["eventList"][1]["quantityList"][0]["quantity"] = -4
    return bad


def test_rollback_stores_nothing_and_names_the_fault(service: CaptureService, store: Store) -> None:
    job = service.capture(_body(_with_bad_second_event()), behaviour="rollback")
    assert not job["success"] and job["eventsCaptured"] == 0
    assert store.counts()["events"] == 0
    [error] = job["errors"]
    assert error["index"] == 1
    assert error["pointer"] == "/epcisBody/eventList/1/quantityList/0/quantity"
    assert "non-negative" in error["title"]


def test_proceed_stores_the_good_events(service: CaptureService, store: Store) -> None:
    job = service.capture(_body(_with_bad_second_event()), behaviour="proceed")
    assert not job["success"]
    assert job["eventsCaptured"] == 2 and len(job["errors"]) == 1
    assert store.counts()["events"] == 2


def test_limits(service: CaptureService) -> None:
    with pytest.raises(CaptureLimitExceeded, match="at most 5 events"):
        service.capture(_body(_doc(1, 2, 3, 4, 5, 6)))
    with pytest.raises(CaptureLimitExceeded, match="bytes"):
        service.capture(b" " * 20_001)


def test_document_faults_create_no_job(service: CaptureService) -> None:
    with pytest.raises(DocumentError, match="not valid JSON"):
        service.capture(b"{not json")
    with pytest.raises(DocumentError, match="EPCISDocument"):
        service.capture(orjson.dumps({"type": "ObjectEvent"}))
    with pytest.raises(InvalidInput, match="rollback or proceed"):
        service.capture(_body(_doc(1)), behaviour="later")  # type: ignore[arg-type]
    assert service.jobs() == []
    with pytest.raises(NotFound):
        service.job("no-such-job")


def test_single_event(service: CaptureService, store: Store) -> None:
    raw = _doc(20)["epcisBody"]["eventList"][0]
    event, result = service.capture_event(orjson.dumps(raw))
    assert result.inserted == 1 and event.event_id == raw["eventID"]
    with pytest.raises(InvalidInput, match="/capture"):
        parse_single_event(_body(_doc(21)), limits=CaptureLimits())


def test_captured_events_keep_their_documents_prefixes(
    service: CaptureService, store: Store
) -> None:
    # receive() carries tl: ILMD members; without the prefix they could not be exported as XML.
    job = service.capture(_body(_doc(30)))
    assert job["success"]
    with store.reader() as reader:
        [doc] = [store.load_json(r[0]) for r in reader.query("SELECT doc FROM events")]
    context = doc["@context"] if isinstance(doc["@context"], list) else [doc["@context"]]
    assert {"tl": "https://threadline.example/ns/"} in context
    assert doc["ilmd"]["tl:heatNumber"]
