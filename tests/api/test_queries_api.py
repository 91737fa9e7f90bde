"""Named queries and subscriptions over HTTP against a real server, on both backends."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from lxml import etree

from livekit import World, audit_rows, world_fixture  # noqa: F401 (fixture)
from plantkit import small_plant

_LINK = re.compile(r'^<([^>]+)>; rel="next"$')
NEVER = {"month": "1", "dayOfMonth": "1"}  # scheduled, but not while the tests run


def _name(prefix: str = "q") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _as(world: World, role: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
    with world.as_role(role) as client:
        return client.request(method, url, **kwargs)


def _create(world: World, name: str, query: dict[str, Any]) -> httpx.Response:
    return _as(world, "operator", "POST", "/queries", json={"name": name, "query": query})


def _shipping_ids() -> list[str]:
    events, _ = small_plant()
    return [e["eventID"] for e in events if e.get("bizStep") == "shipping"]


def test_named_query_lifecycle(world: World) -> None:
    name = _name("shipped")
    made = _create(world, name, {"EQ_bizStep": ["shipping"], "eventType": "ObjectEvent"})
    assert made.status_code == 201, made.text
    assert made.headers["Location"] == f"/queries/{name}"
    assert made.json()["query"] == {"EQ_bizStep": ["shipping"], "eventType": ["ObjectEvent"]}
    entries = audit_rows(world.store, made.headers["X-Request-ID"])
    assert [(e["action"], e["role"], e["outcome"]) for e in entries] == [
        ("POST /queries", "operator", "ok")
    ]
    again = _create(world, name, {"EQ_bizStep": ["receiving"]})
    assert again.status_code == 409 and again.json()["type"] == "conflict"

    shown = _as(world, "viewer", "GET", made.headers["Location"])
    assert shown.status_code == 200 and shown.json()["query"] == made.json()["query"]
    listed = _as(world, "viewer", "GET", "/queries", params={"perPage": 1000}).json()
    assert name in [q["name"] for q in listed]

    answer = _as(world, "viewer", "GET", f"/queries/{name}/events")
    assert answer.status_code == 200, answer.text
    results = answer.json()["epcisBody"]["queryResults"]
    assert results["queryName"] == name
    assert [e["eventID"] for e in results["resultsBody"]["eventList"]] == _shipping_ids()

    # Paged like /events: one per page, two pages, nothing twice.
    first = _as(world, "viewer", "GET", f"/queries/{name}/events", params={"perPage": 1})
    link = _LINK.match(first.headers["link"])
    assert link is not None and link.group(1).startswith(f"/queries/{name}/events?")
    second = _as(world, "viewer", "GET", link.group(1))
    assert "link" not in second.headers
    paged = [
        e["eventID"]
        for page in (first, second)
        for e in page.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    ]
    assert paged == _shipping_ids()

    extra = _as(world, "viewer", "GET", f"/queries/{name}/events", params={"EQ_action": "ADD"})
    assert extra.status_code == 400 and extra.json()["parameter"] == "EQ_action"
    as_xml = _as(
        world, "viewer", "GET", f"/queries/{name}/events", headers={"Accept": "application/xml"}
    )
    root = etree.fromstring(as_xml.content)
    assert [e.text for e in root.iter("queryName")] == [name]

    gone = _as(world, "operator", "DELETE", f"/queries/{name}")
    assert gone.status_code == 204
    assert _as(world, "viewer", "GET", f"/queries/{name}").status_code == 404
    assert _as(world, "viewer", "GET", f"/queries/{name}/events").status_code == 404
    assert _as(world, "operator", "DELETE", f"/queries/{name}").status_code == 404


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"EQ_colour": ["red"]}, "EQ_colour"),
        ({"GE_eventTime": "last week"}, "GE_eventTime"),
        ({"perPage": 10}, "perPage"),
        ({"eventCountLimit": 5}, "eventCountLimit"),  # needs orderBy
        ({"EQ_bizStep": [{"word": "shipping"}]}, "EQ_bizStep"),
    ],
)
def test_a_query_is_validated_when_it_is_created(
    world: World, query: dict[str, Any], parameter: str
) -> None:
    name = _name()
    answer = _create(world, name, query)
    assert answer.status_code == 400, answer.text
    assert answer.json()["type"] == "QueryParameterException"
    assert answer.json()["parameter"] == parameter
    assert _as(world, "viewer", "GET", f"/queries/{name}").status_code == 404


def test_numbers_and_booleans_are_taken_as_text(world: World) -> None:
    name = _name()
    answer = _create(world, name, {"GE_quantity_KGM": 900, "EXISTS_errorDeclaration": False})
    assert answer.status_code == 201, answer.text
    assert answer.json()["query"] == {
        "GE_quantity_KGM": ["900"],
        "EXISTS_errorDeclaration": ["false"],
    }
    events = _as(world, "viewer", "GET", f"/queries/{name}/events").json()
    found = events["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    # Only H1 came in at 900 kg or more (1,000 kg); H2 was 800 kg, the melts took less.
    assert [e["bizStep"] for e in found] == ["receiving"]


@pytest.mark.parametrize("name", ["has space", "slash/inside", "", "x" * 129])
def test_query_names_are_url_safe(world: World, name: str) -> None:
    answer = _create(world, name, {"EQ_bizStep": "shipping"})
    assert answer.status_code == 400
    assert "name" in answer.json()["title"]


@pytest.mark.parametrize("url", ["/queries", "/queries/{name}/subscriptions", "/bizSteps"])
def test_a_unicode_digit_page_size_is_a_400_naming_it(world: World, url: str) -> None:
    """Found by schemathesis: '³' is a digit to str.isdigit() but not to int(); it was a 500."""
    name = _name()
    assert _create(world, name, {"EQ_bizStep": "shipping"}).status_code == 201
    answer = _as(world, "viewer", "GET", url.format(name=name), params={"perPage": "\u00b3"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["type"] == "QueryParameterException"
    assert answer.json()["parameter"] == "perPage"


def test_query_list_pages(world: World) -> None:
    prefix = _name("page")
    names = [f"{prefix}-{i}" for i in range(5)]
    for name in names:
        assert _create(world, name, {"EQ_bizStep": "shipping"}).status_code == 201
    seen: list[str] = []
    answer = _as(world, "viewer", "GET", "/queries", params={"perPage": 2})
    while True:
        seen += [q["name"] for q in answer.json()]
        link = answer.headers.get("link")
        if link is None:
            break
        match = _LINK.match(link)
        assert match is not None
        answer = _as(world, "viewer", "GET", match.group(1))
    assert len(seen) == len(set(seen)) and seen == sorted(seen)
    assert [n for n in seen if n.startswith(prefix)] == names


def _subscribe(world: World, name: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return _as(
        world, "operator", "POST", f"/queries/{name}/subscriptions", json=body, headers=headers
    )


def test_subscription_lifecycle_never_shows_the_secret(world: World) -> None:
    name = _name()
    assert _create(world, name, {"EQ_bizStep": "shipping"}).status_code == 201
    secret = "s3cret-" + uuid.uuid4().hex
    made = _subscribe(
        world,
        name,
        {"dest": "https://127.0.0.1:9/epcis/hook", "signatureToken": secret, "stream": True},
        **{"GS1-EPC-Format": "Always_EPC_URN"},
    )
    assert made.status_code == 201, made.text
    sub = made.json()
    assert made.headers["Location"] == f"/queries/{name}/subscriptions/{sub['subscriptionID']}"
    assert sub["stream"] is True and sub["signed"] is True and sub["queryName"] == name
    assert sub["epcFormat"] == "Always_EPC_URN" and sub["format"] == "application/ld+json"
    assert "lastNotifiedAt" not in sub
    scheduled = _subscribe(
        world,
        name,
        {"dest": "http://127.0.0.1:9/hook", "schedule": NEVER, "reportIfEmpty": True},
        Accept="application/xml",
    )
    assert scheduled.status_code == 201, scheduled.text
    assert scheduled.json()["schedule"] == NEVER and scheduled.json()["reportIfEmpty"] is True
    assert scheduled.json()["format"] == "application/xml" and scheduled.json()["signed"] is False

    listed = _as(world, "viewer", "GET", f"/queries/{name}/subscriptions")
    assert [s["subscriptionID"] for s in listed.json()] == [
        sub["subscriptionID"],
        scheduled.json()["subscriptionID"],
    ]
    one = _as(world, "viewer", "GET", made.headers["Location"])
    assert one.json() == sub
    for answer in (made, scheduled, listed, one):
        assert secret not in answer.text and "signatureToken" not in answer.text
    paged = _as(world, "viewer", "GET", f"/queries/{name}/subscriptions", params={"perPage": 1})
    assert len(paged.json()) == 1 and 'rel="next"' in paged.headers["link"]

    assert _as(world, "operator", "DELETE", made.headers["Location"]).status_code == 204
    assert _as(world, "viewer", "GET", made.headers["Location"]).status_code == 404
    assert _as(world, "operator", "DELETE", made.headers["Location"]).status_code == 404
    # Deleting the query ends the subscriptions left on it.
    assert _as(world, "operator", "DELETE", f"/queries/{name}").status_code == 204
    with world.store.reader() as reader:
        left = reader.query("SELECT count(*) FROM subscriptions WHERE query_name = ?", (name,))
    assert left[0][0] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dest": "https://127.0.0.1:9/hook"}, "schedule"),
        ({"dest": "https://127.0.0.1:9/hook", "stream": False}, "schedule"),
        ({"dest": "https://127.0.0.1:9/hook", "stream": True, "schedule": NEVER}, "stream"),
        ({"dest": "ftp://127.0.0.1:9/hook", "stream": True}, "dest"),
        ({"dest": "file:///etc/passwd", "stream": True}, "dest"),
        ({"dest": "/relative", "stream": True}, "dest"),
        ({"dest": "https://127.0.0.1:9/hook", "schedule": {"minute": "61"}}, "schedule.minute"),
        ({"dest": "https://127.0.0.1:9/hook", "schedule": {"minute": "[5-1]"}}, "schedule.minute"),
        (
            {"dest": "https://127.0.0.1:9/hook", "schedule": {"fortnight": "1"}},
            "schedule.fortnight",
        ),
        ({"dest": "https://127.0.0.1:9/hook", "schedule": {}}, "schedule"),
        (
            {"dest": "https://127.0.0.1:9/hook", "schedule": {"month": "2", "dayOfMonth": "30"}},
            "schedule",
        ),
        (
            {"dest": "https://127.0.0.1:9/hook", "stream": True, "initialRecordTime": "noon"},
            "initialRecordTime",
        ),
        (
            {"dest": "https://127.0.0.1:9/hook", "stream": True, "signatureToken": " "},
            "signatureToken",
        ),
    ],
)
def test_subscription_faults_name_the_field(world: World, body: dict[str, Any], field: str) -> None:
    name = _name()
    assert _create(world, name, {"EQ_bizStep": "shipping"}).status_code == 201
    answer = _subscribe(world, name, body)
    assert answer.status_code == 400, answer.text
    problem = answer.json()
    assert problem["type"] == "SubscriptionControlsException"
    assert problem["field"] == field and problem["title"].startswith(f"{field}: ")
    assert _as(world, "viewer", "GET", f"/queries/{name}/subscriptions").json() == []


def test_subscribing_to_an_unknown_query_or_with_unknown_members(world: World) -> None:
    missing = _subscribe(world, _name(), {"dest": "https://127.0.0.1:9/hook", "stream": True})
    assert missing.status_code == 404
    name = _name()
    assert _create(world, name, {"EQ_bizStep": "shipping"}).status_code == 201
    odd = _subscribe(world, name, {"dest": "https://127.0.0.1:9/hook", "stream": True, "foo": 1})
    assert odd.status_code == 422 and odd.json()["errors"][0]["where"] == "body/foo"
