"""Trace semantics on a hand-built plant whose answers are known (see plantkit.small_plant)."""

from __future__ import annotations

from typing import Any

import pytest

from threadline.epcis.json_reader import read_json_document
from threadline.errors import NotFound
from threadline.genealogy import recall, trace, where
from threadline.gs1.keys import canonical_key as k
from threadline.store import Store

from plantkit import B1, B2, C1, C2, F1, H1, H2, P1, P2, X1, X2, X3, document, pack, small_plant


def load(store: Store, events: list[dict[str, Any]]) -> None:
    store.append(read_json_document(document(events)).events)


@pytest.fixture
def plant(store: Store) -> Store:
    events, _ = small_plant()
    load(store, events)
    return store


def customer_items(scope: Any) -> dict[str, dict[str, float]]:
    return {c.id: {item.id: item.quantity for item in c.items} for c in scope.customers}


def test_backward_trace_reaches_both_heats_through_merges(plant: Store) -> None:
    with plant.reader() as r:
        result = trace(r, X1, "backward")
    depth = {n.id: n.depth for n in result.nodes}
    assert depth == {k(F1): 1, k(B1): 2, k(B2): 2, k(H1): 3, k(H2): 3}
    via_b1 = {(n.id, n.quantity, n.uom) for n in result.nodes if n.via == k(B1)}
    assert via_b1 == {(k(H1), 500.0, "KGM"), (k(H2), 300.0, "KGM")}


def test_forward_trace_splits_into_boxes_and_reaches_customers(plant: Store) -> None:
    with plant.reader() as r:
        result = trace(r, H2, "forward")
    reached = {n.id for n in result.nodes}
    assert {k(B1), k(F1), k(X1), k(X2), k(X3), k(P1), k(P2), k(C1), k(C2)} <= reached
    assert k(B2) not in reached  # B2 is made from H1 only
    boxes = {n.id: n.quantity for n in result.nodes if n.relation == "packed_in" and n.via == k(F1)}
    assert boxes == {k(X1): 5000.0, k(X2): 5000.0, k(X3): 5000.0}


def test_box_taken_off_pallet_before_shipping_did_not_ship(plant: Store) -> None:
    with plant.reader() as r:
        result = trace(r, X2, "forward")
        scope = recall(r, [X2])
    reached = {n.id for n in result.nodes}
    assert k(P1) in reached  # it was on P1 for a while ...
    assert k(C1) not in reached  # ... but not when P1 shipped
    assert scope.customers == []
    assert [s.id for s in scope.in_stock] == [k(X2)]


def test_recall_customers_quantities_and_loose_stock(plant: Store) -> None:
    with plant.reader() as r:
        scope = recall(r, [H2])
    assert customer_items(scope) == {k(C1): {k(F1): 5000.0}, k(C2): {k(F1): 1000.0}}
    assert len(scope.shipments) == 2
    p1_shipment = next(s for s in scope.shipments if s.objects == [k(P1)])
    assert [(i.id, i.quantity, i.uom) for i in p1_shipment.items] == [(k(F1), 5000.0, "EA")]
    assert p1_shipment.destinations == [{"type": "owning_party", "id": k(C1)}]
    stock = {s.id: (s.quantity, s.container) for s in scope.in_stock}
    # X2 and X3 sit on P2 in the warehouse; 18000 - 15000 packed - 1000 shipped = 2000 loose;
    # the suspect heat itself still has 800 - 300 = 500 kg on hand.
    assert stock == {
        k(X2): (5000.0, k(P2)),
        k(X3): (5000.0, k(P2)),
        k(F1): (2000.0, None),
        k(H2): (500.0, None),
    }


def test_error_declaration_drops_the_event_from_every_answer(store: Store) -> None:
    events, named = small_plant()
    load(store, events[:-1])  # everything but the declaration
    with store.reader() as r:
        before = recall(r, [H2])
        assert where(r, X3).container_chain == [k(P1)]
    assert customer_items(before)[k(C1)] == {k(F1): 10000.0}  # X1 and, wrongly, X3

    result = store.append(read_json_document(document([named["declaration"]])).events)
    assert result.declared_in_error == 1
    with store.reader() as r:
        after = recall(r, [H2])
        assert where(r, X3).container_chain == [k(P2)]  # back where it really was
        forward = {n.id for n in trace(r, X3, "forward").nodes}
    assert customer_items(after)[k(C1)] == {k(F1): 5000.0}
    assert k(C1) not in forward


def test_declaration_before_the_event_it_declares(store: Store) -> None:
    events, named = small_plant()
    wrong_index = events.index(named["wrong"])
    load(store, [named["declaration"]])
    load(store, events[:wrong_index] + events[wrong_index + 1 : -1])
    load(store, [named["wrong"]])  # arrives late: stored, but already known to be in error
    with store.reader() as r:
        assert where(r, X3).container_chain == [k(P2)]
        assert customer_items(recall(r, [H2]))[k(C1)] == {k(F1): 5000.0}


def test_same_event_twice_is_stored_once(plant: Store) -> None:
    events, _ = small_plant()
    counts = plant.counts()
    again = plant.append(read_json_document(document(events)).events)
    assert again.inserted == 0
    assert again.duplicates == len(events)
    assert plant.counts() == counts


def test_partial_unpack_of_a_quantity_keeps_the_rest_inside(plant: Store) -> None:
    load(
        plant,
        [
            pack(
                80,
                X1,
                quantities=[{"epcClass": F1, "quantity": 1500, "uom": "EA"}],
                action="DELETE",
            )
        ],
    )
    with plant.reader() as r:
        inside = where(r, F1).packed_in
        scope = recall(r, [F1])
    x1 = [p for p in inside if p["container"] == k(X1)]
    assert [p["quantity"] for p in x1] == [3500.0]
    loose = next(s for s in scope.in_stock if s.id == k(F1))
    assert loose.quantity == 3500.0  # 2000 loose + 1500 unpacked


def test_ids_are_accepted_in_any_gs1_form(plant: Store) -> None:
    digital_link = "https://trace.example.org/01/04012345222227/10/F1"
    with plant.reader() as r:
        urn = trace(r, F1, "forward")
        dl = trace(r, digital_link, "forward")
    assert urn.root == dl.root == k(F1)
    assert [n.id for n in urn.nodes] == [n.id for n in dl.nodes]


def test_unknown_identifier_is_not_found(plant: Store) -> None:
    with plant.reader() as r, pytest.raises(NotFound, match="no object"):
        trace(r, "urn:epc:id:sscc:4012345.9999999999", "forward")


def test_where_reports_state_location_and_last_event(plant: Store) -> None:
    with plant.reader() as r:
        p1 = where(r, P1)
        f1 = where(r, F1)
    assert p1.state == "shipped"
    assert p1.disposition == "in_transit"
    assert p1.last_event is not None and p1.last_event["biz_step"] == "shipping"
    assert f1.quantity == 2000.0 and f1.total == 18000.0 and f1.uom == "EA"


def test_rebuild_gives_identical_answers(plant: Store) -> None:
    def answers() -> Any:
        with plant.reader() as r:
            return (
                recall(r, [H1, H2]).to_dict(),
                trace(r, X1, "backward").to_dict(),
                trace(r, H1, "forward").to_dict(),
                where(r, X3).to_dict(),
            )

    before = answers()
    counts = plant.counts()
    plant.rebuild()
    assert plant.counts() == counts
    assert answers() == before
