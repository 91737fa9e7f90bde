"""Scanning stations: where a scan happens and what business step it records.

Station configuration lives in the store (table ``stations``), so the CLI, the HTTP service and
every ingester see the same stations without a file to keep in step:
``threadline stations set PACK-01 --read-point urn:epc:id:sgln:4012345.00001.PACK-01
--bizstep packing [--location ...] [--disposition ...]`` and ``threadline stations list``.

A station's id is how scanners name it (a topic segment on MQTT, ``station`` in ``POST /scans``).
Its read point is the EPCIS readPoint of its scans and must be a URI: the id itself when the id
is one, else given with ``--read-point``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from threadline.epcis.cbv import cbv_word
from threadline.epcis.json_reader import utc_text
from threadline.errors import InvalidInput
from threadline.store.base import Reader, Store

__all__ = ["Station", "get_station", "list_stations", "set_station", "stations_by_id"]

_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")
_ID = re.compile(r"[^\s/#+]{1,200}")
_COLS = "id, read_point, biz_step, biz_location, disposition, updated_at"


@dataclass(frozen=True)
class Station:
    """One station's configuration (values as the user gave them; CBV words bare)."""

    id: str
    read_point: str
    biz_step: str
    biz_location: str | None = None
    disposition: str | None = None
    updated_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _uri(value: str, what: str) -> str:
    value = value.strip()
    if not _URI.fullmatch(value):
        raise InvalidInput(f"{what} {value!r} must be a URI (e.g. urn:epc:id:sgln:...)")
    return value


def _vocab_word(value: str, what: str, vocabulary: Any) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"{what} must not be empty")
    word: str = cbv_word(value, vocabulary)
    if ":" not in word and not re.fullmatch(r"[a-z][a-z_]*", word):
        raise InvalidInput(
            f"{what} {value!r} is neither a CBV word (lower case, e.g. packing) nor a URI"
        )
    return word


def set_station(
    store: Store,
    station_id: str,
    *,
    biz_step: str,
    read_point: str | None = None,
    biz_location: str | None = None,
    disposition: str | None = None,
) -> Station:
    """Create or replace a station's configuration; returns it as stored."""
    if not _ID.fullmatch(station_id):
        raise InvalidInput(
            f"station id {station_id!r} must be 1-200 characters without spaces, '/', '#' or '+'"
            " (it is an MQTT topic segment)"
        )
    if read_point is None:
        if not _URI.fullmatch(station_id):
            raise InvalidInput(
                f"station id {station_id!r} is not a URI, so it cannot be the read point: give "
                "--read-point URI (e.g. urn:epc:id:sgln:4012345.00001.PACK-01)"
            )
        read_point = station_id
    station = Station(
        id=station_id,
        read_point=_uri(read_point, "read point"),
        biz_step=_vocab_word(biz_step, "bizStep", "bizstep"),
        biz_location=None if biz_location is None else _uri(biz_location, "bizLocation"),
        disposition=None
        if disposition is None
        else _vocab_word(disposition, "disposition", "disp"),
        updated_at=utc_text(datetime.now(UTC)),
    )
    with store.writer() as writer:
        writer.cursor.execute(store.sql("DELETE FROM stations WHERE id = ?"), (station.id,))
        writer.cursor.execute(
            store.sql(f"INSERT INTO stations ({_COLS}) VALUES (?, ?, ?, ?, ?, ?)"),
            (
                station.id,
                station.read_point,
                station.biz_step,
                station.biz_location,
                station.disposition,
                station.updated_at,
            ),
        )
    return station


def list_stations(store: Store) -> list[Station]:
    """Every station, by id."""
    with store.reader() as reader:
        rows = reader.query(f"SELECT {_COLS} FROM stations ORDER BY id")
    return [Station(*r) for r in rows]


def stations_by_id(reader: Reader, ids: list[str]) -> dict[str, Station]:
    """The configured stations among ``ids``."""
    if not ids:
        return {}
    rows = reader.query_in(f"SELECT {_COLS} FROM stations WHERE id {{IN}}", sorted(set(ids)))
    return {r[0]: Station(*r) for r in rows}


def get_station(store: Store, station_id: str) -> Station:
    """One station, or :class:`InvalidInput` naming it and how to configure it."""
    with store.reader() as reader:
        found = stations_by_id(reader, [station_id]).get(station_id)
    if found is None:
        raise InvalidInput(
            f"unknown station {station_id!r}: configure it with "
            f"`threadline stations set {station_id} --bizstep ...`"
        )
    return found
