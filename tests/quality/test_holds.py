"""Holds: propagation downstream, release, error-proofing of captures (transform, pack, ship)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from threadline.capture import CaptureService
from threadline.errors import Conflict, InvalidInput, NotFound
from threadline.gs1.keys import canonical
from threadline.quality.alerts import list_alerts
from threadline.quality.holds import (
    HeldMaterial,
    HoldGuard,
    holds_on,
    place_hold,
    release_hold,
    release_object,
)
from threadline.store import Store
from threadline.store import audit as audit_log
from threadline.store.group_commit import GroupCommitter

from plantkit import C1, H1, H2, P1, P2, X1, X2, document, pack, qty, receive, ship, transform

B1 = "urn:epc:class:lgtin:4012345.011111.B1"
B9 = "urn:epc:class:lgtin:4012345.011111.B9"


def key(identifier: str) -> str:
    return canonical(identifier).key


def _plant() -> list[dict[str, Any]]:
    # H1 -> B1 -> X1 -> P1; H2 stays apart (received, never used).
    return [
        receive(0, H1, 1000),
        receive(1, H2, 800),
        transform(10, [qty(H1, 500, "KGM")], [qty(B1, 10000)]),
        pack(30, X1, quantities=[qty(B1, 5000)]),
        pack(40, P1, epcs=[X1]),
    ]


def _service(store: Store, guard: HoldGuard | None = None) -> Iterator[CaptureService]:
    committer = GroupCommitter(store)
    service = CaptureService(store, committer, guard=guard)
    service.capture(orjson.dumps(document(_plant())), user="setup")
    try:
        yield service
    finally:
        committer.close()


@pytest.fixture
def service(store: Store) -> Iterator[CaptureService]:
    yield from _service(store)


def _capture(service: CaptureService, event: dict[str, Any]) -> dict[str, Any]:
    return service.capture(orjson.dumps(document([event])), user="op1")


def _held(store: Store, identifier: str) -> list[dict[str, Any]]:
    with store.reader() as reader:
        return holds_on(reader, identifier)


def test_a_hold_propagates_downstream_and_release_lifts_it(
    service: CaptureService, store: Store
) -> None:
    hold = place_hold(store, H1, reason="heat cert missing", user="qe1")
    assert hold.active and hold.object == key(H1)
    for downstream in (H1, B1, X1, P1):
        covering = _held(store, downstream)
        assert [h["id"] for h in covering] == [hold.id], downstream
        assert covering[0]["via"] == key(H1)
        assert covering[0]["direct"] is (downstream == H1)
    assert _held(store, H2) == []  # not downstream of H1
    # A hold on B1 alone holds what is downstream of B1, not H1 upstream of it.
    on_b1 = place_hold(store, B1, reason="hardness", user="qe1")
    assert {h["id"] for h in _held(store, P1)} == {hold.id, on_b1.id}
    assert [h["id"] for h in _held(store, H1)] == [hold.id]
    released = release_object(store, H1, reason="cert received", user="qe2")
    assert [h.released_by for h in released] == ["qe2"]
    assert [h["id"] for h in _held(store, P1)] == [on_b1.id]
    release_hold(store, on_b1.id, reason="retested", user="qe2")
    assert _held(store, P1) == []
    with pytest.raises(Conflict, match="released"):
        release_hold(store, on_b1.id, reason="again", user="qe2")
    actions = [(e.action, e.actor) for e in audit_log.entries(store, limit=10)]
    assert ("hold", "qe1") in actions and ("release", "qe2") in actions


def test_hold_input_faults(service: CaptureService, store: Store) -> None:
    with pytest.raises(NotFound, match="no object"):
        place_hold(store, "urn:epc:class:lgtin:4012345.099999.NOPE", reason="x")
    with pytest.raises(InvalidInput, match="reason"):
        place_hold(store, H1, reason="  ")
    with pytest.raises(NotFound, match="no active hold"):
        release_object(store, H1, reason="nothing held")
    with pytest.raises(NotFound, match="no hold #999"):
        release_hold(store, 999, reason="x")


def _refused(service: CaptureService, store: Store, event: dict[str, Any], held: str) -> None:
    before = store.counts()["events"]
    with pytest.raises(HeldMaterial) as caught:
        _capture(service, event)
    error = caught.value
    assert error.status == 409 and error.object == key(held)
    assert key(held) in error.message and "on hold #" in error.message
    assert "heat cert missing" in error.message
    assert store.counts()["events"] == before  # nothing stored
    refusals = [e for e in audit_log.entries(store, limit=20) if e.outcome == "refused_hold"]
    assert refusals and refusals[-1].target == key(held) and refusals[-1].actor == "op1"


def test_transform_consuming_held_material_is_refused(
    service: CaptureService, store: Store
) -> None:
    place_hold(store, H1, reason="heat cert missing")
    _refused(service, store, transform(50, [qty(B1, 100)], [qty(B9, 100)]), B1)
    # Material that is not held still transforms.
    assert _capture(service, transform(51, [qty(H2, 10, "KGM")], [qty(B9, 100)]))["success"]


def test_packing_held_material_is_refused(service: CaptureService, store: Store) -> None:
    place_hold(store, H1, reason="heat cert missing")
    _refused(service, store, pack(50, P2, epcs=[X1]), X1)
    # Unpacking it (DELETE) moves nothing on: allowed.
    assert _capture(service, pack(51, P1, epcs=[X1], action="DELETE"))["success"]


def test_shipping_a_container_holding_held_material_is_refused(
    service: CaptureService, store: Store
) -> None:
    place_hold(store, H1, reason="heat cert missing")
    _refused(service, store, ship(60, C1, epcs=[P1]), P1)
    _refused(service, store, ship(61, C1, quantities=[qty(B1, 10)]), B1)
    # An empty box of its own ships.
    assert _capture(service, ship(62, C1, epcs=[X2]))["success"]


def test_release_lets_the_capture_through(service: CaptureService, store: Store) -> None:
    hold = place_hold(store, H1, reason="heat cert missing")
    with pytest.raises(HeldMaterial):
        _capture(service, ship(60, C1, epcs=[P1]))
    release_hold(store, hold.id, reason="cert received")
    job = _capture(service, ship(60, C1, epcs=[P1]))
    assert job["success"] and job["eventsCaptured"] == 1


def test_single_event_capture_is_guarded_too(service: CaptureService, store: Store) -> None:
    place_hold(store, X1, reason="damaged box")
    with pytest.raises(HeldMaterial, match="damaged box"):
        service.capture_event(orjson.dumps(ship(60, C1, epcs=[P1])))


def test_flag_mode_stores_and_raises_an_alert(store: Store) -> None:
    for service in _service(store, HoldGuard("flag")):
        hold = place_hold(store, H1, reason="heat cert missing")
        job = _capture(service, ship(60, C1, epcs=[P1]))
        assert job["success"] and job["eventsCaptured"] == 1
        flagged = list_alerts(store, kind="held_material")
        assert len(flagged) == 1 and flagged[0].object == key(P1)
        assert f"#{hold.id}" in flagged[0].message
        outcomes = [e.outcome for e in audit_log.entries(store, limit=10)]
        assert "flagged_hold" in outcomes


def test_unknown_enforcement_mode_is_refused() -> None:
    with pytest.raises(InvalidInput, match="THREADLINE_HOLD_ENFORCEMENT"):
        HoldGuard("warn")
