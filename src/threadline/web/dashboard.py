"""The dashboard: what the plant made on its latest day, and what needs a person's attention.

"Today" is the UTC day of the newest event in the store, not the wall clock, so a plant whose
data stops in the past (an import, a demo) still shows its last day of work; the page says
which day it is. Every figure is bounded, whatever the size of the store:

- lots made: the outputs of the TransformationEvents and commissioning ObjectEvents of that day,
  found through ``ix_events_event_time`` (at most :data:`DAY_EVENTS_MAX` events are read); when
  that day made nothing (a last day of shipping only), the list shows the lots of the latest
  day that did, if one of the newest :data:`PRODUCTION_LOOKBACK` events made something;
- open holds: the holds not released (a short table: holds are placed by people);
- open alerts: those nobody acknowledged among the newest :data:`ALERTS_WINDOW` alerts (the
  ``alerts`` table has no index on ``acked_at``, so an exact count would scan all of it);
- drifting equipment: the reading series whose newest readings are out of spec, drifting toward
  a limit or shifted (:func:`threadline.web.equipment.drifting_equipment`: one indexed read of
  a few dozen readings per series), worst first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from threadline.errors import InvalidInput
from threadline.gs1.keys import canonical
from threadline.labels.content import display_key
from threadline.quality import alerts as alerts_mod
from threadline.quality import holds as holds_mod
from threadline.store.base import Reader, Store
from threadline.web.charts import unit_symbol
from threadline.web.equipment import Drift, drifting_equipment
from threadline.web.lists import AlertItem, HoldItem, Link, alert_item, equipment_name, hold_item
from threadline.web.passport import readable_time

__all__ = [
    "ALERTS_SHOWN",
    "ALERTS_WINDOW",
    "DAY_EVENTS_MAX",
    "HOLDS_SHOWN",
    "LOTS_SHOWN",
    "PRODUCTION_LOOKBACK",
    "Dashboard",
    "LotMade",
    "build_dashboard",
    "day_bounds",
    "latest_event_time",
    "latest_production_day",
    "lots_made",
]

LOTS_SHOWN = 10
ALERTS_SHOWN = 5
HOLDS_SHOWN = 5
DRIFTING_SHOWN = 10
# Upper bounds on the rows one dashboard reads, whatever the size of the store.
DAY_EVENTS_MAX = 20_000
PRODUCTION_LOOKBACK = 3_000
ALERTS_WINDOW = 20_000

_MAKING = (
    "(type = 'TransformationEvent' OR "
    "(type = 'ObjectEvent' AND action = 'ADD' AND biz_step = 'commissioning'))"
)


@dataclass(frozen=True)
class LotMade:
    """One lot (or item) made on the day: the output of a transformation or commissioning."""

    key: str
    text: str
    href: str
    quantity: str
    where: str  # the machine or place it was made at (short name)
    stamp: str
    time: str


@dataclass
class Dashboard:
    """Everything the dashboard shows (``day`` None: the store holds no events yet)."""

    day: str | None
    lots_made: int = 0
    lots_capped: bool = False  # the day had more than DAY_EVENTS_MAX making events
    lots: list[LotMade] = field(default_factory=list)
    # When nothing was made on ``day``: the latest day among the newest events that saw
    # production, and the lots made on it (shown as a list; the tile stays with ``day``).
    production_day: str | None = None
    production_lots: int = 0
    open_holds: int = 0
    holds: list[HoldItem] = field(default_factory=list)
    open_alerts: int = 0
    alerts_windowed: bool = False  # open alerts counted among the newest ALERTS_WINDOW only
    alerts: list[AlertItem] = field(default_factory=list)
    drifting: list[Drift] = field(default_factory=list)  # worst series first
    drifting_more: bool = False  # more series drift than are listed

    @property
    def drifting_machines(self) -> int:
        """How many machines the listed series belong to."""
        return len({d.key for d in self.drifting})


def latest_event_time(reader: Reader) -> str | None:
    """The newest event time in the store (UTC text), from the end of ``ix_events_event_time``."""
    rows = reader.query("SELECT max(event_time) FROM events")
    return str(rows[0][0]) if rows and rows[0][0] is not None else None


def day_bounds(day: str) -> tuple[str, str]:
    """The UTC text range [start, end) of the day ``YYYY-MM-DD``."""
    try:
        start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise InvalidInput(f"day {day!r} is not a date (YYYY-MM-DD)") from exc
    end = start + timedelta(days=1)
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
    return start.strftime(fmt), end.strftime(fmt)


def _outputs_column(store: Store) -> str:
    """SQL for what an event made, as one small JSON array (not the whole document):
    ``[outputEPCList, outputQuantityList, epcList, quantityList]``, absent ones null."""
    if store.engine.dialect.name == "postgresql":
        return (
            "jsonb_build_array(doc->'outputEPCList', doc->'outputQuantityList', "
            "doc->'epcList', doc->'quantityList')"
        )
    return (
        "json_extract(doc, '$.outputEPCList', '$.outputQuantityList', '$.epcList', "
        "'$.quantityList')"
    )


def _outputs(lists: Any) -> list[tuple[str, float | None, str | None]]:
    """(identifier, quantity, uom) of what an event made, from its :func:`_outputs_column`."""
    if not isinstance(lists, list) or len(lists) != 4:
        return []
    # A TransformationEvent's lists are outputs; a commissioning ObjectEvent's epcList and
    # quantityList are what it brought into being (a TransformationEvent has neither).
    out: list[tuple[str, float | None, str | None]] = []
    for epcs in (lists[0], lists[2]):
        for epc in epcs if isinstance(epcs, list) else ():
            if isinstance(epc, str):
                out.append((epc, None, None))
    for quantities in (lists[1], lists[3]):
        for item in quantities if isinstance(quantities, list) else ():
            if isinstance(item, dict) and isinstance(item.get("epcClass"), str):
                amount, uom = item.get("quantity"), item.get("uom")
                out.append(
                    (
                        item["epcClass"],
                        float(amount) if isinstance(amount, int | float) else None,
                        uom if isinstance(uom, str) else None,
                    )
                )
    return out


def _key(raw: str) -> str:
    try:
        return canonical(raw).key
    except InvalidInput:
        return raw


def _quantity(amount: float | None, uom: str | None) -> str:
    if amount is None:
        return ""
    return f"{amount:,.{0 if amount == int(amount) else 2}f} {unit_symbol(uom)}".strip()


def lots_made(
    reader: Reader, day: str, *, link: Link, shown: int = LOTS_SHOWN
) -> tuple[int, bool, list[LotMade]]:
    """How many distinct lots (or items) were made on ``day``, whether the count hit the cap,
    and the newest ``shown`` of them.

    Reads the day's events through ``ix_events_event_time`` (events declared in error excluded),
    at most :data:`DAY_EVENTS_MAX` of them.
    """
    start, end = day_bounds(day)
    rows = reader.query(
        f"SELECT event_time, read_point, biz_location, {_outputs_column(reader.store)} FROM events "
        f"WHERE event_time >= ? AND event_time < ? AND {_MAKING} "
        "AND error_declared = ? AND is_declaration = ? "
        "ORDER BY event_time DESC, id DESC LIMIT ?",
        (start, end, False, False, DAY_EVENTS_MAX + 1),
    )
    capped = len(rows) > DAY_EVENTS_MAX
    seen: set[str] = set()
    newest: list[LotMade] = []
    for event_time, read_point, biz_location, made in rows[:DAY_EVENTS_MAX]:
        for ident, amount, uom in _outputs(reader.store.load_json(made)):
            key = _key(ident)
            if key in seen:
                continue
            seen.add(key)
            if len(newest) < shown:
                newest.append(
                    LotMade(
                        key=key,
                        text=display_key(key),
                        href=link(key),
                        quantity=_quantity(amount, uom),
                        where=equipment_name(read_point or biz_location),
                        stamp=event_time,
                        time=readable_time(event_time),
                    )
                )
    return len(seen), capped, newest


def _making(type_: str, action: str | None, biz_step: str | None) -> bool:
    return type_ == "TransformationEvent" or (
        type_ == "ObjectEvent" and action == "ADD" and biz_step == "commissioning"
    )


def latest_production_day(reader: Reader) -> str | None:
    """The UTC day of the newest making event among the newest :data:`PRODUCTION_LOOKBACK`
    events (None if there is none among them): a walk down ``ix_events_event_time`` that stops
    at the first one."""
    cursor = reader.cursor
    cursor.execute(
        reader.store.sql(
            "SELECT event_time, type, action, biz_step, error_declared, is_declaration "
            "FROM events ORDER BY event_time DESC LIMIT ?"
        ),
        (PRODUCTION_LOOKBACK,),
    )
    while batch := cursor.fetchmany(200):
        for event_time, type_, action, biz_step, erroneous, declaration in batch:
            if not erroneous and not declaration and _making(type_, action, biz_step):
                return str(event_time)[:10]
    return None


def _open_alerts(reader: Reader) -> tuple[int, bool]:
    rows = reader.query(
        "SELECT count(*), sum(CASE WHEN acked_at IS NULL THEN 1 ELSE 0 END) FROM "
        "(SELECT acked_at FROM alerts ORDER BY id DESC LIMIT ?) newest",
        (ALERTS_WINDOW,),
    )
    scanned, open_ = rows[0]
    return int(open_ or 0), int(scanned or 0) >= ALERTS_WINDOW


def build_dashboard(store: Store, *, link: Link) -> Dashboard:
    """The dashboard of ``store``; ``link`` makes passport addresses from object keys."""
    with store.reader() as reader:
        newest = latest_event_time(reader)
        board = Dashboard(day=newest[:10] if newest else None)
        if board.day is not None:
            board.lots_made, board.lots_capped, board.lots = lots_made(reader, board.day, link=link)
            if board.lots_made == 0:
                found = latest_production_day(reader)
                board.production_day = found if found != board.day else None
                if board.production_day is not None:
                    board.production_lots, _, board.lots = lots_made(
                        reader, board.production_day, link=link
                    )
        board.open_holds = int(
            reader.query("SELECT count(*) FROM holds WHERE released_at IS NULL")[0][0]
        )
        board.open_alerts, board.alerts_windowed = _open_alerts(reader)
        drifting = drifting_equipment(reader, limit=DRIFTING_SHOWN + 1)
        board.drifting = drifting[:DRIFTING_SHOWN]
        board.drifting_more = len(drifting) > DRIFTING_SHOWN
    board.alerts = [alert_item(r, link) for r in alerts_mod.list_alerts(store, limit=ALERTS_SHOWN)]
    active = holds_mod.list_holds(store, active_only=True, limit=HOLDS_SHOWN)
    board.holds = [hold_item(h, link) for h in active]
    return board
