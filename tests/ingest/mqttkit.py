"""Helpers for the tests against a real MQTT broker (Mosquitto on 127.0.0.1:1883 by default).

``broker_or_skip`` skips a test when no broker answers, or fails it when
``THREADLINE_REQUIRE_SERVICES=1`` (as on CI). Every test works under its own site name, so tests
(and people) sharing one broker never see each other's messages.

(A module rather than a conftest.py: a second conftest module would shadow the root one.)
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from threadline.ingest.mqtt import MqttIngester, MqttOptions, parse_broker
from threadline.store import Store

BROKER = os.environ.get("THREADLINE_TEST_MQTT", "mqtt://127.0.0.1:1883")
REQUIRE_SERVICES = os.environ.get("THREADLINE_REQUIRE_SERVICES") == "1"


def broker_or_skip() -> str:
    """The broker URL if it accepts connections; otherwise skip (fail when services are
    required)."""
    where = parse_broker(BROKER)
    try:
        with socket.create_connection((where.host, where.port), timeout=3):
            pass
    except OSError as exc:
        if REQUIRE_SERVICES:
            pytest.fail(f"MQTT broker required but unreachable at {BROKER}: {exc}")
        pytest.skip(f"MQTT broker unreachable at {BROKER}: {exc}")
    return BROKER


def new_site() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """Poll ``predicate`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what or predicate}")
        time.sleep(0.02)  # polling interval, not synchronisation


def _client(client_id: str | None = None) -> mqtt.Client:
    where = parse_broker(BROKER)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or "")
    client.connect(where.host, where.port)
    client.loop_start()
    return client


@contextmanager
def publisher() -> Iterator[Callable[[str, Any], None]]:
    """``publish(topic, payload)`` with QoS 1, returning once the broker has the message.

    ``payload`` is bytes as they are, anything else as JSON.
    """
    client = _client()

    def publish(topic: str, payload: Any) -> None:
        data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        info = client.publish(topic, data, qos=1)
        info.wait_for_publish(timeout=30)
        assert info.is_published(), f"the broker did not take a message on {topic}"

    try:
        yield publish
    finally:
        client.disconnect()
        client.loop_stop()


@dataclass
class Listener:
    """Collects what arrives on a topic filter (e.g. the errors topic)."""

    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [body for _, body in self.messages]


@contextmanager
def listening(topic: str) -> Iterator[Listener]:
    found = Listener()
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)

    def on_message(_c: Any, _u: Any, message: Any) -> None:
        with found.lock:
            found.messages.append((message.topic, orjson.loads(message.payload)))

    client.on_message = on_message
    client.on_subscribe = lambda *_args: subscribed.set()
    where = parse_broker(BROKER)
    client.connect(where.host, where.port)
    client.loop_start()
    client.subscribe(topic, qos=1)
    assert subscribed.wait(10), f"no SUBACK for {topic}"
    try:
        yield found
    finally:
        client.disconnect()
        client.loop_stop()


def options(site: str, **changes: Any) -> MqttOptions:
    # A short session expiry: test sessions must not pile up in the shared broker.
    settings: dict[str, Any] = {
        "broker": BROKER,
        "site": site,
        "client_id": f"threadline-test-{site}",
        "session_expiry": 300,
        "max_delay": 0.02,
    }
    settings.update(changes)
    return MqttOptions(**settings)


@contextmanager
def running_ingester(store: Store, site: str, **changes: Any) -> Iterator[MqttIngester]:
    """An ingester for ``site`` writing to ``store`` on a background thread."""
    ingester = MqttIngester(store, options(site, **changes))
    ingester.start()
    thread = threading.Thread(target=ingester.run, name="test-ingester", daemon=True)
    thread.start()
    try:
        yield ingester
    finally:
        ingester.stop()
        thread.join(timeout=30)
        ingester.close()
        assert not thread.is_alive(), "the ingester did not stop"


def count(store: Store, sql: str, params: tuple[Any, ...] = ()) -> int:
    with store.reader() as reader:
        return int(reader.query(sql, params)[0][0])
