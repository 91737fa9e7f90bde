"""The demo plant, stored: its tour's commands give the answers the plant was built to show."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from threadline.cli import app
from threadline.demo import build_demo
from threadline.genealogy import recall, trace, where, window
from threadline.gs1.keys import canonical_key as k
from threadline.sim import Plant
from threadline.store import Store, open_store

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    store = open_store(str(path))
    build_demo(store, scale="small", seed=7)
    return store


@pytest.fixture(scope="module")
def plant() -> Plant:
    p = Plant(scale="small", seed=7)
    for _ in p.events():
        pass
    return p


def test_demo_command_prints_a_tour_with_runnable_commands(tmp_path: Path) -> None:
    db = str(tmp_path / "tour.db")
    # --no-serve: stop after the tour (the serving demo is tested in tests/test_readme.py).
    result = runner.invoke(app, ["demo", "--scale", "small", "--db", db, "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "Demo plant ready" in result.output
    commands = re.findall(r"^  (threadline .+)$", result.output, flags=re.M)
    assert len(commands) >= 3
    for command in commands:
        args = [a.strip("'") for a in command.split()[1:]]
        ran = runner.invoke(app, args)
        assert ran.exit_code == 0, (command, ran.output)
    again = runner.invoke(app, ["demo", "--scale", "small", "--db", db, "--no-serve"])
    assert "were already there" in again.output  # a second run stores nothing twice


def test_heat_lot_reaches_customers(demo_store: Store, plant: Plant) -> None:
    with demo_store.reader() as r:
        scope = recall(r, [plant.highlights.heat_lot])
    customers = {c.id for c in scope.customers}
    assert k(plant.highlights.customer) in customers
    assert all(item.quantity and item.quantity > 0 for c in scope.customers for item in c.items)


def test_shipped_box_traces_back_to_the_heat_lot(demo_store: Store, plant: Plant) -> None:
    with demo_store.reader() as r:
        upstream = {n.id for n in trace(r, plant.highlights.shipped_box, "backward").nodes}
    assert k(plant.highlights.heat_lot) in upstream


def test_unpacked_box_did_not_ship_with_the_pallet_it_left(demo_store: Store, plant: Plant) -> None:
    h = plant.highlights
    with demo_store.reader() as r:
        links = trace(r, h.unpacked_box, "forward", links=True).links
        now = where(r, h.unpacked_box)
    left = k(h.unpacked_from)
    # It was on that pallet for a while, but the pallet's shipment is not reached through it.
    assert any(link.target == left and link.valid_to for link in links)
    assert not any(link.source == left and link.relation == "shipped_to" for link in links)
    assert left not in now.container_chain


def test_event_declared_in_error_is_out_of_the_genealogy(demo_store: Store, plant: Plant) -> None:
    with demo_store.reader() as r:
        rows = r.query(
            "SELECT error_declared FROM events WHERE event_id = ? AND is_declaration = ?",
            (plant.highlights.error_event_id, False),
        )
        linked = r.query(
            "SELECT count(*) FROM edges e JOIN events v ON v.id = e.event WHERE v.event_id = ?",
            (plant.highlights.error_event_id,),
        )
    assert [bool(x[0]) for x in rows] == [True]
    assert linked[0][0] == 0


def test_drift_window_finds_the_lots_made_on_the_drifting_header(
    demo_store: Store, plant: Plant
) -> None:
    start, end = plant.highlights.drift_window
    with demo_store.reader() as r:
        result = window(r, plant.highlights.drifting_header, start, "2100-01-01T00:00:00Z")
        narrow = window(r, plant.highlights.drifting_header, start, end)
    made = [lot for lot in result.lots if lot.role == "output_quantity"]
    assert made and len(narrow.lots) <= len(result.lots)
