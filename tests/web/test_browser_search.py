"""Search from the box in every page's header, for each kind of thing a person has at hand.

What names one stored object lands on its passport; anything else lands on the grouped results.
The values are the demo plant's own (plus its serialised bolt and production order).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

from threadline.gs1.keys import canonical

from browserkit import (
    PRODUCTION_ORDER,
    SERIAL,
    Site,
    open_page,
    site_fixture,  # noqa: F401 (fixture)
)


@dataclass(frozen=True)
class Case:
    query: Callable[[Site], str]
    passport: Callable[[Site], str] | None = None  # the object it lands on, if one
    group: str | None = None  # else the result group heading it is listed under
    listed: Callable[[Site], str] | None = None  # part of a key linked in that group


def _lot_code(site: Site) -> str:
    return str(site.samples.lot_code)


def _customer(site: Site) -> str:
    return canonical(site.highlights.customer).key


CASES: dict[str, Case] = {
    "lot code": Case(_lot_code, passport=lambda s: s.samples.lot),
    "serial": Case(lambda s: SERIAL, passport=lambda s: s.plant.serial),
    "SSCC": Case(lambda s: s.samples.sscc, passport=lambda s: s.samples.box),
    "SSCC as EPC URN": Case(
        lambda s: s.highlights.shipped_box,
        passport=lambda s: canonical(s.highlights.shipped_box).key,
    ),
    "GTIN": Case(
        lambda s: s.samples.gtin, group="Lots", listed=lambda s: f"/01/{s.samples.gtin}/10/"
    ),
    "Digital Link on another domain": Case(
        lambda s: f"https://id.example.com/01/{s.samples.gtin}/10/{_lot_code(s)}",
        passport=lambda s: s.samples.lot,
    ),
    "raw scan text": Case(
        lambda s: f"]d201{s.samples.gtin}10{_lot_code(s)}", passport=lambda s: s.samples.lot
    ),
    "element string": Case(
        lambda s: f"(01){s.samples.gtin}(10){_lot_code(s)}", passport=lambda s: s.samples.lot
    ),
    # A whole order number names one stored order: its passport, with the events under it.
    "production order": Case(
        lambda s: PRODUCTION_ORDER.rsplit("/", 1)[1], passport=lambda s: PRODUCTION_ORDER
    ),
    "purchase order": Case(
        lambda s: s.samples.purchase_order.rsplit("/", 1)[1],
        passport=lambda s: canonical(s.samples.purchase_order).key,
    ),
    "start of an order number": Case(
        lambda s: PRODUCTION_ORDER.rsplit("/", 1)[1][:-1],
        group="Orders",
        listed=lambda s: s.plant.serial,
    ),
    "customer GLN": Case(lambda s: _customer(s).rsplit("/", 1)[1], passport=_customer),
    "customer company prefix": Case(
        lambda s: _customer(s).rsplit("/", 1)[1][:7], group="Customers", listed=_customer
    ),
    "heat number": Case(lambda s: s.samples.heat_number, passport=lambda s: s.samples.heat_lot),
}


def _search_from_header(page: Any, text: str) -> None:
    box = page.get_by_role("searchbox", name="Search lots, serials, SSCCs, orders, customers")
    box.fill(text)
    box.press("Enter")
    page.wait_for_url(re.compile(r"/ui/(search|passport)\?"))


@pytest.mark.parametrize("kind", list(CASES))
def test_search_from_the_header_finds_each_kind(site: Site, kind: str) -> None:
    case = CASES[kind]
    text = case.query(site)
    with site.page("viewer") as page:
        open_page(page, "/")
        _search_from_header(page, text)
        if case.passport is not None:
            assert "/ui/passport?" in page.url, f"{text!r} did not land on a passport: {page.url}"
            assert page.get_by_test_id("object-id").inner_text() == case.passport(site)
            return
        assert "/ui/search?" in page.url
        assert page.get_by_role("searchbox", name=re.compile("^Lot, serial")).input_value() == text
        group = page.get_by_role("region", name=re.compile(f"^{case.group}"))
        assert group.count() == 1, f"no {case.group} group for {text!r}"
        links = group.get_by_role("link")
        assert links.count() >= 1
        if case.listed is not None:
            wanted = case.listed(site)
            hrefs = [links.nth(i).get_attribute("href") or "" for i in range(links.count())]
            assert any(quote(wanted, safe="") in h for h in hrefs), (wanted, hrefs)


def test_order_result_leads_to_what_was_made_under_it(site: Site) -> None:
    with site.page("operator", width=390, height=844) as page:
        # The start of the number lists the orders (the whole number opens the order itself).
        open_page(page, "/ui/search?" + "q=" + quote(PRODUCTION_ORDER.rsplit("/", 1)[1][:-1]))
        orders = page.get_by_role("region", name=re.compile("^Orders"))
        assert "Production order" in orders.inner_text()
        orders.get_by_role("link", name=re.compile(SERIAL)).first.click()
        page.wait_for_url("**/ui/passport?**")
        assert page.get_by_test_id("object-id").inner_text() == site.plant.serial


def test_search_page_form_reports_nothing_found(site: Site) -> None:
    with site.page("viewer") as page:
        open_page(page, "/ui/search")
        field = page.get_by_role("searchbox", name=re.compile("^Lot, serial"))
        field.fill("ZZ-NOTHING-LIKE-IT")
        page.get_by_role("main").get_by_role("button", name="Search").click()
        page.wait_for_url("**/ui/search?q=ZZ-NOTHING-LIKE-IT")
        heading = page.get_by_role("heading", name=re.compile("^Nothing found"))
        assert "ZZ-NOTHING-LIKE-IT" in heading.inner_text()
