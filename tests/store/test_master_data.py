"""Master data from document headers: stored with the events, merged, and walked for WD_ queries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import CONFORMANCE
from threadline.epcis.query_params import parse_query
from threadline.epcis.xml_reader import xml_document_to_json
from threadline.errors import DocumentError
from threadline.gs1.keys import canonical_key
from threadline.service import import_document
from threadline.store import Store
from threadline.store.master_data import master_data_of
from threadline.store.query import run_query

READ_POINT = "urn:epcglobal:epcis:vtype:ReadPoint"
BUSINESS_LOCATION = "urn:epcglobal:epcis:vtype:BusinessLocation"
PLANT = "urn:epc:id:sgln:4012345.00001.0"
HALL_A = "urn:epc:id:sgln:4012345.00001.HALL-A"
HALL_B = "urn:epc:id:sgln:4012345.00001.HALL-B"
PRESS = "urn:epc:id:sgln:4012345.00001.PRESS-7"
OVEN = "urn:epc:id:sgln:4012345.00001.OVEN-2"
PHARMA = (
    CONFORMANCE
    / "openepcis-converter/test-resources/1.2/EPCIS/XML/Capture/Documents"
    / "GS1_US_Pharma_Example_2_2_1_1.xml"
)


def element(ident: str, children: list[str] = (), **attributes: Any) -> dict[str, Any]:  # type: ignore[assignment]
    out: dict[str, Any] = {"id": ident}
    if attributes:
        out["attributes"] = [
            {"id": f"urn:epcglobal:cbv:mda#{k}", "attribute": v} for k, v in attributes.items()
        ]
    if children:
        out["children"] = list(children)
    return out


def commissioning(minute: int, place: str) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": f"2026-03-01T08:{minute:02d}:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "ADD",
        "bizStep": "commissioning",
        "epcList": [f"urn:epc:id:sgtin:4012345.011111.{minute}"],
        "readPoint": {"id": place},
        "bizLocation": {"id": place},
    }


def write(tmp_path: Path, name: str, vocabularies: list[dict[str, Any]], events: list[Any]) -> Path:
    path = tmp_path / name
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-01T00:00:00Z",
        "epcisHeader": {"epcisMasterData": {"vocabularyList": vocabularies}},
        "epcisBody": {"eventList": events},
    }
    path.write_text(json.dumps(document))
    return path


def plant_hierarchy() -> list[dict[str, Any]]:
    # The hierarchy written in mixed identifier forms on purpose.
    return [
        {
            "type": BUSINESS_LOCATION,
            "vocabularyElementList": [
                element(PLANT, [HALL_A, canonical_key(HALL_B)], name="Plant 1"),
                element(HALL_A, [PRESS]),
                element(canonical_key(HALL_B), [OVEN]),
            ],
        },
        {"type": READ_POINT, "vocabularyElementList": [element(HALL_A, [PRESS])]},
    ]


def stored(store: Store) -> dict[tuple[str, str], tuple[Any, Any]]:
    with store.reader() as r:
        rows = r.query("SELECT type, id, attributes, children FROM master_data")
    return {(t, i): (store.load_json(a), store.load_json(c)) for t, i, a, c in rows}


def test_header_master_data_is_stored_with_canonical_ids(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "md.json", plant_hierarchy(), [commissioning(1, PRESS)])
    import_document(store, path)
    rows = stored(store)
    assert set(rows) == {
        (BUSINESS_LOCATION, canonical_key(PLANT)),
        (BUSINESS_LOCATION, canonical_key(HALL_A)),
        (BUSINESS_LOCATION, canonical_key(HALL_B)),
        (READ_POINT, canonical_key(HALL_A)),
    }
    attributes, children = rows[(BUSINESS_LOCATION, canonical_key(PLANT))]
    assert attributes == [{"id": "urn:epcglobal:cbv:mda#name", "attribute": "Plant 1"}]
    assert children == [HALL_A, canonical_key(HALL_B)]  # as received


def test_descendants_follow_children_transitively(store: Store, tmp_path: Path) -> None:
    import_document(store, write(tmp_path, "md.json", plant_hierarchy(), []))
    with store.reader() as r:
        assert r.descendants(BUSINESS_LOCATION, PLANT) == {
            canonical_key(HALL_A),
            canonical_key(HALL_B),
            canonical_key(PRESS),
            canonical_key(OVEN),
        }
        assert r.descendants(BUSINESS_LOCATION, canonical_key(HALL_B)) == {canonical_key(OVEN)}
        assert r.descendants(READ_POINT, PLANT) == set()  # another vocabulary
        assert r.descendants(BUSINESS_LOCATION, PRESS) == set()


def test_a_cycle_in_master_data_ends_the_walk(store: Store, tmp_path: Path) -> None:
    looped = [
        {
            "type": BUSINESS_LOCATION,
            "vocabularyElementList": [element(HALL_A, [PRESS]), element(PRESS, [HALL_A])],
        }
    ]
    import_document(store, write(tmp_path, "loop.json", looped, []))
    with store.reader() as r:
        assert r.descendants(BUSINESS_LOCATION, HALL_A) == {canonical_key(PRESS)}


def test_a_later_document_adds_to_an_element(store: Store, tmp_path: Path) -> None:
    first = [
        {
            "type": BUSINESS_LOCATION,
            "vocabularyElementList": [element(PLANT, [HALL_A], name="Plant 1", city="Ulm")],
        }
    ]
    second = [
        {
            "type": BUSINESS_LOCATION,
            "vocabularyElementList": [
                element(canonical_key(PLANT), [HALL_B, HALL_A], city="Neu-Ulm")
            ],
        }
    ]
    import_document(store, write(tmp_path, "1.json", first, []))
    import_document(store, write(tmp_path, "2.json", second, []))
    attributes, children = stored(store)[(BUSINESS_LOCATION, canonical_key(PLANT))]
    assert {a["id"].rsplit("#", 1)[1]: a["attribute"] for a in attributes} == {
        "name": "Plant 1",
        "city": "Neu-Ulm",
    }
    assert children == [HALL_A, HALL_B]


def test_master_data_lands_only_with_its_events(store: Store, tmp_path: Path) -> None:
    bad_event = {**commissioning(1, PRESS), "action": "MOVE"}
    path = write(tmp_path, "bad.json", plant_hierarchy(), [commissioning(2, PRESS), bad_event])
    with pytest.raises(DocumentError):
        import_document(store, path)
    assert stored(store) == {}
    assert store.counts()["events"] == 0


def test_a_malformed_header_is_refused_with_its_pointer(store: Store, tmp_path: Path) -> None:
    broken = [{"type": BUSINESS_LOCATION, "vocabularyElementList": [{"children": [PRESS]}]}]
    path = write(tmp_path, "broken.json", broken, [commissioning(1, PRESS)])
    with pytest.raises(DocumentError) as info:
        import_document(store, path)
    assert (
        info.value.pointer
        == "/epcisHeader/epcisMasterData/vocabularyList/0/vocabularyElementList/0/id"
    )
    assert info.value.source == str(path)
    assert store.counts()["events"] == 0


def test_wd_queries_use_imported_master_data(store: Store, tmp_path: Path) -> None:
    events = [
        commissioning(1, PRESS),
        commissioning(2, OVEN),
        commissioning(3, "urn:epc:id:sgln:4012345.00002.0"),
    ]
    import_document(store, write(tmp_path, "md.json", plant_hierarchy(), events))

    def minutes(params: dict[str, str]) -> set[str]:
        with store.reader() as r:
            rows = run_query(r, parse_query(params))
        return {row["doc"]["eventTime"][14:16] for row in rows}

    assert minutes({"WD_bizLocation": PLANT}) == {"01", "02"}
    assert minutes({"WD_bizLocation": HALL_B}) == {"02"}
    assert minutes({"EQ_bizLocation": PLANT}) == set()
    assert minutes({"WD_readPoint": HALL_A}) == {"01"}


@pytest.mark.skipif(not PHARMA.is_file(), reason=f"conformance corpus not found at {CONFORMANCE}")
def test_xml_header_master_data(store: Store) -> None:
    import_document(store, PHARMA)
    header = xml_document_to_json(PHARMA.read_bytes())["epcisHeader"]["epcisMasterData"]
    expected = {
        (v["type"], canonical_key(e["id"]))
        for v in header["vocabularyList"]
        for e in v["vocabularyElementList"]
    }
    rows = stored(store)
    assert set(rows) == expected
    gtin_class = (
        "urn:epcglobal:epcis:vtype:EPCClass",
        canonical_key("urn:epc:idpat:sgtin:030001.0012345.*"),
    )
    attributes, _ = rows[gtin_class]
    assert {
        "id": "urn:epcglobal:cbv:mda#regulatedProductName",
        "attribute": "Epcistra",
    } in attributes
    with store.reader() as r:
        exported = master_data_of(r)
    assert {(v["type"], e["id"]) for v in exported for e in v["vocabularyElementList"]} == expected
