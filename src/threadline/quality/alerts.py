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
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson

from threadline.errors import NotFound
from threadline.quality.specs import breach
from threadline.store import quality as rows
from threadline.store.auth import now_text, transaction
from threadline.store.base import Store

__all__ = [
    "ALERTS_TOPIC",
    "AlertChecker",
    "CheckedReading",
    "Publish",
    "acknowledge",
    "alert_message",
    "list_alerts",
]

log = logging.getLogger("threadline.quality")

ALERTS_TOPIC = "threadline/{site}/alerts"
DEFAULT_SITE = "default"

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


def _matches(spec: rows.SpecRow, equipment: str | None) -> bool:
    if not spec.equipment:
        return True
    if equipment is None:
        return False
    # A bare machine name (CH-07) also names the SGLN whose extension it is, as in `readings`.
    return equipment == spec.equipment or equipment.endswith(f"/254/{spec.equipment}")


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
        now = now_text()
        with transaction(store, write=True) as cursor:
            for alert in alerts:
                alert.setdefault("time", now)
                new_id = rows.insert_alert(store, cursor, alert)
                if new_id is not None:
                    alert["id"] = new_id
                    fresh.append(alert)
        self.raised += len(fresh)
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
