"""The passport in a browser: what it shows, its links, and scanning a printed label to reach it."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import zxingcpp
from PIL import Image
from typer.testing import CliRunner

from threadline.cli import app

from browserkit import Site, open_page, site_fixture  # noqa: F401 (fixture)


def _passport(id_: str) -> str:
    return f"/ui/passport?id={quote(id_, safe='')}"


def test_box_passport_shows_status_place_and_contents(site: Site) -> None:
    box, sscc = site.samples.box, site.samples.sscc
    with site.page("viewer") as page:
        open_page(page, _passport(box))
        assert sscc in page.get_by_role("heading", level=1).inner_text().replace(" ", "")
        assert page.get_by_test_id("object-id").inner_text() == box
        assert page.get_by_role("status").first.inner_text().strip() == "shipped"
        where = page.get_by_role("region", name="Where it is now")
        assert where.count() == 1
        lot = where.get_by_role("link", name=re.compile(r"\(10\) FL24-"))
        assert lot.count() >= 1
        lot_name = lot.first.inner_text()
        lot.first.click()
        page.wait_for_load_state()
        heading = page.get_by_role("heading", level=1).inner_text()
        assert heading == lot_name  # the lot's own passport
        assert "/10/FL24-" in page.get_by_test_id("object-id").inner_text()
        upstream = page.get_by_role("region", name=re.compile("Made from"))
        assert upstream.get_by_role("link").count() >= 1  # the furnace load it was plated from


def test_heat_lot_passport_shows_its_mill_certificate(site: Site) -> None:
    s = site.samples
    with site.page("viewer") as page:
        open_page(page, _passport(s.heat_lot))
        assert page.get_by_test_id("object-id").inner_text() == s.heat_lot
        text = page.locator("main").inner_text()
        assert s.heat_number in text
        assert "cert/" in text  # the certificate's address from the receiving event
        downstream = page.get_by_role("region", name=re.compile("Went into"))
        assert downstream.get_by_role("link").count() >= 1


def test_unknown_object_gives_a_not_found_page(site: Site) -> None:
    missing = "urn:epc:id:sscc:4012345.9999999999"
    with site.page("viewer") as page:
        open_page(page, _passport(missing), status=404)
        assert page.get_by_role("heading", level=1).inner_text() == "Not found"
        assert "4012345.9999999999" in page.locator("main").inner_text()


@pytest.mark.parametrize("what", ["box", "lot"])
def test_scanned_label_opens_the_passport(site: Site, tmp_path: Path, what: str) -> None:
    """Print a QR label (on this server's address), read it back, open what it says."""
    key = getattr(site.samples, what)
    png = tmp_path / "label.png"
    printed = CliRunner().invoke(
        app,
        ["label", key, "-o", str(png), "--db", site.live.settings.db],
        env={"THREADLINE_RESOLVER_BASE": site.url},
    )
    assert printed.exit_code == 0, printed.output
    found = zxingcpp.read_barcodes(Image.open(png))
    assert len(found) == 1, found
    uri = found[0].text
    assert uri.startswith(site.url + ("/00/" if what == "box" else "/01/")), uri
    with site.page("viewer", width=390, height=844) as page:
        open_page(page, uri)
        assert urlsplit(page.url).path == urlsplit(uri).path  # served in place, no redirect
        assert page.get_by_test_id("object-id").inner_text() == key


def test_digital_link_path_asks_for_login_first(site: Site) -> None:
    path = f"/00/{site.samples.sscc}"
    with site.page(None) as page:
        open_page(page, path)
        assert "/login" in page.url
