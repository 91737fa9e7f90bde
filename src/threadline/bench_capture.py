"""Durable capture over HTTP: 32 concurrent clients against a real ``threadline serve``.

Each client POSTs EPCIS documents to ``/capture`` and waits for the answer, which the service
gives only after the events are committed; the figure is acknowledged events per second. The
baseline is the store's own limit measured in the same run: one fsync'd commit per event,
written by one thread.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from threadline.sim import Plant
from threadline.store import open_store
from threadline.store.auth import Role, add_user, create_token

CLIENTS = 32


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _documents(plant: Plant, count: int, per_request: int) -> list[bytes]:
    events: list[dict[str, Any]] = []
    for event in plant.events():
        if event.get("errorDeclaration"):
            continue
        events.append(event)
        if len(events) >= count:
            break
    context = plant.document_context()
    return [
        orjson.dumps(
            {
                "@context": context,
                "type": "EPCISDocument",
                "schemaVersion": "2.0",
                "creationDate": "2026-01-01T00:00:00Z",
                "epcisBody": {"eventList": events[i : i + per_request]},
            }
        )
        for i in range(0, len(events), per_request)
    ]


def _commit_per_event_baseline(db: str, plant: Plant, count: int) -> float:
    """Events/s when every event is its own transaction (what group commit improves on)."""
    from threadline.epcis.json_reader import _namespaces, parse_event

    raw = []
    for event in plant.events():
        if event.get("errorDeclaration"):
            continue
        raw.append(event)
        if len(raw) >= count:
            break
    namespaces = _namespaces(plant.document_context())
    parsed = [parse_event(e, namespaces=namespaces) for e in raw]
    with open_store(db) as store:
        started = time.perf_counter()
        for one in parsed:
            store.append([one])
        return count / (time.perf_counter() - started)


class _Connection:
    """A minimal keep-alive HTTP/1.1 client connection.

    The load generator shares the machine with the server; a general-purpose client costs more
    CPU per request than the server does, so this one does only what the benchmark needs: send a
    POST, read the status line, headers and a Content-Length body.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> _Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def post(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        self.writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
        status_line = await self.reader.readline()
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        payload = await self.reader.readexactly(length) if length else b""
        return status, payload

    def close(self) -> None:
        self.writer.close()


async def _client(
    host: str, port: int, token: str, documents: list[bytes], latencies: list[float]
) -> int:
    head = (
        f"POST /capture HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/ld+json\r\n"
        "Content-Length: "
    ).encode()
    connection = await _Connection.open(host, port)
    failed = 0
    try:
        for body in documents:
            started = time.perf_counter()
            status, payload = await connection.post(head, body)
            latencies.append(time.perf_counter() - started)
            if status != 202 or not orjson.loads(payload).get("success"):
                failed += 1
    finally:
        connection.close()
    return failed


async def _load(
    host: str, port: int, token: str, shards: list[list[bytes]]
) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    started = time.perf_counter()
    failures = await asyncio.gather(*(_client(host, port, token, s, latencies) for s in shards))
    return time.perf_counter() - started, latencies, sum(failures)


def _wait_healthy(base: str, process: subprocess.Popen[bytes], deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not become healthy in time")


@contextmanager
def served(
    db: str, *, graph_index: str, deadline_s: float = 60, writer_process: bool = True
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``threadline serve`` over ``db`` as its own process on a free port: (base URL, process),
    once it answers ``/health``; stopped (terminated, then killed) when the block ends."""
    port = _free_port()
    env = dict(
        os.environ,
        THREADLINE_GRAPH_INDEX=graph_index,
        THREADLINE_WRITER_PROCESS="1" if writer_process else "0",
        PYTHONUNBUFFERED="1",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "threadline", "serve", "--db", db, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base, process, deadline_s)
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def run_capture_bench(
    *,
    db: str | None,
    events: int,
    per_request: int,
    clients: int = CLIENTS,
    writer_process: bool = True,
) -> dict[str, Any]:
    """Serve a fresh store, load it with ``clients`` concurrent clients, report events/s.

    ``writer_process`` false commits through the service's writer thread instead (SQLite).
    """
    plant = Plant(scale="small" if events <= 3000 else "medium", seed=11)
    documents = _documents(plant, events, per_request)
    total = sum(len(orjson.loads(d)["epcisBody"]["eventList"]) for d in documents)
    with tempfile.TemporaryDirectory(prefix="threadline-capture-") as tmp:
        target = db or str(Path(tmp) / "capture.db")
        with open_store(target) as store:
            add_user(store, name="bench", role=Role.operator, password="bench-password-1")
            _, token = create_token(store, name="bench", label="capture benchmark")
        with served(target, graph_index="off", writer_process=writer_process) as (base, _process):
            port = int(base.rsplit(":", 1)[1])
            shards = [documents[i::clients] for i in range(clients)]
            seconds, latencies, failed = asyncio.run(_load("127.0.0.1", port, token, shards))
        with open_store(target) as store:
            stored = store.counts()["events"]
        # The baseline runs on the same engine: a fresh SQLite file, or the same PostgreSQL
        # database with another plant's events.
        postgres = target.startswith("postgres")
        baseline_db = target if postgres else str(Path(tmp) / "baseline.db")
        baseline_plant = Plant(scale="small", seed=12) if postgres else plant
        baseline = _commit_per_event_baseline(baseline_db, baseline_plant, min(2000, total))
    latencies.sort()
    return {
        "clients": clients,
        "events_per_request": per_request,
        "requests": len(documents),
        "events": total,
        "stored": stored,
        "failed_requests": failed,
        "seconds": seconds,
        "events_per_s": total / seconds,
        "requests_per_s": len(documents) / seconds,
        "latency_p50_ms": latencies[len(latencies) // 2] * 1000,
        "latency_p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "commit_per_event_baseline_per_s": baseline,
    }
