"""The recall workflow in a browser: suspects in, scope out, customer list downloaded, holds."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import TYPE_CHECKING

from threadline.genealogy import recall
from threadline.gs1.keys import canonical
from threadline.quality.holds import list_holds

from browserkit import Site, open_page, site_fixture  # noqa: F401 (fixture)

if TYPE_CHECKING:
    from playwright.sync_api import Page

_BY_OBJECT = ("By object", "Identifiers, one per line")
_BY_LOT = ("By supplier lot", "Supplier lot code or heat number")


def _ask_scope(page: Page, form: tuple[str, str], value: str) -> None:
    """Open the recall form, fill one of its forms with ``value`` and press Show scope."""
    open_page(page, "/ui/recall")
    region = page.get_by_role("region", name=form[0])
    region.get_by_label(form[1]).fill(value)
    region.get_by_role("button", name="Show scope").click()


def _expected_customers(site: Site, suspect: str) -> dict[tuple[str, str], float]:
    with site.store.reader() as reader:
        scope = recall(reader, [suspect])
    return {(c.id, item.id): float(item.quantity or 0) for c in scope.customers for item in c.items}


def test_recall_of_a_heat_lot_down_to_the_customer_list(site: Site, tmp_path: Path) -> None:
    heat_lot = site.highlights.heat_lot
    expected = _expected_customers(site, heat_lot)
    customers = {customer for customer, _ in expected}
    assert canonical(site.highlights.customer).key in customers  # the plant's own promise
    with site.page("viewer") as page:
        _ask_scope(page, _BY_OBJECT, heat_lot)
        page.wait_for_url("**/ui/recall/scope?**")
        assert page.get_by_test_id("customer-count").inner_text() == str(len(customers))
        shipped = page.get_by_role("region", name=re.compile("Shipped to customers"))
        assert shipped.get_by_test_id("customer").count() == len(customers)
        with page.expect_download() as info:
            page.get_by_role("link", name="Customer list (CSV)").click()
        download = info.value
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
    assert saved.suffix == ".csv"
    with saved.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    got = {(row["customer"], row["item"]): float(row["quantity"]) for row in rows}
    assert got == expected
    assert all(int(row["shipments"]) >= 1 and row["last_shipped"] for row in rows)


def test_recall_by_heat_number_shows_the_supplier_lot(site: Site) -> None:
    s = site.samples
    expected = _expected_customers(site, s.heat_lot)
    with site.page("viewer", width=390, height=844) as page:
        _ask_scope(page, _BY_LOT, s.heat_number)
        page.wait_for_url("**/ui/recall/scope?**")
        head = page.get_by_role("region", name=page.get_by_role("heading", level=1).inner_text())
        assert s.heat_number in head.inner_text()
        customers = {customer for customer, _ in expected}
        assert page.get_by_test_id("customer-count").inner_text() == str(len(customers))


def test_unknown_lot_returns_to_the_form_with_the_fault(site: Site) -> None:
    with site.page("viewer") as page:
        _ask_scope(page, _BY_LOT, "NO-SUCH-HEAT-0")
        page.wait_for_load_state()
        assert "NO-SUCH-HEAT-0" in page.get_by_role("alert").inner_text()
        assert page.get_by_label("Supplier lot code or heat number").input_value() == (
            "NO-SUCH-HEAT-0"
        )


def test_quality_holds_what_is_in_stock_from_the_scope(site: Site) -> None:
    heat_lot = site.highlights.heat_lot
    before = {h.id for h in list_holds(site.store, active_only=True)}
    with site.page("quality") as page:
        _ask_scope(page, _BY_OBJECT, heat_lot)
        page.wait_for_url("**/ui/recall/scope?**")
        button = page.get_by_role("button", name=re.compile(r"^Hold \d+ in-stock object"))
        count = int(re.findall(r"\d+", button.inner_text())[0])
        assert count >= 1
        page.get_by_label("Reason for the hold").fill("Recall: heat outside tensile spec")
        button.click()
        page.wait_for_url("**held=**")
        assert f"Placed {count} hold" in page.get_by_test_id("held").inner_text()
        assert page.get_by_test_id("all-held").count() == 1
        new = [h for h in list_holds(site.store, active_only=True) if h.id not in before]
        assert len(new) == count
        assert all(h.reason == "Recall: heat outside tensile spec" for h in new)
        open_page(page, "/ui/holds")
        active = page.get_by_test_id("active-holds")
        for hold in new:
            assert active.locator(f"#hold-{hold.id}").count() == 1
