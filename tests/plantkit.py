"""Builders for hand-made EPCIS 2.0 events and a small plant whose answers are known by hand."""

from __future__ import annotations

from typing import Any

OURS = "urn:epc:id:pgln:4012345.00000"
C1 = "urn:epc:id:pgln:4055555.00000"
C2 = "urn:epc:id:pgln:4066666.00000"
WAREHOUSE = "urn:epc:id:sgln:4012345.00002.0"
HEADER = "urn:epc:id:sgln:4012345.00001.CH-01"
FURNACE = "urn:epc:id:sgln:4012345.00001.FURN-1"

H1 = "urn:epc:class:lgtin:4098765.012345.H1"
H2 = "urn:epc:class:lgtin:4098765.012345.H2"
B1 = "https://id.example.com/01/04012345111118/10/B1"
B2 = "https://id.example.com/01/04012345111118/10/B2"
F1 = "urn:epc:class:lgtin:4012345.022222.F1"
X1 = "urn:epc:id:sscc:4012345.0000000001"
X2 = "urn:epc:id:sscc:4012345.0000000002"
X3 = "urn:epc:id:sscc:4012345.0000000003"
P1 = "urn:epc:id:sscc:4012345.1000000001"
P2 = "urn:epc:id:sscc:4012345.1000000002"

_counter = [0]


def _base(kind: str, minute: int, **fields: Any) -> dict[str, Any]:
    _counter[0] += 1
    event: dict[str, Any] = {
        "type": kind,
        "eventID": f"urn:uuid:00000000-0000-4000-8000-{minute:06d}{_counter[0] % 1000000:06d}",
        "eventTime": f"2026-03-01T{8 + minute // 60:02d}:{minute % 60:02d}:00.000+01:00",
        "eventTimeZoneOffset": "+01:00",
    }
    event.update(fields)
    return event


def qty(cls: str, amount: float, uom: str = "EA") -> dict[str, Any]:
    return {"epcClass": cls, "quantity": amount, "uom": uom}


def receive(minute: int, cls: str, amount: float) -> dict[str, Any]:
    return _base(
        "ObjectEvent",
        minute,
        action="ADD",
        bizStep="receiving",
        disposition="in_progress",
        quantityList=[qty(cls, amount, "KGM")],
        bizLocation={"id": WAREHOUSE},
        ilmd={"tl:heatNumber": cls.rsplit(".", 1)[-1], "tl:tensileStrengthMPa": 620},
    )


def transform(
    minute: int, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]], where: str = HEADER
) -> dict[str, Any]:
    return _base(
        "TransformationEvent",
        minute,
        bizStep="creating_class_instance",
        disposition="active",
        inputQuantityList=inputs,
        outputQuantityList=outputs,
        readPoint={"id": where},
    )


def pack(
    minute: int,
    parent: str,
    epcs: list[str] = (),
    quantities: list[dict[str, Any]] = (),
    action: str = "ADD",
) -> dict[str, Any]:  # type: ignore[assignment]
    fields: dict[str, Any] = {
        "action": action,
        "bizStep": "packing" if action == "ADD" else "unpacking",
        "parentID": parent,
        "bizLocation": {"id": WAREHOUSE},
    }
    if epcs:
        fields["childEPCs"] = list(epcs)
    if quantities:
        fields["childQuantityList"] = list(quantities)
    return _base("AggregationEvent", minute, **fields)


def ship(
    minute: int, customer: str, epcs: list[str] = (), quantities: list[dict[str, Any]] = ()
) -> dict[str, Any]:  # type: ignore[assignment]
    fields: dict[str, Any] = {
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": WAREHOUSE},
        "sourceList": [{"type": "owning_party", "source": OURS}],
        "destinationList": [{"type": "owning_party", "destination": customer}],
        "bizTransactionList": [
            {"type": "desadv", "bizTransaction": f"urn:example:desadv:{minute}"}
        ],
    }
    if epcs:
        fields["epcList"] = list(epcs)
    if quantities:
        fields["quantityList"] = list(quantities)
    return _base("ObjectEvent", minute, **fields)


def declare_error(original: dict[str, Any], minute: int) -> dict[str, Any]:
    declared = dict(original)
    declared["errorDeclaration"] = {
        "declarationTime": f"2026-03-01T{8 + minute // 60:02d}:{minute % 60:02d}:00.000+01:00",
        "reason": "incorrect_data",
    }
    return declared


def document(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@context": [
            "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
            {"tl": "https://threadline.example/ns/"},
        ],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-01T00:00:00Z",
        "epcisBody": {"eventList": events},
    }


def small_plant() -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Two heats merge into B1; H1 also makes B2; B1+B2 merge in the furnace into F1 (18,000 EA);
    F1 splits into three boxes of 5,000 with 3,000 loose; X1,X2 -> P1 and X3 -> P2; X2 is taken
    off P1 and put on P2 before P1 ships to C1; 1,000 loose of F1 ship to C2; 2,000 stay loose.

    Also one wrong event (X3 onto P1 before P1 shipped) that is later declared in error.
    Returns the events in order and the named events.
    """
    _counter[0] = 0  # the same plant has the same eventIDs every time
    named: dict[str, dict[str, Any]] = {}
    events = [
        receive(0, H1, 1000),
        receive(1, H2, 800),
        transform(10, [qty(H1, 500, "KGM"), qty(H2, 300, "KGM")], [qty(B1, 10000)]),
        transform(11, [qty(H1, 400, "KGM")], [qty(B2, 8000)]),
        transform(20, [qty(B1, 10000), qty(B2, 8000)], [qty(F1, 18000)], where=FURNACE),
        pack(30, X1, quantities=[qty(F1, 5000)]),
        pack(31, X2, quantities=[qty(F1, 5000)]),
        pack(32, X3, quantities=[qty(F1, 5000)]),
        pack(40, P1, epcs=[X1, X2]),
        pack(41, P2, epcs=[X3]),
    ]
    wrong = pack(42, P1, epcs=[X3])
    named["wrong"] = wrong
    events.append(wrong)
    events += [
        pack(50, P1, epcs=[X2], action="DELETE"),
        pack(51, P2, epcs=[X2]),
        ship(60, C1, epcs=[P1]),
        ship(61, C2, quantities=[qty(F1, 1000)]),
    ]
    named["declaration"] = declare_error(wrong, 70)
    events.append(named["declaration"])
    return events, named
