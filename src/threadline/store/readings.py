"""Sensor readings: the ``readings`` time series projected from events' ``sensorElementList``.

Every ``sensorReport`` of a stored event becomes one row: which equipment (the sensor's
``deviceID``, else the event's read point), which parameter (the measurement type), when (the
report's ``time``, else the metadata's, else the event time), the value and its unit. Statistics
that a report gives instead of one value (``minValue``, ``maxValue``, ``meanValue``, ``sDev``,
``percRank``, ``percValue``) get their own columns; ``value`` falls back to ``meanValue``.
Everything else the report, its ``sensorMetadata`` and its sensor element carry is kept in the
JSON ``extra`` column, so no field of the event is lost to the time series.

:func:`reading_rows` is pure (shared by capture, rebuild and the query engine); the writer calls
:func:`write_readings` once per batch and :func:`delete_readings` when an event is declared in
error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from threadline.epcis.json_reader import utc_text
from threadline.epcis.sensors import measurement_word
from threadline.errors import DocumentError, InvalidInput
from threadline.gs1.keys import canonical
from threadline.model.events import AnyEvent

if TYPE_CHECKING:
    from threadline.store.writer import Writer

__all__ = [
    "EPCIS_SOURCE",
    "Reading",
    "clear_event_readings",
    "delete_readings",
    "reading_rows",
    "write_readings",
]

EPCIS_SOURCE = "epcis"

# Report fields stored in their own columns (numbers as floats, type as the parameter word).
_STATS = (
    ("minValue", "min_value"),
    ("maxValue", "max_value"),
    ("meanValue", "mean_value"),
    ("sDev", "s_dev"),
    ("percRank", "perc_rank"),
    ("percValue", "perc_value"),
)
_IN_COLUMNS = frozenset({"type", "value", "uom", *(name for name, _ in _STATS)})
_ELEMENT_PARTS = frozenset({"sensorMetadata", "sensorReport"})

_INSERT = (
    "INSERT INTO readings (equipment, parameter, time, value, min_value, max_value, mean_value, "
    "s_dev, perc_rank, perc_value, unit, device_id, source, event, extra) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {J})"
)


class Reading(NamedTuple):
    """One row of the ``readings`` table (without its database id)."""

    equipment: str | None
    parameter: str | None
    time: str
    value: float | None
    min_value: float | None
    max_value: float | None
    mean_value: float | None
    s_dev: float | None
    perc_rank: float | None
    perc_value: float | None
    unit: str | None
    device_id: str | None
    source: str
    event: int | None
    extra: dict[str, Any] | None


class _Fault(Exception):
    def __init__(self, pointer: str, reason: str) -> None:
        super().__init__(reason)
        self.pointer = pointer
        self.reason = reason


def _number(report: dict[str, Any], name: str, where: str) -> float | None:
    value = report.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Fault(f"{where}/{name}", f"a sensor value must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise _Fault(f"{where}/{name}", f"a sensor value must be finite, got {value!r}")
    return number


def _time(value: Any, pointer: str) -> str:
    if not isinstance(value, str):
        raise _Fault(pointer, f"a sensor time must be an ISO-8601 string, got {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _Fault(pointer, f"{value!r} is not an ISO-8601 timestamp") from None
    if moment.tzinfo is None:
        raise _Fault(pointer, f"sensor time {value!r} has no time zone (add Z or an offset)")
    return utc_text(moment)


def _key(value: Any, pointer: str) -> str:
    if not isinstance(value, str) or not value:
        raise _Fault(pointer, f"deviceID must be a non-empty URI, got {value!r}")
    try:
        return canonical(value).key
    except InvalidInput as exc:
        raise _Fault(pointer, exc.message) from None


def _rows_of_element(
    event: AnyEvent, row: int | None, event_time: str, index: int, element: dict[str, Any]
) -> list[Reading]:
    base = f"/sensorElementList/{index}"
    metadata = element.get("sensorMetadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        raise _Fault(f"{base}/sensorMetadata", "sensorMetadata must be an object")
    reports = element.get("sensorReport")
    if reports is None:
        return []
    if not isinstance(reports, list):
        raise _Fault(f"{base}/sensorReport", "sensorReport must be an array of objects")
    meta_time = (
        _time(metadata["time"], f"{base}/sensorMetadata/time") if "time" in metadata else None
    )
    meta_device = (
        _key(metadata["deviceID"], f"{base}/sensorMetadata/deviceID")
        if "deviceID" in metadata
        else None
    )
    read_point = None if event.read_point is None else canonical(event.read_point).key
    element_extra = {k: v for k, v in element.items() if k not in _ELEMENT_PARTS}
    out: list[Reading] = []
    for j, report in enumerate(reports):
        where = f"{base}/sensorReport/{j}"
        if not isinstance(report, dict):
            raise _Fault(where, "a sensorReport entry must be an object")
        kind = report.get("type")
        if kind is not None and (not isinstance(kind, str) or not kind):
            raise _Fault(f"{where}/type", f"type must be a non-empty string, got {kind!r}")
        unit = report.get("uom")
        if unit is not None and not isinstance(unit, str):
            raise _Fault(f"{where}/uom", "uom must be a string (a UN/ECE rec 20 code)")
        stats = [_number(report, name, where) if name in report else None for name, _ in _STATS]
        value = _number(report, "value", where)
        if value is None:
            value = stats[2]  # meanValue stands in for a report that gives statistics only
        device = (
            _key(report["deviceID"], f"{where}/deviceID") if "deviceID" in report else meta_device
        )
        time = _time(report["time"], f"{where}/time") if "time" in report else None
        extra: dict[str, Any] = {k: v for k, v in report.items() if k not in _IN_COLUMNS}
        if metadata:
            extra["sensorMetadata"] = metadata
        if element_extra:
            extra["sensorElement"] = element_extra
        out.append(
            Reading(
                device if device is not None else read_point,
                None if kind is None else measurement_word(kind),
                time or meta_time or event_time,
                value,
                stats[0],
                stats[1],
                stats[2],
                stats[3],
                stats[4],
                stats[5],
                unit,
                device,
                EPCIS_SOURCE,
                row,
                extra or None,
            )
        )
    return out


def reading_rows(event: AnyEvent, row: int | None, event_time: str | None = None) -> list[Reading]:
    """The readings of one event (stored as ``row``); ``[]`` without a sensorElementList.

    ``event_time`` is the event time in storage form (computed when not given). A malformed
    sensor value raises :class:`DocumentError` naming the eventID and the JSON pointer.
    """
    if not event.sensor_elements:
        return []
    when = event_time or utc_text(event.event_time)
    out: list[Reading] = []
    try:
        for index, element in enumerate(event.sensor_elements):
            out.extend(_rows_of_element(event, row, when, index, element))
    except _Fault as fault:
        raise DocumentError(
            f"{fault.reason} (event {event.event_id})", pointer=fault.pointer
        ) from None
    return out


def write_readings(writer: Writer, live: Sequence[tuple[int, AnyEvent, str]]) -> None:
    """Insert the readings of a batch of stored events in bulk.

    Events without a sensorElementList cost one attribute test each.
    """
    sensing = [item for item in live if item[1].sensor_elements]
    if not sensing:
        return
    store = writer.store
    rows: list[tuple[Any, ...]] = []
    for row, event, time in sensing:
        for r in reading_rows(event, row, time):
            rows.append((*r[:-1], None if r.extra is None else store.dump_json(r.extra)))
    if rows:
        store.insert_rows(
            writer.cursor, store.sql(_INSERT.replace("{J}", store.json_param())), rows
        )


def delete_readings(writer: Writer, row: int) -> None:
    """Remove the readings projected from the event stored as ``row`` (declared in error)."""
    writer.cursor.execute(writer.store.sql("DELETE FROM readings WHERE event = ?"), (row,))


def clear_event_readings(writer: Writer) -> None:
    """Remove every reading projected from events (before a rebuild replays them).

    Readings from other sources (MQTT, OPC UA) have no event to be rebuilt from and stay.
    """
    writer.cursor.execute(
        writer.store.sql("DELETE FROM readings WHERE source = ?"), (EPCIS_SOURCE,)
    )
