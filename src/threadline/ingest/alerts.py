"""Alerts on fresh machine readings, published to MQTT ``threadline/{site}/alerts``.

The quality module decides what is out of spec and stores the alert; this module gives it a
transport. An MQTT ingester publishes through its own connection (:func:`checker_for`);
anything else (the OPC UA ingester, the HTTP service) uses :class:`MqttAlertPublisher`, a
connection of its own to the broker named by ``THREADLINE_MQTT_BROKER``
(:func:`publisher_from_env`; unset: alerts are stored and listed, not published).

Alert messages are published with QoS 1. While the broker is away, paho keeps them queued and
sends them when the connection is back; the stored alert is the record either way.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from typing import Any

from threadline.ingest.mqtt import MqttIngester, parse_broker
from threadline.quality.alerts import AlertChecker

__all__ = ["MqttAlertPublisher", "checker_for", "publisher_from_env"]

log = logging.getLogger("threadline.ingest")


def checker_for(ingester: MqttIngester) -> AlertChecker:
    """An alert checker publishing through ``ingester``'s connection; register it with
    ``ingester.writer.listeners``."""

    def publish(topic: str, payload: bytes) -> None:
        ingester.client.publish(topic, payload, qos=1)

    checker = AlertChecker(publish)
    ingester.writer.listeners.append(checker)
    return checker


class MqttAlertPublisher:
    """A publishing-only MQTT connection (connects in the background, reconnects by itself)."""

    def __init__(self, broker: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        where = parse_broker(broker)
        self.broker = broker
        self.connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"threadline-alerts-{uuid.uuid4().hex[:8]}"
        )
        if where.username:
            self.client.username_pw_set(where.username, where.password)
        if where.tls:
            self.client.tls_set()
        self.client.on_connect = self._on_connect
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.client.connect_async(where.host, where.port)
        self.client.loop_start()

    def _on_connect(self, *_args: Any) -> None:
        self.connected.set()

    def __call__(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publisher_from_env() -> MqttAlertPublisher | None:
    """A publisher to ``THREADLINE_MQTT_BROKER`` when it is set, else None."""
    broker = os.environ.get("THREADLINE_MQTT_BROKER", "").strip()
    if not broker:
        return None
    return MqttAlertPublisher(broker)
