"""MQTT ingestion: machine readings, scans and EPCIS events from the plant's broker.

Topics (``{site}`` is any site name; ``threadline ingest mqtt --site S`` takes one, ``+`` all):

``threadline/{site}/{equipment}/readings``
    ``{"time": ISO-8601, "readings": [{"parameter": "forming_force", "value": 61.2,
    "unit": "KNT"}, ...]}``, or one reading ``{"time", "parameter", "value", "unit"}``. A reading
    may carry its own ``time`` and a ``device``. Stored as readings (source ``mqtt``) of the
    equipment, with ``{"site": ...}`` in ``extra``.
``threadline/{site}/{station}/scans``
    ``{"time": ISO-8601, "data": "<raw scan>"}``: an ObjectEvent from the station
    (:mod:`threadline.ingest.scans`).
``threadline/{site}/events``
    An EPCIS 2.0 JSON(-LD) event or document (all of its events, or none).
``threadline/{site}/errors`` (published by the ingester)
    ``{"topic", "reason", "time", "payload"}`` for every refused message.

Delivery: the ingester subscribes with QoS 1 in a persistent MQTT 5 session (a fixed client id,
``clean_start`` false, a session expiry), so the broker keeps QoS 1 messages while it is down.
Messages are acknowledged by hand (PUBACK) only after their batch has committed: killing the
ingester loses nothing, and what was committed but not yet acknowledged comes again and is
recognised (readings by their identity, events by eventID, scans by their event hash). A message
received on a connection that has since dropped is not acknowledged on the new one; the broker
delivers it again. Times are required in readings and scans for the same reason: a redelivered
message must produce the same rows.

The broker bounds what it keeps for a disconnected session (Mosquitto: ``max_queued_messages``,
1000 messages by default; set it to what an outage of the ingester must absorb).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from threadline.epcis.json_reader import _namespaces, iter_json_document, parse_event
from threadline.errors import DocumentError, InvalidInput, ThreadlineError
from threadline.ingest.alert_webhooks import AlertWebhookDispatcher, start_alert_delivery
from threadline.ingest.readings import (
    MQTT_SOURCE,
    READINGS_LISTENERS,
    ReadingsListener,
    parse_readings_payload,
)
from threadline.ingest.scans import scan_time
from threadline.ingest.sources import BatchQueue, BatchWriter, Item, ScanRequest, now_text
from threadline.model.events import AnyEvent
from threadline.store.base import Store
from threadline.store.ingest_errors import excerpt

__all__ = [
    "PREFIX",
    "BrokerUnavailable",
    "MqttIngester",
    "MqttOptions",
    "parse_broker",
    "parse_message",
    "subscriptions",
]

log = logging.getLogger("threadline.ingest")

PREFIX = "threadline"
# MQTT 5 Receive Maximum: how many unacknowledged QoS 1 messages the broker may send at once.
# Messages are acknowledged per batch, so a batch can never hold more than this many.
MAX_RECEIVE = 65535


class BrokerUnavailable(ThreadlineError):
    """The MQTT broker cannot be reached or refused the connection."""

    status = 503
    code = "broker_unavailable"


@dataclass(frozen=True)
class MqttOptions:
    """How :class:`MqttIngester` connects and batches."""

    broker: str = "mqtt://127.0.0.1:1883"
    site: str = "+"
    # The broker keeps the session (subscriptions, unacknowledged and queued messages) under
    # this id; two ingesters must not share one. Default: threadline-ingest[-SITE].
    client_id: str | None = None
    batch_size: int = 20_000  # readings (or events) per transaction at most
    max_delay: float = 0.05  # seconds from a batch's first message to its commit at most
    receive_maximum: int = MAX_RECEIVE
    session_expiry: int = 7 * 24 * 3600  # seconds the broker keeps the session while away
    keepalive: int = 30
    connect_timeout: float = 10.0

    def effective_client_id(self) -> str:
        if self.client_id:
            return self.client_id
        return "threadline-ingest" if self.site in ("+", "#") else f"threadline-ingest-{self.site}"


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None


def parse_broker(url: str) -> Broker:
    """``mqtt://[user:pass@]host[:port]`` (``mqtts://`` for TLS, ``tcp://`` too, or host:port)."""
    text = url if "://" in url else f"mqtt://{url}"
    parts = urlsplit(text)
    if parts.scheme not in ("mqtt", "tcp", "mqtts", "ssl") or not parts.hostname:
        raise InvalidInput(f"--broker {url!r}: expected mqtt://HOST[:PORT] (or mqtts:// for TLS)")
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise InvalidInput(f"--broker {url!r}: the port is not a number") from None
    return Broker(
        parts.hostname,
        port,
        tls,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
    )


def subscriptions(site: str) -> list[str]:
    """The topic filters the ingester subscribes to for ``site`` (``+``: every site)."""
    if not site or any(c in site for c in "/#") or (site != "+" and "+" in site):
        raise InvalidInput(f"--site {site!r}: give a site name, or + for every site")
    return [
        f"{PREFIX}/{site}/+/readings",
        f"{PREFIX}/{site}/+/scans",
        f"{PREFIX}/{site}/events",
    ]


# -- parsing messages ------------------------------------------------------------------------------


def _inline_namespaces(context: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in context if isinstance(context, list) else [context]:
        if isinstance(entry, dict):
            out.update(
                {k: v for k, v in entry.items() if not k.startswith("@") and isinstance(v, str)}
            )
    return out


def _events(
    payload: bytes, topic: str
) -> tuple[list[AnyEvent], tuple[dict[str, Any], dict[str, str]] | None]:
    from threadline.service import keep_namespaces
    from threadline.store.master_data import vocabulary_list

    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise DocumentError(f"not valid JSON: {exc}", source=topic) from None
    if isinstance(obj, dict) and obj.get("type") in ("EPCISDocument", "EPCISQueryDocument"):
        document, _count, events = iter_json_document(obj, source=topic)
        try:
            has_master = bool(vocabulary_list(document.header))
        except DocumentError as exc:
            raise exc.located(source=topic) from None
        parsed = list(keep_namespaces(events, document.context))
        master = (document.header, _inline_namespaces(document.context)) if has_master else None
        return parsed, master
    context = obj.get("@context") if isinstance(obj, dict) else None
    try:
        return [parse_event(obj, pointer="", namespaces=_namespaces(context))], None
    except DocumentError as exc:
        raise exc.located(source=topic) from None


def _scan(payload: bytes, station: str, topic: str) -> ScanRequest:
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise DocumentError(f"not valid JSON: {exc}", source=topic) from None
    if not isinstance(obj, dict):
        raise DocumentError('a scan must be a JSON object {"time", "data"}', source=topic)
    data = obj.get("data")
    if not isinstance(data, str) or not data:
        raise DocumentError(
            f"data must be the scanned text, got {data!r}", source=topic, pointer="/data"
        )
    when = obj.get("time")
    if not isinstance(when, str):
        raise DocumentError(
            "a scan needs its time (ISO-8601 with a zone) so that a redelivery is recognised",
            source=topic,
            pointer="/time",
        )
    try:
        scan_time(when)
    except InvalidInput as exc:
        raise DocumentError(exc.message, source=topic, pointer="/time") from None
    return ScanRequest(station, data, when)


def parse_message(topic: str, payload: bytes) -> Item:
    """The item one message carries; a fault makes it an error item (never raises)."""
    item = Item(MQTT_SOURCE, topic, payload)
    parts = topic.split("/")
    try:
        if len(parts) == 4 and parts[0] == PREFIX and parts[3] == "readings":
            item.readings = parse_readings_payload(
                payload, equipment=parts[2], origin=topic, extra={"site": parts[1]}
            )
        elif len(parts) == 4 and parts[0] == PREFIX and parts[3] == "scans":
            item.scan = _scan(payload, parts[2], topic)
        elif len(parts) == 3 and parts[0] == PREFIX and parts[2] == "events":
            item.events, item.master = _events(payload, topic)
        else:
            item.refused(f"{topic}: not a Threadline topic")
    except DocumentError as exc:
        # The topic is recorded beside the reason; the reason says what and where in the payload.
        item.refused(DocumentError(exc.reason, index=exc.index, pointer=exc.pointer).message)
    except ThreadlineError as exc:
        item.refused(exc.message)
    return item


# -- the ingester ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    mid: int
    qos: int
    generation: int


class MqttIngester:
    """Subscribes to the Threadline topics and writes what arrives to ``store``.

    :meth:`start` connects (raising :class:`BrokerUnavailable` if that fails), :meth:`run`
    writes batches until :meth:`stop`; :meth:`close` disconnects. Use it as a context manager
    around ``start``/``close``. ``listeners`` hear each committed batch of readings (besides
    :data:`~threadline.ingest.readings.READINGS_LISTENERS`); ``on_batch`` is told of each batch
    once it is committed and acknowledged. When an alert checker is among the listeners at
    :meth:`start`, the ingester also delivers alert webhooks until :meth:`close`
    (:mod:`threadline.ingest.alert_webhooks`).
    """

    def __init__(
        self,
        store: Store,
        options: MqttOptions | None = None,
        *,
        listeners: Sequence[ReadingsListener] = (),
        on_batch: Callable[[list[Item]], None] | None = None,
    ) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.store = store
        self.options = options or MqttOptions()
        self.broker = parse_broker(self.options.broker)
        self.topics = subscriptions(self.options.site)
        self.queue = BatchQueue()
        self.writer = BatchWriter(store, listeners=listeners, on_error=self._publish_error)
        self.on_batch = on_batch
        self.alert_delivery: AlertWebhookDispatcher | None = None
        self._generation = 0
        self._connected = threading.Event()
        # Set once the broker has answered the first SUBSCRIBE: a message published before that
        # answer may reach no subscriber of a new session, so start() waits for it.
        self._subscribed = threading.Event()
        self._refused: str | None = None
        self._stop = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.options.effective_client_id(),
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if self.broker.username:
            self.client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            self.client.tls_set()
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    @property
    def stats(self) -> Any:
        return self.writer.stats

    # -- connection ------------------------------------------------------------------------
    def start(self) -> None:
        """Connect and subscribe; returns once the broker has granted every subscription."""
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.options.session_expiry
        props.ReceiveMaximum = max(1, min(MAX_RECEIVE, self.options.receive_maximum))
        where = f"{self.broker.host}:{self.broker.port}"
        try:
            self.client.connect(
                self.broker.host,
                self.broker.port,
                keepalive=self.options.keepalive,
                clean_start=False,
                properties=props,
            )
        except OSError as exc:
            raise BrokerUnavailable(f"cannot reach the MQTT broker at {where}: {exc}") from exc
        self.client.loop_start()
        deadline = time.monotonic() + self.options.connect_timeout
        answered = self._connected.wait(self.options.connect_timeout) and (
            self._refused is not None
            or self._subscribed.wait(max(0.0, deadline - time.monotonic()))
        )
        if not answered or self._refused:
            self.client.loop_stop()
            why = self._refused or f"no answer within {self.options.connect_timeout:g} s"
            raise BrokerUnavailable(f"the MQTT broker at {where} refused the session: {why}")
        if self.alert_delivery is None:
            self.alert_delivery = start_alert_delivery(
                self.store, (*READINGS_LISTENERS, *self.writer.listeners)
            )

    def _on_connect(
        self, client: Any, _userdata: Any, _flags: Any, reason: Any, _properties: Any
    ) -> None:
        if reason.is_failure:
            self._refused = str(reason)
            self._connected.set()
            log.error("the broker refused the connection: %s", reason)
            return
        self._refused = None
        self._generation += 1
        # The session keeps the subscriptions; subscribing again is harmless and covers a
        # session the broker has expired.
        client.subscribe([(topic, 1) for topic in self.topics])
        log.info("connected to %s:%s (session %s)", self.broker.host, self.broker.port,
                 self.options.effective_client_id())  # fmt: skip
        self._connected.set()

    def _on_subscribe(
        self, _client: Any, _userdata: Any, _mid: int, reasons: list[Any], _properties: Any
    ) -> None:
        refused = [
            f"{topic} ({reason})"
            for topic, reason in zip(self.topics, reasons, strict=False)
            if reason.is_failure
        ]
        if refused:
            self._refused = f"subscription refused for {', '.join(refused)}"
            log.error("the broker refused the subscriptions %s", ", ".join(refused))
        self._subscribed.set()

    def _on_disconnect(
        self, _client: Any, _userdata: Any, _flags: Any, reason: Any, _properties: Any
    ) -> None:
        if not self._stop.is_set():
            log.warning("disconnected from the broker (%s); reconnecting", reason)

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        item = parse_message(message.topic, message.payload)
        item.token = _Token(message.mid, message.qos, self._generation)
        self.queue.put(item)

    # -- the writer loop -------------------------------------------------------------------
    def run(self) -> None:
        """Write batches until :meth:`stop` (call from the thread that owns the ingester)."""
        # What is still queued at the stop is not acknowledged: the broker delivers it again.
        while not self._stop.is_set():
            self.step()

    def step(self) -> bool:
        """Take one batch, commit it and acknowledge it; False if nothing was committed."""
        batch = self.queue.take(self.options.batch_size, self.options.max_delay)
        if not batch:
            return False
        if not self.writer.write(batch):
            return False
        self._acknowledge(batch)
        if self.on_batch is not None:
            self.on_batch(batch)
        return True

    def _acknowledge(self, batch: list[Item]) -> None:
        generation = self._generation
        for item in batch:
            token = item.token
            if isinstance(token, _Token) and token.generation == generation and token.qos:
                self.client.ack(token.mid, token.qos)

    def _publish_error(self, item: Item) -> None:
        parts = item.topic.split("/")
        site = parts[1] if len(parts) >= 3 and parts[0] == PREFIX else "unknown"
        body = {
            "topic": item.topic,
            "reason": item.error,
            "time": now_text(),
            "payload": excerpt(item.payload if item.payload is None else item.payload[:500]),
        }
        self.client.publish(f"{PREFIX}/{site}/errors", orjson.dumps(body), qos=1)

    def stop(self) -> None:
        """Ask :meth:`run` to return after the batch in hand."""
        self._stop.set()
        self.writer.stopping.set()  # a store fault now ends the batch instead of a retry
        self.queue.close()

    def close(self) -> None:
        """Stop and disconnect; unacknowledged messages stay with the broker's session."""
        self.stop()
        self.client.disconnect()
        self.client.loop_stop()
        if self.alert_delivery is not None:
            self.alert_delivery.close()
            self.alert_delivery = None

    def __enter__(self) -> MqttIngester:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
