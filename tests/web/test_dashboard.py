"""The dashboard: its figures match the store, its lists link to their pages.

"Today" is the day of the newest event (the hand-built plant's events are all on 2026-03-01,
which is not the wall clock's day), and every figure is checked against the store itself.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from threadline.api.pages.common import passport_href
from threadline.errors import InvalidInput
from threadline.gs1.keys import canonical
from threadline.ingest.readings import MQTT_SOURCE, MachineReading, insert_readings
from threadline.quality import alerts as alerts_mod
from threadline.quality import holds as holds_mod
from threadline.quality.alerts import AlertChecker
from threadline.quality.specs import set_spec
from threadline.service import parse_events
from threadline.store import Store
from threadline.store.auth import transaction
from threadline.web.dashboard import (
    DAY_EVENTS_MAX,
    build_dashboard,
    day_bounds,
    latest_production_day,
    lots_made,
)

from livekit import World, world_fixture  # noqa: F401 (fixture)
from plantkit import B1, B2, F1, FURNACE, H1, HEADER, X1, X2, qty

ITEM = "urn:epc:id:sgtin:4012345.011111.A1"

PLANT_DAY = "2026-03-01"


def tile(page: str, name: str) -> str:
    match = re.search(rf'data-testid="{name}">([^<]*)<', page)
    assert match, f"no {name} tile on the page"
    return match.group(1).strip()


def store_counts(store: Store) -> tuple[int, int]:
    """(open holds, open alerts) as the store holds them."""
    with store.reader() as reader:
        holds = reader.query("SELECT count(*) FROM holds WHERE released_at IS NULL")[0][0]
        alerts = reader.query("SELECT count(*) FROM alerts WHERE acked_at IS NULL")[0][0]
    return int(holds), int(alerts)


def raise_alert(store: Store, equipment: str) -> int:
    fresh = AlertChecker().raise_alerts(
        store,
        [
            {
                "kind": "out_of_spec",
                "equipment": canonical(equipment).key,
                "parameter": "forming_force",
                "reading_time": f"{PLANT_DAY}T07:40:00.000000Z",
                "value": 88.0,
                "usl": 80.0,
                "unit": "KNT",
                "message": "forming force above USL",
                "dedup": f"test|{uuid.uuid4().hex}",
            }
        ],
    )
    return int(fresh[0]["id"])


def test_dashboard_figures_match_the_store(world: World) -> None:
    kept = holds_mod.place_hold(world.store, H1, reason="certificate query", user="q")
    gone = holds_mod.place_hold(world.store, X2, reason="dent", user="q")
    holds_mod.release_hold(world.store, gone.id, reason="fine", user="q")
    first, second, acked = (raise_alert(world.store, HEADER) for _ in range(3))
    alerts_mod.acknowledge(world.store, acked, user="q")
    with world.as_role("viewer") as viewer:
        page = viewer.get("/")
    assert page.status_code == 200
    text = page.text
    assert f"{PLANT_DAY}</time>, the latest day with events" in text
    # B1 and B2 from the heats, F1 from the furnace: three lots made that day.
    assert tile(text, "lots-made") == "3"
    open_holds, open_alerts = store_counts(world.store)
    assert open_holds >= 1 and open_alerts >= 2
    assert tile(text, "open-holds") == str(open_holds)
    assert tile(text, "open-alerts") == f"{open_alerts:,}"
    lots = text.split('data-testid="lots-list"', 1)[1].split("</ul>", 1)[0]
    for lot in (F1, B2, B1):
        assert f'href="{passport_href(canonical(lot).key)}"' in lots
    assert lots.index(canonical(F1).key.rsplit("/", 1)[1]) < lots.index("B1")  # newest first
    held = text.split('data-testid="open-holds-list"', 1)[1].split("</ul>", 1)[0]
    assert f'href="{passport_href(kept.object)}"' in held and "certificate query" in held
    assert passport_href(gone.object) not in held
    latest = text.split('data-testid="latest-alerts"', 1)[1].split("</ul>", 1)[0]
    for alert in (first, second, acked):
        assert f'href="/ui/alerts?show=all#alert-{alert}"' in latest
    assert 'href="/ui/holds"' in text and 'href="/ui/alerts"' in text


@pytest.mark.parametrize("world", ["sqlite"], indirect=True)
def test_drifting_equipment_is_listed_with_a_link_to_its_page(world: World) -> None:
    set_spec(world.store, parameter="forming_force", equipment="CH-01", lsl=40, usl=80)
    key = canonical(HEADER).key
    readings = [
        MachineReading(
            key,
            "forming_force",
            f"{PLANT_DAY}T06:{m:02d}:00Z",
            60 + m,
            "KNT",
            None,
            MQTT_SOURCE,
            None,
        )
        for m in range(0, 24)  # climbs from 60 to 83 kN: the newest readings pass USL 80
    ]
    with transaction(world.store, write=True) as cursor:
        insert_readings(world.store, cursor, readings)
    with world.as_role("viewer") as viewer:
        text = viewer.get("/").text
    assert tile(text, "drifting") == "1"
    listed = text.split('data-testid="drifting-list"', 1)[1].split("</ul>", 1)[0]
    assert ">CH-01</a>" in listed and "out of spec" in listed
    assert 'href="/ui/equipment/CH-01' in listed


@pytest.mark.parametrize("world", ["sqlite"], indirect=True)
def test_dashboard_needs_a_signed_in_caller(world: World) -> None:
    with world.anonymous() as nobody:
        answer = nobody.get("/")
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=%2F"


# -- the figures themselves, on both backends ---------------------------------------------------
def _event(kind: str, time: str, n: int, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "eventID": f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
        "eventTime": time,
        "eventTimeZoneOffset": "+00:00",
        **fields,
    }


def _made(time: str, n: int, outputs: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    return _event(
        "TransformationEvent",
        time,
        n,
        bizStep="creating_class_instance",
        inputQuantityList=[qty(H1, 10, "KGM")],
        outputQuantityList=outputs,
        readPoint={"id": FURNACE},
        **more,
    )


def qty_key(lot: str) -> str:
    return f"urn:epc:class:lgtin:4012345.022222.{lot}"


def test_lots_made_counts_what_the_day_made_and_nothing_else(store: Store) -> None:
    serials = ["urn:epc:id:sgtin:4012345.011111.S1", "urn:epc:id:sgtin:4012345.011111.S2"]
    wrong = _made("2026-03-04T12:00:00Z", 5, [qty(qty_key("W"), 5)])
    events = [
        _made("2026-03-03T23:59:59Z", 1, [qty(qty_key("L0"), 5)]),
        _made("2026-03-04T00:00:00Z", 2, [qty(qty_key("L1"), 5)]),
        _made(
            "2026-03-04T09:30:00+01:00",
            3,
            [qty(qty_key("L2"), 7)],
            outputEPCList=[ITEM],
        ),
        # The same lot made again the same day (a second run) counts once.
        _made("2026-03-04T10:00:00Z", 4, [qty(qty_key("L1"), 3)]),
        _event(
            "ObjectEvent",
            "2026-03-04T11:00:00Z",
            6,
            action="ADD",
            bizStep="commissioning",
            epcList=serials,
        ),
        _event(
            "ObjectEvent",
            "2026-03-04T11:30:00Z",
            7,
            action="ADD",
            bizStep="receiving",
            quantityList=[qty(H1, 100, "KGM")],
        ),
        wrong,
        {**wrong, "errorDeclaration": {"declarationTime": "2026-03-04T13:00:00Z"}},
        _event(
            "ObjectEvent",
            "2026-03-05T08:00:00Z",
            8,
            action="OBSERVE",
            bizStep="shipping",
            epcList=[X1],
        ),
    ]
    store.append(list(parse_events(events, source="test")))
    link = passport_href
    with store.reader() as reader:
        count, capped, newest = lots_made(reader, "2026-03-04", link=link)
        assert (count, capped) == (5, False)  # L1, L2, A1, S1, S2; not L0, W, nor H1 received
        assert [lot.key for lot in newest] == [
            canonical(k).key for k in (*serials, qty_key("L1"), ITEM, qty_key("L2"))
        ]  # newest first; L1 where it was last made
        l2 = next(lot for lot in newest if lot.key.endswith("/10/L2"))
        assert l2.quantity == "7 EA" and l2.where == "FURN-1"
        assert l2.stamp == "2026-03-04T08:30:00.000000Z" and l2.href == link(l2.key)
        assert lots_made(reader, "2026-03-05", link=link)[0] == 0
        # The newest day made nothing; the latest day with production is found.
        assert latest_production_day(reader) == "2026-03-04"
    board = build_dashboard(store, link=link)
    assert board.day == "2026-03-05" and board.lots_made == 0
    assert board.production_day == "2026-03-04" and board.production_lots == 5
    assert DAY_EVENTS_MAX >= 10_000


def test_an_empty_store_has_no_day_and_no_figures(store: Store) -> None:
    board = build_dashboard(store, link=passport_href)
    assert board.day is None and board.lots_made == 0 and board.lots == []
    assert (board.open_holds, board.open_alerts, board.drifting) == (0, 0, [])


def test_day_bounds_are_the_utc_day_and_refuse_other_text() -> None:
    assert day_bounds("2026-02-28") == (
        "2026-02-28T00:00:00.000000Z",
        "2026-03-01T00:00:00.000000Z",
    )
    with pytest.raises(InvalidInput, match="not a date"):
        day_bounds("yesterday")
