"""The pages' role matrix: every page route, every role, no credentials.

A page answers people, so its refusals are pages too: a caller without credentials is sent to the
login page (GET) or shown a 401 page (POST), a role too low gets a 403 page. ``PAGES`` names, for
each page route, the least role it admits and a request that succeeds for that role; a page
route without a row fails ``test_every_page_is_in_the_matrix``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from threadline.api.app import OPEN_ROUTES, api_routes, create_app
from threadline.api.pages.common import PageRoute
from threadline.config import Settings
from threadline.store.auth import Role

from livekit import PASSWORD, ROLES, World, world_fixture  # noqa: F401 (fixture)
from plantkit import H1, X1

Request = tuple[str, dict[str, Any]]

# Who may open a page is decided by the app, not the backend: SQLite suffices.
SQLITE = pytest.mark.parametrize("world", ["sqlite"], indirect=True)

PAGES: dict[tuple[str, str], tuple[str, Callable[[World], Request]]] = {
    ("POST", "/logout"): ("viewer", lambda w: ("/logout", {})),
    ("GET", "/ui/passport"): ("viewer", lambda w: ("/ui/passport", {"params": {"id": X1}})),
}


def _page_routes() -> set[tuple[str, str]]:
    app = create_app(Settings(db="unused.db"))
    return {
        (method, route.path)
        for route in api_routes(app.routes)
        if isinstance(route, PageRoute) and route.always_html
        for method in route.methods
        if method != "HEAD" and route.path not in OPEN_ROUTES
    }


def test_every_page_is_in_the_matrix() -> None:
    assert _page_routes() == set(PAGES)


@SQLITE
@pytest.mark.parametrize("route", sorted(PAGES), ids=lambda r: f"{r[0]} {r[1]}")
@pytest.mark.parametrize("caller", ["nobody", *ROLES])
def test_page_matrix(world: World, route: tuple[str, str], caller: str) -> None:
    least, make = PAGES[route]
    url, kwargs = make(world)
    client = world.anonymous() if caller == "nobody" else world.as_role(caller)
    with client:
        answer = client.request(route[0], url, **kwargs)
    if caller == "nobody":
        if route[0] == "GET":
            assert answer.status_code == 303, answer.text
            assert answer.headers["location"].startswith("/login?next=")
        else:
            assert answer.status_code == 401, answer.text
            assert answer.headers["content-type"].startswith("text/html")
    elif Role[caller] >= Role[least]:
        assert answer.status_code in (200, 303), (caller, route, answer.status_code, answer.text)
    else:
        assert answer.status_code == 403, (caller, route, answer.text)
        assert answer.headers["content-type"].startswith("text/html")
        assert "Not allowed" in answer.text


@SQLITE
def test_login_page_signs_in_and_returns_to_the_page_asked_for(world: World) -> None:
    with world.anonymous() as person:
        asked = person.get("/ui/passport", params={"id": H1})
        assert asked.status_code == 303
        login_url = asked.headers["location"]
        form = person.get(login_url)
        assert form.status_code == 200 and 'name="password"' in form.text
        wrong = person.post(
            "/login", data={"name": "quality", "password": "nope", "next": "/ui/passport"}
        )
        assert wrong.status_code == 401 and "wrong name or password" in wrong.text.lower()
        done = person.post(
            "/login",
            data={"name": "quality", "password": PASSWORD, "next": f"/ui/passport?id={H1}"},
        )
        assert done.status_code == 303 and done.headers["location"] == f"/ui/passport?id={H1}"
        page = person.get(done.headers["location"])
        assert page.status_code == 200 and "quality" in page.text and "Log out" in page.text
        # A logout form without its token is refused; with it, the session ends.
        refused = person.post("/logout", data={})
        assert refused.status_code == 403
        token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        out = person.post("/logout", data={"csrf": token})
        assert out.status_code == 303
        assert person.get("/ui/passport", params={"id": H1}).status_code == 303


@SQLITE
def test_login_never_redirects_off_the_server(world: World) -> None:
    with world.anonymous() as person:
        for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
            done = person.post(
                "/login", data={"name": "viewer", "password": PASSWORD, "next": target}
            )
            assert done.status_code == 303 and done.headers["location"] == "/"
