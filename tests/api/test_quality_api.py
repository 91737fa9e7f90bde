"""Quality over HTTP: specs, alerts, holds, and a capture of held material refused with 409."""

from __future__ import annotations

import orjson

from threadline.gs1.keys import canonical

from livekit import World, world_fixture  # noqa: F401 (fixture)
from plantkit import C1, H1, H2, X1, document, ship


def test_specs_and_alerts(world: World) -> None:
    with world.as_role("quality") as quality, world.as_role("viewer") as viewer:
        made = quality.post("/specs", json={"parameter": "api_force", "lsl": 1, "usl": 2})
        assert made.status_code == 201, made.text
        assert made.json()["parameter"] == "api_force"
        bad = quality.post("/specs", json={"parameter": "api_force", "lsl": 3, "usl": 2})
        assert bad.status_code == 400 and "LSL" in bad.json()["title"]
        listed = viewer.get("/specs", params={"parameter": "api_force"}).json()
        assert [s["usl"] for s in listed] == [2.0]
        assert viewer.get("/alerts").status_code == 200
        missing = quality.post("/alerts/987654/ack")
        assert missing.status_code == 404


def test_hold_refuses_shipping_over_http_and_release_lifts_it(world: World) -> None:
    with world.as_role("quality") as quality, world.as_role("operator") as operator:
        placed = quality.post("/holds", json={"object": H1, "reason": "api: cert missing"})
        assert placed.status_code == 201, placed.text
        hold = placed.json()
        status = quality.get("/holds", params={"object": X1}).json()
        assert status["on_hold"] and status["holds"][0]["id"] == hold["id"]
        assert quality.get("/holds", params={"object": H2}).json()["on_hold"] is False
        event = ship(90, C1, epcs=[X1])
        refused = operator.post("/events", content=orjson.dumps(event))
        assert refused.status_code == 409, refused.text
        body = refused.json()
        assert body["type"] == "held_material" and body["object"] == canonical(X1).key
        assert "api: cert missing" in body["title"]
        as_doc = operator.post("/capture", content=orjson.dumps(document([event])))
        assert as_doc.status_code == 409
        released = quality.post(f"/holds/{hold['id']}/release", json={"reason": "cert in"})
        assert released.status_code == 200 and released.json()["active"] is False
        again = quality.post(f"/holds/{hold['id']}/release", json={"reason": "cert in"})
        assert again.status_code == 409
        assert quality.get("/holds", params={"object": X1}).json()["on_hold"] is False
        assert operator.post("/events", content=orjson.dumps(event)).status_code == 201
