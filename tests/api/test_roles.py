"""The role x endpoint matrix: every route, every role, no credentials and a revoked token.

``MATRIX`` names, for each route of the app, the least role it admits and a request that succeeds
for that role. A route added to the app without a row here fails
``test_every_route_is_in_the_matrix``; add its row.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
import pytest

from threadline.api.app import OPEN_ROUTES, api_routes, check_routes, create_app
from threadline.api.deps import Viewer
from threadline.api.pages.common import PageRoute
from threadline.config import Settings
from threadline.gs1.digital_link import to_dl_from_epc_urn
from threadline.ingest.readings import MachineReading
from threadline.ingest.stations import set_station
from threadline.quality.alerts import AlertChecker
from threadline.quality.holds import place_hold
from threadline.quality.specs import set_spec
from threadline.service import parse_events
from threadline.store import subscriptions
from threadline.store.auth import Role, add_user, create_token, list_users, revoke_token

from livekit import PASSWORD, ROLES, World, world_fixture  # noqa: F401 (fixture)
from plantkit import H1, HEADER, WAREHOUSE, X1, document, receive

Request = tuple[str, dict[str, Any]]  # url, keyword arguments for httpx


def _new_user(world: World) -> str:
    name = f"u-{uuid.uuid4().hex[:10]}"
    add_user(world.store, name=name, role=Role.viewer, password=PASSWORD)
    return name


def _new_token(world: World) -> int:
    return create_token(world.store, name="viewer", label="matrix")[0].id


def _new_event() -> bytes:
    return orjson.dumps(
        receive(30, f"urn:epc:class:lgtin:4098765.012345.M{uuid.uuid4().hex[:8]}", 1)
    )


def _new_document() -> bytes:
    return orjson.dumps(document([orjson.loads(_new_event())]))


def _new_job(world: World) -> str:
    with world.as_role("operator") as client:
        answer = client.post("/capture", content=_new_document())
    assert answer.status_code == 202, answer.text
    return str(answer.json()["captureID"])


def _first_event_id(world: World) -> str:
    with world.store.reader() as reader:
        return str(reader.query("SELECT event_id FROM events ORDER BY id LIMIT 1")[0][0])


def _new_query(world: World) -> str:
    name = f"q-{uuid.uuid4().hex[:10]}"
    subscriptions.create_query(world.store, name, {"EQ_bizStep": ["shipping"]}, user=None)
    return name


# A schedule that fires on 1 January only: nothing is delivered while the matrix runs.
NEW_YEAR = {"dest": "http://127.0.0.1:9/hook", "schedule": {"month": "1"}}


def _new_subscription(world: World) -> str:
    name = _new_query(world)
    made = subscriptions.create_subscription(
        world.store,
        subscriptions.Subscription(
            id=subscriptions.new_subscription_id(),
            query_name=name,
            dest=NEW_YEAR["dest"],
            secret=None,
            stream=False,
            schedule=NEW_YEAR["schedule"],
            report_if_empty=False,
            format="jsonld",
            epc_format="dl",
        ),
    )
    return f"/queries/{name}/subscriptions/{made.id}"


def _new_scan(world: World) -> dict[str, Any]:
    set_station(world.store, "urn:epc:id:sgln:4012345.00001.MATRIX", biz_step="packing")
    return {
        "json": {
            "station": "urn:epc:id:sgln:4012345.00001.MATRIX",
            "data": "]d2010952012345678810" + uuid.uuid4().hex[:8].upper(),
        }
    }


# One stored object per GS1 Digital Link primary key the resolver answers for.
RESOLVABLE = {
    "00": X1,
    "01": H1,
    "414": WAREHOUSE,
    "417": "urn:epc:id:pgln:4055555.00000",
    "8003": "urn:epc:id:grai:4012345.00001.R-1",
    "8004": "urn:epc:id:giai:4012345.PRESS-7",
    "253": "urn:epc:id:gdti:4012345.00001.CERT-1",
}


def _resolvable(world: World, epc: str) -> str:
    """The Digital Link path of ``epc``, stored first (once) if the plant lacks such a key."""
    event = {
        "type": "ObjectEvent",
        "eventID": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, epc)}",
        "eventTime": "2026-03-01T09:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "epcList": [epc],
    }
    world.store.append(list(parse_events([event], source="matrix")))
    return urlsplit(to_dl_from_epc_urn(epc)).path


def _new_lot(world: World) -> str:
    lot = f"urn:epc:class:lgtin:4098765.012345.Q{uuid.uuid4().hex[:8]}"
    world.store.append(list(parse_events([orjson.loads(_new_event_of(lot))], source="matrix")))
    return lot


def _new_event_of(lot: str) -> bytes:
    return orjson.dumps(receive(30, lot, 1))


def _new_hold(world: World) -> int:
    return place_hold(world.store, _new_lot(world), reason="matrix").id


def _new_alert(world: World) -> int:
    set_spec(world.store, parameter="matrix_force", usl=10)
    equipment = f"M-{uuid.uuid4().hex[:8]}"
    reading = MachineReading(
        equipment, "matrix_force", "2026-03-01T07:00:00Z", 11.0, None, None, "mqtt", None
    )
    return int(AlertChecker().check(world.store, [reading])[0]["id"])


def _quoted(value: str) -> str:
    return quote(value, safe="")


WINDOW = {"equipment": HEADER, "from": "2026-03-01T07:00:00Z", "to": "2026-03-01T08:00:00Z"}

MATRIX: dict[tuple[str, str], tuple[str, Callable[[World], Request]]] = {
    ("GET", "/auth/me"): ("viewer", lambda w: ("/auth/me", {})),
    ("POST", "/auth/logout"): ("viewer", lambda w: ("/auth/logout", {})),
    ("GET", "/openapi.json"): ("viewer", lambda w: ("/openapi.json", {})),
    ("GET", "/trace/backward"): ("viewer", lambda w: ("/trace/backward", {"params": {"id": X1}})),
    ("GET", "/trace/forward"): ("viewer", lambda w: ("/trace/forward", {"params": {"id": H1}})),
    ("POST", "/recall"): ("viewer", lambda w: ("/recall", {"json": {"ids": [H1]}})),
    ("GET", "/where"): ("viewer", lambda w: ("/where", {"params": {"id": X1}})),
    ("GET", "/window"): ("viewer", lambda w: ("/window", {"params": WINDOW})),
    ("GET", "/users"): ("admin", lambda w: ("/users", {})),
    ("POST", "/users"): (
        "admin",
        lambda w: (
            "/users",
            {"json": {"name": f"n-{uuid.uuid4().hex[:8]}", "role": "viewer", "password": PASSWORD}},
        ),
    ),
    ("POST", "/users/{name}/disable"): (
        "admin",
        lambda w: (f"/users/{_new_user(w)}/disable", {}),
    ),
    ("GET", "/tokens"): ("admin", lambda w: ("/tokens", {})),
    ("POST", "/tokens"): ("admin", lambda w: ("/tokens", {"json": {"user": "viewer"}})),
    ("DELETE", "/tokens/{token_id}"): ("admin", lambda w: (f"/tokens/{_new_token(w)}", {})),
    ("GET", "/audit"): ("admin", lambda w: ("/audit", {})),
    ("OPTIONS", "/capture"): ("viewer", lambda w: ("/capture", {})),
    ("POST", "/capture"): ("operator", lambda w: ("/capture", {"content": _new_document()})),
    ("GET", "/capture"): ("viewer", lambda w: ("/capture", {})),
    ("GET", "/capture/{capture_id}"): ("viewer", lambda w: (f"/capture/{_new_job(w)}", {})),
    ("POST", "/events"): ("operator", lambda w: ("/events", {"content": _new_event()})),
    ("GET", "/events"): ("viewer", lambda w: ("/events", {})),
    ("GET", "/events/{event_id:path}"): (
        "viewer",
        lambda w: (f"/events/{_quoted(_first_event_id(w))}", {}),
    ),
    ("GET", "/epcs/{epc:path}/events"): ("viewer", lambda w: (f"/epcs/{_quoted(X1)}/events", {})),
    ("GET", "/eventTypes"): ("viewer", lambda w: ("/eventTypes", {})),
    ("GET", "/eventTypes/{event_type}/events"): (
        "viewer",
        lambda w: ("/eventTypes/ObjectEvent/events", {}),
    ),
    ("GET", "/bizSteps"): ("viewer", lambda w: ("/bizSteps", {})),
    ("GET", "/bizSteps/{value:path}/events"): (
        "viewer",
        lambda w: ("/bizSteps/shipping/events", {}),
    ),
    ("GET", "/bizLocations"): ("viewer", lambda w: ("/bizLocations", {})),
    ("GET", "/bizLocations/{value:path}/events"): (
        "viewer",
        lambda w: (f"/bizLocations/{_quoted(WAREHOUSE)}/events", {}),
    ),
    ("GET", "/readPoints"): ("viewer", lambda w: ("/readPoints", {})),
    ("GET", "/readPoints/{value:path}/events"): (
        "viewer",
        lambda w: (f"/readPoints/{_quoted(HEADER)}/events", {}),
    ),
    ("GET", "/dispositions"): ("viewer", lambda w: ("/dispositions", {})),
    ("GET", "/dispositions/{value:path}/events"): (
        "viewer",
        lambda w: ("/dispositions/in_transit/events", {}),
    ),
    ("POST", "/queries"): (
        "operator",
        lambda w: (
            "/queries",
            {"json": {"name": f"q-{uuid.uuid4().hex[:10]}", "query": {"EQ_bizStep": "shipping"}}},
        ),
    ),
    ("GET", "/queries"): ("viewer", lambda w: ("/queries", {})),
    ("GET", "/queries/{query_name}"): ("viewer", lambda w: (f"/queries/{_new_query(w)}", {})),
    ("DELETE", "/queries/{query_name}"): (
        "operator",
        lambda w: (f"/queries/{_new_query(w)}", {}),
    ),
    ("GET", "/queries/{query_name}/events"): (
        "viewer",
        lambda w: (f"/queries/{_new_query(w)}/events", {}),
    ),
    ("POST", "/queries/{query_name}/subscriptions"): (
        "operator",
        lambda w: (f"/queries/{_new_query(w)}/subscriptions", {"json": NEW_YEAR}),
    ),
    ("GET", "/queries/{query_name}/subscriptions"): (
        "viewer",
        lambda w: (f"/queries/{_new_query(w)}/subscriptions", {}),
    ),
    ("GET", "/queries/{query_name}/subscriptions/{subscription_id}"): (
        "viewer",
        lambda w: (_new_subscription(w), {}),
    ),
    ("DELETE", "/queries/{query_name}/subscriptions/{subscription_id}"): (
        "operator",
        lambda w: (_new_subscription(w), {}),
    ),
    ("POST", "/scans"): ("operator", lambda w: ("/scans", _new_scan(w))),
    ("GET", "/labels/{id:path}"): ("viewer", lambda w: (f"/labels/{_quoted(X1)}", {})),
    ("GET", "/labels"): ("viewer", lambda w: ("/labels", {"params": {"id": [X1, H1]}})),
    ("GET", "/specs"): ("viewer", lambda w: ("/specs", {})),
    ("POST", "/specs"): (
        "quality",
        lambda w: ("/specs", {"json": {"parameter": "matrix_force", "usl": 10}}),
    ),
    ("GET", "/alerts"): ("viewer", lambda w: ("/alerts", {})),
    ("POST", "/alerts/{alert_id}/ack"): ("quality", lambda w: (f"/alerts/{_new_alert(w)}/ack", {})),
    ("POST", "/alerts/subscriptions"): (
        "quality",
        lambda w: ("/alerts/subscriptions", {"json": {"dest": "http://127.0.0.1:9/hook"}}),
    ),
    ("GET", "/alerts/subscriptions"): ("viewer", lambda w: ("/alerts/subscriptions", {})),
    ("GET", "/alerts/subscriptions/{subscription_id}"): (
        "viewer",
        lambda w: (
            "/alerts/subscriptions/"
            + subscriptions.create_alert_subscription(w.store, "http://127.0.0.1:9/hook").id,
            {},
        ),
    ),
    ("GET", "/alerts/subscriptions/{subscription_id}/deliveries"): (
        "viewer",
        lambda w: (
            "/alerts/subscriptions/"
            + subscriptions.create_alert_subscription(w.store, "http://127.0.0.1:9/hook").id
            + "/deliveries",
            {},
        ),
    ),
    ("DELETE", "/alerts/subscriptions/{subscription_id}"): (
        "quality",
        lambda w: (
            "/alerts/subscriptions/"
            + subscriptions.create_alert_subscription(w.store, "http://127.0.0.1:9/hook").id,
            {},
        ),
    ),
    ("GET", "/holds"): ("viewer", lambda w: ("/holds", {"params": {"object": H1}})),
    ("POST", "/holds"): (
        "quality",
        lambda w: ("/holds", {"json": {"object": _new_lot(w), "reason": "matrix"}}),
    ),
    ("POST", "/holds/{hold_id}/release"): (
        "quality",
        lambda w: (f"/holds/{_new_hold(w)}/release", {"json": {"reason": "matrix"}}),
    ),
    # The Digital Link resolver: viewer here, since the world runs with the public setting off.
    **{
        ("GET", f"/{ai}/{{key:path}}"): ("viewer", lambda w, epc=epc: (_resolvable(w, epc), {}))
        for ai, epc in RESOLVABLE.items()
    },
}


def _routes() -> set[tuple[str, str]]:
    """The API's routes (the pages have a matrix of their own in tests/web)."""
    app = create_app(Settings(db="unused.db"))
    return {
        (method, route.path)
        for route in api_routes(app.routes)
        for method in route.methods
        if method != "HEAD" and not (isinstance(route, PageRoute) and route.always_html)
    }


def test_every_route_is_in_the_matrix() -> None:
    routes = _routes()
    unguarded = {r for r in routes if r[1] in OPEN_ROUTES}
    assert unguarded == {("GET", "/health"), ("POST", "/auth/login")}
    assert routes - unguarded == set(MATRIX)


def test_an_app_with_a_route_that_declares_no_role_is_refused() -> None:
    app = create_app(Settings(db="unused.db"))

    @app.get("/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    with pytest.raises(RuntimeError, match="/forgotten declares no role"):
        check_routes(app.routes)

    @app.get("/remembered")
    def remembered(_caller: Viewer) -> dict[str, str]:
        return {}

    app.router.routes = [r for r in app.routes if getattr(r, "path", "") != "/forgotten"]
    check_routes(app.routes)


CALLERS = ["nobody", "revoked", *ROLES]


@pytest.fixture(scope="module")
def revoked(world: World) -> str:
    token, secret = create_token(world.store, name="admin", label="revoked admin")
    revoke_token(world.store, token_id=token.id)
    return secret


@pytest.mark.parametrize("route", sorted(MATRIX), ids=lambda r: f"{r[0]} {r[1]}")
@pytest.mark.parametrize("caller", CALLERS)
def test_role_matrix(world: World, revoked: str, route: tuple[str, str], caller: str) -> None:
    least, make = MATRIX[route]
    url, kwargs = make(world)
    if caller == "nobody":
        client, expected = world.anonymous(), 401
    elif caller == "revoked":
        client = world.live.client(headers={"Authorization": f"Bearer {revoked}"})
        expected = 401
    else:
        client = world.as_role(caller)
        expected = 200 if Role[caller] >= Role[least] else 403
    with client:
        answer = client.request(route[0], url, **kwargs)
    if expected == 200:
        assert answer.is_success, (caller, route, answer.status_code, answer.text)
    else:
        assert answer.status_code == expected, (caller, route, answer.text)
        body = answer.json()
        assert body["status"] == expected
        assert body["type"] == ("unauthenticated" if expected == 401 else "forbidden")
        assert answer.headers["content-type"] == "application/problem+json"


def test_health_needs_no_credentials(world: World) -> None:
    with world.anonymous() as client:
        answer = client.get("/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "index": True}


def test_a_refused_write_changes_nothing(world: World) -> None:
    before = {u.name for u in list_users(world.store)}
    name = f"sneaky-{world.kind}"
    for role in ("viewer", "operator", "quality"):
        with world.as_role(role) as client:
            answer = client.post(
                "/users", json={"name": name, "role": "admin", "password": PASSWORD}
            )
        assert answer.status_code == 403
    assert {u.name for u in list_users(world.store)} == before


def test_admin_creates_a_user_who_can_then_log_in(world: World) -> None:
    name = f"new-{world.kind}"
    with world.as_role("admin") as admin:
        made = admin.post("/users", json={"name": name, "role": "quality", "password": PASSWORD})
        again = admin.post("/users", json={"name": name, "role": "quality", "password": PASSWORD})
        weak = admin.post("/users", json={"name": name + "2", "role": "viewer", "password": "x"})
    assert made.status_code == 201 and made.json()["role"] == "quality"
    assert again.status_code == 409 and again.json()["type"] == "conflict"
    assert weak.status_code == 422 and weak.json()["errors"][0]["where"] == "body/password"
    with world.anonymous() as person:
        login = person.post("/auth/login", json={"name": name, "password": PASSWORD})
    assert login.status_code == 200 and login.json()["role"] == "quality"


def test_a_token_made_over_http_is_shown_once_and_works(world: World) -> None:
    with world.as_role("admin") as admin:
        made = admin.post("/tokens", json={"user": "operator", "label": "line 3 scanner"})
        listed = admin.get("/tokens").json()
    assert made.status_code == 201
    secret = made.json()["token"]
    assert secret.startswith("tl_")
    assert all("token" not in t and secret not in str(t) for t in listed)
    with world.live.client(headers={"Authorization": f"Bearer {secret}"}) as machine:
        assert machine.get("/auth/me").json()["token"] == "line 3 scanner"
