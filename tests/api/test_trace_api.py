"""The traceability API answers exactly the JSON of the CLI's ``--json`` on the same store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from threadline.cli import app

from livekit import (  # noqa: F401 (fixture)
    World,
    audit_rows,
    fresh_database,
    load_plant,
    settings_for,
    start_server,
    world_fixture,
)
from plantkit import B1, F1, FURNACE, H1, H2, HEADER, P1, X1, X2, X3

runner = CliRunner()


def cli_json(world: World, *args: str) -> Any:
    result = runner.invoke(app, [*args, "--db", world.db, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def api_json(world: World, method: str, url: str, **kwargs: Any) -> Any:
    with world.as_role("viewer") as client:
        answer = client.request(method, url, **kwargs)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    return answer.json()


@pytest.mark.parametrize("direction", ["backward", "forward"])
@pytest.mark.parametrize("root", [X1, X2, F1, H1, B1, P1])
def test_trace_answers_as_the_cli_does(world: World, direction: str, root: str) -> None:
    expected = cli_json(world, "trace", direction, root)
    assert api_json(world, "GET", f"/trace/{direction}", params={"id": root}) == expected
    with_links = cli_json(world, "trace", direction, root, "--links", "--depth", "2")
    answer = api_json(
        world, "GET", f"/trace/{direction}", params={"id": root, "links": "true", "depth": 2}
    )
    assert answer == with_links
    assert all(n["depth"] <= 2 for n in answer["nodes"])


@pytest.mark.parametrize("suspects", [[H2], [H1, H2], [X3], [B1]])
def test_recall_answers_as_the_cli_does(world: World, suspects: list[str]) -> None:
    expected = cli_json(world, "recall", *suspects)
    answer = api_json(world, "POST", "/recall", json={"ids": suspects})
    assert answer == expected
    if suspects == [H2]:
        customers = {c["id"] for c in answer["customers"]}
        assert len(customers) == 2  # both customers got F1 made from H2


@pytest.mark.parametrize("obj", [X1, X2, X3, P1, F1, H1])
def test_where_answers_as_the_cli_does(world: World, obj: str) -> None:
    assert api_json(world, "GET", "/where", params={"id": obj}) == cli_json(world, "where", obj)


@pytest.mark.parametrize(
    ("equipment", "start", "end"),
    [
        (HEADER, "2026-03-01T07:00:00Z", "2026-03-01T07:11:00Z"),
        ("CH-01", "2026-03-01T08:00:00+01:00", "2026-03-01T09:00:00+01:00"),
        (FURNACE, "2026-03-01T07:00", "2026-03-01T08:00"),
    ],
)
def test_window_answers_as_the_cli_does(world: World, equipment: str, start: str, end: str) -> None:
    expected = cli_json(world, "window", "--equipment", equipment, "--from", start, "--to", end)
    params = {"equipment": equipment, "from": start, "to": end}
    answer = api_json(world, "GET", "/window", params=params)
    assert answer == expected
    assert answer["lots"]


def test_unknown_id_is_a_404_problem(world: World) -> None:
    with world.as_role("viewer") as client:
        for method, url, kwargs in [
            ("GET", "/trace/backward", {"params": {"id": "urn:epc:id:sscc:4012345.9999999999"}}),
            ("GET", "/where", {"params": {"id": "urn:epc:id:sscc:4012345.9999999999"}}),
            ("POST", "/recall", {"json": {"ids": [H1, "urn:epc:id:sscc:4012345.9999999999"]}}),
        ]:
            answer = client.request(method, url, **kwargs)
            assert answer.status_code == 404, answer.text
            body = answer.json()
            assert body["type"] == "not_found" and body["status"] == 404
            assert "4012345.9999999999" in body["title"]
            assert answer.headers["content-type"] == "application/problem+json"


def test_bad_requests_say_what_and_where(world: World) -> None:
    with world.as_role("viewer") as client:
        malformed = client.get("/where", params={"id": "https://id.gs1.org/00/123"})
        no_id = client.get("/trace/forward")
        bad_depth = client.get("/trace/forward", params={"id": H1, "depth": "deep"})
        bad_time = client.get(
            "/window", params={"equipment": HEADER, "from": "yesterday", "to": "2026-03-02"}
        )
        backwards = client.get(
            "/window", params={"equipment": HEADER, "from": "2026-03-02", "to": "2026-03-01"}
        )
        not_json = client.post(
            "/recall", content=b"{", headers={"content-type": "application/json"}
        )
        no_ids = client.post("/recall", json={"ids": []})
    assert malformed.status_code == 400 and "SSCC must be 18 digits" in malformed.json()["title"]
    assert no_id.status_code == 422
    assert no_id.json()["errors"] == [
        {"where": "query parameter 'id'", "message": "Field required"}
    ]
    assert bad_depth.status_code == 422 and "query parameter 'depth'" in bad_depth.json()["title"]
    assert bad_time.status_code == 400
    assert bad_time.json()["title"] == "from: 'yesterday' is not an ISO-8601 time"
    assert backwards.status_code == 400 and "must be after" in backwards.json()["title"]
    assert not_json.status_code == 422 and not_json.json()["type"] == "validation_error"
    assert no_ids.status_code == 422 and no_ids.json()["errors"][0]["where"] == "body/ids"


def test_a_blank_identifier_is_a_400_naming_its_parameter(world: World) -> None:
    """Found by schemathesis: a blank id passes the length check; the refusal names it."""
    with world.as_role("viewer") as client:
        trace = client.get("/trace/backward", params={"id": "\n"})
        where = client.get("/where", params={"id": " "})
        recall = client.post("/recall", json={"ids": [H1, " "]})
        window = client.get(
            "/window", params={"equipment": "\t", "from": "2026-03-01", "to": "2026-03-02"}
        )
    for answer, parameter in ((trace, "id"), (where, "id"), (recall, "ids"), (window, "equipment")):
        assert answer.status_code == 400, answer.text
        assert answer.json()["title"] == f"{parameter}: empty identifier"


def test_recall_is_a_read_and_is_not_audited_as_a_write(world: World) -> None:
    with world.as_role("viewer") as client:
        answer = client.post("/recall", json={"ids": [H2]})
    assert answer.status_code == 200
    assert audit_rows(world.store, answer.headers["x-request-id"]) == []


@pytest.mark.parametrize(("mode", "loaded"), [("on", True), ("off", False), ("auto", False)])
def test_graph_index_setting_and_answers_with_and_without_it(
    tmp_path: Path, mode: str, loaded: bool
) -> None:
    from threadline.store import open_store
    from threadline.store.auth import Role, add_user, create_token

    with fresh_database("sqlite", tmp_path) as db:
        with open_store(db) as store:
            load_plant(store)
            add_user(store, name="v", role=Role.viewer, password="long enough")
            _, token = create_token(store, name="v")
        live = start_server(settings_for(db, graph_index=mode))
        try:
            with live.client(headers={"Authorization": f"Bearer {token}"}) as client:
                assert client.get("/health").json()["index"] is loaded
                answer = client.get("/trace/forward", params={"id": H2, "links": "true"}).json()
        finally:
            live.stop()
        expected = runner.invoke(app, ["trace", "forward", H2, "--links", "--db", db, "--json"])
        assert answer == json.loads(expected.output)
        assert any(n["relation"] == "shipped_to" for n in answer["nodes"])
