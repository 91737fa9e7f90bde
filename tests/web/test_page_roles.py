"""The pages' role matrix: every page route, every role, no credentials.

A page answers people, so its refusals are pages too: a caller without credentials is sent to the
login page (GET) or shown a 401 page (POST), a role too low gets a 403 page. ``PAGES`` names, for
each page route, the least role it admits and a request that succeeds for that role; a page
route without a row fails ``test_every_page_is_in_the_matrix``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from threadline.api.app import OPEN_ROUTES, api_routes, create_app
from threadline.api.pages.common import PageRoute
from threadline.config import Settings
from threadline.ingest.readings import MachineReading
from threadline.quality.alerts import AlertChecker
from threadline.quality.holds import place_hold
from threadline.quality.specs import set_spec
from threadline.service import parse_events
from threadline.store.auth import Role

from livekit import PASSWORD, ROLES, World, world_fixture  # noqa: F401 (fixture)
from plantkit import FURNACE, H1, HEADER, X1, receive

Request = tuple[str, dict[str, Any]]

# Who may open a page is decided by the app, not the backend: SQLite suffices.
SQLITE = pytest.mark.parametrize("world", ["sqlite"], indirect=True)


def _new_lot(world: World) -> str:
    lot = f"urn:epc:class:lgtin:4098765.012345.P{uuid.uuid4().hex[:8]}"
    world.store.append(list(parse_events([receive(30, lot, 1)], source="pages")))
    return lot


def _new_alert(world: World) -> int:
    set_spec(world.store, parameter="page_force", usl=10)
    reading = MachineReading(
        f"M-{uuid.uuid4().hex[:8]}",
        "page_force",
        "2026-03-01T07:00:00Z",
        11.0,
        None,
        None,
        "mqtt",
        None,
    )
    return int(AlertChecker().check(world.store, [reading])[0]["id"])


def _new_hold(world: World) -> int:
    return place_hold(world.store, _new_lot(world), reason="pages").id


WINDOW = {"equipment": FURNACE, "from": "2026-03-01T07:00", "to": "2026-03-01T08:00"}

PAGES: dict[tuple[str, str], tuple[str, Callable[[World], Request]]] = {
    ("POST", "/logout"): ("viewer", lambda w: ("/logout", {})),
    ("GET", "/"): ("viewer", lambda w: ("/", {})),
    ("GET", "/ui/search"): ("viewer", lambda w: ("/ui/search", {"params": {"q": "B1"}})),
    ("GET", "/ui/passport"): ("viewer", lambda w: ("/ui/passport", {"params": {"id": X1}})),
    ("GET", "/ui/equipment"): ("viewer", lambda w: ("/ui/equipment", {})),
    ("GET", "/ui/equipment/{equipment:path}"): (
        "viewer",
        lambda w: (f"/ui/equipment/{quote(HEADER, safe='')}", {}),
    ),
    ("GET", "/ui/graph"): ("viewer", lambda w: ("/ui/graph", {"params": {"id": H1}})),
    ("GET", "/ui/recall"): ("viewer", lambda w: ("/ui/recall", {})),
    ("GET", "/ui/recall/scope"): (
        "viewer",
        lambda w: ("/ui/recall/scope", {"params": {"lot": "H1"}}),
    ),
    ("POST", "/ui/recall/holds"): (
        "quality",
        lambda w: ("/ui/recall/holds", {"data": {"ids": _new_lot(w), "reason": "recall"}}),
    ),
    **{
        ("GET", f"/ui/recall/{name}"): (
            "viewer",
            lambda w, name=name: (f"/ui/recall/{name}", {"params": {"lot": "H1"}}),
        )
        for name in ("customers.csv", "customers.xlsx", "scope.csv", "scope.xlsx")
    },
    ("GET", "/ui/alerts"): ("viewer", lambda w: ("/ui/alerts", {"params": {"show": "all"}})),
    ("POST", "/ui/alerts/{alert_id}/ack"): (
        "quality",
        lambda w: (f"/ui/alerts/{_new_alert(w)}/ack", {"data": {}}),
    ),
    ("GET", "/ui/holds"): ("viewer", lambda w: ("/ui/holds", {"params": {"released": "1"}})),
    ("POST", "/ui/holds"): (
        "quality",
        lambda w: ("/ui/holds", {"data": {"identifier": _new_lot(w), "reason": "r"}}),
    ),
    ("POST", "/ui/holds/{hold_id}/release"): (
        "quality",
        lambda w: (f"/ui/holds/{_new_hold(w)}/release", {"data": {"reason": "r"}}),
    ),
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
