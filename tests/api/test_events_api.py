"""EPCIS 2.0 REST query against a real server on both backends: /events, its paging, content
negotiation, GS1-EPC-Format, /events/{id}, /epcs/{epc}/events and the vocabulary lists."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from lxml import etree

from conftest import CONFORMANCE
from threadline.epcis.xsd import load_schema
from threadline.gs1.keys import canonical

from livekit import World, world_fixture  # noqa: F401 (fixture)
from plantkit import C1, F1, FURNACE, H1, HEADER, P1, WAREHOUSE, X1, small_plant

XSD = CONFORMANCE / "gs1-epcis" / "schema" / "xsd" / "EPCglobal-epcis-query-2_0.xsd"
EPCIS_NS = "urn:epcglobal:epcis:xsd:2"
_LINK = re.compile(r'^<([^>]+)>; rel="next"$')


def _get(world: World, url: str, **kwargs: Any) -> httpx.Response:
    with world.as_role("viewer") as client:
        return client.get(url, **kwargs)


def _events(answer: httpx.Response) -> list[dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert document["type"] == "EPCISQueryDocument"
    results = document["epcisBody"]["queryResults"]
    events: list[dict[str, Any]] = results["resultsBody"]["eventList"]
    return events


def _ids(answer: httpx.Response) -> list[str]:
    return [e["eventID"] for e in _events(answer)]


def _walk(world: World, url: str, params: dict[str, Any]) -> tuple[list[str], int]:
    """Every eventID over every page, following the Link header; and the number of pages."""
    ids: list[str] = []
    pages = 0
    answer = _get(world, url, params=params)
    while True:
        pages += 1
        ids += _ids(answer)
        link = answer.headers.get("link")
        if link is None:
            return ids, pages
        match = _LINK.match(link)
        assert match, link
        answer = _get(world, match.group(1))
        assert pages < 100, "the pages never end"


def _plant_ids() -> list[str]:
    """The eventIDs the plant's events answer with, in capture order (declared one replaced)."""
    events, named = small_plant()
    wrong = named["wrong"]["eventID"]
    return [e["eventID"] for e in events if e["eventID"] != wrong] + [wrong]


def test_events_answers_every_event_once_with_the_epcis_headers(world: World) -> None:
    answer = _get(world, "/events", params={"perPage": 1000})
    assert answer.headers["GS1-EPCIS-Version"] == "2.0.0"
    assert answer.headers["GS1-CBV-Version"] == "2.0.0"
    assert answer.headers["GS1-EPC-Format"] == "Always_GS1_Digital_Link"
    assert "link" not in answer.headers
    ids = _ids(answer)
    assert sorted(ids) == sorted(_plant_ids())
    results = answer.json()["epcisBody"]["queryResults"]
    assert results["queryName"] == "SimpleEventQuery"
    # The default page is 30 events: the 15 of the plant fit.
    assert _ids(_get(world, "/events")) == ids


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"orderBy": "eventTime", "orderDirection": "DESC"},
        {"EQ_bizStep": "packing|unpacking", "orderBy": "recordTime", "orderDirection": "ASC"},
    ],
    ids=["capture order", "eventTime desc", "filtered"],
)
@pytest.mark.parametrize("per_page", [1, 4])
def test_pages_walk_every_event_without_duplicates_or_gaps(
    world: World, params: dict[str, Any], per_page: int
) -> None:
    whole = _ids(_get(world, "/events", params={**params, "perPage": 1000}))
    walked, pages = _walk(world, "/events", {**params, "perPage": per_page})
    assert walked == whole
    assert len(set(walked)) == len(walked)
    assert pages == -(-len(whole) // per_page)
    if "EQ_bizStep" in params:
        assert len(whole) == 8  # seven packings (one declared in error), one unpacking


def test_link_keeps_the_filters_and_a_token_does_not_fit_another_query(world: World) -> None:
    answer = _get(world, "/events", params={"EQ_bizStep": "packing", "perPage": 2})
    target = _LINK.match(answer.headers["link"])
    assert target is not None
    assert "EQ_bizStep=packing" in target.group(1) and "perPage=2" in target.group(1)
    token = httpx.URL(target.group(1)).params["nextPageToken"]
    other = _get(world, "/events", params={"EQ_bizStep": "shipping", "nextPageToken": token})
    assert other.status_code == 400
    assert other.json()["parameter"] == "nextPageToken"


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        ("application/ld+json", "application/ld+json"),
        ("application/json", "application/json"),
        ("*/*", "application/json"),
        ("application/xml;q=0.5, application/ld+json", "application/ld+json"),
    ],
)
def test_json_ld_by_accept(world: World, accept: str, media: str) -> None:
    answer = _get(world, "/events", headers={"Accept": accept})
    assert answer.headers["content-type"] == media
    assert len(_events(answer)) == 15


@pytest.mark.parametrize("accept", ["application/xml", "text/html;q=0.9, application/xml"])
def test_xml_by_accept(world: World, accept: str) -> None:
    params = {"eventType": "AggregationEvent", "perPage": 1000}
    answer = _get(world, "/events", params=params, headers={"Accept": accept})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/xml"
    root = etree.fromstring(answer.content)
    assert etree.QName(root).localname == "EPCISQueryDocument"
    ids = [e.text for e in root.iter("eventID")]
    assert ids == _ids(_get(world, "/events", params=params))
    assert len(ids) == 8
    if XSD.exists():
        schema = load_schema(XSD)
        assert schema.validate(root), schema.error_log.last_error


def test_events_xml_cannot_carry_are_not_acceptable_as_xml(world: World) -> None:
    # The plant's receipts carry tl: extension members stored without a context defining tl.
    answer = _get(
        world, "/events", params={"EQ_bizStep": "receiving"}, headers={"Accept": "application/xml"}
    )
    assert answer.status_code == 406
    problem = answer.json()
    assert "tl:heatNumber" in problem["title"] and "JSON-LD" in problem["title"]


@pytest.mark.parametrize("accept", ["text/html", "application/pdf", "application/xml;q=0"])
def test_other_formats_are_not_acceptable(world: World, accept: str) -> None:
    answer = _get(world, "/events", headers={"Accept": accept})
    assert answer.status_code == 406
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == "not_acceptable"
    assert "application/xml" in answer.json()["title"]


def _shipped_pallet(world: World, **headers: str) -> httpx.Response:
    params = {"MATCH_epc": P1, "EQ_bizStep": "shipping"}
    return _get(world, "/events", params=params, headers=headers)


def _dl(urn: str) -> str:
    return canonical(urn).key


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, _dl(P1)),
        ("Always_GS1_Digital_Link", _dl(P1)),
        ("No_Preference", _dl(P1)),
        ("Always_EPC_URN", P1),
        ("Never_Translates", P1),
    ],
)
def test_gs1_epc_format_header(world: World, header: str | None, expected: str) -> None:
    answer = _shipped_pallet(world, **({"GS1-EPC-Format": header} if header else {}))
    (event,) = _events(answer)
    assert event["epcList"] == [expected]
    party = event["destinationList"][0]["destination"]
    assert party == (C1 if header in ("Always_EPC_URN", "Never_Translates") else _dl(C1))
    assert answer.headers["GS1-EPC-Format"] == (
        "Always_GS1_Digital_Link" if header in (None, "No_Preference") else header
    )


def test_an_unknown_epc_format_names_the_header(world: World) -> None:
    answer = _shipped_pallet(world, **{"GS1-EPC-Format": "Sometimes"})
    assert answer.status_code == 400
    assert "GS1-EPC-Format" in answer.json()["title"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"EQ_colour": "red"}, "EQ_colour"),
        ({"GE_eventTime": "yesterday"}, "GE_eventTime"),
        ({"perPage": "many"}, "perPage"),
        ({"perPage": "\u00b3"}, "perPage"),  # a digit to str.isdigit(), not to int(): was a 500
        ({"eventType": "PartyEvent"}, "eventType"),
        ({"nextPageToken": "not-a-token"}, "nextPageToken"),
    ],
)
def test_a_bad_query_parameter_is_a_400_naming_it(
    world: World, params: dict[str, str], parameter: str
) -> None:
    answer = _get(world, "/events", params=params)
    assert answer.status_code == 400, answer.text
    problem = answer.json()
    assert problem["type"] == "QueryParameterException"
    assert problem["parameter"] == parameter
    assert parameter in problem["title"]


def test_per_page_above_the_maximum_is_served_as_the_maximum(world: World) -> None:
    answer = _get(world, "/events", params={"perPage": 10**9})
    assert len(_events(answer)) == 15


def test_one_event_by_id(world: World) -> None:
    events, named = small_plant()
    first = events[0]["eventID"]
    answer = _get(world, f"/events/{quote(first, safe='')}")
    assert _ids(answer) == [first]
    # An event declared in error answers with its declaration.
    wrong = named["wrong"]["eventID"]
    (declared,) = _events(_get(world, f"/events/{quote(wrong, safe='')}"))
    assert declared["errorDeclaration"]["reason"] == "incorrect_data"
    missing = _get(world, "/events/" + quote("urn:uuid:99999999-0000-4000-8000-000000000000"))
    assert missing.status_code == 404 and missing.json()["type"] == "not_found"
    packing = events[5]["eventID"]  # no extension members: expressible in XML
    as_xml = _get(
        world, f"/events/{quote(packing, safe='')}", headers={"Accept": "application/xml"}
    )
    assert [e.text for e in etree.fromstring(as_xml.content).iter("eventID")] == [packing]


def test_event_types(world: World) -> None:
    answer = _get(world, "/eventTypes")
    assert answer.status_code == 200
    assert answer.json() == {
        "@context": "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        "type": "Collection",
        "member": [
            "AggregationEvent",
            "AssociationEvent",
            "ObjectEvent",
            "TransactionEvent",
            "TransformationEvent",
        ],
    }
    packs = _events(_get(world, "/eventTypes/AggregationEvent/events"))
    assert len(packs) == 8 and {e["type"] for e in packs} == {"AggregationEvent"}
    narrowed = _get(world, "/eventTypes/AggregationEvent/events", params={"EQ_action": "DELETE"})
    assert [e["action"] for e in _events(narrowed)] == ["DELETE"]
    assert _get(world, "/eventTypes/PartyEvent/events").status_code == 404
    twice = _get(world, "/eventTypes/ObjectEvent/events", params={"eventType": "ObjectEvent"})
    assert twice.status_code == 400 and twice.json()["parameter"] == "eventType"
    assert _get(world, "/eventTypes", headers={"Accept": "application/xml"}).status_code == 406


@pytest.mark.parametrize(
    "spelling",
    [X1, _dl(X1), _dl(X1).replace("https://id.gs1.org", "https://example.com/dl")],
    ids=["urn", "digital link", "digital link elsewhere"],
)
def test_events_of_an_epc_in_any_form(world: World, spelling: str) -> None:
    answer = _get(world, f"/epcs/{quote(spelling, safe='')}/events")
    # X1 is filled with F1, then put on P1.
    assert {(e["type"], e["parentID"]) for e in _events(answer)} == {
        ("AggregationEvent", _dl(X1)),
        ("AggregationEvent", _dl(P1)),
    }
    unencoded = _get(world, f"/epcs/{X1}/events")
    assert _ids(unencoded) == _ids(answer)


def test_events_of_a_lot(world: World) -> None:
    receive, *melts = _events(_get(world, f"/epcs/{quote(H1, safe='')}/events"))
    assert receive["bizStep"] == "receiving"
    assert [m["type"] for m in melts] == ["TransformationEvent"] * 2  # into B1 and into B2
    furnace = _events(_get(world, f"/epcs/{quote(F1, safe='')}/events", params={"perPage": 100}))
    assert len(furnace) == 5  # made, packed three times, shipped loose
    unknown = _get(
        world, "/epcs/" + quote("urn:epc:id:sscc:4012345.0000009999", safe="") + "/events"
    )
    assert unknown.status_code == 404


def _members(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["type"] == "Collection" and "@context" in body
    members: list[str] = body["member"]
    return members


def test_business_steps_and_dispositions_present(world: World) -> None:
    assert _members(_get(world, "/bizSteps")) == [
        "creating_class_instance",
        "packing",
        "receiving",
        "shipping",
        "unpacking",
    ]
    assert _members(_get(world, "/dispositions")) == ["active", "in_progress", "in_transit"]
    shipped = _ids(_get(world, "/bizSteps/shipping/events"))
    assert len(shipped) == 2
    web_uri = quote("https://ref.gs1.org/cbv/BizStep-shipping", safe="")
    assert _ids(_get(world, f"/bizSteps/{web_uri}/events")) == shipped
    in_transit = _ids(_get(world, "/dispositions/in_transit/events"))
    assert in_transit == shipped
    urn = quote("urn:epcglobal:cbv:disp:in_transit", safe="")
    assert _ids(_get(world, f"/dispositions/{urn}/events")) == shipped


def test_locations_in_the_asked_form(world: World) -> None:
    warehouse_dl = _dl(WAREHOUSE)
    assert _members(_get(world, "/bizLocations")) == [warehouse_dl]
    as_urn = _get(world, "/bizLocations", headers={"GS1-EPC-Format": "Always_EPC_URN"})
    assert _members(as_urn) == [WAREHOUSE]
    points = _members(_get(world, "/readPoints", headers={"GS1-EPC-Format": "Always_EPC_URN"}))
    assert set(points) == {WAREHOUSE, HEADER, FURNACE}
    at_header = _events(_get(world, f"/readPoints/{quote(HEADER, safe='')}/events"))
    assert {e["type"] for e in at_header} == {"TransformationEvent"} and len(at_header) == 2
    by_dl = _ids(_get(world, f"/bizLocations/{quote(warehouse_dl, safe='')}/events"))
    by_urn = _ids(_get(world, f"/bizLocations/{quote(WAREHOUSE, safe='')}/events"))
    assert by_dl == by_urn and len(by_dl) == 10


def test_lists_page_too(world: World) -> None:
    steps: list[str] = []
    answer = _get(world, "/bizSteps", params={"perPage": 2})
    while True:
        steps += _members(answer)
        link = answer.headers.get("link")
        if link is None:
            break
        match = _LINK.match(link)
        assert match is not None
        answer = _get(world, match.group(1))
    assert steps == _members(_get(world, "/bizSteps"))
    assert _get(world, "/bizSteps", params={"EQ_bizStep": "x"}).status_code == 400


def test_a_value_captured_later_joins_its_list(world: World) -> None:
    # Last in this module: it adds an event to the plant the tests above count.
    assert "urn:example:bizstep:annealing" not in _members(_get(world, "/bizSteps"))
    event = dict(small_plant()[0][0], eventID=f"urn:uuid:{uuid.uuid4()}")
    event["bizStep"] = "urn:example:bizstep:annealing"
    with world.as_role("operator") as client:
        assert client.post("/events", content=orjson.dumps(event)).status_code == 201
    steps = _members(_get(world, "/bizSteps"))
    assert steps == sorted(steps) and "urn:example:bizstep:annealing" in steps
    annealed = _ids(_get(world, "/bizSteps/urn:example:bizstep:annealing/events"))
    assert annealed == [event["eventID"]]
