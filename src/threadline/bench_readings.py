"""The readings measurement of ``threadline bench``: MQTT readings into storage, QoS 1, none lost.

A burst of readings is published with QoS 1 to the broker (``THREADLINE_MQTT_BROKER``, by
default Mosquitto on 127.0.0.1:1883) while an ingester — the same :class:`MqttIngester` as
``threadline ingest mqtt``, on its own thread — writes them to a fresh SQLite store and
acknowledges each message after its commit. The clock runs from the first publish until the
last reading is committed; the figure is readings per second into storage. Machines publish a
cycle's parameters together, so the main run sends :data:`PER_MESSAGE` readings per message; a
second, smaller run sends one reading per message, to show what per-message costs.

Baseline: the same rows inserted into the same (migrated, indexed) ``readings`` table with one
raw ``executemany`` and one commit — the storage alone, no broker, parsing or batching.

Without a reachable broker the items are fed straight into the ingester's queue instead (the
report says so): parsing, batching and storage, without the network.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from threadline.config import Settings
from threadline.ingest.mqtt import MqttIngester, MqttOptions, parse_broker, parse_message
from threadline.ingest.readings import MachineReading
from threadline.store import open_store

READINGS = 200_000
PER_MESSAGE = 100
SINGLE_READINGS = 20_000  # readings of the one-reading-per-message run


def _fresh(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _payloads(count: int, per_message: int) -> list[bytes]:
    # One message per machine cycle, a millisecond apart: every reading has its own identity.
    start = datetime(2026, 3, 1, tzinfo=UTC)
    out = []
    for n in range(count // per_message):
        moment = (start + timedelta(milliseconds=n)).isoformat(timespec="milliseconds")
        readings = [
            {"parameter": f"p{j:03d}", "value": n + j / 1000, "unit": "KNT"}
            for j in range(per_message)
        ]
        out.append(orjson.dumps({"time": moment, "readings": readings}))
    return out


def _reachable(broker: str) -> bool:
    import socket

    where = parse_broker(broker)
    try:
        with socket.create_connection((where.host, where.port), timeout=2):
            return True
    except OSError:
        return False


def _publisher(broker: str, topic: str, count: int, per_message: int, pipe: Any) -> None:
    """A machine fleet in a process of its own: connects, waits for "go", publishes (QoS 1)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    payloads = _payloads(count, per_message)
    where = parse_broker(broker)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"threadline-bench-pub-{topic}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    if where.username:
        client.username_pw_set(where.username, where.password)
    client.connect(where.host, where.port)
    client.loop_start()
    pipe.send("ready")
    pipe.recv()
    infos = [client.publish(topic, payload, qos=1) for payload in payloads]
    for info in infos:
        info.wait_for_publish(timeout=120)
    pipe.send(sum(1 for info in infos if not info.is_published()))
    client.disconnect()
    client.loop_stop()


def _measure(
    db: Path, count: int, per_message: int, broker: str | None, timeout: float
) -> dict[str, Any]:
    _fresh(db)
    payloads = [] if broker else _payloads(count, per_message)
    total = count // per_message * per_message
    site = f"bench{uuid.uuid4().hex[:8]}"
    topic = f"threadline/{site}/PRESS-01/readings"
    with open_store(str(db), batch_size=20_000) as store:
        options = MqttOptions(
            broker=broker or "mqtt://127.0.0.1:1883",
            site=site,
            client_id=f"threadline-bench-{site}",
            session_expiry=60,
        )
        ingester = MqttIngester(store, options)
        process = None
        if broker:
            ingester.start()
            # The publisher is another process, as machines are: it must not share this
            # interpreter (and its lock) with the ingester being measured.
            context = multiprocessing.get_context("spawn")
            pipe, child = context.Pipe()
            process = context.Process(
                target=_publisher, args=(broker, topic, count, per_message, child), daemon=True
            )
            process.start()
            if not pipe.poll(60):
                raise RuntimeError("the benchmark's publisher did not start")
            pipe.recv()
        runner = threading.Thread(target=ingester.run, name="bench-ingester", daemon=True)
        runner.start()
        unconfirmed = 0
        started = time.perf_counter()
        try:
            if process is not None:
                pipe.send("go")
            else:
                for payload in payloads:
                    ingester.queue.put(parse_message(topic, payload))
            deadline = time.monotonic() + timeout
            while ingester.stats.readings_stored < total and time.monotonic() < deadline:
                time.sleep(0.002)  # polling the committed count, not synchronisation
            seconds = time.perf_counter() - started
            stored = ingester.stats.readings_stored
            if process is not None and pipe.poll(60):
                unconfirmed = int(pipe.recv())
        finally:
            ingester.stop()
            runner.join(timeout=60)
            if broker:
                ingester.close()
            if process is not None:
                process.join(timeout=60)
                if process.is_alive():
                    process.kill()
        with store.reader() as reader:
            in_table = reader.count("readings")
    return {
        "readings": total,
        "per_message": per_message,
        "messages": count // per_message,
        "stored": in_table,
        "seconds": seconds,
        "readings_per_s": stored / seconds if seconds else 0.0,
        "batches": ingester.stats.batches,
        "unconfirmed_publishes": unconfirmed,
    }


def _baseline(db: Path, count: int) -> float:
    """Raw executemany of ``count`` readings rows into a fresh store's table, one commit."""
    _fresh(db)
    open_store(str(db)).close()
    rows = [
        MachineReading(
            "PRESS-01",
            f"p{i % 100:03d}",
            f"2026-03-01T00:00:00.{i // 100:06d}Z",
            float(i),
            "KNT",
            None,
            "mqtt",
            None,
        )
        for i in range(count)
    ]
    connection = sqlite3.connect(db, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    started = time.perf_counter()
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany(
        "INSERT INTO readings (equipment, parameter, time, value, unit, device_id, source, "
        "extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    connection.execute("COMMIT")
    seconds = time.perf_counter() - started
    connection.close()
    return count / seconds


def run_readings_bench(
    workdir: Path, *, readings: int = READINGS, broker: str | None = None, timeout: float = 300.0
) -> dict[str, Any]:
    """Measure readings/s into storage (see the module docstring) and its baseline."""
    url = broker or Settings.from_env().mqtt_broker
    live = url if _reachable(url) else None
    db = workdir / "readings-target.db"
    main = _measure(db, readings, PER_MESSAGE, live, timeout)
    single = _measure(db, min(readings, SINGLE_READINGS), 1, live, timeout)
    baseline = _baseline(workdir / "readings-baseline.db", main["readings"])
    return {
        "mode": f"MQTT QoS 1 via {live}" if live else "no broker reachable: in-process queue",
        "broker": live,
        "batched": main,
        "single": single,
        "raw_rows_per_s": baseline,
    }
