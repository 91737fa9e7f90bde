"""Alerts: a reading outside its spec limits raises one at once, stored and published.

:class:`AlertChecker` is a readings listener (register it in
:data:`threadline.ingest.readings.READINGS_LISTENERS`, or pass it to an ingester): after each
committed batch it looks the batch's parameters up in ``specs``, and every reading outside the
limits of a matching spec becomes one row of ``alerts`` and, when a publisher is given, one
message on ``threadline/{site}/alerts``. The capture service calls :meth:`AlertChecker.check`
with the readings of the events it has just committed (EPCIS ``sensorElementList``).

Raising is idempotent: an alert's ``dedup`` key is (spec, equipment, parameter, time, source),
so a redelivered batch, checked again, neither stores nor publishes a second alert. A value on
a limit is inside.

Webhook subscribers (:func:`subscribe`): in the same transaction that stores a new alert, one
row per matching subscription goes into the ``alert_deliveries`` outbox, so an alert that is
stored is queued for every subscriber, whichever process raised it, and a crash cannot keep
one without the other. Posting them is the job of
:class:`threadline.ingest.alert_webhooks.AlertWebhookDispatcher` (in the server and in the
ingesters); raising never waits for a receiver. Subscriptions are created and removed with an
audit entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson

from threadline.epcis.sensors import measurement_word
from threadline.errors import InvalidInput, NotFound
from threadline.gs1.keys import canonical
from threadline.quality.specs import breach
from threadline.store import audit
from threadline.store import quality as rows
from threadline.store import subscriptions as hooks
from threadline.store.auth import now_text, transaction
from threadline.store.base import Store

__all__ = [
    "ALERTS_TOPIC",
    "ALERT_KINDS",
    "AlertChecker",
    "CheckedReading",
    "Publish",
    "acknowledge",
    "alert_deliveries",
    "alert_message",
    "alert_subscription",
    "alert_subscriptions",
    "list_alerts",
    "on_deliveries_queued",
    "subscribe",
    "subscription_matches",
    "unsubscribe",
]

log = logging.getLogger("threadline.quality")

ALERTS_TOPIC = "threadline/{site}/alerts"
DEFAULT_SITE = "default"
ALERT_KINDS = ("out_of_spec", "held_material")

Publish = Callable[[str, bytes], None]
"""Sends one message: ``publish(topic, payload)`` (QoS 1 where the transport has QoS)."""


class CheckedReading(Protocol):
    """What a reading must offer to be checked (MachineReading and store Reading both do)."""

    @property
    def equipment(self) -> str | None: ...
    @property
    def parameter(self) -> str | None: ...
    @property
    def time(self) -> str: ...
    @property
    def value(self) -> float | None: ...
    @property
    def unit(self) -> str | None: ...
    @property
    def source(self) -> str: ...


def _site(reading: Any) -> str:
    extra = getattr(reading, "extra", None)
    if isinstance(extra, str) and '"site"' in extra:
        try:
            data = orjson.loads(extra)
        except orjson.JSONDecodeError:
            return DEFAULT_SITE
        site = data.get("site") if isinstance(data, dict) else None
        if isinstance(site, str) and site and "/" not in site and "+" not in site:
            return site
    return DEFAULT_SITE


def _same_equipment(wanted: str | None, equipment: str | None) -> bool:
    if not wanted:
        return True
    if equipment is None:
        return False
    # A bare machine name (CH-07) also names the SGLN whose extension it is, as in `readings`.
    return equipment == wanted or equipment.endswith(f"/254/{wanted}")


def _matches(spec: rows.SpecRow, equipment: str | None) -> bool:
    return _same_equipment(spec.equipment, equipment)


def alert_message(alert: dict[str, Any]) -> bytes:
    """The MQTT payload of an alert (JSON)."""
    keys = (
        "id", "time", "kind", "spec", "equipment", "parameter", "reading_time", "value",
        "lsl", "usl", "unit", "source", "object", "site", "message",
    )  # fmt: skip
    return orjson.dumps({k: alert.get(k) for k in keys})


class AlertChecker:
    """Checks batches of readings against the specs; stores and publishes what is outside."""

    def __init__(self, publish: Publish | None = None) -> None:
        self.publish = publish
        self.raised = 0

    def __call__(self, store: Store, readings: Sequence[Any]) -> None:
        self.check(store, readings)

    def check(self, store: Store, readings: Sequence[Any]) -> list[dict[str, Any]]:
        """Raise the alerts of ``readings``; returns the alerts that are new."""
        parameters = sorted({r.parameter for r in readings if r.parameter is not None})
        if not parameters:
            return []
        with store.reader() as reader:
            specs = rows.specs_for(reader, parameters)
        if not specs:
            return []
        by_parameter: dict[str, list[rows.SpecRow]] = {}
        for spec in specs:
            by_parameter.setdefault(spec.parameter, []).append(spec)
        found: list[dict[str, Any]] = []
        for reading in readings:
            value = reading.value
            if value is None or reading.parameter not in by_parameter:
                continue
            for spec in by_parameter[reading.parameter]:
                if not _matches(spec, reading.equipment):
                    continue
                why = breach(value, spec.lsl, spec.usl)
                if why is None:
                    continue
                limit = spec.lsl if why == "below LSL" else spec.usl
                unit = reading.unit or spec.unit or ""
                found.append(
                    {
                        "kind": "out_of_spec",
                        "spec": spec.id,
                        "equipment": reading.equipment,
                        "parameter": reading.parameter,
                        "reading_time": reading.time,
                        "value": value,
                        "lsl": spec.lsl,
                        "usl": spec.usl,
                        "unit": reading.unit or spec.unit,
                        "source": reading.source,
                        "site": _site(reading),
                        "message": (
                            f"{reading.parameter} on {reading.equipment} at {reading.time}: "
                            f"{value:g}{' ' + unit if unit else ''} is {why} ({limit:g})"
                        ),
                        "dedup": (
                            f"spec|{spec.id}|{reading.equipment}|{reading.parameter}|"
                            f"{reading.time}|{reading.source}"
                        ),
                    }
                )
        return self.raise_alerts(store, found)

    def raise_alerts(self, store: Store, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Store ``alerts`` (skipping those raised before) and publish the new ones."""
        if not alerts:
            return []
        fresh: list[dict[str, Any]] = []
        queued = 0
        now = now_text()
        with transaction(store, write=True) as cursor:
            for alert in alerts:
                alert.setdefault("time", now)
                new_id = rows.insert_alert(store, cursor, alert)
                if new_id is not None:
                    alert["id"] = new_id
                    fresh.append(alert)
            if fresh:
                queued = _queue_deliveries(store, cursor, fresh, now)
        self.raised += len(fresh)
        if queued:
            _deliveries_queued(store)
        for alert in fresh:
            log.warning("alert %s: %s", alert["id"], alert["message"])
            if self.publish is not None:
                topic = ALERTS_TOPIC.format(site=alert.get("site") or DEFAULT_SITE)
                try:
                    self.publish(topic, alert_message(alert))
                except Exception:  # the alert is stored; a broker fault must not lose it
                    log.exception("publishing alert %s failed", alert["id"])
        return fresh


def list_alerts(
    store: Store, *, limit: int = 100, unacked: bool = False, kind: str | None = None
) -> list[rows.AlertRow]:
    """Alerts, newest first (``unacked``: only those nobody has acknowledged)."""
    return rows.list_alerts(store, limit=limit, unacked=unacked, kind=kind)


def acknowledge(store: Store, alert_id: int, *, user: str | None) -> rows.AlertRow:
    """Acknowledge alert ``alert_id``; :class:`NotFound` when there is none."""
    found = rows.ack_alert(store, alert_id, user=user)
    if found is None:
        raise NotFound(f"no alert {alert_id}")
    return found


# -- webhook subscriptions -----------------------------------------------------------------------

DeliveryWaker = Callable[[Store], None]
_WAKERS: list[DeliveryWaker] = []


def on_deliveries_queued(waker: DeliveryWaker) -> Callable[[], None]:
    """Call ``waker(store)`` after each commit that queued alert deliveries in this process.

    Returns the function that stops it. A delivery loop uses it to post at once instead of at
    its next poll; ``waker`` must return at once.
    """
    _WAKERS.append(waker)

    def remove() -> None:
        if waker in _WAKERS:
            _WAKERS.remove(waker)

    return remove


def _deliveries_queued(store: Store) -> None:
    for waker in tuple(_WAKERS):
        try:
            waker(store)
        except Exception:  # the alerts are stored and queued; a poll will find them
            log.exception("alert delivery waker %r failed", waker)


def subscription_matches(sub: hooks.AlertSubscription, alert: Mapping[str, Any]) -> bool:
    """Whether ``alert`` passes the filters of ``sub`` (an unset filter passes everything).

    ``equipment`` matches as a spec's does: the same key, or the SGLN whose extension it is.
    """
    if sub.kind is not None and alert.get("kind") != sub.kind:
        return False
    if sub.parameter is not None and alert.get("parameter") != sub.parameter:
        return False
    if sub.site is not None and (alert.get("site") or DEFAULT_SITE) != sub.site:
        return False
    return sub.equipment is None or _same_equipment(sub.equipment, alert.get("equipment"))


def _queue_deliveries(store: Store, cursor: Any, fresh: list[dict[str, Any]], now: str) -> int:
    subs = hooks.alert_subscription_filters(store, cursor)
    if not subs:
        return 0
    pairs = [(s.id, int(a["id"])) for a in fresh for s in subs if subscription_matches(s, a)]
    if pairs:
        hooks.queue_alert_deliveries(store, cursor, pairs, queued_at=now)
    return len(pairs)


def _dest(dest: str) -> str:
    text = (dest or "").strip()
    if any(ord(c) < 33 or ord(c) == 127 for c in text):
        raise InvalidInput(f"dest: {dest!r} holds a space or a control character")
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        host = None
    if not host or parts.scheme.lower() not in ("http", "https"):
        raise InvalidInput(f"dest: {dest!r} is not an http:// or https:// URL")
    return text


def _filter(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not text:
        raise InvalidInput(f"{name}: give a value or leave it out (out: any {name})")
    if "\x00" in text:
        raise InvalidInput(f"{name}: {value!r} holds a NUL character")
    return text


def subscribe(
    store: Store,
    dest: str,
    *,
    secret: str | None = None,
    kind: str | None = None,
    equipment: str | None = None,
    parameter: str | None = None,
    site: str | None = None,
    user: str | None = None,
    role: str | None = None,
    address: str | None = None,
    request_id: str | None = None,
) -> hooks.AlertSubscription:
    """Subscribe ``dest`` to the alerts raised from now on that pass the filters (audited).

    ``equipment`` is any identifier form (stored as its canonical key), ``parameter`` a
    measurement word as in specs, ``kind`` one of :data:`ALERT_KINDS`. ``secret`` signs each
    delivery (``GS1-Signature``) and is never shown again. ``role``, ``address`` and
    ``request_id`` go into the audit entry.
    """
    url = _dest(dest)
    if secret is not None and not secret:
        raise InvalidInput("secret: give a non-empty secret, or none for unsigned deliveries")
    if secret is not None and "\x00" in secret:
        raise InvalidInput("secret: a NUL character cannot be stored")
    if kind is not None and kind not in ALERT_KINDS:
        raise InvalidInput(f"kind: {kind!r} is not one of {', '.join(ALERT_KINDS)}")
    wanted = _filter("equipment", equipment)
    word = _filter("parameter", parameter)
    place = _filter("site", site)
    if place is not None and ("/" in place or "+" in place or "#" in place):
        raise InvalidInput(f"site: {site!r} may not hold '/', '+' or '#' (it is a topic level)")
    sub = hooks.AlertSubscription(
        id=hooks.new_subscription_id(),
        dest=url,
        secret=secret,
        kind=kind,
        equipment=None if wanted is None else canonical(wanted).key,
        parameter=None if word is None else measurement_word(word),
        site=place,
        created_by=user,
        pending=0,
    )
    filters = ", ".join(
        f"{k}={v}"
        for k, v in (("kind", sub.kind), ("equipment", sub.equipment),
                     ("parameter", sub.parameter), ("site", sub.site))
        if v is not None
    )  # fmt: skip
    with transaction(store, write=True) as cursor:
        hooks.insert_alert_subscription(store, cursor, sub)
        audit.append(
            store, cursor, action="alert-subscribe", outcome="ok", actor=user, role=role,
            target=sub.id, address=address, request_id=request_id,
            detail=f"{url} ({filters or 'all alerts'}{', signed' if secret else ''})",
        )  # fmt: skip
    return sub


def unsubscribe(
    store: Store,
    sub_id: str,
    *,
    user: str | None = None,
    role: str | None = None,
    address: str | None = None,
    request_id: str | None = None,
) -> hooks.AlertSubscription:
    """End a subscription and drop its delivery record (audited); NotFound when there is none.

    Alerts still waiting for it are not delivered.
    """
    with transaction(store, write=True) as cursor:
        gone = hooks.delete_alert_subscription(store, cursor, sub_id)
        audit.append(
            store, cursor, action="alert-unsubscribe", outcome="ok", actor=user, role=role,
            target=sub_id, address=address, request_id=request_id, detail=gone.dest,
        )  # fmt: skip
    return gone


def alert_subscriptions(store: Store) -> list[hooks.AlertSubscription]:
    """Every alert subscription, oldest first, with how many alerts wait for it."""
    return hooks.list_alert_subscriptions(store)


def alert_subscription(store: Store, sub_id: str) -> hooks.AlertSubscription:
    return hooks.get_alert_subscription(store, sub_id)


def alert_deliveries(store: Store, sub_id: str, *, limit: int = 50) -> list[hooks.AlertDelivery]:
    """The delivery record of one subscription, newest alert first."""
    return hooks.list_alert_deliveries(store, sub_id, limit=limit)
