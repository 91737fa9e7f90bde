"""The EPCIS query engine on both backends: each parameter against events it must and must not find.

One small, hand-made repository (``load``) covers every event type, every identifier form, a
location hierarchy in master data, sensor data and two events declared in error (one of them
with sensor data), so each parameter is tested where it has to reach into a projection, into
the event JSON, and into a declared event that the projections no longer hold.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from threadline.epcis.json_reader import read_json_document, utc_text
from threadline.epcis.query_params import parse_query
from threadline.errors import QueryParameterError, QueryTooLarge
from threadline.gs1.keys import canonical_key
from threadline.store import Store
from threadline.store.master_data import upsert_master_data
from threadline.store.query import QueryResult, run_query

# -- identifiers (several written in other forms where events use them) ----------------------------
A1 = "urn:epc:id:sgtin:4012345.011111.1"
A2 = "urn:epc:id:sgtin:4012345.011111.2"
A3 = "urn:epc:id:sgtin:4012345.022222.3"
A4 = "urn:epc:id:sgtin:4012345.022222.4"
A5 = "urn:epc:id:sgtin:4012345.011111.5"
L1 = "urn:epc:class:lgtin:4098765.012345.L1"
L2 = "urn:epc:class:lgtin:4012345.022222.L2"
P1 = "urn:epc:id:sscc:4012345.0000000001"
P2 = "urn:epc:id:sscc:4012345.0000000002"
OURS = "urn:epc:id:pgln:4012345.00000"
C1 = "urn:epc:id:pgln:4055555.00000"
SITE = "urn:epc:id:sgln:4012345.00001.0"
HALL = "urn:epc:id:sgln:4012345.00001.HALL"
RP_HALL = "urn:epc:id:sgln:4012345.00001.RP-HALL"
LINE1 = "urn:epc:id:sgln:4012345.00001.LINE-1"
LINE2 = "urn:epc:id:sgln:4012345.00001.LINE-2"
PACK = "urn:epc:id:sgln:4012345.00001.PACK"
DOCK = "urn:epc:id:sgln:4012345.00002.DOCK"
WAREHOUSE = "urn:epc:id:sgln:4012345.00002.0"
MACHINE = "urn:epc:id:giai:4012345.M1"
SENSOR = "urn:epc:id:giai:4012345.S1"
D1 = "urn:epc:id:giai:4000001.111"
D2 = "urn:epc:id:giai:4000001.222"
INVOICE = "urn:epc:id:gdti:4012345.00001.INV7"
PO = "urn:epcglobal:cbv:bt:4012345000016:PO1"
READ_POINT = "urn:epcglobal:epcis:vtype:ReadPoint"
BUSINESS_LOCATION = "urn:epcglobal:epcis:vtype:BusinessLocation"


def dl(value: str, host: str = "https://id.gs1.org") -> str:
    """The Digital Link form of a GS1 key, on ``host``."""
    return canonical_key(value).replace("https://id.gs1.org", host)


def eid(name: str) -> str:
    return f"urn:example:ev:{name}"


def at(minute: int) -> str:
    return f"2026-03-01T{8 + minute // 60:02d}:{minute % 60:02d}:00.000Z"


def event(kind: str, name: str, minute: int, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "eventID": eid(name),
        "eventTime": at(minute),
        "eventTimeZoneOffset": "+00:00",
        **fields,
    }


def qty(cls: str, amount: float, uom: str | None = None) -> dict[str, Any]:
    return {"epcClass": cls, "quantity": amount, **({"uom": uom} if uom else {})}


EVENTS: dict[str, dict[str, Any]] = {
    "commission": event(
        "ObjectEvent", "commission", 0, action="ADD",
        bizStep="https://ref.gs1.org/cbv/BizStep-commissioning", disposition="active",
        epcList=[A1, dl(A2, "https://id.example.com")],
        readPoint={"id": LINE1}, bizLocation={"id": HALL},
    ),
    "receive": event(
        "ObjectEvent", "receive", 10, action="ADD", bizStep="receiving",
        disposition="in_progress", quantityList=[qty(L1, 500, "KGM")],
        readPoint={"id": DOCK}, bizLocation={"id": WAREHOUSE},
    ),
    "pack": event(
        "AggregationEvent", "pack", 20, action="ADD", bizStep="packing", parentID=P1,
        childEPCs=[dl(A1)], childQuantityList=[qty(L1, 100, "KGM")], readPoint={"id": PACK},
    ),
    "transform": event(
        "TransformationEvent", "transform", 30,
        bizStep="urn:epcglobal:cbv:bizstep:creating_class_instance",
        inputEPCList=[A2], inputQuantityList=[qty(L1, 200, "KGM")],
        outputEPCList=[A3], outputQuantityList=[qty(L2, 50, "EA")],
        transformationID="urn:example:tx:1", readPoint={"id": dl(LINE2)},
    ),
    "ship": event(
        "ObjectEvent", "ship", 40, action="OBSERVE", bizStep="shipping",
        disposition="in_transit", epcList=[dl(P1)], readPoint={"id": DOCK},
        sourceList=[{"type": "owning_party", "source": OURS}],
        destinationList=[{"type": "urn:epcglobal:cbv:sdt:owning_party",
                          "destination": dl(C1, "https://id.example.com")}],
        bizTransactionList=[{"type": "urn:epcglobal:cbv:btt:po", "bizTransaction": PO}],
        persistentDisposition={
            "set": ["completeness_verified"],
            "unset": ["https://ref.gs1.org/cbv/Disp-needs_replacement"],
        },
    ),
    "txn": event(
        "TransactionEvent", "txn", 50, action="ADD", parentID=P2, epcList=[A4],
        bizTransactionList=[{"type": "inv", "bizTransaction": INVOICE}],
    ),
    "assoc": event(
        "AssociationEvent", "assoc", 60, action="ADD", parentID=MACHINE, childEPCs=[SENSOR],
    ),
    "sense": event(
        "ObjectEvent", "sense", 70, action="OBSERVE", bizStep="sensor_reporting",
        epcList=[A1], readPoint={"id": LINE1},
        sensorElementList=[{
            "sensorMetadata": {"time": "2026-03-01T09:09:00Z", "deviceID": D1,
                               "bizRules": "https://example.com/rules/1"},
            "sensorReport": [
                {"type": "Temperature", "value": 26.5, "uom": "CEL"},
                {"type": "gs1:AbsoluteHumidity", "value": 12, "uom": "A93"},
                {"type": "example:colour", "stringValue": "blue"},
            ],
        }],
    ),
    "sense2": event(
        "ObjectEvent", "sense2", 80, action="OBSERVE", epcList=[A3], readPoint={"id": LINE2},
        sensorElementList=[{"sensorReport": [{
            "type": "Temperature", "deviceID": D2, "time": "2026-03-01T09:19:00Z",
            "minValue": 28, "maxValue": 32, "meanValue": 30, "uom": "CEL",
        }]}],
    ),
    "wrong": event(
        "ObjectEvent", "wrong", 90, action="ADD", bizStep="commissioning", epcList=[A5],
        readPoint={"id": LINE2},
    ),
    "fix": event(
        "ObjectEvent", "fix", 91, action="ADD", bizStep="commissioning", epcList=[A5],
        readPoint={"id": LINE2},
    ),
}  # fmt: skip
DECLARATIONS = {
    "wrong": {
        "declarationTime": "2026-03-01T10:00:00Z",
        "reason": "incorrect_data",
        "correctiveEventIDs": [eid("fix")],
    },
    "sense2": {
        "declarationTime": "2026-03-01T11:00:00Z",
        "reason": "urn:epcglobal:cbv:er:did_not_occur",
    },
}
HEADER = {
    "epcisMasterData": {
        "vocabularyList": [
            {
                "type": READ_POINT,
                "vocabularyElementList": [{"id": RP_HALL, "children": [LINE1, dl(LINE2)]}],
            },
            {
                "type": BUSINESS_LOCATION,
                "vocabularyElementList": [{"id": SITE, "children": [HALL]}],
            },
        ]
    }
}
ALL = set(EVENTS)
DECLARED = set(DECLARATIONS)


def document(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "EPCISDocument", "epcisBody": {"eventList": events}}


def load(store: Store) -> str:
    """Store the events, then (in a later transaction) the declarations; returns a time between."""
    with store.writer() as writer:
        writer.append(read_json_document(document(list(EVENTS.values()))).events)
        upsert_master_data(writer, HEADER)
    between = utc_text(datetime.now(UTC))
    declarations = [{**EVENTS[n], "errorDeclaration": d} for n, d in DECLARATIONS.items()]
    store.append(read_json_document(document(declarations)).events)
    return between


def ask(store: Store, params: Any) -> QueryResult:
    with store.reader() as reader:
        return run_query(reader, parse_query(params))


def names(rows: list[dict[str, Any]]) -> list[str]:
    return [r["event_id"].rsplit(":", 1)[-1] for r in rows]


CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    ("none", {}, ALL),
    ("eventType", {"eventType": "AggregationEvent|TransformationEvent"}, {"pack", "transform"}),
    ("eventType-object", {"eventType": "ObjectEvent"},
     {"commission", "receive", "ship", "sense", "sense2", "wrong", "fix"}),
    ("GE_eventTime", {"GE_eventTime": "2026-03-01T09:30:00+01:00"},
     ALL - {"commission", "receive", "pack"}),
    ("LT_eventTime", {"LT_eventTime": "2026-03-01T08:20:00Z"}, {"commission", "receive"}),
    ("EQ_action", {"EQ_action": "ADD"},
     {"commission", "receive", "pack", "txn", "assoc", "wrong", "fix"}),
    ("EQ_action-2", {"EQ_action": "OBSERVE|DELETE"}, {"ship", "sense", "sense2"}),
    ("EQ_bizStep", {"EQ_bizStep": "urn:epcglobal:cbv:bizstep:commissioning"},
     {"commission", "wrong", "fix"}),
    ("EQ_bizStep-word", {"EQ_bizStep": "creating_class_instance"}, {"transform"}),
    ("EQ_disposition", {"EQ_disposition": "in_transit"}, {"ship"}),
    ("EQ_disposition-uri", {"EQ_disposition": "https://ref.gs1.org/cbv/Disp-active"},
     {"commission"}),
    ("EQ_persistentDisposition_set", {"EQ_persistentDisposition_set": "completeness_verified"},
     {"ship"}),
    ("EQ_persistentDisposition_unset",
     {"EQ_persistentDisposition_unset": "needs_replacement|completeness_verified"}, {"ship"}),
    ("EQ_persistentDisposition_unset-none",
     {"EQ_persistentDisposition_unset": "completeness_verified"}, set()),
    ("EQ_readPoint", {"EQ_readPoint": dl(LINE1)}, {"commission", "sense"}),
    ("WD_readPoint", {"WD_readPoint": RP_HALL},
     {"commission", "transform", "sense", "sense2", "wrong", "fix"}),
    ("WD_readPoint-leaf", {"WD_readPoint": LINE1}, {"commission", "sense"}),
    ("EQ_bizLocation", {"EQ_bizLocation": WAREHOUSE}, {"receive"}),
    ("WD_bizLocation", {"WD_bizLocation": dl(SITE, "https://example.com/x")}, {"commission"}),
    ("EQ_transformationID", {"EQ_transformationID": "urn:example:tx:1"}, {"transform"}),
    ("EQ_transformationID-none", {"EQ_transformationID": "urn:example:tx:2"}, set()),
    ("MATCH_epc", {"MATCH_epc": dl(A1)}, {"commission", "pack", "sense"}),
    ("MATCH_epc-pattern", {"MATCH_epc": "urn:epc:idpat:sgtin:4012345.011111.*"},
     {"commission", "pack", "sense", "wrong", "fix"}),
    ("MATCH_epc-product-dl", {"MATCH_epc": dl("urn:epc:idpat:sgtin:4012345.022222.*")},
     {"txn", "sense2"}),
    ("MATCH_parentID", {"MATCH_parentID": dl(P1)}, {"pack"}),
    ("MATCH_inputEPC", {"MATCH_inputEPC": A2}, {"transform"}),
    ("MATCH_outputEPC", {"MATCH_outputEPC": A3}, {"transform"}),
    ("MATCH_anyEPC", {"MATCH_anyEPC": P1}, {"pack", "ship"}),
    ("MATCH_anyEPC-declared", {"MATCH_anyEPC": A3}, {"transform", "sense2"}),
    ("MATCH_anyEPC-sscc-pattern", {"MATCH_anyEPC": "urn:epc:idpat:sscc:4012345.*"},
     {"pack", "ship", "txn"}),
    ("MATCH_epcClass", {"MATCH_epcClass": L1}, {"receive", "pack"}),
    ("MATCH_epcClass-pattern", {"MATCH_epcClass": "urn:epc:idpat:lgtin:4098765.012345.*"},
     {"receive", "pack"}),
    ("MATCH_inputEPCClass", {"MATCH_inputEPCClass": dl(L1)}, {"transform"}),
    ("MATCH_outputEPCClass", {"MATCH_outputEPCClass": L2}, {"transform"}),
    ("MATCH_anyEPCClass", {"MATCH_anyEPCClass": L1}, {"receive", "pack", "transform"}),
    ("EQ_quantity", {"EQ_quantity": "500"}, {"receive"}),
    ("EQ_quantity-2", {"EQ_quantity": "100|50"}, {"pack", "transform"}),
    ("GT_quantity", {"GT_quantity": "200"}, {"receive"}),
    ("GE_quantity", {"GE_quantity": "200"}, {"receive", "transform"}),
    ("LT_quantity", {"LT_quantity": "100"}, {"transform"}),
    ("LE_quantity", {"LE_quantity": "100"}, {"pack", "transform"}),
    ("GE_quantity_KGM", {"GE_quantity_KGM": "150"}, {"receive", "transform"}),
    ("LT_quantity_EA", {"LT_quantity_EA": "60"}, {"transform"}),
    ("LT_quantity_KGM", {"LT_quantity_KGM": "60"}, set()),
    ("EQ_eventID", {"EQ_eventID": f"{eid('commission')}|{eid('fix')}"}, {"commission", "fix"}),
    ("EXISTS_errorDeclaration", {"EXISTS_errorDeclaration": ""}, DECLARED),
    ("EQ_errorReason", {"EQ_errorReason": "incorrect_data"}, {"wrong"}),
    ("EQ_errorReason-uri", {"EQ_errorReason": "https://ref.gs1.org/cbv/ER-did_not_occur"},
     {"sense2"}),
    ("GE_errorDeclarationTime", {"GE_errorDeclarationTime": "2026-03-01T10:30:00Z"}, {"sense2"}),
    ("LT_errorDeclarationTime", {"LT_errorDeclarationTime": "2026-03-01T10:30:00Z"}, {"wrong"}),
    ("EQ_correctiveEventID", {"EQ_correctiveEventID": eid("fix")}, {"wrong"}),
    ("EQ_correctiveEventID-none", {"EQ_correctiveEventID": eid("ship")}, set()),
    ("EQ_bizTransaction_po", {"EQ_bizTransaction_po": PO}, {"ship"}),
    ("EQ_bizTransaction_inv-dl", {"EQ_bizTransaction_inv": dl(INVOICE)}, {"txn"}),
    ("EQ_bizTransaction_po-wrong-type", {"EQ_bizTransaction_po": INVOICE}, set()),
    ("EQ_source_owning_party", {"EQ_source_owning_party": dl(OURS)}, {"ship"}),
    ("EQ_source_possessing_party", {"EQ_source_possessing_party": OURS}, set()),
    ("EQ_destination_owning_party", {"EQ_destination_owning_party": C1}, {"ship"}),
    ("EQ_destination_owning_party-none", {"EQ_destination_owning_party": OURS}, set()),
    ("EQ_type", {"EQ_type": "Temperature"}, {"sense", "sense2"}),
    ("EQ_type-gs1", {"EQ_type": "https://gs1.org/voc/AbsoluteHumidity"}, {"sense"}),
    ("EQ_type-custom", {"EQ_type": "example:colour"}, {"sense"}),
    ("EQ_deviceID", {"EQ_deviceID": dl(D1)}, {"sense"}),
    ("EQ_deviceID-declared", {"EQ_deviceID": D2}, {"sense2"}),
    ("GE_value_CEL", {"GE_value_CEL": "26"}, {"sense", "sense2"}),
    ("GT_value_CEL", {"GT_value_CEL": "27"}, {"sense2"}),
    ("LT_value_CEL", {"LT_value_CEL": "27"}, {"sense"}),
    ("LE_value_CEL", {"LE_value_CEL": "26.5"}, {"sense"}),
    ("GE_value_KEL", {"GE_value_KEL": "0"}, set()),
    ("EQ_value_CEL", {"EQ_value_CEL": "26.5|99"}, {"sense"}),
    ("GE_maxValue_CEL", {"GE_maxValue_CEL": "31"}, {"sense2"}),
    ("LT_minValue_CEL", {"LT_minValue_CEL": "27"}, set()),
    ("GE_time", {"GE_time": "2026-03-01T09:15:00Z"}, {"sense2"}),
    ("LT_time", {"LT_time": "2026-03-01T09:15:00Z"}, {"sense"}),
    ("EQ_stringValue", {"EQ_stringValue": "blue"}, {"sense"}),
    ("EQ_stringValue-none", {"EQ_stringValue": "red"}, set()),
    ("EQ_bizRules", {"EQ_bizRules": "https://example.com/rules/1"}, {"sense"}),
    ("EXISTS_sensorElementList", {"EXISTS_sensorElementList": "true"}, {"sense", "sense2"}),
    ("AND", {"eventType": "ObjectEvent", "EQ_bizStep": "commissioning", "MATCH_epc": A5},
     {"wrong", "fix"}),
]  # fmt: skip


@pytest.mark.parametrize(("params", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parameter(store: Store, params: dict[str, Any], expected: set[str]) -> None:
    load(store)
    rows = ask(store, params)
    found = names(rows)
    assert set(found) == expected
    assert len(found) == len(set(found))  # one answer per eventID
    for row in rows:  # a declared event is answered by its declaration
        assert row["is_declaration"] == (names([row])[0] in DECLARED)
        assert ("errorDeclaration" in row["doc"]) == row["is_declaration"]


def test_record_time_bounds(store: Store) -> None:
    between = load(store)
    assert set(names(ask(store, {"GE_recordTime": between}))) == DECLARED
    assert set(names(ask(store, {"LT_recordTime": between}))) == ALL - DECLARED


def test_rows_carry_the_event_columns_and_document(store: Store) -> None:
    load(store)
    (row,) = ask(store, {"EQ_eventID": eid("ship")})
    assert row["type"] == "ObjectEvent" and row["action"] == "OBSERVE"
    assert row["biz_step"] == "shipping" and row["disposition"] == "in_transit"
    assert row["read_point"] == canonical_key(DOCK)
    assert row["event_time"] == "2026-03-01T08:40:00.000000Z"
    assert row["doc"]["destinationList"] == EVENTS["ship"]["destinationList"]
    assert row["error_declared"] is False and row["is_declaration"] is False


# -- order, limits and pages ------------------------------------------------------------------

BY_TIME = ["commission", "receive", "pack", "transform", "ship", "txn", "assoc", "sense",
           "sense2", "wrong", "fix"]  # fmt: skip


def test_default_order_is_capture_order(store: Store) -> None:
    load(store)
    assert names(ask(store, {})) == [n for n in BY_TIME if n not in DECLARED] + list(DECLARATIONS)


def test_order_by_event_time_both_directions(store: Store) -> None:
    load(store)
    assert names(ask(store, {"orderBy": "eventTime", "orderDirection": "ASC"})) == BY_TIME
    assert names(ask(store, {"orderBy": "eventTime"})) == BY_TIME[::-1]  # DESC by default


def test_order_by_record_time(store: Store) -> None:
    load(store)
    found = names(ask(store, {"orderBy": "recordTime", "orderDirection": "ASC"}))
    assert set(found[-2:]) == DECLARED  # captured last


def test_event_count_limit_takes_the_first(store: Store) -> None:
    load(store)
    assert names(ask(store, {"orderBy": "eventTime", "eventCountLimit": "2"})) == ["fix", "wrong"]
    assert ask(store, {"orderBy": "eventTime", "eventCountLimit": "0"}) == []


def test_max_event_count(store: Store) -> None:
    load(store)
    with pytest.raises(QueryTooLarge, match="maxEventCount=3"):
        ask(store, {"maxEventCount": "3"})
    assert len(ask(store, {"maxEventCount": "11"})) == 11
    assert names(ask(store, {"maxEventCount": "3", "EQ_bizStep": "commissioning"})) == [
        "commission",
        "fix",
        "wrong",
    ]


@pytest.mark.parametrize(
    "params",
    [{}, {"orderBy": "eventTime", "orderDirection": "ASC"}, {"orderBy": "eventTime"},
     {"orderBy": "recordTime"}, {"MATCH_anyEPC": "urn:epc:idpat:sgtin:4012345.*.*"}],
    ids=["capture", "time-asc", "time-desc", "record-desc", "with-residual-filter"],
)  # fmt: skip
def test_pages_concatenate_to_the_whole_answer(store: Store, params: dict[str, Any]) -> None:
    load(store)
    whole = names(ask(store, params))
    pages: list[str] = []
    token = None
    for _ in range(20):
        with store.reader() as reader:
            query = {**params, "perPage": "3", **({"nextPageToken": token} if token else {})}
            page = run_query(reader, parse_query(query))
        assert len(page) <= 3
        pages += names(page)
        token = page.next_page_token
        if token is None:
            break
    assert pages == whole
    assert len(whole) > 3


def test_pages_respect_event_count_limit(store: Store) -> None:
    load(store)
    params = {"orderBy": "eventTime", "eventCountLimit": "5", "perPage": "2"}
    first = ask(store, params)
    second = ask(store, {**params, "nextPageToken": first.next_page_token})
    third = ask(store, {**params, "nextPageToken": second.next_page_token})
    assert names(first) + names(second) + names(third) == BY_TIME[::-1][:5]
    assert third.next_page_token is None


def test_page_token_survives_new_captures_and_refuses_other_queries(store: Store) -> None:
    load(store)
    params = {"orderBy": "eventTime", "orderDirection": "ASC", "perPage": "4"}
    first = ask(store, params)
    late = event("ObjectEvent", "late", 5, action="OBSERVE", epcList=[A4])  # before page 2
    store.append(read_json_document(document([late])).events)
    second = ask(store, {**params, "nextPageToken": first.next_page_token})
    assert names(second) == BY_TIME[4:8]  # keyset: what was already paged past stays behind
    with pytest.raises(QueryParameterError) as info:
        ask(store, {"orderBy": "eventTime", "nextPageToken": first.next_page_token})
    assert info.value.parameter == "nextPageToken"


def test_an_export_also_gets_the_superseded_originals(store: Store) -> None:
    load(store)

    def superseded(params: dict[str, str]) -> list[tuple[str, bool]]:
        with store.reader() as reader:
            rows = run_query(reader, parse_query(params), include_superseded=True)
        return [(names([r])[0], r["is_declaration"]) for r in rows]

    everything = superseded({})
    assert len(everything) == len(EVENTS) + len(DECLARATIONS)
    assert {(n, d) for n, d in everything if n in DECLARED} == {
        (n, d) for n in DECLARED for d in (False, True)
    }
    # Projection-backed filters decide the originals from their JSON, like the declarations.
    assert superseded({"EQ_type": "Temperature"}) == [
        ("sense", False),
        ("sense2", False),
        ("sense2", True),
    ]
    assert superseded({"MATCH_anyEPC": A5}) == [("wrong", False), ("fix", False), ("wrong", True)]
    assert superseded({"EXISTS_errorDeclaration": "true"}) == [("wrong", True), ("sense2", True)]
