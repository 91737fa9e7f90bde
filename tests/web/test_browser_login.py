"""Logging in and out in a browser: the form, its error, the way back to the page asked for."""

from __future__ import annotations

from urllib.parse import quote

from browserkit import Site, open_page, site_fixture  # noqa: F401 (fixture)
from livekit import PASSWORD


def test_wrong_password_shows_the_error_and_keeps_the_name(site: Site) -> None:
    with site.page(None) as page:
        open_page(page, "/login")
        page.get_by_label("Name").fill("quality")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Log in").click()
        alert = page.get_by_role("alert")
        assert "wrong name or password" in alert.inner_text().lower()
        assert page.get_by_label("Name").input_value() == "quality"
        assert page.get_by_label("Password").input_value() == ""
        assert page.get_by_role("button", name="Log out").count() == 0


def test_login_lands_on_the_page_asked_for_and_logout_ends_the_session(site: Site) -> None:
    box = site.samples.box
    asked = f"/ui/passport?id={quote(box, safe='')}"
    with site.page(None) as page:
        open_page(page, asked)  # the login form, after a redirect
        assert "/login?next=" in page.url
        page.get_by_label("Name").fill("viewer")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"**{asked}")
        assert page.get_by_test_id("object-id").inner_text() == box
        assert page.get_by_test_id("user").inner_text().startswith("viewer")
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url("**/login")
        assert page.get_by_role("heading", level=1).inner_text() == "Log in"
        open_page(page, asked)
        assert "/login?next=" in page.url  # the session is over
