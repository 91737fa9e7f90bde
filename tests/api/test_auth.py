"""Logging in and out, API tokens, refusals, throttling — and the audit rows they leave."""

from __future__ import annotations

import pytest

from threadline.api.routes.auth import MAX_LOCKOUT, lockout_seconds
from threadline.store.auth import Role, add_user, create_token, disable_user, revoke_token

from livekit import PASSWORD, World, audit_rows, world_fixture  # noqa: F401 (fixture)

X1 = "urn:epc:id:sscc:4012345.0000000001"


def test_login_with_json_sets_an_httponly_lax_session_cookie_and_logout_ends_it(
    world: World,
) -> None:
    with world.anonymous() as client:
        answer = client.post("/auth/login", json={"name": "viewer", "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        assert answer.json()["role"] == "viewer"
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("threadline_session=")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        secret = client.cookies["threadline_session"]
        me = client.get("/auth/me").json()
        assert me == {"name": "viewer", "role": "viewer", "via": "session", "token": None}
        assert client.get("/where", params={"id": X1}).status_code == 200
        bye = client.post("/auth/logout")
        assert bye.status_code == 204
        assert client.get("/auth/me").status_code == 401  # the cookie was cleared
    # Replaying the old cookie after logout: the server-side session is gone.
    with world.live.client(cookies={"threadline_session": secret}) as replay:
        assert replay.get("/auth/me").status_code == 401


def test_login_with_a_form_works_too(world: World) -> None:
    with world.anonymous() as client:
        answer = client.post("/auth/login", data={"name": "operator", "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        assert client.get("/auth/me").json()["role"] == "operator"


def test_wrong_password_and_unknown_user_get_the_same_answer(world: World) -> None:
    with world.anonymous() as client:
        wrong = client.post("/auth/login", json={"name": "quality", "password": "not it at all"})
        nobody = client.post("/auth/login", json={"name": "nobody-here", "password": "whatever"})
    assert wrong.status_code == nobody.status_code == 401
    assert (
        wrong.json()
        == nobody.json()
        == {
            "type": "unauthenticated",
            "title": "wrong name or password",
            "status": 401,
        }
    )
    assert "set-cookie" not in wrong.headers


def test_login_without_a_password_is_a_422_in_the_problem_shape(world: World) -> None:
    with world.anonymous() as client:
        answer = client.post("/auth/login", json={"name": "viewer"})
    assert answer.status_code == 422
    body = answer.json()
    assert body["type"] == "validation_error" and body["status"] == 422
    assert body["errors"] == [{"where": "body/password", "message": "Field required"}]


def test_bearer_token_is_accepted_and_a_revoked_one_refused(world: World) -> None:
    token, secret = create_token(world.store, name="viewer", label="to revoke")
    with world.live.client(headers={"Authorization": f"Bearer {secret}"}) as client:
        assert client.get("/auth/me").json() == {
            "name": "viewer",
            "role": "viewer",
            "via": "token",
            "token": "to revoke",
        }
        revoke_token(world.store, token_id=token.id)
        refused = client.get("/auth/me")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert refused.json()["type"] == "unauthenticated"
    assert "revoked" in refused.json()["title"]


def test_a_made_up_token_is_refused(world: World) -> None:
    for value in ("tl_" + "A" * 43, "not-even-our-format"):
        with world.live.client(headers={"Authorization": f"Bearer {value}"}) as client:
            assert client.get("/auth/me").status_code == 401


def test_disabling_a_user_ends_their_sessions_and_stops_their_tokens(world: World) -> None:
    name = f"leaver-{world.kind}"
    add_user(world.store, name=name, role=Role.operator, password=PASSWORD)
    _, secret = create_token(world.store, name=name)
    with world.anonymous() as person:
        assert person.post("/auth/login", json={"name": name, "password": PASSWORD}).is_success
        assert person.get("/auth/me").status_code == 200
        disable_user(world.store, name=name)
        assert person.get("/auth/me").status_code == 401
        again = person.post("/auth/login", json={"name": name, "password": PASSWORD})
        assert again.status_code == 401 and again.json()["title"] == "wrong name or password"
    with world.live.client(headers={"Authorization": f"Bearer {secret}"}) as machine:
        assert machine.get("/auth/me").status_code == 401


def test_login_logout_failure_and_refusals_are_audited_with_address_and_request_id(
    world: World,
) -> None:
    with world.anonymous() as client:
        failed = client.post(
            "/auth/login",
            json={"name": "admin", "password": "guess"},
            headers={"X-Request-ID": f"fail-{world.kind}"},
        )
        ok = client.post("/auth/login", json={"name": "viewer", "password": PASSWORD})
        forbidden = client.get("/audit")  # a viewer may not read the audit log
        out = client.post("/auth/logout")
    with world.anonymous() as stranger:
        unauthenticated = stranger.get("/where", params={"id": X1})
    assert failed.headers["x-request-id"] == f"fail-{world.kind}"
    expected = {
        failed: ("login", "failed", "admin", None),
        ok: ("login", "ok", "viewer", "viewer"),
        forbidden: ("refused", "forbidden", "viewer", "viewer"),
        out: ("logout", "ok", "viewer", "viewer"),
        unauthenticated: ("refused", "unauthenticated", None, None),
    }
    for answer, (action, outcome, actor, role) in expected.items():
        rows = audit_rows(world.store, answer.headers["x-request-id"])
        assert len(rows) == 1, (answer.request.url, rows)
        row = rows[0]
        assert (row["action"], row["outcome"], row["actor"], row["role"]) == (
            action,
            outcome,
            actor,
            role,
        )
        assert row["address"] == "127.0.0.1"
        assert row["time"].endswith("Z")


def test_repeated_failures_lock_the_name_for_that_address_even_with_the_right_password(
    world: World,
) -> None:
    name = f"target-{world.kind}"
    add_user(world.store, name=name, role=Role.viewer, password=PASSWORD)
    with world.anonymous() as client:
        # The world allows 3 failures before a 30 s lockout.
        for _ in range(3):
            miss = client.post("/auth/login", json={"name": name, "password": "wrong guess"})
            assert miss.status_code == 401
        locked = client.post("/auth/login", json={"name": name, "password": PASSWORD})
        other = client.post("/auth/login", json={"name": "quality", "password": PASSWORD})
    assert locked.status_code == 429
    assert locked.json()["type"] == "too_many_requests"
    assert 1 <= int(locked.headers["retry-after"]) <= 30
    assert locked.json()["retry_after"] == int(locked.headers["retry-after"])
    assert "set-cookie" not in locked.headers
    assert other.status_code == 200  # only that name is locked
    row = audit_rows(world.store, locked.headers["x-request-id"])
    assert [(r["action"], r["outcome"], r["actor"]) for r in row] == [("login", "throttled", name)]


def test_a_successful_login_resets_the_failure_count(world: World) -> None:
    name = f"typo-{world.kind}"
    add_user(world.store, name=name, role=Role.viewer, password=PASSWORD)
    with world.anonymous() as client:
        for _ in range(2):
            assert (
                client.post("/auth/login", json={"name": name, "password": "x"}).status_code == 401
            )
        assert client.post("/auth/login", json={"name": name, "password": PASSWORD}).is_success
        for _ in range(2):
            assert (
                client.post("/auth/login", json={"name": name, "password": "x"}).status_code == 401
            )
        assert client.post("/auth/login", json={"name": name, "password": PASSWORD}).is_success


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [(0, 0.0), (4, 0.0), (5, 30.0), (6, 60.0), (7, 120.0), (9, 480.0), (10, 900.0), (40, 900.0)],
)
def test_lockout_doubles_from_the_fifth_failure_and_is_capped(
    failures: int, seconds: float
) -> None:
    assert lockout_seconds(failures, max_failures=5, base=30.0) == seconds
    assert lockout_seconds(failures, max_failures=5, base=30.0) <= MAX_LOCKOUT
