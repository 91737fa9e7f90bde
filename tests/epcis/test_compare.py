"""threadline.epcis.compare: each normalisation holds, and real differences are reported with
the JSON pointer where they are."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from threadline.epcis.compare import differences, semantically_equal
from threadline.gs1.keys import canonical_key

EX = "https://ns.example.com/epcis/"
SGTIN_1 = "urn:epc:id:sgtin:4012345.011111.1"
SGTIN_2 = "urn:epc:id:sgtin:4012345.011111.2"
LGTIN = "urn:epc:class:lgtin:4012345.011111.L7"
EVENTS = "/epcisBody/eventList"


def _dl(urn: str, domain: str = "https://brand.example.org/shop") -> str:
    """The Digital Link of ``urn`` on another domain, under a path prefix."""
    return canonical_key(urn).replace("https://id.gs1.org", domain)


def _event(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": "2024-03-01T10:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": [SGTIN_1, SGTIN_2],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"},
        "quantityList": [{"epcClass": LGTIN, "quantity": 5, "uom": "KGM"}],
        "bizTransactionList": [
            {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:4012345000016:PO-1"},
            {"type": "desadv", "bizTransaction": "urn:epcglobal:cbv:bt:4012345000016:D-9"},
        ],
        "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:4012345.00000"}],
        "ex:note": "checked",
    }
    event.update(fields)
    return event


def _doc(*events: dict[str, Any], context: Any = None, **fields: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@context": context
        or ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"ex": EX}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-03-01T12:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }
    document.update(fields)
    return document


def _same(a: dict[str, Any], b: dict[str, Any], **kwargs: Any) -> None:
    assert differences(a, b, **kwargs) == []
    assert differences(b, a, **kwargs) == []
    assert semantically_equal(a, b, **kwargs)


# ------------------------------------------------------------------ normalisations


def test_identifiers_compare_in_canonical_form() -> None:
    dl = _event(
        epcList=[_dl(SGTIN_2), _dl(SGTIN_1, "https://id.gs1.org")],
        quantityList=[{"epcClass": _dl(LGTIN), "quantity": 5, "uom": "KGM"}],
        readPoint={"id": _dl("urn:epc:id:sgln:4012345.00001.0")},
        sourceList=[{"type": "owning_party", "source": _dl("urn:epc:id:pgln:4012345.00000")}],
    )
    _same(_doc(_event()), _doc(dl))


def test_cbv_words_equal_their_uris() -> None:
    long = _event(
        bizStep="https://ref.gs1.org/cbv/BizStep-shipping",
        disposition="urn:epcglobal:cbv:disp:in_transit",
        bizTransactionList=[
            {"type": "cbv:BTT-desadv", "bizTransaction": "urn:epcglobal:cbv:bt:4012345000016:D-9"},
            {
                "type": "urn:epcglobal:cbv:btt:po",
                "bizTransaction": "urn:epcglobal:cbv:bt:4012345000016:PO-1",
            },
        ],
        sourceList=[
            {
                "type": "https://ref.gs1.org/cbv/SDT-owning_party",
                "source": "urn:epc:id:pgln:4012345.00000",
            }
        ],
    )
    _same(_doc(_event()), _doc(long))
    declared = {"declarationTime": "2024-03-02T00:00:00Z", "reason": "incorrect_data"}
    urn = dict(declared, reason="urn:epcglobal:cbv:er:incorrect_data")
    _same(_doc(_event(errorDeclaration=declared)), _doc(_event(errorDeclaration=urn)))


def test_timestamps_compare_as_instants() -> None:
    other = _event(eventTime="2024-03-01T11:00:00+01:00", recordTime="2024-03-01T10:00:00.5Z")
    _same(_doc(_event(recordTime="2024-03-01T10:00:00.500000Z")), _doc(other))
    # a missing eventTimeZoneOffset is the offset of eventTime, as the readers derive it
    implicit = {k: v for k, v in _event().items() if k != "eventTimeZoneOffset"}
    _same(_doc(_event()), _doc(implicit))


def test_numbers_compare_by_value() -> None:
    _same(
        _doc(_event(quantityList=[{"epcClass": LGTIN, "quantity": 5, "uom": "KGM"}])),
        _doc(_event(quantityList=[{"epcClass": LGTIN, "quantity": 5.0, "uom": "KGM"}])),
    )
    # extensions are untyped in XML: "20" and 20, "true" and true are the same text
    _same(
        _doc(_event(**{"ex:n": 20, "ex:b": True, "ex:f": 2.50})),
        _doc(_event(**{"ex:n": "20", "ex:b": "true", "ex:f": "2.5"})),
    )


def test_unordered_lists_are_multisets() -> None:
    sensors = [
        {
            "sensorMetadata": {"time": "2024-03-01T09:00:00Z"},
            "sensorReport": [
                {"type": "Temperature", "value": 21, "uom": "CEL"},
                {"type": "AbsoluteHumidity", "value": 40.5, "uom": "A93"},
            ],
        },
        {"sensorReport": [{"type": "Speed", "value": 3, "uom": "KMH"}]},
    ]
    first = _event(
        sensorElementList=sensors,
        destinationList=[
            {"type": "location", "destination": "urn:epc:id:sgln:4012345.00002.0"},
            {"type": "owning_party", "destination": "urn:epc:id:pgln:4012345.00002"},
        ],
    )
    second = copy.deepcopy(first)
    for name in ("epcList", "bizTransactionList", "destinationList", "sensorElementList"):
        second[name].reverse()
    second["sensorElementList"][1]["sensorReport"].reverse()
    _same(_doc(first), _doc(second))


def test_sensor_vocabulary_and_annotations() -> None:
    report = {
        "type": "Temperature",
        "exception": "ALARM_CONDITION",
        "value": 26,
        "component": "latitude",
        "booleanValue": True,
        "hexBinaryValue": "f0f0",
    }
    written = {
        "type": "gs1:Temperature",
        "exception": "https://gs1.org/voc/ALARM_CONDITION",
        "value": 26.0,
        "component": "cbv:Comp-latitude",
        "booleanValue": "1",
        "hexBinaryValue": "F0F0",
    }
    _same(
        _doc(_event(sensorElementList=[{"sensorReport": [report]}])),
        _doc(
            _event(sensorElementList=[{"type": "epcis:SensorElement", "sensorReport": [written]}])
        ),
    )


def test_extension_keys_compare_by_namespace_iri() -> None:
    other_prefix = _doc(
        _event(**{"ex:note": None, "mine:note": "checked"}),
        context=["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"mine": EX}],
    )
    _same(_doc(_event()), other_prefix)
    full_iri = _event(**{"ex:note": None, f"{EX}note": "checked"})
    _same(_doc(_event()), _doc(full_iri))
    # an event may carry its own @context (prefixes for its members only)
    local = _event(**{"ex:note": None, "loc:note": "checked", "@context": {"loc": EX}})
    _same(_doc(_event()), _doc(local))


def test_extension_values_single_item_lists_nesting_and_empties() -> None:
    first = _event(**{"ex:a": {"ex:b": ["x", "y"], "ex:c": "1"}, "ex:one": ["v"], "ex:e": ""})
    second = _event(**{"ex:a": {"ex:c": 1, "ex:b": ["y", "x"]}, "ex:one": "v"})
    _same(_doc(first), _doc(second))
    # absent, null, "", [] and {} are alike
    _same(_doc(_event(ilmd={}, childEPCs=[], recordTime=None)), _doc(_event()))


def test_compact_iris_in_values_expand_with_the_documents_prefixes() -> None:
    curie = _event(bizStep="ex:inspecting_again", readPoint={"id": "ex:dock-7"})
    full = _event(bizStep=f"{EX}inspecting_again", readPoint={"id": f"{EX}dock-7"})
    _same(_doc(curie), _doc(full))


def test_context_and_header_are_ignored_unless_asked() -> None:
    a = _doc(_event(), sender="urn:epc:id:sgln:4012345.00001.0")
    b = _doc(_event(), creationDate="2025-01-01T00:00:00Z", id="_:document1")
    _same(a, b)
    found = differences(a, b, compare_header=True)
    assert any(d.startswith("/creationDate: ") for d in found), found
    assert any(d.startswith("/sender: ") and "first only" in d for d in found), found
    assert not any(d.startswith("/id") for d in found)  # a JSON-LD node id is no header


def test_master_data_compared_with_the_header() -> None:
    def master(name: str) -> dict[str, Any]:
        element = {
            "id": "urn:epc:id:sgln:4012345.00001.0",
            "attributes": [
                {"id": "urn:epcglobal:cbv:mda#name", "attribute": name},
                {"id": "urn:epcglobal:cbv:mda#city", "attribute": "Köln"},
            ],
        }
        vocabulary = {
            "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
            "vocabularyElementList": [element],
        }
        return {"epcisMasterData": {"vocabularyList": [vocabulary]}}

    a, b = _doc(_event(), epcisHeader=master("Plant 1")), _doc(_event(), epcisHeader=master("P2"))
    assert differences(a, b) == []
    assert differences(a, b, compare_header=True) == [
        "/epcisHeader/epcisMasterData/vocabularyList/0/vocabularyElementList/0/attributes/0/"
        "attribute: 'Plant 1' in the first, 'P2' in the second"
    ]
    reordered = copy.deepcopy(a)
    element = reordered["epcisHeader"]["epcisMasterData"]["vocabularyList"][0]
    element["vocabularyElementList"][0]["attributes"].reverse()
    assert differences(a, reordered, compare_header=True) == []


def test_single_events_compare_too() -> None:
    assert semantically_equal(_event(), _event(epcList=[SGTIN_2, _dl(SGTIN_1)]))
    assert differences(_event(), _event(action="ADD")) == [
        "/action: 'OBSERVE' in the first, 'ADD' in the second"
    ]
    assert differences(_doc(_event()), _event()) == [
        "/: the first is a document, the second is not"
    ]


# -------------------------------------------------------------- real differences


def test_changed_quantity_is_reported_at_its_pointer() -> None:
    two = [
        {"epcClass": LGTIN, "quantity": 5, "uom": "KGM"},
        {"epcClass": "urn:epc:class:lgtin:4012345.011111.L8", "quantity": 2},
    ]
    changed = [dict(two[1]), dict(two[0], quantity=6)]  # reordered, and one quantity changed
    assert differences(_doc(_event(quantityList=two)), _doc(_event(quantityList=changed))) == [
        f"{EVENTS}/0/quantityList/0/quantity: 5 in the first, 6 in the second"
    ]


def test_missing_epc_is_reported() -> None:
    found = differences(_doc(_event()), _doc(_event(epcList=[SGTIN_1])))
    assert found == [f"{EVENTS}/0/epcList/1: {SGTIN_2!r} is in the first only"]
    swapped = differences(_doc(_event()), _doc(_event(epcList=[SGTIN_1, SGTIN_1[:-1] + "3"])))
    assert swapped == [
        f"{EVENTS}/0/epcList/1: {SGTIN_2!r} in the first, {SGTIN_1[:-1] + '3'!r} in the second"
    ]


def test_different_time_is_reported() -> None:
    found = differences(_doc(_event()), _doc(_event(eventTime="2024-03-01T10:00:00.001Z")))
    assert found == [
        f"{EVENTS}/0/eventTime: '2024-03-01T10:00:00.000Z' in the first, "
        "'2024-03-01T10:00:00.001Z' in the second"
    ]
    offset = differences(_doc(_event()), _doc(_event(eventTimeZoneOffset="+01:00")))
    assert offset == [
        f"{EVENTS}/0/eventTimeZoneOffset: '+00:00' in the first, '+01:00' in the second"
    ]


def test_extra_field_is_reported() -> None:
    found = differences(
        _doc(_event()), _doc(_event(**{"ex:extra": "x"}, bizLocation={"id": SGTIN_1}))
    )
    assert found == [
        f"{EVENTS}/0/ex:extra: ex:extra ({{{EX}}}extra) is in the second only ('x')",
        f"{EVENTS}/0/bizLocation: bizLocation is in the second only ({{id: {SGTIN_1!r}}})",
    ]


def test_different_extension_namespace_is_reported() -> None:
    other = _doc(
        _event(),
        context=[
            "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
            {"ex": "https://ns.other.example/"},
        ],
    )
    assert differences(_doc(_event()), other) == [
        f"{EVENTS}/0/ex:note: ex:note ({{{EX}}}note) is in the first only ('checked')",
        f"{EVENTS}/0/ex:note: ex:note ({{https://ns.other.example/}}note) is in the second "
        "only ('checked')",
    ]


def test_event_count_type_and_document_kind() -> None:
    one, two = _doc(_event()), _doc(_event(), _event())
    assert differences(one, two) == [f"{EVENTS}: 1 events in the first, 2 in the second"]
    aggregation = _event(type="AggregationEvent")
    assert differences(one, _doc(aggregation)) == [
        f"{EVENTS}/0/type: 'ObjectEvent' in the first, 'AggregationEvent' in the second"
    ]
    query = {
        **one,
        "type": "EPCISQueryDocument",
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "resultsBody": {"eventList": [_event()]},
            }
        },
    }
    assert differences(one, query) == [
        "/type: 'EPCISDocument' in the first, 'EPCISQueryDocument' in the second"
    ]


def test_unknown_cbv_word_differs_from_a_standard_one() -> None:
    found = differences(_doc(_event()), _doc(_event(bizStep="urn:epcglobal:cbv:bizstep:receiving")))
    assert found == [
        f"{EVENTS}/0/bizStep: 'shipping' in the first, "
        "'urn:epcglobal:cbv:bizstep:receiving' in the second"
    ]


def test_same_spelling_different_meaning_says_so() -> None:
    # the second document binds the namespace to another prefix, so its "ex:step" is opaque
    opaque = _doc(
        _event(bizStep="ex:step", **{"ex:note": None, "ey:note": "checked"}),
        context=["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"ey": EX}],
    )
    assert differences(_doc(_event(bizStep="ex:step")), opaque) == [
        f"{EVENTS}/0/bizStep: 'ex:step' in the first, 'ex:step' in the second "
        f"(read as '{EX}step' and 'ex:step')"
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sensorElementList", [{"sensorReport": [{"type": "Temperature", "value": 21.5}]}]),
        ("persistentDisposition", {"set": ["completeness_verified"]}),
        ("ilmd", {"ex:bestBefore": "2025-01-01"}),
        ("certificationInfo", "https://cert.example.org/1"),
    ],
)
def test_each_changed_field_is_found(field: str, value: Any) -> None:
    found = differences(_doc(_event()), _doc(_event(**{field: value})))
    assert len(found) == 1 and found[0].startswith(f"{EVENTS}/0/{field}: "), found
    assert "second only" in found[0]
