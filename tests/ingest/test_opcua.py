"""OPC UA ingestion against an asyncua server started by the test."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from threadline.errors import DocumentError
from threadline.ingest.opcua import OpcUaIngester, OpcUaOptions, ServerUnavailable, load_node_map
from threadline.ingest.readings import find_readings
from threadline.store import Store
from threadline.store.ingest_errors import list_errors

from mqttkit import count, wait_for

asyncua = pytest.importorskip("asyncua", reason="the opcua extra (asyncua) is not installed")
ua = asyncua.ua


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Plc:
    """An OPC UA server on its own thread and event loop, with a few process variables."""

    endpoint: str
    loop: asyncio.AbstractEventLoop
    variables: dict[str, Any]
    namespace: int

    def write(self, name: str, value: Any, when: datetime, kind: Any = None) -> None:
        variant = ua.Variant(value, kind) if kind is not None else ua.Variant(value)
        data = ua.DataValue(variant, SourceTimestamp=when, ServerTimestamp=when)
        future = asyncio.run_coroutine_threadsafe(self.variables[name].write_value(data), self.loop)
        future.result(timeout=30)

    def node_id(self, name: str) -> str:
        return f"ns={self.namespace};s={name}"


@pytest.fixture
def plc() -> Iterator[Plc]:
    endpoint = f"opc.tcp://127.0.0.1:{_free_port()}/threadline/test/"
    loop = asyncio.new_event_loop()
    started: dict[str, Any] = {}
    ready, stop = threading.Event(), asyncio.Event()

    async def serve() -> None:
        server = asyncua.Server()
        await server.init()
        server.set_endpoint(endpoint)
        ns = await server.register_namespace("urn:threadline:test:plc")
        machine = await server.nodes.objects.add_object(ns, "CH-07")
        variables = {
            "CH-07.force": await machine.add_variable(ua.NodeId("CH-07.force", ns), "force", 0.0),
            "CH-07.running": await machine.add_variable(
                ua.NodeId("CH-07.running", ns), "running", False
            ),
            "CH-07.mode": await machine.add_variable(ua.NodeId("CH-07.mode", ns), "mode", "auto"),
        }
        async with server:
            started.update(variables=variables, namespace=ns)
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    thread.start()
    assert ready.wait(60), "the OPC UA server did not start"
    try:
        yield Plc(endpoint, loop, started["variables"], started["namespace"])
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)


T0 = datetime(2026, 3, 1, 7, 0, 0, tzinfo=UTC)


def _map(tmp_path: Path, plc: Plc) -> Path:
    path = tmp_path / "nodes.yaml"
    path.write_text(
        "nodes:\n"
        f'  - node: "{plc.node_id("CH-07.force")}"\n'
        "    equipment: CH-07\n    parameter: forming_force\n    unit: KNT\n    sampling_ms: 10\n"
        f'  - node: "{plc.node_id("CH-07.running")}"\n'
        "    equipment: CH-07\n    parameter: running\n"
        f'  - node: "{plc.node_id("CH-07.mode")}"\n'
        "    equipment: CH-07\n    parameter: mode\n"
    )
    return path


def _start(store: Store, path: Path, plc: Plc) -> tuple[OpcUaIngester, threading.Thread]:
    ingester = OpcUaIngester(
        store, load_node_map(path), OpcUaOptions(plc.endpoint, max_delay=0.05, publishing_ms=20)
    )
    ingester.start()
    thread = threading.Thread(target=ingester.run, daemon=True)
    thread.start()
    return ingester, thread


def _finish(ingester: OpcUaIngester, thread: threading.Thread) -> None:
    ingester.stop()
    thread.join(timeout=30)
    ingester.close()


def test_data_changes_become_readings_once(store: Store, plc: Plc, tmp_path: Path) -> None:
    path = _map(tmp_path, plc)
    plc.write("CH-07.force", 10.0, T0, ua.VariantType.Double)
    plc.write("CH-07.running", True, T0, ua.VariantType.Boolean)
    ingester, thread = _start(store, path, plc)
    try:
        # Each value change (with its source timestamp) is one reading.
        for i in range(1, 6):
            when = T0.replace(second=i)
            plc.write("CH-07.force", 10.0 + i, when, ua.VariantType.Double)
            wait_for(lambda when=when: _has(store, when), 30, f"the reading at {when}")
        plc.write("CH-07.running", False, T0.replace(second=9), ua.VariantType.Boolean)
        wait_for(lambda: count(store, "SELECT count(*) FROM readings") == 8, 30, "8 readings")
    finally:
        _finish(ingester, thread)
    with store.reader() as reader:
        force = find_readings(reader, "CH-07", parameter="forming_force")
        running = find_readings(reader, "CH-07", parameter="running")
    assert [(r["time"][:19], r["value"], r["unit"], r["source"]) for r in force] == [
        (f"2026-03-01T07:00:0{i}", 10.0 + i, "KNT", "opcua") for i in range(6)
    ]
    assert [(r["time"][:19], r["value"]) for r in running] == [
        ("2026-03-01T07:00:00", 1.0),
        ("2026-03-01T07:00:09", 0.0),
    ]
    # A text value is no reading: refused into ingest_errors, naming node and value.
    refused = list_errors(store, source="opcua")
    assert refused and refused[0].topic == plc.node_id("CH-07.mode")
    assert "'auto'" in refused[0].reason and "not a number" in refused[0].reason

    # Subscribing again delivers each node's current value again: stored once.
    again, thread = _start(store, path, plc)
    try:
        wait_for(lambda: again.stats.readings >= 2, 30, "the current values again")
    finally:
        _finish(again, thread)
    assert again.stats.readings_stored == 0
    assert count(store, "SELECT count(*) FROM readings") == 8


def _has(store: Store, when: datetime) -> bool:
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S")
    return count(store, "SELECT count(*) FROM readings WHERE time LIKE ?", (f"{stamp}%",)) > 0


def test_an_unreachable_server_is_a_clear_error(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "nodes.json"
    path.write_text('[{"node": "ns=2;s=x", "equipment": "CH-07", "parameter": "force"}]')
    endpoint = f"opc.tcp://127.0.0.1:{_free_port()}/"
    ingester = OpcUaIngester(store, load_node_map(path), OpcUaOptions(endpoint, connect_timeout=3))
    with pytest.raises(ServerUnavailable, match=r"127\.0\.0\.1"):
        ingester.start()


@pytest.mark.parametrize(
    ("text", "clue"),
    [
        ('{"nodes": [{"node": "ns=2;s=x", "parameter": "p"}]}', "/nodes/0/equipment"),
        ('[{"node": "ns=2;s=x", "equipment": "E", "parameter": ""}]', "/0/parameter"),
        ('[{"node": "a", "equipment": "E", "parameter": "p", "sampling_ms": "x"}]', "sampling"),
        ("[]", "names no nodes"),
        ("{not json", "not valid JSON"),
        (
            '[{"node": "a", "equipment": "E", "parameter": "p"},'
            ' {"node": "a", "equipment": "E", "parameter": "q"}]',
            "mapped twice",
        ),
    ],
)
def test_a_bad_node_map_names_the_fault(tmp_path: Path, text: str, clue: str) -> None:
    path = tmp_path / "map.json"
    path.write_text(text)
    with pytest.raises(DocumentError, match=r"map\.json") as caught:
        load_node_map(path)
    assert clue in caught.value.message


def test_a_mapping_of_node_ids_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "map.yml"
    path.write_text('"ns=2;s=a":\n  equipment: CH-07\n  parameter: force\n  unit: KNT\n')
    (spec,) = load_node_map(path)
    assert (spec.node, spec.equipment, spec.parameter, spec.unit) == (
        "ns=2;s=a",
        "CH-07",
        "force",
        "KNT",
    )


def test_the_opcua_command_names_its_faults(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from threadline.cli import app

    db = str(tmp_path / "cli.db")
    bad = tmp_path / "bad.json"
    bad.write_text('[{"node": "ns=2;s=x", "equipment": "CH-07"}]')
    runner = CliRunner()
    refused = runner.invoke(
        app,
        ["ingest", "opcua", "--endpoint", "opc.tcp://127.0.0.1:1/", "--map", str(bad), "--db", db],
    )
    assert refused.exit_code == 1 and "/0/parameter" in refused.output
    good = tmp_path / "good.json"
    good.write_text('[{"node": "ns=2;s=x", "equipment": "CH-07", "parameter": "force"}]')
    endpoint = f"opc.tcp://127.0.0.1:{_free_port()}/"
    down = runner.invoke(
        app, ["ingest", "opcua", "--endpoint", endpoint, "--map", str(good), "--db", db]
    )
    assert down.exit_code == 2 and "OPC UA server" in down.output
