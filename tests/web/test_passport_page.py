"""The passport page of lots and boxes: release status and holds, supplier lots with heat
numbers and mill certificates, production steps with their equipment, process-reading charts
with spec limits, inspections with conformance, and links to the genealogy graph.

Most tests run against a live server over the small simulated demo plant (``threadline.sim``,
seed 7) on each backend; the charts of dense machine readings run on the hand-built plant.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import quote

import httpx
import pytest

from threadline.demo import build_demo
from threadline.genealogy import trace
from threadline.gs1.keys import canonical_key
from threadline.ingest.readings import MachineReading, insert_readings
from threadline.quality.holds import place_hold, release_hold
from threadline.quality.specs import set_spec
from threadline.service import parse_events
from threadline.sim import Highlights
from threadline.store import Store, open_store
from threadline.store.auth import Role, add_user, create_token, transaction
from threadline.web.passport import CHART_ROWS, build_passport

from livekit import LiveServer, fresh_database, settings_for, start_server
from plantkit import B1, F1, H1, HEADER, X1, small_plant

CERTIFICATES = "https://threadline.example/cert/"


@dataclass
class Demo:
    """The small demo plant behind a live server, and a viewer's client."""

    kind: str
    store: Store
    live: LiveServer
    token: str
    highlights: Highlights
    heat_lot: str  # canonical key of the highlighted heat lot (it ran on the drifting header)
    lot: str  # a finished lot made from it

    def client(self) -> httpx.Client:
        return self.live.client(headers={"Authorization": f"Bearer {self.token}"})

    def page(self, key: str) -> str:
        with self.client() as client:
            answer = client.get("/ui/passport", params={"id": key})
        assert answer.status_code == 200, answer.text[:2000]
        assert answer.headers["content-type"].startswith("text/html")
        return answer.text


@pytest.fixture(scope="module", params=["sqlite", "postgres"], name="demo")
def demo_fixture(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Demo]:
    with fresh_database(request.param, tmp_path_factory.mktemp("passport")) as db:
        store = open_store(db)
        plant, _, _ = build_demo(store, scale="small", seed=7)
        h = plant.highlights
        heat_lot = canonical_key(h.heat_lot)
        # Limits on the drifting header's forming force, set on the machine (its read point):
        # its readings come from its force sensor, and the machine's spec applies to them.
        set_spec(store, parameter="gs1:Force", equipment=h.drifting_header, lsl=465, usl=565)
        set_spec(store, parameter="tl:Hardness", usl=1.0)  # every hardness reading is above
        set_spec(store, parameter="pitch_diameter", lsl=1.0, usl=100.0)  # every one is inside
        with store.reader() as reader:
            forward = trace(reader, heat_lot, "forward")
        lots = sorted(n.id for n in forward.nodes if "/10/FL" in n.id)
        assert lots, "the highlighted heat lot made no finished lot"
        add_user(store, name="viewer", role=Role.viewer, password="correct horse battery")
        token = create_token(store, name="viewer", label="passport tests")[1]
        live = start_server(settings_for(db, graph_index="on"))
        try:
            yield Demo(request.param, store, live, token, h, heat_lot, lots[0])
        finally:
            live.stop()
            store.close()


def section(page: str, testid: str) -> str:
    """The HTML of the page's section marked ``data-testid=testid``."""
    found = re.search(rf'<section[^>]*data-testid="{testid}".*?</section>', page, re.S)
    assert found is not None, f"no section {testid!r} on the page"
    return found.group(0)


def text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))).strip()


def release(page: str) -> str:
    found = re.search(r'data-testid="release">([^<]*)<', page)
    assert found is not None, "no release status on the page"
    return found.group(1)


# -- supplier data ---------------------------------------------------------------------------------


def test_heat_lot_shows_supplier_heat_number_and_certificate(demo: Demo) -> None:
    page = demo.page(demo.heat_lot)
    supply = section(page, "supply")
    heat = demo.heat_lot.rsplit("/10/", 1)[1]
    assert f'<dd data-testid="heat">{heat}</dd>' in supply
    certificate = re.search(rf'<a href="({re.escape(CERTIFICATES)}[^"]+)"', supply)
    assert certificate is not None and certificate.group(1).endswith(f"/{heat}")
    assert "Supplier" in text(supply) and "(417) 4098765000003" in text(supply)
    assert "received from a supplier" in text(section(page, "steps"))
    assert release(page) == "released"


def test_finished_lot_lists_the_supplier_lots_it_came_from(demo: Demo) -> None:
    supply = section(demo.page(demo.lot), "supply")
    heat = demo.heat_lot.rsplit("/10/", 1)[1]
    assert "Made from supplier lots" in supply
    assert f"Heat <strong>{heat}</strong>" in supply
    assert f"{CERTIFICATES}4098765/{heat}" in supply  # the mill certificate's link


# -- production steps and their readings ---------------------------------------------------------


def test_finished_lot_shows_its_production_steps_with_equipment_in_order(demo: Demo) -> None:
    steps = section(demo.page(demo.lot), "steps")
    kinds = re.findall(r"at <a [^>]*>([A-Z]+)-\d\d</a>", steps)
    # Cold heading, thread rolling, heat treatment and plating, each at its machine.
    assert {"CH", "TR", "FURN", "PLT"} <= set(kinds), kinds
    assert kinds[-1] == "PLT"  # the step that made this lot comes last
    times = re.findall(r'<time class="step-time" datetime="([^"]+)"', steps)
    assert times == sorted(times) and len(times) == len(kinds)
    assert 'class="step own"' in steps  # plating made this very lot
    assert "as its sensor data states" in steps  # heading: start and end from the sensor
    assert "no start recorded" in steps  # rolling: one event, the documented margin


def test_charts_show_readings_with_the_spec_limits(demo: Demo) -> None:
    readings = section(demo.page(demo.lot), "readings")
    figures = re.findall(r'<figure class="chart-wrap">(.*?)</figure>', readings, re.S)
    assert 1 <= len(figures) <= 6
    force = [f for f in figures if "Force at " in f]
    assert force, "no forming-force chart of the cold header"
    chart = force[0]
    assert '<svg class="chart"' in chart and 'role="img"' in chart
    # Each limit is a line, or, when drawing it would flatten the readings, named at the edge.
    assert re.search(r'class="chart-limit(-label|-beyond)"[^>]*>[^<]*LSL 465', chart)
    assert re.search(r'class="chart-limit(-label|-beyond)"[^>]*>[^<]*USL 565', chart)
    assert 'class="chart-window"' in chart  # the step's window, shaded
    assert "Spec limits: LSL 465 kN, USL 565 kN." in text(chart)
    furnace = [f for f in figures if "Temperature at FURN-" in f]
    assert furnace and "No spec limits set." in text(furnace[0])
    assert "<script" not in readings


def test_inspection_lists_each_characteristic_against_its_limits(demo: Demo) -> None:
    inspections = section(demo.page(demo.lot), "inspections")
    badge = re.search(
        r'<span class="badge tone-(ok|bad)">(conformant|non conformant)</span>', inspections
    )
    assert badge is not None, "no inspection with its conformance"
    rows = {
        text(cells[0]): [text(c) for c in cells[1:]]
        for cells in (
            re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            for row in re.findall(r"<tr><td>.*?</tr>", inspections, re.S)
        )
    }
    assert rows["hardness"][1] == "USL 1"
    assert rows["hardness"][2] == "out of limits: above USL"
    assert rows["pitch diameter"][1] == "LSL 1 mm, USL 100 mm"
    assert rows["pitch diameter"][2] == "within limits"
    assert re.fullmatch(r"[\d.]+ mm \(range [\d.]+ to [\d.]+\)", rows["pitch diameter"][0])
    assert rows["coating thickness"][1:] == ["none set", "no limits to check"]


def test_box_shows_supplier_lots_steps_and_the_inspection_of_its_lot(demo: Demo) -> None:
    page = demo.page(demo.highlights.shipped_box)
    heat = demo.heat_lot.rsplit("/10/", 1)[1]
    assert f"Heat <strong>{heat}</strong>" in section(page, "supply")
    steps = section(page, "steps")
    assert "at <a " in steps and 'class="step own"' not in steps  # a box is packed, not made
    inspection = text(section(page, "inspections"))
    assert re.search(r"of \(01\) \d{14} \(10\) FL24-\d{6}", inspection)


# -- status and holds ------------------------------------------------------------------------------


def test_hold_on_the_upstream_heat_lot_puts_the_lot_and_its_box_on_hold(demo: Demo) -> None:
    assert release(demo.page(demo.lot)) == "released"
    hold = place_hold(demo.store, demo.heat_lot, reason="Mill certificate under review")
    try:
        for key in (demo.lot, demo.highlights.shipped_box, demo.heat_lot):
            page = demo.page(key)
            assert release(page) == "on hold", key
            note = re.search(r'<div class="hold-note" data-testid="holds">(.*?)</div>', page, re.S)
            assert note is not None
            assert f"Hold #{hold.id}: <strong>Mill certificate under review</strong>" in note.group(
                1
            )
            assert re.search(r'<a href="[^"]*/ui/holds">All holds</a>', note.group(1))
            upstream = "on upstream (01) 04098765123436 (10) " in text(note.group(1))
            assert upstream == (key != demo.heat_lot), key
    finally:
        release_hold(demo.store, hold.id, reason="certificate checked")
    assert release(demo.page(demo.lot)) == "released"


def test_status_badge_and_graph_links(demo: Demo) -> None:
    page = demo.page(demo.highlights.shipped_box)
    assert '<p class="badge tone-gone" role="status">shipped</p>' in page
    quoted = quote(canonical_key(demo.highlights.shipped_box), safe="")
    for direction in ("backward", "forward"):
        assert f"/ui/graph?id={quoted}&amp;direction={direction}" in page
    assert '<link rel="stylesheet" href="/static/passport.css">' in page
    with demo.live.client() as client:
        css = client.get("/static/passport.css")
    assert css.status_code == 200 and ".chart-wrap" in css.text


def test_a_party_has_no_material_sections(demo: Demo) -> None:
    page = demo.page(demo.highlights.customer)
    assert 'data-testid="release"' not in page and 'data-testid="steps"' not in page
    assert "Went into (downstream)" in page


# -- dense machine readings, on the hand-built plant -----------------------------------------------


def _start_scan() -> dict[str, object]:
    """An operator's scan of heat lot H1 at the header shortly before batch B1 was made."""
    return {
        "type": "ObjectEvent",
        "eventID": "urn:uuid:7e6d2a10-0000-4000-8000-000000000005",
        "eventTime": "2026-03-01T08:05:00.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        "action": "OBSERVE",
        "bizStep": "arriving",
        "quantityList": [{"epcClass": H1, "quantity": 500, "uom": "KGM"}],
        "readPoint": {"id": HEADER},
    }


def test_dense_machine_readings_are_sampled_and_checked_against_the_machine_spec(
    store: Store,
) -> None:
    events, _ = small_plant()
    store.append(list(parse_events([*events, _start_scan()], source="passport test")))
    machine = canonical_key(HEADER)
    first = datetime(2026, 3, 1, 6, 50, tzinfo=UTC)
    count = 3000  # one a second from 06:50 to 07:40 UTC, around B1 (made 07:10 UTC)
    readings = [
        MachineReading(
            machine,
            "forming_force",
            (first + timedelta(seconds=i)).isoformat().replace("+00:00", ".000000Z"),
            400.0 + (i % 100),
            "B47",
            None,
            "mqtt",
            None,
        )
        for i in range(count)
    ]
    with transaction(store, write=True) as cursor:
        insert_readings(store, cursor, readings)
    set_spec(store, parameter="forming_force", equipment="CH-01", usl=480.0)
    with store.reader() as reader:
        passport = build_passport(reader, B1, base="http://plant.example")
    (step,) = [s for s in passport.steps if s.machine and s.machine.name == "CH-01"]
    assert step.window == ("2026-03-01T07:05:00.000000Z", "2026-03-01T07:10:00.000000Z")
    assert "(from its start event)" in step.window_text
    (chart,) = passport.charts
    assert chart.title == "forming force at CH-01"
    assert chart.step.endswith("(sampled)") and count > CHART_ROWS
    assert chart.limits == "USL 480 kN"
    assert 'class="chart-limit limit-usl"' in chart.svg
    assert "outside the limits" in chart.svg  # readings of 481..499 kN break the USL
    # The heat lot's own passport: its supplier data from the receiving event's ILMD.
    with store.reader() as reader:
        heat = build_passport(reader, H1, base="http://plant.example")
    assert heat.supply is not None and heat.supply.heat == "H1"
    assert heat.steps == [] and heat.release == ("released", "ok")
    with store.reader() as reader:
        box = build_passport(reader, X1, base="http://plant.example")
    assert {lot.heat for lot in box.supplier_lots} == {"H1", "H2"}


def test_recalled_lot_says_recalled(store: Store) -> None:
    events, _ = small_plant()
    recall = {
        "type": "ObjectEvent",
        "eventID": "urn:uuid:7e6d2a10-0000-4000-8000-000000000099",
        "eventTime": "2026-03-02T08:00:00.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        "action": "OBSERVE",
        "bizStep": "holding",
        "disposition": "recalled",
        "quantityList": [{"epcClass": F1, "quantity": 2000, "uom": "EA"}],
    }
    store.append(list(parse_events(events, source="passport test")))
    with store.reader() as reader:
        assert build_passport(reader, F1, base="http://x").release == ("released", "ok")
    store.append(list(parse_events([recall], source="passport test")))
    with store.reader() as reader:
        passport = build_passport(reader, F1, base="http://x")
    assert passport.release == ("recalled", "bad") and passport.badge == ("recalled", "bad")
