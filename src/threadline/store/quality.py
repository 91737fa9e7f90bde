"""SQL of the quality records: specs, alerts and holds (migration 0010).

The rules (what is out of spec, what a hold covers, what a capture may not do) live in
:mod:`threadline.quality`; this module only reads and writes rows. ``''`` in a spec's
``product`` or ``equipment`` means "any".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from threadline.store.auth import now_text, transaction
from threadline.store.base import Reader, Store

__all__ = [
    "AlertRow",
    "HoldRow",
    "SpecRow",
    "ack_alert",
    "active_holds",
    "hold_by_id",
    "insert_alert",
    "insert_hold",
    "list_alerts",
    "list_holds",
    "list_specs",
    "release_hold",
    "specs_for",
    "upsert_spec",
]


@dataclass(frozen=True)
class SpecRow:
    """The limits of one parameter (``product`` / ``equipment`` ``''``: any)."""

    id: int
    product: str
    equipment: str
    parameter: str
    lsl: float | None
    usl: float | None
    target: float | None
    unit: str | None
    updated_at: str
    updated_by: str | None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["product"] = self.product or None
        data["equipment"] = self.equipment or None
        return data


@dataclass(frozen=True)
class AlertRow:
    id: int
    time: str
    kind: str
    spec: int | None
    equipment: str | None
    parameter: str | None
    reading_time: str | None
    value: float | None
    lsl: float | None
    usl: float | None
    unit: str | None
    source: str | None
    object: str | None
    site: str | None
    message: str
    acked_at: str | None
    acked_by: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HoldRow:
    id: int
    object: str
    reason: str
    placed_at: str
    placed_by: str | None
    released_at: str | None
    released_by: str | None
    release_reason: str | None

    @property
    def active(self) -> bool:
        return self.released_at is None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["active"] = self.active
        return data


_SPEC_COLS = "id, product, equipment, parameter, lsl, usl, target, unit, updated_at, updated_by"
_ALERT_COLS = (
    "id, time, kind, spec, equipment, parameter, reading_time, value, lsl, usl, unit, source, "
    "object, site, message, acked_at, acked_by"
)
_HOLD_COLS = "id, object, reason, placed_at, placed_by, released_at, released_by, release_reason"


# -- specs -----------------------------------------------------------------------------------------
def upsert_spec(
    store: Store,
    *,
    product: str,
    equipment: str,
    parameter: str,
    lsl: float | None,
    usl: float | None,
    target: float | None,
    unit: str | None,
    user: str | None,
) -> SpecRow:
    """Create the spec of (product, equipment, parameter), or replace its limits."""
    now = now_text()
    with transaction(store, write=True) as cursor:
        cursor.execute(
            store.sql(
                "INSERT INTO specs (product, equipment, parameter, lsl, usl, target, unit, "
                "updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (product, equipment, parameter) DO UPDATE SET lsl = excluded.lsl, "
                "usl = excluded.usl, target = excluded.target, unit = excluded.unit, "
                "updated_at = excluded.updated_at, updated_by = excluded.updated_by"
            ),
            (product, equipment, parameter, lsl, usl, target, unit, now, user),
        )
        cursor.execute(
            store.sql(
                f"SELECT {_SPEC_COLS} FROM specs WHERE product = ? AND equipment = ? "
                "AND parameter = ?"
            ),
            (product, equipment, parameter),
        )
        return SpecRow(*cursor.fetchone())


def list_specs(
    store: Store, *, parameter: str | None = None, equipment: str | None = None
) -> list[SpecRow]:
    sql = f"SELECT {_SPEC_COLS} FROM specs"
    where: list[str] = []
    params: list[Any] = []
    if parameter is not None:
        where.append("parameter = ?")
        params.append(parameter)
    if equipment is not None:
        where.append("equipment = ?")
        params.append(equipment)
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY parameter, equipment, product, id"
    with store.reader() as reader:
        return [SpecRow(*r) for r in reader.query(sql, params)]


def specs_for(reader: Reader, parameters: Sequence[str]) -> list[SpecRow]:
    """Every spec of any of ``parameters`` (one query per 500 parameters)."""
    out: list[SpecRow] = []
    if parameters:
        out += [
            SpecRow(*r)
            for r in reader.query_in(
                f"SELECT {_SPEC_COLS} FROM specs WHERE parameter {{IN}}", list(parameters)
            )
        ]
    return out


# -- alerts ----------------------------------------------------------------------------------------
def insert_alert(store: Store, cursor: Any, alert: dict[str, Any]) -> int | None:
    """Insert one alert unless one with its ``dedup`` key exists; returns the new id or None."""
    cursor.execute(
        store.sql(
            "INSERT INTO alerts (time, kind, spec, equipment, parameter, reading_time, value, "
            "lsl, usl, unit, source, object, site, message, dedup) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (dedup) DO NOTHING"
        ),
        (
            alert.get("time") or now_text(),
            alert["kind"],
            alert.get("spec"),
            alert.get("equipment"),
            alert.get("parameter"),
            alert.get("reading_time"),
            alert.get("value"),
            alert.get("lsl"),
            alert.get("usl"),
            alert.get("unit"),
            alert.get("source"),
            alert.get("object"),
            alert.get("site"),
            alert["message"],
            alert["dedup"],
        ),
    )
    if cursor.rowcount != 1:
        return None
    cursor.execute(store.sql("SELECT id FROM alerts WHERE dedup = ?"), (alert["dedup"],))
    return int(cursor.fetchone()[0])


def list_alerts(
    store: Store, *, limit: int = 100, unacked: bool = False, kind: str | None = None
) -> list[AlertRow]:
    """Alerts, newest first."""
    sql = f"SELECT {_ALERT_COLS} FROM alerts"
    where: list[str] = []
    params: list[Any] = []
    if unacked:
        where.append("acked_at IS NULL")
    if kind is not None:
        where.append("kind = ?")
        params.append(kind)
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    with store.reader() as reader:
        return [AlertRow(*r) for r in reader.query(sql, params)]


def ack_alert(store: Store, alert_id: int, *, user: str | None) -> AlertRow | None:
    """Acknowledge an alert (the first acknowledgement stands); None if there is no such alert."""
    with transaction(store, write=True) as cursor:
        cursor.execute(
            store.sql(
                "UPDATE alerts SET acked_at = ?, acked_by = ? WHERE id = ? AND acked_at IS NULL"
            ),
            (now_text(), user, alert_id),
        )
        cursor.execute(store.sql(f"SELECT {_ALERT_COLS} FROM alerts WHERE id = ?"), (alert_id,))
        row = cursor.fetchone()
    return None if row is None else AlertRow(*row)


# -- holds -----------------------------------------------------------------------------------------
def insert_hold(store: Store, cursor: Any, *, obj: str, reason: str, user: str | None) -> HoldRow:
    cursor.execute(
        store.sql("INSERT INTO holds (object, reason, placed_at, placed_by) VALUES (?, ?, ?, ?)"),
        (obj, reason, now_text(), user),
    )
    cursor.execute(store.sql(f"SELECT {_HOLD_COLS} FROM holds ORDER BY id DESC LIMIT 1"))
    return HoldRow(*cursor.fetchone())


def release_hold(
    store: Store, cursor: Any, hold_id: int, *, reason: str, user: str | None
) -> HoldRow | None:
    cursor.execute(
        store.sql(
            "UPDATE holds SET released_at = ?, released_by = ?, release_reason = ? "
            "WHERE id = ? AND released_at IS NULL"
        ),
        (now_text(), user, reason, hold_id),
    )
    cursor.execute(store.sql(f"SELECT {_HOLD_COLS} FROM holds WHERE id = ?"), (hold_id,))
    row = cursor.fetchone()
    return None if row is None else HoldRow(*row)


def hold_by_id(reader: Reader, hold_id: int) -> HoldRow | None:
    rows = reader.query(f"SELECT {_HOLD_COLS} FROM holds WHERE id = ?", (hold_id,))
    return HoldRow(*rows[0]) if rows else None


def active_holds(reader: Reader, obj: str | None = None) -> list[HoldRow]:
    sql = f"SELECT {_HOLD_COLS} FROM holds WHERE released_at IS NULL"
    params: list[Any] = []
    if obj is not None:
        sql += " AND object = ?"
        params.append(obj)
    return [HoldRow(*r) for r in reader.query(sql + " ORDER BY id", params)]


def list_holds(store: Store, *, active_only: bool = False, limit: int = 200) -> list[HoldRow]:
    sql = f"SELECT {_HOLD_COLS} FROM holds"
    if active_only:
        sql += " WHERE released_at IS NULL"
    sql += " ORDER BY id DESC LIMIT ?"
    with store.reader() as reader:
        return [HoldRow(*r) for r in reader.query(sql, (limit,))]
