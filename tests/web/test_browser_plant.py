"""The dashboard and the equipment pages in a browser: figures that match the store, and the way
from the plant overview to one machine and its lots."""

from __future__ import annotations

from threadline.quality.alerts import list_alerts
from threadline.quality.holds import list_holds

from browserkit import Site, open_page, screenshots, site_fixture  # noqa: F401 (fixture)


def test_dashboard_figures_match_the_store_and_lead_to_the_lists(site: Site) -> None:
    holds = list_holds(site.store, active_only=True)
    alerts = list_alerts(site.store, unacked=True)
    assert holds and alerts  # the plant was given both
    with site.page("viewer", width=390, height=844) as page:
        open_page(page, "/")
        assert page.get_by_role("heading", level=1).inner_text() == "Dashboard"
        assert page.get_by_test_id("open-holds").inner_text() == f"{len(holds):,}"
        assert page.get_by_test_id("open-alerts").inner_text().rstrip("+") == f"{len(alerts):,}"
        assert page.get_by_test_id("open-holds-list").get_by_role("link").count() == len(holds)
        page.get_by_role("link", name="open hold").click()
        page.wait_for_url("**/ui/holds")
        assert page.get_by_test_id("active-holds").get_by_role("listitem").count() == len(holds)


def test_equipment_list_leads_to_one_machine_and_its_trends(site: Site) -> None:
    name = screenshots.equipment_name(site.samples.equipment)
    with site.page("viewer") as page:
        open_page(page, "/ui/equipment")
        table = page.get_by_test_id("equipment")
        table.get_by_role("link", name=name, exact=True).click()
        page.wait_for_url(f"**/ui/equipment/{name}")
        assert page.get_by_role("heading", level=1).inner_text() == name
        assert page.get_by_test_id("equipment-key").inner_text() == site.samples.equipment
        trends = page.get_by_role("region", name="Parameter trends")
        assert trends.locator("figure").count() >= 1
        assert "Force" in trends.inner_text()
