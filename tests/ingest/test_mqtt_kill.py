"""Acceptance: 100,000 readings published with QoS 1 while the ingester (a process of its own) is
killed with SIGKILL and started again — every reading is stored exactly once.

The publisher works in three phases tied to the ingester's life, so the test does not depend on
timing: a third of the messages while the first ingester runs (it is killed once it has committed
some of them, with more on the way), a third while no ingester runs (the broker keeps them for
the persistent session), and the rest after the second ingester has started. Whatever the first
ingester had received but not committed, or committed but not acknowledged, comes again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from threadline.store import open_store

from mqttkit import BROKER, broker_or_skip, count, new_site, publisher, wait_for

READINGS = 100_000
PER_MESSAGE = 125  # 800 messages: within Mosquitto's default queue for an absent session (1000)
MESSAGES = READINGS // PER_MESSAGE


def _message(n: int) -> dict[str, object]:
    # Each message is one machine cycle: PER_MESSAGE parameters at one time.
    return {
        "time": f"2026-03-01T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z",
        "readings": [
            {"parameter": f"p{j:03d}", "value": n * 1000 + j, "unit": "KNT"}
            for j in range(PER_MESSAGE)
        ],
    }


class Ingester:
    """``threadline ingest mqtt`` in a process of its own; ready once it says it is ingesting."""

    def __init__(self, db: Path, site: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "threadline",
                "ingest",
                "mqtt",
                "--broker",
                BROKER,
                "--site",
                site,
                "--client-id",
                f"threadline-test-{site}",
                "--session-expiry",
                "600",
                "--db",
                str(db),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            if line.startswith("ingesting:"):
                self.ready.set()

    def wait_ready(self) -> None:
        if not self.ready.wait(60):
            self.process.kill()
            pytest.fail("the ingester did not start:\n" + "".join(self.lines))

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self.reader.join(timeout=10)
        return code


def test_kill_and_restart_loses_nothing_and_stores_nothing_twice(tmp_path: Path) -> None:
    broker_or_skip()
    site = new_site()
    db = tmp_path / "ingest.db"
    open_store(str(db)).close()  # migrated before two processes open it
    store = open_store(str(db), migrate=False)
    topic = f"threadline/{site}/PRESS-01/readings"
    killed, restarted = threading.Event(), threading.Event()
    published: list[int] = []
    failures: list[BaseException] = []

    def publish_all() -> None:
        try:
            with publisher() as publish:
                for n in range(MESSAGES):
                    if n == MESSAGES // 3:
                        killed.wait(120)
                    if n == 2 * MESSAGES // 3:
                        restarted.wait(120)
                    publish(topic, _message(n))
                    published.append(n)
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)

    stored = lambda: count(store, "SELECT count(*) FROM readings")  # noqa: E731
    second: Ingester | None = None
    first = Ingester(db, site)
    first.wait_ready()
    sender = threading.Thread(target=publish_all, daemon=True)
    sender.start()
    try:
        # Kill it mid-stream: some readings committed, more received or on the way.
        wait_for(lambda: stored() >= READINGS // 10 or failures, 120, "first commits")
        first.kill()
        killed.set()
        wait_for(lambda: len(published) >= 2 * MESSAGES // 3 or failures, 120, "offline third")
        assert stored() < READINGS
        second = Ingester(db, site)
        second.wait_ready()
        restarted.set()
        sender.join(timeout=300)
        assert not failures, failures
        assert len(published) == MESSAGES
        wait_for(lambda: stored() >= READINGS, 300, f"{READINGS} readings stored")
        assert second.stop() == 0, "".join(second.lines)
    finally:
        killed.set()
        restarted.set()
        for ingester in (first, second):
            if ingester is not None and ingester.process.poll() is None:
                ingester.process.kill()
    with store.reader() as reader:
        total, distinct, low, high = reader.query(
            "SELECT count(*), count(DISTINCT parameter || time), min(value), max(value) "
            "FROM readings WHERE source = ?",
            ("mqtt",),
        )[0]
        value_sum = reader.query("SELECT sum(value) FROM readings")[0][0]
    store.close()
    assert total == READINGS == distinct
    assert (low, high) == (0, (MESSAGES - 1) * 1000 + PER_MESSAGE - 1)
    expected = sum(n * 1000 + j for n in range(MESSAGES) for j in range(PER_MESSAGE))
    assert value_sum == expected
    assert second is not None and "stopped:" in "".join(second.lines)
