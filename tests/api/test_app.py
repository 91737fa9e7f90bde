"""The app's plumbing: public routes, the error shape, request ids, write auditing, settings."""

from __future__ import annotations

import socket
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import orjson
import pytest
from fastapi import Depends

from threadline.api.app import create_app
from threadline.api.deps import Admin, require
from threadline.api.server import bind
from threadline.config import Settings
from threadline.errors import InvalidInput
from threadline.store import Store, audit, open_store
from threadline.store.auth import (
    Principal,
    Role,
    add_user,
    create_token,
    open_session,
    principal_for_session,
)
from threadline.store.writer_process import ProcessGroupCommitter

from livekit import (  # noqa: F401 (fixture)
    PASSWORD,
    LiveServer,
    World,
    audit_rows,
    fresh_database,
    settings_for,
    start_server,
    world_fixture,
)
from plantkit import document, receive


@pytest.fixture(params=[False, True], ids=["resolver-closed", "resolver-public"])
def probe(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[LiveServer, str]]:
    """A server with extra routes: a public one, and two that fail unexpectedly."""
    with fresh_database("sqlite", tmp_path) as db:
        with open_store(db) as store:
            add_user(store, name="boss", role=Role.admin, password=PASSWORD)
            _, token = create_token(store, name="boss")
        settings = settings_for(db, public_resolver=request.param)
        app = create_app(settings)

        @app.get("/resolve")
        def resolve(
            caller: Annotated[Principal, Depends(require(Role.viewer, public=True))],
        ) -> dict[str, str]:
            return {"caller": caller.name, "via": caller.via}

        @app.get("/boom")
        def boom(_caller: Admin) -> None:
            raise RuntimeError("a bug")

        @app.post("/boom")
        def boom_write(_caller: Admin) -> None:
            raise RuntimeError("a bug in a write")

        live = start_server(settings, app=app)
        try:
            yield live, token
        finally:
            live.stop()


def test_a_public_route_is_open_only_when_the_setting_says_so(
    probe: tuple[LiveServer, str],
) -> None:
    live, token = probe
    with live.client() as anonymous:
        answer = anonymous.get("/resolve")
        private = anonymous.get("/auth/me")
    assert private.status_code == 401  # other routes stay closed either way
    if live.settings.public_resolver:
        assert answer.status_code == 200
        assert answer.json() == {"caller": "anonymous", "via": "public"}
    else:
        assert answer.status_code == 401
    with live.client(headers={"Authorization": f"Bearer {token}"}) as known:
        assert known.get("/resolve").json() == {"caller": "boss", "via": "token"}
    with live.client(headers={"Authorization": "Bearer tl_forged"}) as forged:
        assert forged.get("/resolve").status_code == 401  # bad credentials are never ignored


def test_an_unexpected_failure_is_a_500_problem_and_a_failed_write_is_audited(
    probe: tuple[LiveServer, str],
) -> None:
    live, token = probe
    auth = {"Authorization": f"Bearer {token}"}
    # One connection each: the server closes a connection whose request failed unexpectedly.
    with live.client(headers=auth) as client:
        read = client.get("/boom")
    with live.client(headers=auth) as client:
        write = client.post("/boom", headers={"X-Request-ID": "boom-write-1"})
    for answer in (read, write):
        assert answer.status_code == 500
        body = answer.json()
        assert body["type"] == "internal_error" and body["status"] == 500
        assert "a bug" not in body["title"]  # internals stay in the server log
    assert "boom-write-1" in write.json()["title"]
    with open_store(live.settings.db) as store:
        rows = audit_rows(store, "boom-write-1")
    assert [(r["action"], r["outcome"], r["actor"]) for r in rows] == [
        ("POST /boom", "error 500", "boss (token 1)")
    ]


def test_request_ids_are_echoed_or_made_up(world: World) -> None:
    with world.as_role("viewer") as client:
        given = client.get("/auth/me", headers={"X-Request-ID": "line-3.scan:42"})
        odd = client.get("/auth/me", headers={"X-Request-ID": "no spaces <allowed>"})
        none = client.get("/auth/me")
    assert given.headers["x-request-id"] == "line-3.scan:42"
    assert len(odd.headers["x-request-id"]) == 32 and " " not in odd.headers["x-request-id"]
    assert none.headers["x-request-id"] != odd.headers["x-request-id"]


def test_failed_writes_are_audited_by_route_with_their_status(world: World) -> None:
    with world.as_role("admin") as admin:
        taken = admin.post(
            "/users", json={"name": "viewer", "role": "viewer", "password": PASSWORD}
        )
        invalid = admin.post("/users", json={"name": "x", "role": "emperor", "password": PASSWORD})
        missing = admin.post("/users/ghost/disable")
    expected = {taken: "error 409", invalid: "error 422", missing: "error 404"}
    for answer, outcome in expected.items():
        rows = audit_rows(world.store, answer.headers["x-request-id"])
        assert len(rows) == 1, rows
        assert rows[0]["outcome"] == outcome
        assert rows[0]["actor"] == "admin (token admin bot)" and rows[0]["role"] == "admin"
        assert rows[0]["action"] in ("POST /users", "POST /users/{name}/disable")
        assert rows[0]["target"] == answer.request.url.path


def test_a_json_body_that_is_not_utf8_is_a_422_naming_the_byte(world: World) -> None:
    """Found by schemathesis: it was a 400 "There was an error parsing the body"."""
    with world.as_role("admin") as admin:
        answer = admin.post(
            "/tokens",
            content=b'{"user": "\xff"}',
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == "validation_error"
    assert answer.json()["errors"] == [
        {"where": "body", "message": "not UTF-8 text (byte 0xff at offset 10)"}
    ]


def test_a_nul_character_is_a_400_naming_where_it_is_not_a_500(world: World) -> None:
    """Found by schemathesis: PostgreSQL text cannot hold NUL; psycopg's refusal was a 500."""
    with world.as_role("admin") as admin:
        query = admin.get("/trace/forward", params={"id": "urn:x:\x00"})
        path = admin.get("/capture/a%00b")
        body = admin.post("/tokens", json={"user": "a\x00b"})
    if world.kind == "sqlite":  # SQLite text holds NUL: such names are merely unknown
        assert [a.status_code for a in (query, path, body)] == [404, 404, 404]
        return
    expected = [
        (query, "query parameter 'id'"),
        (path, "path parameter 'capture_id'"),
        (body, "the body"),
    ]
    for answer, where in expected:
        assert answer.status_code == 400, answer.text
        assert answer.json()["type"] == "invalid_input"
        assert answer.json()["title"].startswith(f"{where} holds a NUL character (\\x00)")


def test_the_openapi_document_describes_every_error_as_a_problem() -> None:
    document = create_app(Settings(db=":memory:")).openapi()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # FastAPI's shape, which this app never sends
    assert schemas["Problem"]["required"] == ["type", "title", "status"]
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            answers = operation["responses"]
            if operation.get("security"):
                assert {"401", "403"} <= set(answers), (method, path)
            for status, answer in answers.items():
                if status[0] in "45":
                    assert answer["content"]["application/problem+json"] == problem, (
                        method,
                        path,
                        status,
                    )
    assert "security" not in document["paths"]["/health"]["get"]
    assert "401" not in document["paths"]["/health"]["get"]["responses"]


def test_audit_listing_over_http_filters_by_time_and_keeps_the_newest(world: World) -> None:
    with world.as_role("admin") as admin:
        everything = admin.get("/audit", params={"limit": 10_000}).json()
        newest = admin.get("/audit", params={"limit": 2}).json()
        future = admin.get("/audit", params={"since": "2999-01-01T00:00:00Z"}).json()
        bad = admin.get("/audit", params={"since": "soon"})
    assert len(everything) >= 2
    assert [e["id"] for e in everything] == sorted(e["id"] for e in everything)
    assert newest == everything[-2:]
    assert future == []
    assert bad.status_code == 400 and bad.json()["title"].startswith("since:")


def test_openapi_needs_credentials_and_documents_the_routes(world: World) -> None:
    with world.anonymous() as anonymous:
        assert anonymous.get("/openapi.json").status_code == 401
        assert anonymous.get("/docs").status_code == 404  # no CDN-backed docs page
    with world.as_role("viewer") as client:
        spec = client.get("/openapi.json").json()
    assert {"/trace/backward", "/recall", "/auth/login", "/users", "/audit"} <= set(spec["paths"])
    schemes = spec["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}


def test_the_audit_log_refuses_update_and_delete_in_the_database(store: Store) -> None:
    audit.record(store, action="login", outcome="ok", actor="ann")
    statements = ["UPDATE audit_log SET outcome = 'failed'", "DELETE FROM audit_log"]
    if store.engine.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_log")
    for statement in statements:
        with pytest.raises(Exception, match="append-only"), store.reader() as r:
            r.cursor.execute(statement)
    assert [e.outcome for e in audit.entries(store)] == ["ok"]


def test_an_expired_session_is_no_session(store: Store) -> None:
    user = add_user(store, name="ann", role=Role.viewer, password=PASSWORD)
    live, _ = open_session(store, user=user, hours=1, address=None)
    dead, _ = open_session(store, user=user, hours=-1, address=None)
    assert principal_for_session(store, live) is not None
    assert principal_for_session(store, dead) is None
    assert principal_for_session(store, "made-up") is None


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("THREADLINE_PORT", "eighty", "THREADLINE_PORT must be an integer from 0 to 65535"),
        ("THREADLINE_PORT", "70000", "THREADLINE_PORT must be an integer from 0 to 65535"),
        ("THREADLINE_PORT", "\u00b3", "THREADLINE_PORT must be an integer from 0 to 65535"),
        ("THREADLINE_GRAPH_INDEX", "maybe", "THREADLINE_GRAPH_INDEX must be one of auto, on, off"),
        ("THREADLINE_PUBLIC_RESOLVER", "perhaps", "THREADLINE_PUBLIC_RESOLVER must be 1 or 0"),
        ("THREADLINE_SESSION_HOURS", "-2", "THREADLINE_SESSION_HOURS must be a positive number"),
        ("THREADLINE_LOGIN_MAX_FAILURES", "0", "THREADLINE_LOGIN_MAX_FAILURES must be an integer"),
    ],
)
def test_bad_service_settings_are_clear_errors(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidInput, match=message):
        Settings.from_env()


def test_service_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "THREADLINE_HOST": "0.0.0.0",
        "THREADLINE_PORT": "9001",
        "THREADLINE_GRAPH_INDEX": "ON",
        "THREADLINE_PUBLIC_RESOLVER": "1",
        "THREADLINE_SESSION_HOURS": "0.5",
        "THREADLINE_COOKIE_SECURE": "yes",
        "THREADLINE_WEBHOOK_DELIVERY": "0",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env(db="x.db")
    assert (settings.host, settings.port, settings.graph_index) == ("0.0.0.0", 9001, "on")
    assert settings.public_resolver and settings.cookie_secure
    assert not settings.webhook_delivery and Settings().webhook_delivery
    assert settings.session_hours == 0.5


def test_small_answers_are_not_held_back_by_nagle(world: World) -> None:
    """The listening socket is explicitly TCP, so asyncio sets TCP_NODELAY on connections;
    otherwise each small answer waits ~40 ms for the client's delayed ACK."""
    with bind("127.0.0.1", 0) as sock:
        assert sock.proto == socket.IPPROTO_TCP
    with world.anonymous() as client:
        client.get("/health")
        took = []
        for _ in range(25):
            started = time.perf_counter()
            assert client.get("/health").status_code == 200
            took.append(time.perf_counter() - started)
    assert statistics.median(took) < 0.035, took


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@pytest.mark.parametrize("enabled", [True, False], ids=["process-on", "process-off"])
def test_captures_commit_through_a_writer_process_on_sqlite(
    backend: str, enabled: bool, tmp_path: Path
) -> None:
    with fresh_database(backend, tmp_path) as db:
        with open_store(db) as store:
            add_user(store, name="op", role=Role.operator, password=PASSWORD)
            _, token = create_token(store, name="op")
        settings = settings_for(db, writer_process=enabled)
        app = create_app(settings)
        live = start_server(settings, app=app)
        try:
            committer = app.state.services.capture.committer
            expected = enabled and backend == "sqlite"
            assert isinstance(committer, ProcessGroupCommitter) is expected
            with live.client(headers={"Authorization": f"Bearer {token}"}) as client:
                answer = client.post(
                    "/capture",
                    content=orjson.dumps(
                        document([receive(5, "urn:epc:class:lgtin:4098765.012345.WP1", 2)])
                    ),
                    headers={"Content-Type": "application/ld+json"},
                )
            assert answer.status_code == 202, answer.text
            assert answer.json()["eventsCaptured"] == 1
        finally:
            live.stop()
        with open_store(db) as store:
            assert store.counts()["events"] == 1
