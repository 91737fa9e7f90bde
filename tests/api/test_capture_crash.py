"""SIGKILL of the server during a capture burst: every acknowledged capture survives, none twice.

The server runs as its own process (``python -m threadline serve``); clients POST documents
concurrently, the server is killed with SIGKILL mid-burst, then started again, and every client
resends what it never heard back about (as a real client would).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import orjson
import pytest

from threadline.store import open_store
from threadline.store.auth import Role, add_user, create_token

from livekit import fresh_database
from plantkit import document, receive

CLIENTS = 12
DOCUMENTS_PER_CLIENT = 40
EVENTS_PER_DOCUMENT = 5


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(db: str, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, THREADLINE_GRAPH_INDEX="off")
    process = subprocess.Popen(
        [sys.executable, "-m", "threadline", "serve", "--db", db, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited during start-up"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # polling for start-up with a deadline
    process.kill()
    raise TimeoutError("the server did not start")


def _documents() -> list[list[bytes]]:
    out = []
    for _ in range(CLIENTS):
        docs = []
        for _ in range(DOCUMENTS_PER_CLIENT):
            events = [
                receive(i, f"urn:epc:class:lgtin:4098765.012345.K{uuid.uuid4().hex[:12]}", 1)
                for i in range(EVENTS_PER_DOCUMENT)
            ]
            docs.append(orjson.dumps(document(events)))
        out.append(docs)
    return out


def _event_ids(body: bytes) -> list[str]:
    return [e["eventID"] for e in orjson.loads(body)["epcisBody"]["eventList"]]


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_acknowledged_captures_survive_sigkill(kind: str, tmp_path: Path) -> None:
    with fresh_database(kind, tmp_path) as db:
        with open_store(db) as store:
            add_user(store, name="line", role=Role.operator, password="correct horse battery")
            token = create_token(store, name="line")[1]
        port = _port()
        headers = {"Authorization": f"Bearer {token}"}
        shards = _documents()
        acked: list[bytes] = []
        unanswered: list[bytes] = []
        lock = threading.Lock()
        enough = threading.Event()

        def client(docs: list[bytes]) -> None:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as http:
                for i, body in enumerate(docs):
                    try:
                        answer = http.post("/capture", content=body, timeout=30)
                    except httpx.TransportError:
                        with lock:
                            unanswered.extend(docs[i:])
                        return
                    with lock:
                        if answer.status_code == 202:
                            acked.append(body)
                        else:
                            unanswered.append(body)
                        if len(acked) >= CLIENTS * DOCUMENTS_PER_CLIENT // 3:
                            enough.set()

        server = _serve(db, port)
        threads = [threading.Thread(target=client, args=(s,)) for s in shards]
        for t in threads:
            t.start()
        assert enough.wait(timeout=120), "the burst never got going"
        server.send_signal(signal.SIGKILL)  # mid-burst: requests are in flight
        server.wait(timeout=30)
        for t in threads:
            t.join(timeout=60)
        assert acked and unanswered, "the kill should land in the middle of the burst"

        with open_store(db) as store, store.reader() as reader:
            stored = Counter(r[0] for r in reader.query("SELECT event_id FROM events"))
        for body in acked:
            for event_id in _event_ids(body):
                assert stored[event_id] == 1, f"acknowledged {event_id} lost or doubled"

        # Clients resend what they never heard back about; each event ends up stored once.
        server = _serve(db, port)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as http:
                for body in unanswered:
                    assert http.post("/capture", content=body, timeout=30).status_code == 202
        finally:
            server.terminate()
            server.wait(timeout=30)
        with open_store(db) as store, store.reader() as reader:
            stored = Counter(r[0] for r in reader.query("SELECT event_id FROM events"))
            from threadline.store.chain import verify

            assert verify(reader).ok
        expected = {e for docs in shards for body in docs for e in _event_ids(body)}
        assert set(stored) == expected
        assert set(stored.values()) == {1}
