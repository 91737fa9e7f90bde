"""Tests for the deterministic fastener-plant simulator (threadline.sim)."""

from __future__ import annotations

import random
import re
import time
import uuid
from collections import Counter, defaultdict
from typing import Any

import biip
import orjson
import pytest
from biip.checksums import gs1_standard_check_digit

from threadline.sim import EPCIS_CONTEXT, SCALES, Plant
from threadline.sim.clock import Stamper, in_hours, work_end, work_start
from threadline.sim.ids import EventIds, gs1_check_digit, gtin_from_lgtin, sscc18_from_urn

Event = dict[str, Any]

_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_OFFSET = re.compile(r"^[+-]\d{2}:\d{2}$")
_SSCC = re.compile(r"^urn:epc:id:sscc:(\d{7})\.(\d{10})$")
_DL = re.compile(r"^https://id\.threadline\.example/01/(\d{14})/10/([!-~]{1,20})$")
_LGTIN = re.compile(r"^urn:epc:class:lgtin:(\d{7})\.(\d{6})\.([!-~]{1,20})$")
_CBV_WORD = re.compile(r"^[a-z_]+$")


@pytest.fixture(scope="module")
def plant() -> Plant:
    return Plant(scale="small", seed=7)


@pytest.fixture(scope="module")
def events(plant: Plant) -> list[Event]:
    return list(plant.events())


def _key(e: Event) -> str:
    """Sort position: eventTime, or declarationTime for the error-declaration record."""
    decl = e.get("errorDeclaration")
    return str(decl["declarationTime"]) if decl else str(e["eventTime"])


def _edges(e: Event) -> int:
    """Genealogy edges by the documented counting rules."""
    if "errorDeclaration" in e:
        return 0
    kind = e["type"]
    if kind == "TransformationEvent":
        ins = len(e.get("inputEPCList", [])) + len(e.get("inputQuantityList", []))
        outs = len(e.get("outputEPCList", [])) + len(e.get("outputQuantityList", []))
        return ins * outs
    if kind == "AggregationEvent" and e["action"] == "ADD":
        return len(e.get("childEPCs", [])) + len(e.get("childQuantityList", []))
    if kind == "ObjectEvent" and e.get("bizStep") in ("shipping", "receiving"):
        objects = len(e.get("epcList", [])) + len(e.get("quantityList", []))
        return objects * len(e.get("destinationList", []))
    return 0


def _identifiers(e: Event) -> set[str]:
    out: set[str] = set()
    for name in ("epcList", "childEPCs", "inputEPCList", "outputEPCList"):
        out.update(e.get(name, []))
    for name in ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"):
        out.update(q["epcClass"] for q in e.get(name, []))
    if "parentID" in e:
        out.add(e["parentID"])
    for name in ("readPoint", "bizLocation"):
        if name in e:
            out.add(e[name]["id"])
    out.update(s["source"] for s in e.get("sourceList", []))
    out.update(d["destination"] for d in e.get("destinationList", []))
    return out


def _downstream(events: list[Event]) -> dict[str, set[str]]:
    adj: dict[str, set[str]] = defaultdict(set)
    for e in events:
        if "errorDeclaration" in e:
            continue
        if e["type"] == "TransformationEvent":
            for i in e.get("inputQuantityList", []):
                for o in e.get("outputQuantityList", []):
                    adj[i["epcClass"]].add(o["epcClass"])
        elif e["type"] == "AggregationEvent" and e["action"] == "ADD":
            for c in e.get("childEPCs", []):
                adj[c].add(e["parentID"])
            for q in e.get("childQuantityList", []):
                adj[q["epcClass"]].add(e["parentID"])
    return adj


def _reach(adj: dict[str, set[str]], start: str) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        for nxt in adj.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


# ---------------------------------------------------------------------------- API


def test_scales_and_bad_scale() -> None:
    assert SCALES == ("small", "medium", "large")
    with pytest.raises(ValueError, match="huge"):
        Plant(scale="huge")


def test_document_context(plant: Plant) -> None:
    ctx = plant.document_context()
    assert (
        ctx[0] == EPCIS_CONTEXT == "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
    )
    assert ctx[1] == {"tl": "https://threadline.example/ns/"}


def test_counts_available_before_iterating() -> None:
    fresh = Plant(scale="small", seed=7)
    estimate = fresh.estimated_events()
    counts = fresh.counts  # runs one generation internally
    assert abs(estimate - counts.events) / counts.events < 0.1
    assert fresh.estimated_events() == counts.events
    assert fresh.highlights.error_event_id.startswith("urn:uuid:")


# ---------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_json(events: list[Event]) -> None:
    again = list(Plant(scale="small", seed=7).events())
    assert orjson.dumps(again) == orjson.dumps(events)


def test_different_seed_differs(events: list[Event]) -> None:
    other = list(Plant(scale="small", seed=8).events())
    assert orjson.dumps(other) != orjson.dumps(events)
    assert {e["eventID"] for e in other}.isdisjoint({e["eventID"] for e in events})


# ---------------------------------------------------------------------------- event shape


def test_time_order(events: list[Event]) -> None:
    keys = [_key(e) for e in events]
    assert keys == sorted(keys)
    # Apart from the restated erroneous event, eventTime itself never goes backwards.
    plain = [e["eventTime"] for e in events if "errorDeclaration" not in e]
    assert plain == sorted(plain)


def test_common_fields(events: list[Event]) -> None:
    for e in events:
        assert e["type"] in ("ObjectEvent", "AggregationEvent", "TransformationEvent")
        assert _TIME.match(e["eventTime"]), e["eventTime"]
        assert _OFFSET.match(e["eventTimeZoneOffset"])
        assert e["eventID"].startswith("urn:uuid:")
        u = uuid.UUID(e["eventID"][len("urn:uuid:") :])
        assert u.version == 4 and u.variant == uuid.RFC_4122
        for name in ("bizStep", "disposition"):
            if name in e:
                assert _CBV_WORD.match(e[name]), e[name]
        for name in ("readPoint", "bizLocation"):
            if name in e:
                assert set(e[name]) == {"id"}
        if e["type"] == "TransformationEvent":
            assert "action" not in e
        else:
            assert e["action"] in ("ADD", "OBSERVE", "DELETE")


def test_units_consistent_per_class(events: list[Event]) -> None:
    uoms: dict[str, set[str]] = defaultdict(set)
    for e in events:
        for name in (
            "quantityList",
            "childQuantityList",
            "inputQuantityList",
            "outputQuantityList",
        ):
            for q in e.get(name, []):
                assert q["quantity"] > 0
                uoms[q["epcClass"]].add(q["uom"])
    for epc_class, units in uoms.items():
        expected = "KGM" if epc_class.startswith("urn:epc:class:lgtin:") else "EA"
        assert units == {expected}, epc_class


def test_event_ids_unique_except_error_declaration(events: list[Event], plant: Plant) -> None:
    ids = Counter(e["eventID"] for e in events)
    repeated = [i for i, n in ids.items() if n > 1]
    assert repeated == [plant.highlights.error_event_id]
    assert ids[plant.highlights.error_event_id] == 2


def test_event_id_factory_is_a_bijection() -> None:
    ids = EventIds(123)
    issued = [ids.next() for _ in range(70_000)]
    assert len(set(issued)) == len(issued)
    assert ids.issued == 70_000


# ---------------------------------------------------------------------------- GS1 keys


def test_check_digit_matches_biip() -> None:
    rng = random.Random(5)
    for _ in range(2000):
        payload = "".join(str(rng.randrange(10)) for _ in range(rng.choice((7, 11, 12, 13, 17))))
        assert gs1_check_digit(payload) == gs1_standard_check_digit(payload)


def test_every_gtin_and_sscc_is_valid(events: list[Event]) -> None:
    ids: set[str] = set()
    for e in events:
        ids |= _identifiers(e)
    gtins = {m.group(1) for i in ids if (m := _DL.match(i))}
    dl_uris = {i for i in ids if i.startswith("https://")}
    ssccs = {i for i in ids if i.startswith("urn:epc:id:sscc:")}
    lgtins = {i for i in ids if i.startswith("urn:epc:class:lgtin:")}
    assert gtins and ssccs and lgtins
    for uri in sorted(dl_uris)[:400]:
        parsed = biip.parse(uri)
        assert parsed.gs1_digital_link_uri_error is None, uri
        assert parsed.gs1_digital_link_uri is not None
        for element in parsed.gs1_digital_link_uri.element_strings:
            assert element.gtin_error is None, uri
    for gtin in gtins:
        result = biip.parse(gtin)
        assert result.gtin_error is None, gtin
    for urn in ssccs:
        m = _SSCC.match(urn)
        assert m, urn
        digits = sscc18_from_urn(urn)
        assert len(digits) == 18
        assert digits[-1] == str(gs1_standard_check_digit(digits[:-1]))
        result = biip.parse("00" + digits)
        assert result.sscc_error is None, urn
        assert result.sscc is not None
    for urn in lgtins:
        assert _LGTIN.match(urn), urn
        assert biip.parse(gtin_from_lgtin(urn)).gtin_error is None, urn


def test_identifier_forms(events: list[Event]) -> None:
    ids: set[str] = set()
    for e in events:
        ids |= _identifiers(e)
    allowed = (
        r"^urn:epc:id:sscc:\d{7}\.\d{10}$",
        r"^urn:epc:id:sgln:\d{7}\.\d{5}\.[A-Z0-9-]+$",
        r"^urn:epc:id:pgln:\d{7}\.\d{5}$",
        r"^urn:epc:id:giai:4055555\.WT-\d{6}$",
        _LGTIN.pattern,
        _DL.pattern,
    )
    for i in ids:
        assert any(re.match(p, i) for p in allowed), i


# ---------------------------------------------------------------------------- process


def test_receiving_carries_mill_certificate(events: list[Event]) -> None:
    received = [e for e in events if e.get("bizStep") == "receiving" and "ilmd" in e]
    assert received
    for e in received:
        assert e["action"] == "ADD" and e["disposition"] == "in_progress"
        assert e["quantityList"][0]["uom"] == "KGM"
        assert e["sourceList"][0]["type"] == "owning_party"
        assert e["destinationList"] == [
            {"type": "owning_party", "destination": "urn:epc:id:pgln:4012345.00000"}
        ]
        assert e["bizTransactionList"][0]["type"] == "po"
        ilmd = e["ilmd"]
        assert ilmd["tl:supplier"] == e["sourceList"][0]["source"]
        assert e["quantityList"][0]["epcClass"].endswith("." + ilmd["tl:heatNumber"])
        assert set(ilmd["tl:chemistry"]) >= {"C", "Mn", "Si", "P", "S", "B"}
        assert ilmd["tl:certificate"].startswith("https://threadline.example/cert/")


def test_wire_is_not_overconsumed(events: list[Event]) -> None:
    received: dict[str, float] = {}
    used: Counter[str] = Counter()
    for e in events:
        if e.get("bizStep") == "receiving" and "ilmd" in e:
            q = e["quantityList"][0]
            received[q["epcClass"]] = q["quantity"]
        elif e["type"] == "TransformationEvent":
            for q in e["inputQuantityList"]:
                if q["uom"] == "KGM":
                    assert q["epcClass"] in received  # received before it is consumed
                    used[q["epcClass"]] += q["quantity"]
    for heat, kg in used.items():
        assert kg <= received[heat] + 0.5


def test_production_stages(events: list[Event]) -> None:
    heading = [e for e in events if e["readPoint"]["id"].split(".")[-1].startswith("CH-")]
    headed = [e for e in heading if e["type"] == "TransformationEvent"]
    assert headed and any(len(e["inputQuantityList"]) == 2 for e in headed)  # heat-lot merge
    for e in headed:
        assert e["bizStep"] == "creating_class_instance" and e["disposition"] == "active"
        assert e["bizLocation"]["id"] == "urn:epc:id:sgln:4012345.00001.0"
        (element,) = e["sensorElementList"]
        assert element["sensorMetadata"]["deviceID"].startswith("urn:epc:id:giai:4012345.FF-CH-")
        assert element["sensorReport"][0]["type"] == "gs1:Force"
    standalone = [e for e in heading if e["type"] == "ObjectEvent"]
    assert standalone and all(e["bizStep"] == "sensor_reporting" for e in standalone)
    furnace = [e for e in events if ".FURN-" in e.get("readPoint", {}).get("id", "")]
    assert furnace
    for e in furnace:
        assert 2 <= len(e["inputQuantityList"]) <= 4
        types = {r["type"] for s in e["sensorElementList"] for r in s["sensorReport"]}
        assert types == {"gs1:Temperature", "gs1:Time"}
    inspections = [e for e in events if e.get("bizStep") == "inspecting"]
    dispositions = Counter(e["disposition"] for e in inspections)
    assert dispositions["conformant"] > 0 and dispositions["non_conformant"] > 0
    assert any(e.get("bizStep") == "destroying" and e["action"] == "DELETE" for e in events)
    assert any(e.get("bizStep") == "holding" for e in events)


def test_packing_and_palletising(events: list[Event]) -> None:
    boxes = [
        e
        for e in events
        if e["type"] == "AggregationEvent"
        and e.get("bizStep") == "packing"
        and "childQuantityList" in e
    ]
    assert boxes
    assert all(e["parentID"].startswith("urn:epc:id:sscc:4012345.0") for e in boxes)
    assert any(len(e["childQuantityList"]) == 2 for e in boxes)  # mixed boxes exist
    pallets = [
        e
        for e in events
        if e["type"] == "AggregationEvent"
        and e["action"] == "ADD"
        and e["readPoint"]["id"].endswith(".PAL-01")
    ]
    assert pallets
    for e in pallets:
        assert e["parentID"].startswith("urn:epc:id:sscc:4012345.1")
        assert 20 <= len(e["childEPCs"]) <= 60
        assert e["bizStep"] == "packing"
    # Some lots keep a loose remainder that was never boxed.
    produced = {
        q["epcClass"]: q["quantity"]
        for e in events
        if e.get("bizStep") == "inspecting" and e["disposition"] == "conformant"
        for q in e["quantityList"]
    }
    boxed: Counter[str] = Counter()
    for e in boxes:
        for q in e["childQuantityList"]:
            boxed[q["epcClass"]] += q["quantity"]
    assert all(boxed[c] <= produced[c] for c in boxed)
    assert any(boxed[c] < produced[c] for c in produced)


def test_shipping_events(events: list[Event]) -> None:
    ships = [e for e in events if e.get("bizStep") == "shipping"]
    assert ships
    customers = set()
    for e in ships:
        assert e["action"] == "OBSERVE" and e["disposition"] == "in_transit"
        assert e["readPoint"]["id"].startswith("urn:epc:id:sgln:4012345.00002.DOCK-")
        assert {b["type"] for b in e["bizTransactionList"]} == {"desadv", "po"}
        assert e["sourceList"] == [
            {"type": "owning_party", "source": "urn:epc:id:pgln:4012345.00000"},
            {"type": "location", "source": "urn:epc:id:sgln:4012345.00002.0"},
        ]
        assert [d["type"] for d in e["destinationList"]] == ["owning_party", "location"]
        customers.add(e["destinationList"][0]["destination"])
    assert 4 <= len(customers) <= 8
    assert any(
        any(x.startswith("urn:epc:id:sscc:4012345.0") for x in e["epcList"]) for e in ships
    )  # occasionally loose boxes
    shipped = {x for e in ships for x in e["epcList"]}
    for e in events:
        if e.get("bizStep") == "receiving" and "epcList" in e:
            assert set(e["epcList"]) <= shipped


def test_installation(events: list[Event]) -> None:
    installs = [e for e in events if e.get("bizStep") == "installing"]
    assert installs
    for e in installs:
        assert e["type"] == "AggregationEvent" and e["action"] == "ADD"
        assert e["parentID"].startswith("urn:epc:id:giai:4055555.WT-")
        assert sum(q["quantity"] for q in e["childQuantityList"]) == 24
        reports = e["sensorElementList"][0]["sensorReport"]
        assert [(r["type"], r["uom"]) for r in reports] == [
            ("gs1:Torque", "NU"),
            ("gs1:Angle", "DD"),
        ]
    assert len({e["parentID"] for e in installs}) == len(installs)


# ---------------------------------------------------------------------------- highlights


def test_unpacked_box_left_before_its_pallet_shipped(events: list[Event], plant: Plant) -> None:
    box = plant.highlights.unpacked_box
    pallet = plant.highlights.unpacked_from
    unpack = next(
        i
        for i, e in enumerate(events)
        if e["type"] == "AggregationEvent"
        and e["action"] == "DELETE"
        and e["parentID"] == pallet
        and e["childEPCs"] == [box]
    )
    assert events[unpack]["bizStep"] == "unpacking"
    ship = next(
        i for i, e in enumerate(events) if e.get("bizStep") == "shipping" and pallet in e["epcList"]
    )
    assert unpack < ship
    assert events[unpack]["eventTime"] < events[ship]["eventTime"]
    assert box not in events[ship]["epcList"]
    # Packed onto another pallet, which shipped later in a different truck.
    repack = next(
        e
        for e in events[unpack:]
        if e["type"] == "AggregationEvent" and e["action"] == "ADD" and e.get("childEPCs") == [box]
    )
    new_pallet = repack["parentID"]
    assert new_pallet != pallet
    later = next(e for e in events if e.get("bizStep") == "shipping" and new_pallet in e["epcList"])
    assert later["eventTime"] > repack["eventTime"]
    assert later is not events[ship]
    repacks = [e for e in events if e.get("bizStep") == "unpacking"]
    assert len(repacks) == plant.counts.repacks >= 3


def test_exactly_one_error_declaration(events: list[Event], plant: Plant) -> None:
    declared = [e for e in events if "errorDeclaration" in e]
    assert len(declared) == 1
    record = declared[0]
    error_id = plant.highlights.error_event_id
    assert record["eventID"] == error_id
    original = next(e for e in events if e["eventID"] == error_id and "errorDeclaration" not in e)
    assert events.index(original) < events.index(record)
    decl = record.pop("errorDeclaration")
    try:
        assert record == original
    finally:
        record["errorDeclaration"] = decl
    assert decl["reason"] == "incorrect_data"
    assert decl["declarationTime"] > original["eventTime"]
    (corrective_id,) = decl["correctiveEventIDs"]
    corrective = next(e for e in events if e["eventID"] == corrective_id)
    assert corrective["type"] == original["type"] == "TransformationEvent"
    assert corrective["outputQuantityList"] == original["outputQuantityList"]
    assert corrective["inputQuantityList"] != original["inputQuantityList"]
    assert events.index(corrective) < events.index(record)
    assert corrective["eventTime"] == decl["declarationTime"]


def test_drift_trends_upward_inside_window(events: list[Event], plant: Plant) -> None:
    hl = plant.highlights
    start, end = hl.drift_window
    assert start < end
    inside: list[tuple[str, float]] = []
    before: list[float] = []
    for e in events:
        if e.get("readPoint", {}).get("id") != hl.drifting_header:
            continue
        mean = e["sensorElementList"][0]["sensorReport"][0]["meanValue"]
        if start <= e["eventTime"] <= end:
            inside.append((e["eventTime"], mean))
        elif e["eventTime"] < start:
            before.append(mean)
    assert len(inside) >= 8 and before
    values = [v for _, v in inside]
    n = len(values)
    xbar, ybar = (n - 1) / 2, sum(values) / n
    slope = sum((i - xbar) * (v - ybar) for i, v in enumerate(values)) / sum(
        (i - xbar) ** 2 for i in range(n)
    )
    assert slope > 0
    nominal = sum(before) / len(before)
    assert values[-1] > nominal * 1.12
    assert max(before) < nominal * 1.05
    # The drifting header is a real header whose readings only climb inside the window.
    assert hl.drifting_header.startswith("urn:epc:id:sgln:4012345.00001.CH-")


def test_heat_lot_reached_customer(events: list[Event], plant: Plant) -> None:
    hl = plant.highlights
    adj = _downstream(events)
    reach = _reach(adj, hl.heat_lot)
    assert hl.shipped_box in reach
    members = _pallet_members(events)
    ship = next(
        e
        for e in events
        if e.get("bizStep") == "shipping"
        and (
            hl.shipped_box in e["epcList"]
            or any(hl.shipped_box in members.get(p, ()) for p in e["epcList"])
        )
    )
    assert ship["destinationList"][0]["destination"] == hl.customer
    assert hl.heat_lot.startswith("urn:epc:class:lgtin:")


def _pallet_members(events: list[Event]) -> dict[str, set[str]]:
    """Pallet -> boxes on it at the end (ADDs minus DELETEs)."""
    members: dict[str, set[str]] = defaultdict(set)
    for e in events:
        if e["type"] == "AggregationEvent" and "childEPCs" in e:
            if e["action"] == "ADD":
                members[e["parentID"]].update(e["childEPCs"])
            else:
                members[e["parentID"]].difference_update(e["childEPCs"])
    return members


# ---------------------------------------------------------------------------- counts


def test_small_counts_match_events(events: list[Event], plant: Plant) -> None:
    c = plant.counts
    by_type = Counter(e["type"] for e in events)
    assert c.events == len(events)
    assert c.object_events == by_type["ObjectEvent"]
    assert c.aggregation_events == by_type["AggregationEvent"]
    assert c.transformation_events == by_type["TransformationEvent"]
    assert c.edges_estimate == sum(_edges(e) for e in events)
    ids: set[str] = set()
    for e in events:
        ids |= _identifiers(e)
    assert c.identifiers == len(ids)
    assert c.boxes == sum(1 for i in ids if i.startswith("urn:epc:id:sscc:4012345.0"))
    assert c.pallets == sum(1 for i in ids if i.startswith("urn:epc:id:sscc:4012345.1"))
    assert c.assemblies == sum(1 for i in ids if i.startswith("urn:epc:id:giai:"))
    assert c.lots == sum(1 for i in ids if i.startswith(("urn:epc:class:", "https://")))
    assert c.heat_lots == sum(1 for i in ids if i.startswith("urn:epc:class:lgtin:"))
    assert c.parties == sum(1 for i in ids if i.startswith("urn:epc:id:pgln:"))
    assert c.locations == sum(1 for i in ids if i.startswith("urn:epc:id:sgln:"))
    assert c.shipments == sum(1 for e in events if e.get("bizStep") == "shipping")
    assert c.error_declarations == 1
    assert c.customers == len(
        {e["destinationList"][0]["destination"] for e in events if e.get("bizStep") == "shipping"}
    )
    # The small plant's size, as documented.
    assert 2_000 <= c.events <= 5_000
    assert 200 <= c.lots <= 900
    assert 4 <= c.customers <= 8
    assert c.merged_batches >= 1 and c.mixed_boxes >= 1 and c.loose_boxes >= 1


# ---------------------------------------------------------------------------- clock helpers


def test_calendar_helpers() -> None:
    day = 24 * 3600 * 1000
    # Time 0 is Monday 05:00 UTC; Saturday 05:00 starts the weekend.
    assert work_start(4 * day) == 4 * day
    assert work_start(5 * day) == 7 * day
    assert work_end(5 * day - 1000, 2000) == 7 * day + 1000
    assert in_hours(0, 6, 16) == 3600 * 1000
    stamper = Stamper()
    assert stamper.stamp(0) == ("2024-01-08T05:00:00.000Z", "+01:00")
    assert stamper.stamp(100 * day + 1)[1] == "+02:00"


# ---------------------------------------------------------------------------- speed


def test_medium_generation_rate(capsys: pytest.CaptureFixture[str]) -> None:
    medium = Plant(scale="medium", seed=7)
    started = time.perf_counter()
    n = sum(1 for _ in medium.events())
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(f"\nmedium plant: {n} events in {elapsed:.2f} s = {n / elapsed:,.0f} events/s")
    assert n == medium.counts.events
    assert 70_000 <= n <= 140_000
    assert n / elapsed > 10_000  # generous: the target is >= 60,000/s on an idle machine
