"""A broker restart loses nothing: a private Mosquitto (persistence on) is restarted while the
ingester holds received, unacknowledged messages; after it, every reading is stored once."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from threadline.ingest.mqtt import MqttIngester
from threadline.store import Store

from mqttkit import count, options, wait_for

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Broker:
    def __init__(self, workdir: Path) -> None:
        assert MOSQUITTO is not None
        self.port = _free_port()
        # Started as root, Mosquitto drops to its own user, which must reach and write its
        # persistence directory (pytest's temporary directories are private to their owner).
        data = Path(tempfile.mkdtemp(prefix="threadline-broker-"))
        data.chmod(0o777)
        self.data = data
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {data}/\nmax_queued_messages 0\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        wait_for(self._accepts, 30, "the private broker to listen")

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: Mosquitto writes its persistence file first
            self.process.wait(timeout=30)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    if MOSQUITTO is None:
        pytest.skip("the mosquitto binary is not installed (needed to restart a broker)")
    running = Broker(tmp_path)
    running.start()
    try:
        yield running
    finally:
        running.remove()


def test_a_broker_restart_loses_nothing_and_stores_nothing_twice(
    broker: Broker, tmp_path: Path, store: Store
) -> None:
    url = f"mqtt://127.0.0.1:{broker.port}"
    site = "restart"
    ingester = MqttIngester(store, options(site, broker=url))
    ingester.start()  # connected and subscribed; the writer loop is not running yet
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="restart-publisher")
    publisher.connect("127.0.0.1", broker.port)
    publisher.loop_start()
    for n in range(20):
        body = {"time": f"2026-03-01T07:00:{n:02d}Z", "parameter": "force", "value": n}
        info = publisher.publish(f"threadline/{site}/CH-07/readings", orjson.dumps(body), qos=1)
        info.wait_for_publish(timeout=30)
    publisher.disconnect()
    publisher.loop_stop()
    # Received by the ingester, neither committed nor acknowledged: the broker must keep them.
    wait_for(lambda: len(ingester.queue) == 20, 30, "20 messages received")
    broker.stop()
    broker.start()
    runner = threading.Thread(target=ingester.run, daemon=True)
    runner.start()
    try:
        # The first connection's messages commit but cannot be acknowledged on the second;
        # the broker delivers them again there, and they are recognised.
        wait_for(lambda: ingester.stats.readings >= 40, 60, "the redelivered copies")
    finally:
        ingester.stop()
        runner.join(timeout=30)
        ingester.close()
    assert ingester.stats.readings_stored == 20
    assert count(store, "SELECT count(*) FROM readings") == 20
    assert sorted(r[0] for r in _values(store)) == [float(n) for n in range(20)]


def _values(store: Store) -> list[tuple[float]]:
    with store.reader() as reader:
        return [tuple(r) for r in reader.query("SELECT value FROM readings")]
