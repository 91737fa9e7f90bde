"""A real server for the API tests: uvicorn on 127.0.0.1, a free port, in a background thread.

``start_server`` binds port 0 (the kernel picks a free port, so parallel runs never collide),
runs the server in a thread and polls ``/health`` until it answers, with a deadline. The
module-scoped ``world`` fixture (import ``world_fixture`` to use it) is a server on each backend
over the hand-built plant of ``plantkit`` with one user (and one API token) per role.

(A module rather than a conftest.py: a second conftest module would shadow the root one for
tests that import from it.)
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from conftest import private_schema
from threadline.api.server import address, bind, make_server
from threadline.config import Settings
from threadline.service import parse_events
from threadline.store import Store, open_store
from threadline.store.auth import Role, add_user, create_token

from plantkit import small_plant

PASSWORD = "correct horse battery"
ROLES = [r.name for r in Role]


@contextmanager
def fresh_database(kind: str, tmp: Path) -> Iterator[str]:
    """A new, empty database URL: a SQLite file, or a private PostgreSQL schema."""
    if kind == "sqlite":
        yield str(tmp / f"{uuid.uuid4().hex[:8]}.db")
        return
    with private_schema() as url:
        yield url


@dataclass
class LiveServer:
    url: str
    settings: Settings
    server: Any
    thread: threading.Thread

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kwargs)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the server did not stop"


def start_server(settings: Settings, *, app: Any = None, deadline_s: float = 60.0) -> LiveServer:
    """Serve ``settings``' app (or ``app``) on a free port; return once ``/health`` answers."""
    sock = bind("127.0.0.1", 0)
    if app is None:
        server = make_server(settings, log_level="warning")
    else:
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="threadline-test-server", daemon=True
    )
    thread.start()
    live = LiveServer(address(sock), settings, server, thread)
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            if httpx.get(f"{live.url}/health", timeout=5).status_code == 200:
                return live
        except httpx.TransportError:
            pass
        if not thread.is_alive():
            raise RuntimeError("the server thread ended before answering /health")
        if time.monotonic() > deadline:
            live.stop()
            raise TimeoutError(f"no answer from {live.url}/health within {deadline_s} s")
        time.sleep(0.02)  # polling interval while waiting for start-up, not synchronisation


def settings_for(db: str, **changes: Any) -> Settings:
    return replace(Settings.from_env(db=db), **changes)


def load_plant(store: Store) -> None:
    events, _ = small_plant()
    store.append(list(parse_events(events, source="plantkit")))


@dataclass
class World:
    """A running server over the plant, with a user and a token per role."""

    kind: str
    db: str
    live: LiveServer
    store: Store
    tokens: dict[str, str] = field(default_factory=dict)

    def as_role(self, role: str) -> httpx.Client:
        return self.live.client(headers={"Authorization": f"Bearer {self.tokens[role]}"})

    def anonymous(self) -> httpx.Client:
        return self.live.client()


@pytest.fixture(scope="module", params=["sqlite", "postgres"], name="world")
def world_fixture(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with fresh_database(request.param, tmp_path_factory.mktemp("world")) as db:
        store = open_store(db)
        load_plant(store)
        tokens = {}
        for role in ROLES:
            add_user(store, name=role, role=Role[role], password=PASSWORD)
            tokens[role] = create_token(store, name=role, label=f"{role} bot")[1]
        live = start_server(
            settings_for(db, graph_index="on", login_max_failures=3, login_lockout_seconds=30.0)
        )
        try:
            yield World(request.param, db, live, store, tokens)
        finally:
            live.stop()
            store.close()


def audit_rows(store: Store, request_id: str) -> list[dict[str, Any]]:
    """The audit entries written about one request (found by its X-Request-ID)."""
    from threadline.store import audit

    return [e.to_dict() for e in audit.entries(store) if e.request_id == request_id]
