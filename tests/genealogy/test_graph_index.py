"""The in-memory genealogy index gives exactly the SQL engine's answers, and follows writes."""

from __future__ import annotations

from typing import Any

import pytest

from threadline.demo import build_demo
from threadline.epcis.json_reader import read_json_document
from threadline.genealogy import recall, trace
from threadline.genealogy.index import GraphIndex
from threadline.gs1.keys import canonical_key as k
from threadline.store import Store

from plantkit import C1, H1, H2, P1, X1, X3, document, pack, receive, small_plant


def load(store: Store, events: list[dict[str, Any]]) -> None:
    store.append(read_json_document(document(events)).events)


def answers(store: Store, ids: list[str], index: GraphIndex | None) -> list[Any]:
    out = []
    with store.reader() as r:
        for raw in ids:
            for direction in ("forward", "backward"):
                out.append(trace(r, raw, direction, links=True, index=index).to_dict())  # type: ignore[arg-type]
            out.append(recall(r, [raw], index=index).to_dict())
    return out


def test_index_answers_equal_sql_answers_on_the_demo_plant(store: Store) -> None:
    build_demo(store, scale="small", seed=3)
    with store.reader() as r:
        index = GraphIndex.load(r)
        keys = [row[0] for row in r.query("SELECT key FROM objects ORDER BY id")]
    sample = keys[::41]
    assert len(sample) > 50
    assert answers(store, sample, index) == answers(store, sample, None)


def test_index_follows_new_events_closed_edges_and_error_declarations(store: Store) -> None:
    events, named = small_plant()
    wrong = events.index(named["wrong"])
    load(store, events[: wrong + 1])  # up to the wrong ADD of X3 onto P1
    with store.reader() as r:
        index = GraphIndex.load(r)
    load(store, events[wrong + 1 : -1])  # unpack/repack, shipments: new and closed edges
    ids = [H1, H2, X1, X3, P1]
    assert answers(store, ids, index) == answers(store, ids, None)
    with store.reader() as r:
        assert k(C1) in {n.id for n in trace(r, X3, "forward", index=index).nodes}

    load(store, [named["declaration"]])  # removes edges: the index reloads
    assert answers(store, ids, index) == answers(store, ids, None)
    with store.reader() as r:
        assert k(C1) not in {n.id for n in trace(r, X3, "forward", index=index).nodes}

    load(store, [pack(90, P1, epcs=[X3], action="DELETE")])  # a DELETE of nothing inside
    assert answers(store, ids, index) == answers(store, ids, None)


def test_index_after_rebuild_reloads(store: Store) -> None:
    events, _ = small_plant()
    load(store, events)
    with store.reader() as r:
        index = GraphIndex.load(r)
        before = r.graph_version()
    store.rebuild()
    with store.reader() as r:
        assert r.graph_version()[0] > before[0]
    assert answers(store, [H1, X1], index) == answers(store, [H1, X1], None)


@pytest.mark.parametrize("depth", [1, 2])
def test_depth_limit_is_the_same(store: Store, depth: int) -> None:
    events, _ = small_plant()
    load(store, events)
    with store.reader() as r:
        index = GraphIndex.load(r)
        sql = trace(r, H1, "forward", max_depth=depth).to_dict()
        mem = trace(r, H1, "forward", max_depth=depth, index=index).to_dict()
    assert sql == mem
    assert max(n["depth"] for n in sql["nodes"]) == depth


def test_big_segments_use_offsets_and_agree(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import threadline.genealogy.index as index_module

    monkeypatch.setattr(index_module, "_CSR_MIN", 1)  # every segment gets CSR offsets
    build_demo(store, scale="small", seed=5)
    with store.reader() as r:
        index = GraphIndex.load(r)
        keys = [row[0] for row in r.query("SELECT key FROM objects ORDER BY id")]
    assert index.segments[0].src_off is not None
    sample = keys[::97]
    assert answers(store, sample, index) == answers(store, sample, None)


def test_serialised_items_count_one_piece_each(store: Store) -> None:
    from plantkit import _base, ship

    s1, s2, s3 = (f"urn:epc:id:sgtin:4012345.011111.{n}" for n in (1, 2, 3))
    box, kept = "urn:epc:id:sscc:4012345.0000000077", "urn:epc:id:sscc:4012345.0000000078"
    commission = _base(
        "ObjectEvent", 1, action="ADD", bizStep="commissioning", epcList=[s1, s2, s3]
    )
    load(
        store,
        [
            commission,
            pack(2, box, epcs=[s1, s2]),
            pack(3, kept, epcs=[s3]),
            ship(4, C1, epcs=[box]),
        ],
    )
    with store.reader() as r:
        index = GraphIndex.load(r)
    for idx in (None, index):
        with store.reader() as r:
            scope = recall(r, [s1, s2, s3], index=idx)
        items = {c.id: {(i.id, i.quantity) for i in c.items} for c in scope.customers}
        assert items == {k(C1): {(k(s1), 1.0), (k(s2), 1.0)}}
        assert [(s.id, s.quantity) for s in scope.in_stock] == [(k(kept), 1.0)]


def test_an_object_received_after_the_index_loaded_has_its_recall_scope(store: Store) -> None:
    events, _ = small_plant()
    load(store, events)
    with store.reader() as r:
        index = GraphIndex.load(r)
    fresh = "urn:epc:class:lgtin:4098765.012345.NEW-1"
    load(store, [receive(95, fresh, 250)])  # no genealogy link yet: the index has not seen it
    ids = [fresh, H1]
    assert answers(store, ids, index) == answers(store, ids, None)
    with store.reader() as r:
        scope = recall(r, [fresh], index=index)
    assert [s["id"] for s in scope.suspects] == [k(fresh)]
    assert [e.id for e in scope.in_stock] == [k(fresh)]
