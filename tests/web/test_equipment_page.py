"""Equipment: the catalogue of machines, drift, the machine page's builder and its routes.

The plant is the hand-built one of ``plantkit`` (header CH-01 made batches B1 and B2 from heats
H1 and H2 at 07:10 and 07:11 UTC; furnace FURN-1 made F1) plus process readings:

- the header's force sensor (a GIAI, reported in EPCIS ``sensorElementList`` at CH-01): 40
  readings every 2 minutes from 06:00, steady at 100 kN for 20 of them, then climbing to 112;
  its spec (for that sensor) is 90..115 kN, so the recent mean moved ~24 % of the width up;
- the header's temperature over MQTT, published as ``CH-01``: one of its last readings is 95 °C
  against a spec (any equipment) with USL 90;
- a press ``PRESS-9`` over MQTT with three pressure readings and no read point.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from threadline.errors import InvalidInput, NotFound
from threadline.gs1.keys import canonical_key
from threadline.ingest.readings import MQTT_SOURCE, MachineReading, insert_readings
from threadline.quality.alerts import AlertChecker
from threadline.quality.specs import set_spec
from threadline.service import parse_events
from threadline.store import Store
from threadline.store.auth import transaction
from threadline.store.quality import SpecRow
from threadline.web import equipment as eq
from threadline.web.equipment import (
    Health,
    build_equipment_page,
    drifting_equipment,
    equipment_catalogue,
    equipment_list,
    find_machine,
    judge,
)

from livekit import World, world_fixture  # noqa: F401 (fixture)
from plantkit import B1, B2, FURNACE, H1, H2, HEADER, small_plant

SENSOR = "urn:epc:id:giai:4012345.FF-CH-01"
SENSOR_KEY = canonical_key(SENSOR)
HEADER_KEY = canonical_key(HEADER)
SQLITE = pytest.mark.parametrize("world", ["sqlite"], indirect=True)


def force(i: int) -> float:
    return 100.0 + (i % 2) * 0.4 if i < 20 else 100.0 + 0.6 * (i - 19)


def sensor_event(i: int) -> dict[str, Any]:
    time = f"2026-03-01T{6 + (2 * i) // 60:02d}:{(2 * i) % 60:02d}:00.000Z"
    return {
        "type": "ObjectEvent",
        "eventID": f"urn:uuid:00000000-0000-4000-8000-7{i:011d}",
        "eventTime": time,
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "bizStep": "sensor_reporting",
        "readPoint": {"id": HEADER},
        "sensorElementList": [
            {
                "sensorMetadata": {"time": time, "deviceID": SENSOR},
                "sensorReport": [{"type": "gs1:Force", "value": force(i), "uom": "B47"}],
            }
        ],
    }


def machine_reading(equipment: str, parameter: str, minute: int, value: float) -> MachineReading:
    time = f"2026-03-01T{6 + minute // 60:02d}:{minute % 60:02d}:30Z"
    unit = "CEL" if parameter == "Temperature" else "BAR"
    return MachineReading(equipment, parameter, time, value, unit, None, MQTT_SOURCE, None)


def add_process_data(store: Store) -> None:
    """The readings, specs and alerts described in the module docstring."""
    store.append(list(parse_events([sensor_event(i) for i in range(40)], source="test")))
    temperatures = [machine_reading("CH-01", "Temperature", m * 2, 60.0 + m % 3) for m in range(30)]
    temperatures[27] = machine_reading("CH-01", "Temperature", 54, 95.0)
    presses = [machine_reading("PRESS-9", "Pressure", m, 200.0 + m) for m in range(3)]
    with transaction(store, write=True) as cursor:
        insert_readings(store, cursor, temperatures + presses)
    set_spec(store, parameter="Force", equipment=SENSOR, lsl=90, usl=115, target=100, unit="B47")
    set_spec(store, parameter="Force", lsl=0, usl=1000)  # a general one: the sensor's wins
    set_spec(store, parameter="Temperature", usl=90, unit="CEL")
    AlertChecker().check(store, temperatures)


@pytest.fixture
def plant(store: Store) -> Store:
    store.append(list(parse_events(small_plant()[0], source="plantkit")))
    add_process_data(store)
    return store


# -- drift rules (pure) ----------------------------------------------------------------------------
def spec(lsl: float | None, usl: float | None, target: float | None = None) -> SpecRow:
    return SpecRow(1, "", "", "p", lsl, usl, target, None, "2026-01-01T00:00:00Z", None)


def newest_first(values: list[float]) -> list[float]:
    return values[::-1]


def test_steady_readings_are_steady() -> None:
    values = [50.0 + (i % 3) * 0.5 for i in range(40)]
    assert judge(newest_first(values), spec(40, 60)).state == "steady"
    assert judge(newest_first(values), None).state == "steady"


def test_a_mean_moving_toward_a_limit_by_more_than_a_tenth_of_the_width_is_drifting() -> None:
    values = [50.0] * 20 + [47.5] * 20  # down 2.5 of a width of 20: 12.5 %
    health = judge(newest_first(values), spec(40, 60), unit="CEL")
    assert health.state == "drifting" and health.tone == "warn"
    assert "toward LSL by 12% of the spec width" in health.message
    assert "moved -2.5 °C" in health.message
    assert judge(newest_first([50.0] * 20 + [48.5] * 20), spec(40, 60)).state == "steady"  # 7.5 %


def test_one_sided_spec_measures_drift_against_the_room_left() -> None:
    # USL 100, no target: the previous mean 60 had 40 of room; +5 is 12.5 % of it.
    values = [60.0] * 20 + [65.0] * 20
    assert judge(newest_first(values), spec(None, 100)).state == "drifting"
    # Moving away from the only limit is no drift.
    assert judge(newest_first([60.0] * 20 + [50.0] * 20), spec(None, 100)).state == "steady"


def test_a_recent_reading_outside_the_limits_is_out_of_spec() -> None:
    values = [50.0] * 39 + [61.0]
    health = judge(newest_first(values), spec(40, 60))
    assert health.state == "out_of_spec" and health.tone == "bad"
    assert health.message.startswith("1 of the last 20 readings outside the limits (LSL 40")
    # An old excursion (among the previous readings) is history, not the present.
    assert judge(newest_first([61.0] + [50.0] * 39), spec(40, 60)).state == "steady"


def test_without_a_spec_a_mean_leaving_the_earlier_range_is_a_shift() -> None:
    climbing = [100.0 + i * 0.5 for i in range(40)]
    health = judge(newest_first(climbing), None)
    assert health.state == "shifted" and "no spec" in health.message
    # A machine alternating between two products keeps a wide range: no shift.
    mixed = [425.0 if i % 2 else 450.0 for i in range(20)] + [440.0 + i % 3 for i in range(20)]
    assert judge(newest_first(mixed), None).state == "steady"


def test_few_readings_cannot_show_drift() -> None:
    assert judge([1.0, 2.0, 3.0], None).state == "few"
    assert judge([], None) == Health("none", "no readings")
    # ...but a few readings can still be out of spec.
    assert judge([70.0, 50.0], spec(40, 60)).state == "out_of_spec"


# -- catalogue, drift and the page, on each backend -----------------------------------------------
def test_catalogue_joins_sensors_and_machine_readings_to_their_read_point(plant: Store) -> None:
    with plant.reader() as reader:
        machines = {m.name: m for m in equipment_catalogue(reader)}
    assert set(machines) == {"CH-01", "FURN-1", "PRESS-9"}  # the warehouse GLN is a site
    header = machines["CH-01"]
    assert header.key == HEADER_KEY and header.read_point == HEADER_KEY
    assert [(s.equipment, s.parameter, s.unit) for s in header.series] == [
        ("CH-01", "Temperature", "CEL"),  # over MQTT, named by the SGLN's extension
        (SENSOR_KEY, "Force", "B47"),  # from EPCIS events at the header
    ]
    assert header.last_reading == "2026-03-01T07:18:00.000000Z"
    assert header.last_event == "2026-03-01T07:18:00.000000Z"
    assert machines["FURN-1"].series == [] and machines["FURN-1"].last_event is not None
    press = machines["PRESS-9"]
    assert press.read_point is None and press.parameters == ["Pressure"]
    assert press.href == "/ui/equipment/PRESS-9"


def test_find_machine_by_name_key_or_sensor(plant: Store) -> None:
    with plant.reader() as reader:
        catalogue = equipment_catalogue(reader)
    assert find_machine(catalogue, "CH-01").key == HEADER_KEY
    assert find_machine(catalogue, HEADER).key == HEADER_KEY  # the EPC URN form
    assert find_machine(catalogue, SENSOR).key == HEADER_KEY  # one of its sensors
    assert find_machine(catalogue, canonical_key(FURNACE)).name == "FURN-1"
    with pytest.raises(NotFound, match="no equipment 'CH-99'"):
        find_machine(catalogue, "CH-99")
    with pytest.raises(InvalidInput, match="name a piece of equipment"):
        find_machine(catalogue, " ")


def test_drifting_equipment_lists_out_of_spec_first_then_drift(plant: Store) -> None:
    with plant.reader() as reader:
        found = drifting_equipment(reader)
        assert [(d.name, d.parameter, d.state, d.tone) for d in found] == [
            ("CH-01", "Temperature", "out_of_spec", "bad"),
            ("CH-01", "Force", "drifting", "warn"),
        ]
        assert found[0].href == "/ui/equipment/CH-01?parameter=Temperature"
        assert found[0].key == HEADER_KEY and found[1].device == SENSOR_KEY
        assert "toward USL" in found[1].detail
        assert [d.parameter for d in drifting_equipment(reader, limit=1)] == ["Temperature"]
        with pytest.raises(InvalidInput):
            drifting_equipment(reader, limit=0)


def test_equipment_list_gives_each_machine_its_worst_state(plant: Store) -> None:
    with plant.reader() as reader:
        rows = {r.machine.name: r for r in equipment_list(reader)}
    assert rows["CH-01"].health.state == "out_of_spec"
    assert {p.parameter: p.health.state for p in rows["CH-01"].parameters} == {
        "Temperature": "out_of_spec",
        "Force": "drifting",
    }
    assert rows["CH-01"].last_reading == "2026-03-01 07:18:00 UTC"
    assert rows["PRESS-9"].health.state == "few"
    assert rows["FURN-1"].parameters == [] and rows["FURN-1"].last_event


def test_page_defaults_to_the_last_day_of_data_with_charts_specs_lots_and_alerts(
    plant: Store,
) -> None:
    with plant.reader() as reader:
        page = build_equipment_page(reader, "CH-01")
    # Relative to the newest reading (07:18), not to the wall clock.
    assert (page.start, page.end) == ("2026-02-28T07:18:01.000000Z", "2026-03-01T07:18:01.000000Z")
    assert page.default_window and page.end_input == "2026-03-01T07:18:01"
    panels = {p.series.parameter: p for p in page.panels}
    assert set(panels) == {"Force", "Temperature"}
    force_panel = panels["Force"]
    assert force_panel.count == 40 and force_panel.runs == 0
    assert force_panel.spec_text == "LSL 90, target 100, USL 115 kN (equipment " + SENSOR_KEY + ")"
    assert force_panel.other_specs == ["LSL 0, USL 1000 (any equipment)"]
    assert 'class="chart-limit limit-usl"' in force_panel.svg_wide
    assert "USL 115" in force_panel.svg_wide and 'viewBox="0 0 360 220"' in force_panel.svg_narrow
    assert force_panel.health.state == "drifting"
    temperature = panels["Temperature"]
    assert "1 outside limits" in temperature.svg_wide
    # Lots that ran on the header in the window: what it made first, then what it used.
    assert [(lot.key, lot.role, lot.quantity, lot.events) for lot in page.lots] == [
        (canonical_key(B2), "output", "8000 EA", 1),
        (canonical_key(B1), "output", "10000 EA", 1),
        (canonical_key(H1), "input", "900 KGM", 2),
        (canonical_key(H2), "input", "300 KGM", 1),
    ]
    assert page.lots[0].href.startswith("/ui/passport?id=https%3A%2F%2F")
    assert [a.message for a in page.alerts] == [
        "Temperature on CH-01 at 2026-03-01T06:54:30Z: 95 CEL is above USL (90)"
    ]
    assert not page.alerts[0].acked


def test_page_parameter_and_window_choices(plant: Store) -> None:
    with plant.reader() as reader:
        page = build_equipment_page(
            reader, "CH-01", parameter="gs1:Force", start="2026-03-01T06:00", end="2026-03-01T06:30"
        )
        assert page.parameter == "Force" and [p.series.parameter for p in page.panels] == ["Force"]
        assert page.panels[0].count == 15 and not page.default_window
        # Only the sensor reports ran in that half hour: events, but no lots.
        assert page.lots == [] and page.lots_note == "The events in this window name no lots."
        # One end given: the window spans a day from or to it.
        only_to = build_equipment_page(reader, "CH-01", end="2026-03-01T07:00:00Z")
        assert only_to.start == "2026-02-28T07:00:00.000000Z"
        with pytest.raises(InvalidInput, match="has no readings of 'Humidity'"):
            build_equipment_page(reader, "CH-01", parameter="Humidity")
        with pytest.raises(InvalidInput, match="must be after"):
            build_equipment_page(reader, "CH-01", start="2026-03-01T07:00", end="2026-03-01T06:00")
        with pytest.raises(InvalidInput, match="from: 'noon' is not an ISO-8601 time"):
            build_equipment_page(reader, "CH-01", start="noon")
        with pytest.raises(NotFound):
            build_equipment_page(reader, "CH-99")


def test_page_of_a_machine_without_read_point_or_readings(plant: Store) -> None:
    with plant.reader() as reader:
        press = build_equipment_page(reader, "PRESS-9")
        assert "No events name this equipment" in press.lots_note
        assert press.panels[0].health.state == "few"
        furnace = build_equipment_page(reader, "FURN-1")
    assert furnace.panels == []  # events only: the window ends after its newest event
    assert [lot.key for lot in furnace.lots if lot.role == "output"] == [
        canonical_key("urn:epc:class:lgtin:4012345.022222.F1")
    ]


def test_dense_series_are_sampled_over_the_whole_window(
    plant: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(eq, "READINGS_BUDGET", 12)
    monkeypatch.setattr(eq, "MIN_PER_SERIES", 12)
    monkeypatch.setattr(eq, "SAMPLE_RUNS", 4)
    with plant.reader() as reader:
        page = build_equipment_page(
            reader, "CH-01", parameter="Force", start="2026-03-01T06:00", end="2026-03-01T07:20"
        )
    (panel,) = page.panels
    assert (panel.runs, panel.run_length, panel.count) == (4, 3, 12)
    # Four 20-minute slices, the first three readings (2 minutes apart) of each.
    assert "12 readings from 2026-03-01 06:00 to 2026-03-01 07:04 UTC" in panel.svg_wide
    # A series within its share is drawn whole.
    monkeypatch.setattr(eq, "READINGS_BUDGET", 40)
    with plant.reader() as reader:
        whole = build_equipment_page(reader, "CH-01", parameter="Force")
    assert (whole.panels[0].runs, whole.panels[0].count) == (0, 40)


def test_lots_are_not_listed_when_the_window_holds_too_many_events(
    plant: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(eq, "WINDOW_EVENTS_MAX", 5)
    with plant.reader() as reader:
        page = build_equipment_page(reader, "CH-01")
    assert page.lots == [] and page.lots_note.startswith("More than 5 events")


# -- the routes ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shop(world: World) -> Iterator[World]:
    add_process_data(world.store)
    yield world


@SQLITE
def test_equipment_list_page(shop: World) -> None:
    with shop.as_role("viewer") as viewer:
        answer = viewer.get("/ui/equipment")
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert '<h1 id="equipment-heading">Equipment</h1>' in html
    assert 'href="/ui/equipment/CH-01"' in html and 'href="/ui/equipment/PRESS-9"' in html
    assert 'href="/ui/equipment/CH-01?parameter=Temperature"' in html
    assert ">out of spec</span>" in html and ">drifting</span>" in html
    assert 'href="/static/equipment.css"' in html


@SQLITE
def test_equipment_page_shows_charts_form_lots_and_alerts(shop: World) -> None:
    with shop.as_role("viewer") as viewer:
        answer = viewer.get("/ui/equipment/CH-01")
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert '<h1 id="eq-title">CH-01</h1>' in html
    assert html.count('<svg class="chart"') == 4  # two parameters, wide and narrow
    assert 'role="img"' in html and "USL 115" in html
    for control in ("eq-parameter", "eq-from", "eq-to"):
        assert f'<label for="{control}">' in html and f'id="{control}"' in html
    assert 'value="2026-03-01T07:18:01"' in html and 'method="get"' in html
    assert (
        f'href="/ui/passport?id={canonical_key(B1).replace(":", "%3A").replace("/", "%2F")}"'
        in html
    )
    assert "95 CEL is above USL (90)" in html


@SQLITE
def test_equipment_page_by_full_key_and_with_a_chosen_window(shop: World) -> None:
    with shop.as_role("viewer") as viewer:
        answer = viewer.get(
            "/ui/equipment/" + HEADER_KEY.replace("/", "%2F").replace(":", "%3A"),
            params={"parameter": "Force", "from": "2026-03-01T06:00", "to": "2026-03-01T06:30"},
        )
    assert answer.status_code == 200, answer.text
    assert answer.text.count('<svg class="chart"') == 2
    assert "15 readings" in answer.text
    assert "2026-03-01 06:00:00 to 2026-03-01 06:30:00 UTC" in answer.text


@SQLITE
def test_equipment_page_errors_are_pages(shop: World) -> None:
    with shop.as_role("viewer") as viewer:
        missing = viewer.get("/ui/equipment/CH-99")
        bad = viewer.get("/ui/equipment/CH-01", params={"from": "soon"})
    assert missing.status_code == 404 and "Not found" in missing.text
    assert missing.headers["content-type"].startswith("text/html")
    assert bad.status_code == 400 and "is not an ISO-8601 time" in bad.text
    with shop.anonymous() as nobody:
        redirected = nobody.get("/ui/equipment/CH-01")
    assert redirected.status_code == 303
    assert redirected.headers["location"].startswith("/login?next=")


def test_a_machines_alerts_are_found_however_many_others_came_after(plant: Store) -> None:
    """The page's alerts come through the index on equipment, not a scan of the newest alerts."""
    later = [
        ("2026-03-02T00:00:00Z", "out_of_spec", "PRESS-9", f"press alert {i}", f"bulk-{i}")
        for i in range(12_000)
    ]
    sensor = ("2026-03-02T00:00:00Z", "out_of_spec", SENSOR_KEY, "sensor alert", "bulk-sensor")
    insert = "INSERT INTO alerts (time, kind, equipment, message, dedup) VALUES (?, ?, ?, ?, ?)"
    with transaction(plant, write=True) as cursor:
        plant.insert_rows(cursor, plant.sql(insert), [*later[:6_000], sensor, *later[6_000:]])
    with plant.reader() as reader:
        page = build_equipment_page(reader, "CH-01")
        press = build_equipment_page(reader, "PRESS-9")
    # The sensor's alert (newer) first, then the machine's own from the fixture, 12,000 rows back.
    assert [a.message for a in page.alerts] == [
        "sensor alert",
        "Temperature on CH-01 at 2026-03-01T06:54:30Z: 95 CEL is above USL (90)",
    ]
    assert [a.message for a in press.alerts] == [
        f"press alert {i}" for i in range(11_999, 11_979, -1)
    ]
