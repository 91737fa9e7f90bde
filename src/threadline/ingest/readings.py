"""Machine readings: parsing what machines send, writing batches, the hook, reading them back.

A machine reading is one value of one parameter of one piece of equipment at one time, from a
source other than an EPCIS event (``mqtt``, ``opcua``). Its identity is
``(equipment, parameter, time, source)`` — a unique index (migration 0009) — and every batch is
inserted with ``ON CONFLICT DO NOTHING``: a message redelivered after a crash, or a value read
twice, stores once. A second, different value for the same identity is therefore dropped; a
sender that needs both must give them different times.

Times are stored in the store's UTC text form, so ``12:00:00+01:00`` and ``11:00:00Z`` are one
time. A reading without a time has no identity a redelivery could match, so it is refused.

:func:`insert_readings` is the single place machine readings enter the store; after each commit
the ingesters call :func:`readings_committed`, the hook for whatever must react to fresh
readings (the quality module's spec checks and alerts): register a callable in
:data:`READINGS_LISTENERS`, or pass ``listeners=`` to an ingester.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any, NamedTuple

import orjson

from threadline.epcis.json_reader import utc_text
from threadline.epcis.sensors import measurement_word
from threadline.errors import DocumentError, InvalidInput
from threadline.genealogy.window import parse_time
from threadline.gs1.keys import canonical
from threadline.store.base import Reader, Store

__all__ = [
    "MQTT_SOURCE",
    "OPCUA_SOURCE",
    "READINGS_LISTENERS",
    "MachineReading",
    "ReadingsListener",
    "equipment_key",
    "find_readings",
    "insert_readings",
    "parse_readings_payload",
    "reading_time",
    "readings_committed",
]

log = logging.getLogger("threadline.ingest")

MQTT_SOURCE = "mqtt"
OPCUA_SOURCE = "opcua"

_INSERT = (
    "INSERT INTO readings (equipment, parameter, time, value, unit, device_id, source, extra) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, {J}) ON CONFLICT DO NOTHING"
)
_READING_KEYS = frozenset({"parameter", "value", "unit", "time", "device"})
_IDENTITY = itemgetter(0, 1, 2)  # equipment, parameter, time


class MachineReading(NamedTuple):
    """One machine reading as stored; ``extra`` is JSON text (or None)."""

    equipment: str
    parameter: str
    time: str
    value: float
    unit: str | None
    device_id: str | None
    source: str
    extra: str | None

    def to_dict(self) -> dict[str, Any]:
        data = self._asdict()
        data["extra"] = None if self.extra is None else orjson.loads(self.extra)
        return data


ReadingsListener = Callable[[Store, Sequence[MachineReading]], None]

READINGS_LISTENERS: list[ReadingsListener] = []
"""Called by every ingester after each commit (see :func:`readings_committed`)."""


def readings_committed(
    store: Store,
    readings: Sequence[MachineReading],
    listeners: Sequence[ReadingsListener] | None = None,
) -> None:
    """Tell the listeners about a batch of readings that has just been committed.

    This is the hook for checks on fresh readings (specs, alerts). It runs on the ingester's
    writer thread after the commit and before the batch's messages are acknowledged, so a
    listener's work delays acknowledgement but never decides it: the readings are durable
    already. The batch may hold readings that were stored before (a message redelivered after
    a crash), so a listener must be idempotent. A listener that raises is logged and the
    ingester carries on.
    """
    if not readings:
        return
    for listener in (*READINGS_LISTENERS, *(listeners or ())):
        try:
            listener(store, readings)
        except Exception:  # a listener's fault must not stop ingestion
            log.exception("readings listener %r failed", listener)


def insert_readings(store: Store, cursor: Any, readings: Sequence[MachineReading]) -> int:
    """Insert ``readings`` through ``cursor`` (one ``executemany`` in the caller's transaction).

    Readings whose identity is already stored are skipped. Returns how many rows were new.
    """
    if not readings:
        return 0
    # In index order: each B-tree page is visited once per batch instead of once per row
    # (twice the rows per second on SQLite for machines that send many parameters at a time).
    rows = sorted(readings, key=_IDENTITY) if len(readings) > 1 else readings
    cursor.executemany(store.sql(_INSERT.replace("{J}", store.json_param())), rows)
    count = cursor.rowcount
    return int(count) if isinstance(count, int) and count >= 0 else len(readings)


# -- parsing -----------------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _time_text(value: str) -> str:
    moment = datetime.fromisoformat(value)  # ValueError: the caller names the field
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    return utc_text(moment)


def reading_time(value: Any, pointer: str, source: str | None = None) -> str:
    """An ISO-8601 time with zone in storage form, or :class:`DocumentError` at ``pointer``."""
    if not isinstance(value, str):
        why = (
            "no time given" if value is None else f"time must be an ISO-8601 string, got {value!r}"
        )
        raise DocumentError(
            f"{why} (a reading needs a time with a zone, e.g. 2026-03-01T07:00:00Z)",
            source=source,
            pointer=pointer,
        )
    try:
        return _time_text(value)
    except ValueError:
        if value[-1:].isdigit():
            try:
                datetime.fromisoformat(value)
            except ValueError:
                pass
            else:
                raise DocumentError(
                    f"time {value!r} has no time zone (add Z or an offset)",
                    source=source,
                    pointer=pointer,
                ) from None
        raise DocumentError(
            f"{value!r} is not an ISO-8601 time", source=source, pointer=pointer
        ) from None


@lru_cache(maxsize=4096)
def equipment_key(raw: str) -> str:
    """The key equipment is stored under: its canonical key (a GS1 key in any form, else as is)."""
    return canonical(raw).key


def _number(value: Any, pointer: str, source: str | None) -> float:
    if isinstance(value, float):
        if math.isfinite(value):
            return value
    elif isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    raise DocumentError(
        f"value must be a finite number, got {value!r}", source=source, pointer=pointer
    )


def parse_readings_payload(
    data: bytes | str,
    *,
    equipment: str,
    source: str = MQTT_SOURCE,
    origin: str | None = None,
    extra: dict[str, Any] | None = None,
) -> list[MachineReading]:
    """The readings of one message: ``{"time", "readings": [{"parameter", "value", "unit"}]}``
    or a single reading object ``{"time", "parameter", "value", "unit"}``.

    A reading may carry its own ``time`` (else the message's applies) and ``device`` (stored as
    device_id); other members are kept in ``extra`` together with ``extra``. The message is
    all or nothing: the first fault raises :class:`DocumentError` naming ``origin`` (the topic)
    and the JSON pointer of the faulty value.
    """
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DocumentError(f"not valid JSON: {exc}", source=origin) from None
    if not isinstance(obj, dict):
        raise DocumentError("a readings message must be a JSON object", source=origin, pointer="")
    try:
        key = equipment_key(equipment)
    except InvalidInput as exc:
        raise DocumentError(f"equipment {equipment!r}: {exc.message}", source=origin) from None
    items = obj.get("readings")
    if items is None:
        items, base = [obj], ""
    elif not isinstance(items, list) or not items:
        raise DocumentError(
            "readings must be a non-empty array of reading objects",
            source=origin,
            pointer="/readings",
        )
    else:
        base = "/readings"
    common = obj.get("time")
    common_text = None if common is None else reading_time(common, "/time", origin)
    base_extra = orjson.dumps(extra).decode() if extra else None
    out: list[MachineReading] = []
    append = out.append
    make = tuple.__new__
    word = _word
    for index, item in enumerate(items):
        # The common shape — {"parameter", "value"[, "unit"]} under the message's time — is
        # taken without further calls (the hot path: every reading passes here); anything
        # else, including every fault, goes through _reading, which names the fault.
        if type(item) is dict and common_text is not None:
            parameter = item.get("parameter")
            value = item.get("value")
            unit = item.get("unit")
            size = len(item)
            if (
                type(parameter) is str
                and parameter
                and (type(value) is float or type(value) is int)
                and (
                    size == 2
                    or (size == 3 and (unit is None or type(unit) is str) and "unit" in item)
                )
            ):
                append(
                    make(
                        MachineReading,
                        (
                            key,
                            word(parameter),
                            common_text,
                            float(value),
                            unit,
                            None,
                            source,
                            base_extra,
                        ),
                    )
                )
                continue
        append(_reading(item, index, base, key, common_text, source, origin, extra, base_extra))
    return out


@lru_cache(maxsize=4096)
def _word(parameter: str) -> str:
    return measurement_word(parameter)


def _reading(
    item: Any,
    index: int,
    base: str,
    key: str,
    common_text: str | None,
    source: str,
    origin: str | None,
    extra: dict[str, Any] | None,
    base_extra: str | None,
) -> MachineReading:
    where = f"{base}/{index}" if base else ""
    if not isinstance(item, dict):
        raise DocumentError("a reading must be a JSON object", source=origin, pointer=where)
    parameter = item.get("parameter")
    if not isinstance(parameter, str) or not parameter:
        raise DocumentError(
            f"parameter must be a non-empty string, got {parameter!r}",
            source=origin,
            pointer=f"{where}/parameter",
        )
    value = _number(item.get("value"), f"{where}/value", origin)
    unit = item.get("unit")
    if unit is not None and not isinstance(unit, str):
        raise DocumentError(
            f"unit must be a string (a UN/ECE rec 20 code), got {unit!r}",
            source=origin,
            pointer=f"{where}/unit",
        )
    own_time = item.get("time")
    if own_time is not None:
        time = reading_time(own_time, f"{where}/time", origin)
    elif common_text is not None:
        time = common_text
    else:
        time = reading_time(None, f"{where}/time" if base else "/time", origin)
    device = item.get("device")
    if device is not None and not isinstance(device, str):
        raise DocumentError(
            f"device must be a string, got {device!r}", source=origin, pointer=f"{where}/device"
        )
    row_extra = base_extra
    if not _READING_KEYS.issuperset(item):
        # Members beyond the reading's own are kept, not dropped.
        kept = {k: v for k, v in item.items() if k not in _READING_KEYS}
        row_extra = orjson.dumps({**(extra or {}), **kept}).decode()
    return MachineReading(key, _word(parameter), time, value, unit, device, source, row_extra)


# -- reading back --------------------------------------------------------------------------------


def _equipment_keys(reader: Reader, raw: str) -> list[str]:
    keys = [equipment_key(raw)]
    if "/" not in raw and ":" not in raw:
        # A bare machine name also finds the readings of the SGLN whose extension it is
        # (EPCIS events name a machine as urn:epc:id:sgln:...CH-07), as `window` does.
        rows = reader.query(
            "SELECT key FROM objects WHERE kind = ? AND key LIKE ?", ("sgln", f"%/254/{raw}")
        )
        keys += [r[0] for r in rows]
    return keys


def find_readings(
    reader: Reader,
    equipment: str,
    *,
    parameter: str | None = None,
    start: str | None = None,
    end: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Readings of ``equipment`` from every source (EPCIS sensor reports, MQTT, OPC UA), oldest
    first, optionally of one ``parameter`` and with start <= time < end (ISO-8601; a time
    without a zone is UTC).

    ``equipment`` is any form of its identifier; a bare name such as ``CH-07`` also matches a
    location whose SGLN extension it is.
    """
    if not equipment:
        raise InvalidInput("--equipment must not be empty")
    keys = _equipment_keys(reader, equipment)
    where = [f"r.equipment IN ({', '.join('?' * len(keys))})"]
    params: list[Any] = list(keys)
    if parameter:
        where.append("r.parameter = ?")
        params.append(measurement_word(parameter))
    lo = parse_time(start, "--from") if start else None
    hi = parse_time(end, "--to") if end else None
    if lo and hi and hi <= lo:
        raise InvalidInput(f"--to ({end}) must be after --from ({start})")
    if lo:
        where.append("r.time >= ?")
        params.append(lo)
    if hi:
        where.append("r.time < ?")
        params.append(hi)
    sql = (
        "SELECT r.equipment, r.parameter, r.time, r.value, r.unit, r.source, r.device_id, "
        "r.min_value, r.max_value, r.mean_value, e.event_id FROM readings r "
        "LEFT JOIN events e ON e.id = r.event WHERE "
        + " AND ".join(where)
        + " ORDER BY r.time, r.parameter, r.id"
    )
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    out: list[dict[str, Any]] = []
    names = ("min_value", "max_value", "mean_value")
    for row in reader.query(sql, params):
        item: dict[str, Any] = {
            "equipment": row[0],
            "parameter": row[1],
            "time": row[2],
            "value": row[3],
            "unit": row[4],
            "source": row[5],
        }
        if row[6] is not None:
            item["device_id"] = row[6]
        for name, stat in zip(names, row[7:10], strict=True):
            if stat is not None:
                item[name] = stat
        if row[10] is not None:
            item["event"] = row[10]
        out.append(item)
    return out
