"""Holds and alerts in a browser, and what each role is offered (and refused)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest

from threadline.quality.alerts import list_alerts
from threadline.quality.holds import list_holds, place_hold

from browserkit import Site, open_page, site_fixture  # noqa: F401 (fixture)


def _other_lot(site: Site) -> str:
    """A finished lot nobody has put on hold (the plant's hold is on ``samples.lot``)."""
    with site.store.reader() as reader:
        rows = reader.query(
            "SELECT key FROM objects WHERE kind = ? AND key LIKE ? ORDER BY id LIMIT 5",
            ("lgtin", "%/10/FL%"),
        )
    return str(next(key for (key,) in rows if key != site.samples.lot))


def _csrf(page: Any) -> str:
    value = page.locator("input[name=csrf]").first.get_attribute("value")
    assert value
    return str(value)


def test_quality_places_a_hold_seen_on_holds_and_the_passport(site: Site) -> None:
    lot = _other_lot(site)
    gtin, code = lot.rsplit("/01/", 1)[1].split("/10/")
    human = f"(01) {gtin} (10) {code}"
    with site.page("quality") as page:
        open_page(page, "/ui/holds")
        form = page.get_by_role("region", name="Place a hold")
        form.get_by_label("Lot or container").fill(lot)
        form.get_by_label("Reason", exact=True).fill("Thread gauge failed on the first article")
        form.get_by_role("button", name="Place hold").click()
        page.wait_for_url("**/ui/holds?done=placed**")
        notice = page.get_by_test_id("notice").inner_text()
        number = int(re.findall(r"#(\d+)", notice)[0])
        held = page.locator(f"#hold-{number}")
        assert "Thread gauge failed on the first article" in held.inner_text()
        held.get_by_role("link", name=human).click()
        page.wait_for_load_state()
        assert page.get_by_test_id("object-id").inner_text() == lot
        assert page.get_by_test_id("release").inner_text().strip() == "on hold"
        assert (
            "Thread gauge failed on the first article" in page.get_by_test_id("holds").inner_text()
        )
    active = {h.id: h for h in list_holds(site.store, active_only=True)}
    assert active[number].object == lot and active[number].placed_by == "quality"


def test_quality_releases_a_hold_with_a_reason(site: Site) -> None:
    hold = place_hold(site.store, site.samples.box, reason="Label damaged", user="quality")
    with site.page("quality", width=390, height=844) as page:
        open_page(page, "/ui/holds")
        item = page.locator(f"#hold-{hold.id}")
        item.get_by_label(f"Reason for releasing hold #{hold.id}").fill("Relabelled")
        item.get_by_role("button", name="Release").click()
        page.wait_for_url("**/ui/holds?done=released**")
        assert page.get_by_test_id("notice").inner_text() == f"Hold #{hold.id} released."
        assert page.locator(f"#hold-{hold.id}").count() == 0
    assert hold.id not in {h.id for h in list_holds(site.store, active_only=True)}


def test_quality_acknowledges_an_alert(site: Site) -> None:
    open_alerts = list_alerts(site.store, unacked=True)
    assert open_alerts, "the plant has no open alert"
    alert = open_alerts[0]
    with site.page("quality") as page:
        open_page(page, "/ui/alerts")
        row = page.locator(f"#alert-{alert.id}")
        assert "open" in row.inner_text()
        row.get_by_role("button", name=f"Acknowledge alert #{alert.id}").click()
        page.wait_for_load_state()
        assert page.get_by_test_id("notice").count() == 1
        open_page(page, "/ui/alerts?show=all")
        assert "acknowledged" in page.locator(f"#alert-{alert.id}").inner_text()
    assert alert.id not in {a.id for a in list_alerts(site.store, unacked=True)}


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_lower_roles_are_offered_no_quality_action(site: Site, role: str) -> None:
    with site.page(role) as page:
        open_page(page, "/ui/holds")
        assert page.get_by_test_id("active-holds").count() == 1  # they see the holds...
        assert page.get_by_role("button", name="Place hold").count() == 0  # ...but no actions
        assert page.get_by_role("button", name="Release").count() == 0
        assert page.get_by_role("textbox").count() == 0  # only the search box (a searchbox)
        assert page.get_by_role("searchbox").count() == 1
        open_page(page, "/ui/alerts?show=all")
        assert page.get_by_test_id("alerts").locator("tbody tr").count() >= 1
        assert page.get_by_role("button", name=re.compile("Acknowledge")).count() == 0
        heat_lot = quote(site.samples.heat_lot, safe="")
        open_page(page, f"/ui/recall/scope?ids={heat_lot}")
        assert page.get_by_test_id("customer-count").count() == 1
        assert page.get_by_role("button", name=re.compile(r"^Hold ")).count() == 0
        assert page.get_by_label("Reason for the hold").count() == 0


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_lower_roles_posting_the_forms_by_hand_are_refused(site: Site, role: str) -> None:
    holds_before = [h.id for h in list_holds(site.store, active_only=True)]
    alerts_before = [a.id for a in list_alerts(site.store, unacked=True)]
    assert holds_before and alerts_before
    with site.page(role) as page:
        open_page(page, "/ui/holds")
        token = _csrf(page)  # a genuine token of this session: the role alone is refused
        posts = {
            "/ui/holds": {"identifier": site.samples.heat_lot, "reason": "forged"},
            f"/ui/holds/{holds_before[0]}/release": {"reason": "forged"},
            f"/ui/alerts/{alerts_before[0]}/ack": {"show": "open"},
            "/ui/recall/holds": {"ids": site.samples.heat_lot, "reason": "forged"},
        }
        for path, fields in posts.items():
            answer = page.request.post(path, form={"csrf": token, **fields}, max_redirects=0)
            assert answer.status == 403, (path, answer.status, answer.text()[:300])
            assert "Not allowed" in answer.text()
    assert [h.id for h in list_holds(site.store, active_only=True)] == holds_before
    assert [a.id for a in list_alerts(site.store, unacked=True)] == alerts_before


def test_a_form_without_its_token_is_refused_even_for_quality(site: Site) -> None:
    before = [h.id for h in list_holds(site.store, active_only=True)]
    with site.page("quality") as page:
        open_page(page, "/ui/holds")
        answer = page.request.post(
            "/ui/holds",
            form={"identifier": site.samples.heat_lot, "reason": "no token"},
            max_redirects=0,
        )
        assert answer.status == 403
    assert [h.id for h in list_holds(site.store, active_only=True)] == before
