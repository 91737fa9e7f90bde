"""OPC UA ingestion: data changes of mapped nodes become readings (source ``opcua``).

Needs the optional extra: ``pip install 'threadline[opcua]'`` (asyncua; PyYAML for YAML maps).

The map file (YAML or JSON) names each node and what its value is::

    nodes:
      - node: "ns=2;s=CH-07.FormingForce"
        equipment: CH-07
        parameter: forming_force
        unit: KNT            # optional, UN/ECE rec 20
        sampling_ms: 100     # optional; the server samples this often (default 50)

(a list of such entries, or ``{node id: {equipment, parameter, unit}}``, is accepted too).

The ingester subscribes to the nodes' value changes; each change is one reading at the value's
source timestamp (else the server's, else the time received). Numbers are stored as they are,
booleans as 1 and 0; any other value is refused into ``ingest_errors``. Changes are written in
batches like MQTT messages. OPC UA has no acknowledgement a server would redeliver from, so
what is received but not yet committed when the ingester is killed is lost; on reconnecting, the
server sends each node's current value again, and the identity of readings
``(equipment, parameter, time, source)`` keeps that from storing twice.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from threadline.epcis.json_reader import utc_text
from threadline.errors import DocumentError, InvalidInput, ThreadlineError
from threadline.ingest.alert_webhooks import AlertWebhookDispatcher, start_alert_delivery
from threadline.ingest.readings import (
    OPCUA_SOURCE,
    READINGS_LISTENERS,
    MachineReading,
    ReadingsListener,
    equipment_key,
)
from threadline.ingest.sources import BatchQueue, BatchWriter, Item

__all__ = ["NodeSpec", "OpcUaIngester", "OpcUaOptions", "ServerUnavailable", "load_node_map"]

log = logging.getLogger("threadline.ingest")


class ServerUnavailable(ThreadlineError):
    """The OPC UA server cannot be reached, or refused the subscription."""

    status = 503
    code = "opcua_unavailable"


@dataclass(frozen=True)
class NodeSpec:
    """What one node's value is: a parameter of a piece of equipment."""

    node: str
    equipment: str
    parameter: str
    unit: str | None = None
    sampling_ms: float = 50.0


@dataclass(frozen=True)
class OpcUaOptions:
    endpoint: str
    batch_size: int = 20_000
    max_delay: float = 0.2
    publishing_ms: float = 100.0  # how often the server sends the changes it has collected
    queue_size: int = 100  # changes the server keeps per node between two publishes
    connect_timeout: float = 10.0
    reconnect_delay: float = 2.0


def _need(entry: Any, name: str, pointer: str, source: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value:
        raise DocumentError(
            f"{name} must be a non-empty string, got {value!r}",
            source=source,
            pointer=f"{pointer}/{name}",
        )
    return value


def _spec(entry: Any, pointer: str, source: str) -> NodeSpec:
    if not isinstance(entry, dict):
        raise DocumentError("a node entry must be a mapping", source=source, pointer=pointer)
    unit = entry.get("unit")
    if unit is not None and not isinstance(unit, str):
        raise DocumentError("unit must be a string", source=source, pointer=f"{pointer}/unit")
    sampling = entry.get("sampling_ms", 50.0)
    if isinstance(sampling, bool) or not isinstance(sampling, int | float) or sampling < 0:
        raise DocumentError(
            "sampling_ms must be a number >= 0", source=source, pointer=f"{pointer}/sampling_ms"
        )
    equipment = _need(entry, "equipment", pointer, source)
    try:
        equipment_key(equipment)
    except InvalidInput as exc:
        raise DocumentError(exc.message, source=source, pointer=f"{pointer}/equipment") from None
    return NodeSpec(
        _need(entry, "node", pointer, source),
        equipment,
        _need(entry, "parameter", pointer, source),
        unit,
        float(sampling),
    )


def load_node_map(path: Path) -> list[NodeSpec]:
    """Read a node map (YAML for .yaml/.yml, else JSON); faults name the file and the entry."""
    source = str(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{source}: cannot read: {exc.strerror}") from None
    data: Any
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml  # type: ignore[import-untyped]
        except ImportError:
            raise InvalidInput(
                "a YAML node map needs PyYAML: pip install 'threadline[opcua]' (or use JSON)"
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise DocumentError(f"not valid YAML: {exc}", source=source) from None
    else:
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise DocumentError(f"not valid JSON: {exc}", source=source) from None
    specs: list[NodeSpec] = []
    if isinstance(data, dict) and "nodes" in data:
        data, base = data["nodes"], "/nodes"
    else:
        base = ""
    if isinstance(data, list):
        specs = [_spec(entry, f"{base}/{i}", source) for i, entry in enumerate(data)]
    elif isinstance(data, dict):
        for node, entry in data.items():
            spec = _spec({"node": node, **entry} if isinstance(entry, dict) else entry,
                         f"{base}/{node}", source)  # fmt: skip
            specs.append(spec)
    else:
        raise DocumentError(
            "a node map is a list of nodes, or {nodes: [...]}", source=source, pointer=""
        )
    if not specs:
        raise DocumentError("the node map names no nodes", source=source, pointer=base or "")
    seen: set[str] = set()
    for spec in specs:
        if spec.node in seen:
            raise DocumentError(f"node {spec.node!r} is mapped twice", source=source)
        seen.add(spec.node)
    return specs


def _value(val: Any) -> float | None:
    if isinstance(val, bool):
        return 1.0 if val else 0.0
    if isinstance(val, int | float) and math.isfinite(val):
        return float(val)
    return None


def _moment(data_value: Any) -> datetime:
    moment = getattr(data_value, "SourceTimestamp", None) or getattr(
        data_value, "ServerTimestamp", None
    )
    if not isinstance(moment, datetime):
        return datetime.now(UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class _Handler:
    """asyncua's data change callback: turns each change into an item on the queue."""

    def __init__(self, specs: dict[str, NodeSpec], queue: BatchQueue) -> None:
        self.specs = specs
        self.queue = queue

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        node_id = node.nodeid.to_string()
        spec = self.specs.get(node_id)
        if spec is None:  # not ours (cannot happen with one subscription per ingester)
            return
        item = Item(OPCUA_SOURCE, node_id)
        value = _value(val)
        if value is None:
            item.payload = repr(val)
            item.refused(f"{spec.equipment} {spec.parameter}: the value {val!r} is not a number")
        else:
            time = utc_text(_moment(data.monitored_item.Value))
            item.readings = [
                MachineReading(
                    equipment_key(spec.equipment),
                    spec.parameter,
                    time,
                    value,
                    spec.unit,
                    None,
                    OPCUA_SOURCE,
                    None,
                )
            ]
        self.queue.put(item)


class OpcUaIngester:
    """Subscribes to the mapped nodes of one OPC UA server and writes their changes to ``store``.

    Same life cycle as :class:`~threadline.ingest.mqtt.MqttIngester`: :meth:`start` (raises
    :class:`ServerUnavailable`), :meth:`run` until :meth:`stop`, then :meth:`close`. The OPC UA
    client runs on its own thread with its own event loop and reconnects by itself. When an
    alert checker listens at :meth:`start`, alert webhooks are delivered until :meth:`close`.
    """

    def __init__(
        self,
        store: Any,
        nodes: Sequence[NodeSpec],
        options: OpcUaOptions,
        *,
        listeners: Sequence[ReadingsListener] = (),
    ) -> None:
        try:
            import asyncua  # noqa: F401
        except ImportError:
            raise InvalidInput(
                "OPC UA needs the optional extra: pip install 'threadline[opcua]'"
            ) from None
        if not options.endpoint.startswith("opc.tcp://"):
            raise InvalidInput(f"--endpoint {options.endpoint!r}: expected opc.tcp://HOST:PORT")
        self.store = store
        self.nodes = list(nodes)
        self.options = options
        self.queue = BatchQueue()
        self.writer = BatchWriter(store, listeners=listeners)
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._failure: str | None = None
        self._thread: threading.Thread | None = None
        self.alert_delivery: AlertWebhookDispatcher | None = None

    @property
    def stats(self) -> Any:
        return self.writer.stats

    def start(self) -> None:
        """Connect and subscribe; returns once the first subscription stands."""
        self._thread = threading.Thread(target=self._client_thread, name="threadline-opcua")
        self._thread.start()
        ready = self._subscribed.wait(self.options.connect_timeout)
        if not ready or self._failure:
            self.close()
            why = self._failure or f"no answer within {self.options.connect_timeout:g} s"
            raise ServerUnavailable(f"OPC UA server {self.options.endpoint}: {why}")
        if self.alert_delivery is None:
            self.alert_delivery = start_alert_delivery(
                self.store, (*READINGS_LISTENERS, *self.writer.listeners)
            )

    def _client_thread(self) -> None:
        asyncio.run(self._client_loop())

    async def _client_loop(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                await self._session()
            except Exception as exc:  # connection lost or refused: try again, say why
                if first and not self._subscribed.is_set():
                    self._failure = str(exc) or type(exc).__name__
                    self._subscribed.set()
                    return
                log.warning("OPC UA connection to %s lost (%s); reconnecting",
                            self.options.endpoint, exc)  # fmt: skip
            first = False
            await asyncio.sleep(self.options.reconnect_delay)

    async def _session(self) -> None:
        from asyncua.client.client import Client

        specs = {}
        client = Client(url=self.options.endpoint, timeout=self.options.connect_timeout)
        async with client:
            handler = _Handler({}, self.queue)
            subscription = await client.create_subscription(self.options.publishing_ms, handler)
            for spec in self.nodes:
                node = client.get_node(spec.node)
                specs[node.nodeid.to_string()] = spec
                handler.specs[node.nodeid.to_string()] = spec
                await subscription.subscribe_data_change(  # type: ignore[call-overload]
                    node, queuesize=self.options.queue_size, sampling_interval=spec.sampling_ms
                )
            log.info("subscribed to %d OPC UA nodes at %s", len(specs), self.options.endpoint)
            self._subscribed.set()
            while not self._stop.is_set():
                await asyncio.sleep(0.2)
                await client.check_connection()

    def run(self) -> None:
        """Write batches until :meth:`stop`."""
        while not self._stop.is_set():
            self.step()

    def step(self) -> bool:
        """Take one batch and commit it; False if there was nothing to commit."""
        batch = self.queue.take(self.options.batch_size, self.options.max_delay)
        return bool(batch) and self.writer.write(batch)

    def stop(self) -> None:
        self._stop.set()
        self.writer.stopping.set()
        self.queue.close()

    def close(self) -> None:
        """Stop, and commit what has been received (nothing would deliver it again)."""
        self.stop()
        if self._thread is not None:
            self._thread.join(timeout=30)
        # One attempt per batch (stopping is set): a store that is down loses them either way.
        while len(self.queue) and self.step():
            pass
        if self.alert_delivery is not None:
            self.alert_delivery.close()  # what it had not sent stays queued for the next one
            self.alert_delivery = None

    def __enter__(self) -> OpcUaIngester:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
