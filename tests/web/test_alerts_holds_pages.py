"""The alerts and holds pages on a live server: what each role sees and may do.

Quality users acknowledge alerts and place and release holds from the pages, and the store
changes; viewers and operators see no action and get a 403 page when they post anyway; a form
posted from a signed-in browser without its token is refused.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from threadline.api.pages.common import passport_href
from threadline.gs1.keys import canonical
from threadline.quality import alerts as alerts_mod
from threadline.quality import holds as holds_mod
from threadline.quality.alerts import AlertChecker
from threadline.store import Store, audit
from threadline.store.quality import HoldRow

from livekit import PASSWORD, World, audit_rows, world_fixture  # noqa: F401 (fixture)
from plantkit import FURNACE, H1, HEADER, X1, X2, X3

SQLITE = pytest.mark.parametrize("world", ["sqlite"], indirect=True)
LOWER_ROLES = ["viewer", "operator"]
# How the store names the quality user calling with its API token (see livekit.World).
QUALITY_BOT = "quality (token quality bot)"


def raise_alert(
    store: Store,
    *,
    equipment: str = HEADER,
    value: float = 31.5,
    reading_time: str = "2026-03-01T07:30:00.000000Z",
) -> int:
    """One out-of-spec alert (limits 20..30 kN) about ``equipment``; returns its id."""
    fresh = AlertChecker().raise_alerts(
        store,
        [
            {
                "kind": "out_of_spec",
                "equipment": canonical(equipment).key,
                "parameter": "gs1:Force",
                "reading_time": reading_time,
                "value": value,
                "lsl": 20.0,
                "usl": 30.0,
                "unit": "kN",
                "source": "test",
                "message": f"Force on {equipment}: {value:g} kN is outside 20..30",
                "dedup": f"test|{uuid.uuid4().hex}",
            }
        ],
    )
    return int(fresh[0]["id"])


def alert_state(store: Store, alert_id: int) -> tuple[str | None, str | None]:
    found = [a for a in alerts_mod.list_alerts(store, limit=10_000) if a.id == alert_id]
    assert found, f"alert {alert_id} is not in the store"
    return found[0].acked_at, found[0].acked_by


def hold_row(store: Store, hold_id: int) -> HoldRow:
    found = [h for h in holds_mod.list_holds(store, limit=10_000) if h.id == hold_id]
    assert found, f"hold {hold_id} is not in the store"
    return found[0]


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert match, "the page has no form token"
    return match.group(1)


@contextmanager
def signed_in(world: World, name: str) -> Iterator[httpx.Client]:
    """A browser-like client signed in with the login form (session cookie, no API token)."""
    with world.anonymous() as person:
        done = person.post("/login", data={"name": name, "password": PASSWORD, "next": "/"})
        assert done.status_code == 303, done.text
        yield person


def row_of(page: str, marker: str) -> str:
    """The HTML of the table row or list item carrying ``marker`` (e.g. data-alert="7")."""
    start = page.index(marker)
    end = min(i for i in (page.find("</tr>", start), page.find("</li>\n", start)) if i > 0)
    return page[start:end]


# -- alerts ----------------------------------------------------------------------------------------
def test_alerts_page_lists_open_alerts_newest_first_with_value_and_limits(world: World) -> None:
    older = raise_alert(world.store, value=31.5)
    newer = raise_alert(world.store, equipment=FURNACE, value=12.25)
    with world.as_role("viewer") as viewer:
        page = viewer.get("/ui/alerts")
    assert page.status_code == 200
    text = page.text
    assert text.index(f'data-alert="{newer}"') < text.index(f'data-alert="{older}"')
    first = row_of(text, f'data-alert="{older}"')
    assert "CH-01" in first and "Force" in first
    assert "31.5 kN" in first and "above USL" in first
    assert "LSL 20, USL 30 kN" in first and "open" in first
    second = row_of(text, f'data-alert="{newer}"')
    assert "FURN-1" in second and "12.25 kN" in second and "below LSL" in second
    assert "2026-03-01 07:30:00 UTC" in second


def test_open_filter_hides_acknowledged_alerts_and_all_shows_who_acknowledged(
    world: World,
) -> None:
    alert = raise_alert(world.store)
    alerts_mod.acknowledge(world.store, alert, user="shift lead")
    with world.as_role("viewer") as viewer:
        open_page = viewer.get("/ui/alerts", params={"show": "open"})
        all_page = viewer.get("/ui/alerts", params={"show": "all"})
        bad = viewer.get("/ui/alerts", params={"show": "some"})
    assert f'data-alert="{alert}"' not in open_page.text
    row = row_of(all_page.text, f'data-alert="{alert}"')
    assert "acknowledged" in row and "by shift lead" in row
    assert 'aria-current="page">All<' in all_page.text
    assert bad.status_code == 400 and "show must be open or all, not some" in bad.text


def test_quality_acknowledges_an_alert_from_the_page(world: World) -> None:
    alert = raise_alert(world.store)
    request_id = f"ack-{uuid.uuid4().hex[:12]}"
    with world.as_role("quality") as quality:
        page = quality.get("/ui/alerts")
        assert f'action="/ui/alerts/{alert}/ack"' in page.text
        done = quality.post(
            f"/ui/alerts/{alert}/ack", data={"show": "open"}, headers={"X-Request-ID": request_id}
        )
        assert done.status_code == 303, done.text
        assert done.headers["location"] == f"/ui/alerts?show=open&done=acked&id={alert}"
        back = quality.get(done.headers["location"])
    assert f"Alert #{alert} acknowledged." in back.text
    assert f'data-alert="{alert}"' not in back.text  # no longer open
    acked_at, acked_by = alert_state(world.store, alert)
    assert acked_at is not None and acked_by == QUALITY_BOT
    entries = audit_rows(world.store, request_id)
    assert [(e["action"], e["actor"], e["target"]) for e in entries] == [
        ("ack", QUALITY_BOT, f"alert #{alert}")
    ]


@SQLITE
@pytest.mark.parametrize("role", LOWER_ROLES)
def test_viewer_and_operator_cannot_acknowledge(world: World, role: str) -> None:
    alert = raise_alert(world.store)
    with world.as_role(role) as person:
        page = person.get("/ui/alerts")
        refused = person.post(f"/ui/alerts/{alert}/ack", data={})
    assert f'data-alert="{alert}"' in page.text
    assert "Acknowledge" not in page.text and "/ack" not in page.text
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "Not allowed" in refused.text
    assert alert_state(world.store, alert) == (None, None)


@SQLITE
def test_acknowledging_in_a_browser_session_needs_the_form_token(world: World) -> None:
    alert = raise_alert(world.store)
    with signed_in(world, "quality") as person:
        page = person.get("/ui/alerts")
        assert page.status_code == 200 and f'action="/ui/alerts/{alert}/ack"' in page.text
        missing = person.post(f"/ui/alerts/{alert}/ack", data={"show": "open"})
        wrong = person.post(f"/ui/alerts/{alert}/ack", data={"csrf": "0" * 40})
        assert missing.status_code == 403 and wrong.status_code == 403
        assert "reload the page" in missing.text
        assert alert_state(world.store, alert) == (None, None)
        done = person.post(f"/ui/alerts/{alert}/ack", data={"csrf": csrf_of(page)})
    assert done.status_code == 303
    assert alert_state(world.store, alert)[1] == "quality"


@SQLITE
def test_acknowledging_an_unknown_or_malformed_alert_is_an_error_page(world: World) -> None:
    with world.as_role("quality") as quality:
        unknown = quality.post("/ui/alerts/987654321/ack", data={})
        malformed = quality.post("/ui/alerts/seven/ack", data={})
    assert unknown.status_code == 404 and "no alert 987654321" in unknown.text
    assert malformed.status_code == 400 and "positive whole number" in malformed.text
    assert malformed.headers["content-type"].startswith("text/html")


# -- holds -----------------------------------------------------------------------------------------
def test_quality_places_a_hold_from_the_page(world: World) -> None:
    with world.as_role("quality") as quality:
        form = quality.get("/ui/holds")
        assert 'action="/ui/holds"' in form.text and 'for="hold-identifier"' in form.text
        done = quality.post(
            "/ui/holds", data={"identifier": H1, "reason": "mill certificate disputed"}
        )
        assert done.status_code == 303, done.text
        location = done.headers["location"]
        assert location.startswith("/ui/holds?done=placed&id=")
        hold_id = int(location.rsplit("=", 1)[1])
        page = quality.get(location)
    hold = hold_row(world.store, hold_id)
    key = canonical(H1).key
    assert hold.active and hold.object == key and hold.placed_by == QUALITY_BOT
    assert hold.reason == "mill certificate disputed"
    assert f"Hold #{hold_id} placed." in page.text
    row = row_of(page.text, f'data-hold="{hold_id}"')
    assert f'href="{passport_href(key)}"' in row
    assert "(01) 04098765123450 (10) H1" in row and "Lot" in row
    assert "mill certificate disputed" in row and f"by {QUALITY_BOT}" in row
    # H1 went into B1, B2, F1, the boxes X1-X3 and the pallets P1, P2 (customers excluded).
    assert "this object and 8 objects downstream of it" in row
    assert f'action="/ui/holds/{hold_id}/release"' in row
    logged = [e for e in audit.entries(world.store) if e.detail and f"hold #{hold_id}:" in e.detail]
    assert [(e.action, e.actor, e.target) for e in logged] == [("hold", QUALITY_BOT, key)]


def test_quality_releases_a_hold_from_the_page(world: World) -> None:
    hold = holds_mod.place_hold(world.store, X1, reason="label smudged", user="tester")
    with world.as_role("quality") as quality:
        done = quality.post(f"/ui/holds/{hold.id}/release", data={"reason": "relabelled"})
        assert done.status_code == 303, done.text
        assert done.headers["location"] == f"/ui/holds?done=released&id={hold.id}"
        active = quality.get(done.headers["location"])
        released = quality.get("/ui/holds", params={"released": "1"})
        again = quality.post(f"/ui/holds/{hold.id}/release", data={"reason": "twice"})
    row = hold_row(world.store, hold.id)
    assert not row.active and row.released_by == QUALITY_BOT and row.release_reason == "relabelled"
    assert f"Hold #{hold.id} released." in active.text
    assert f'data-hold="{hold.id}"' not in active.text
    entry = row_of(released.text, f'data-hold="{hold.id}"')
    assert "released" in entry and "relabelled" in entry and "label smudged" in entry
    assert again.status_code == 409 and "was released at" in again.text
    assert 'action="/ui/holds"' in again.text  # the page again, not a bare error page


def test_placing_a_hold_on_an_unknown_object_shows_the_form_again(world: World) -> None:
    before = len(holds_mod.list_holds(world.store, limit=10_000))
    unknown = "urn:epc:class:lgtin:4012345.099999.NOPE"
    with world.as_role("quality") as quality:
        missing = quality.post("/ui/holds", data={"identifier": unknown, "reason": "suspect"})
        no_reason = quality.post("/ui/holds", data={"identifier": X2, "reason": "  "})
        no_identifier = quality.post("/ui/holds", data={"identifier": "", "reason": "why"})
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "No object" in missing.text and "in the store" in missing.text
    assert f'value="{unknown}"' in missing.text and ">suspect</textarea>" in missing.text
    assert no_reason.status_code == 400 and "Say why the material is held." in no_reason.text
    assert no_identifier.status_code == 400 and "Enter the lot or container" in no_identifier.text
    assert len(holds_mod.list_holds(world.store, limit=10_000)) == before


@SQLITE
@pytest.mark.parametrize("role", LOWER_ROLES)
def test_viewer_and_operator_see_no_hold_forms_and_are_refused(world: World, role: str) -> None:
    hold = holds_mod.place_hold(world.store, X3, reason="dent on the box", user="tester")
    before = len(holds_mod.list_holds(world.store, limit=10_000))
    with world.as_role(role) as person:
        page = person.get("/ui/holds")
        place = person.post("/ui/holds", data={"identifier": X2, "reason": "mine"})
        release = person.post(f"/ui/holds/{hold.id}/release", data={"reason": "mine"})
    assert page.status_code == 200 and f'data-hold="{hold.id}"' in page.text
    assert "dent on the box" in page.text
    assert "<form" not in page.text.split('id="main"', 1)[1]  # only the page frame has forms
    for refused in (place, release):
        assert refused.status_code == 403 and "Not allowed" in refused.text
        assert refused.headers["content-type"].startswith("text/html")
    assert hold_row(world.store, hold.id).active
    assert len(holds_mod.list_holds(world.store, limit=10_000)) == before
    holds_mod.release_hold(world.store, hold.id, reason="test over", user="tester")


@SQLITE
def test_hold_forms_in_a_browser_session_need_the_form_token(world: World) -> None:
    before = len(holds_mod.list_holds(world.store, limit=10_000))
    with signed_in(world, "quality") as person:
        page = person.get("/ui/holds")
        place = person.post("/ui/holds", data={"identifier": X2, "reason": "forged"})
        assert place.status_code == 403
        assert len(holds_mod.list_holds(world.store, limit=10_000)) == before
        done = person.post(
            "/ui/holds", data={"identifier": X2, "reason": "real", "csrf": csrf_of(page)}
        )
        assert done.status_code == 303
        hold_id = int(done.headers["location"].rsplit("=", 1)[1])
        release = person.post(f"/ui/holds/{hold_id}/release", data={"reason": "forged"})
        assert release.status_code == 403 and hold_row(world.store, hold_id).active
        released = person.post(
            f"/ui/holds/{hold_id}/release", data={"reason": "ok", "csrf": csrf_of(page)}
        )
    assert released.status_code == 303 and not hold_row(world.store, hold_id).active
