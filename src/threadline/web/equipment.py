"""Equipment: the machines and read points of a plant, their process readings and their drift.

What counts as equipment
------------------------
Two things leave traces in the store: **read points** where events happen (the SGLN of a cold
header ``.../254/CH-04``, a furnace ``FURN-01``, a packing line) and **reading series**, one per
(equipment, parameter) of the ``readings`` table, where "equipment" is whatever the sender named:
the sensor of an EPCIS ``sensorElementList`` (a GIAI such as ``FF-CH-04``, the force sensor of
header CH-04), or the machine an MQTT / OPC UA source published for.

:func:`equipment_catalogue` puts them together as :class:`Machine` entries: every read point
except a bare GLN (a whole site or a customer address is a place, not a machine), with the reading
series attached whose latest EPCIS readings came from events at that read point, or whose name is
the read point's own key or its SGLN extension (``CH-04``); a series that belongs to no read point
is a machine of its own. Everything is found by walking the indexes (one seek per distinct
read point, equipment and parameter), never by scanning events or readings.

Spec limits apply to a series as alerts apply them (:mod:`threadline.quality.alerts`): a spec of
the series' parameter whose equipment is unset, the series' equipment key, or the SGLN extension
that key ends with. Where several apply, the chart draws the most specific (an equipment spec
before a general one, a spec for any product before a product's own).

Drift
-----
:func:`series_health` judges one series from its newest ``2 x DRIFT_WINDOW`` readings (one indexed
range read) by the rules of :mod:`threadline.web.drift`: **out of spec**, **drifting** toward a
limit, **shifted** (no spec), **steady**, or **too few readings** to tell.

:func:`drifting_equipment` lists the series that are out of spec, drifting or shifted, worst
first, for the dashboard.

The machine page
----------------
:func:`build_equipment_page` charts each parameter in a window, by default the last 24 hours up
to the machine's newest reading (not the wall clock). Every read is an indexed range with a
limit: a series with more readings in the window than its share of ``READINGS_BUDGET`` is drawn
from ``SAMPLE_RUNS`` runs of consecutive readings spread over the window (said so under the
chart); the lots come from :func:`threadline.genealogy.window` when the window holds at most
``WINDOW_EVENTS_MAX`` events at the read point; recent alerts come through the alerts' index on
equipment, however old.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote, urlencode

from threadline.epcis.json_reader import utc_text
from threadline.epcis.sensors import measurement_word
from threadline.errors import InvalidInput, NotFound
from threadline.genealogy.window import WindowLot, parse_time, window
from threadline.gs1.keys import canonical
from threadline.labels.content import display_key
from threadline.store.base import Reader
from threadline.store.quality import AlertRow, SpecRow, specs_for
from threadline.web.charts import Limits, line_charts, unit_symbol
from threadline.web.drift import (
    _RANK,
    DRIFT_SHARE,
    DRIFT_WINDOW,
    MIN_HALF,
    SHIFT_SHARE,
    Drift,
    Health,
    _limit_text,
    judge,
)
from threadline.web.passport import readable_time

__all__ = [
    "ALERTS_SHOWN",
    "DRIFT_SHARE",
    "DRIFT_WINDOW",
    "MIN_HALF",
    "SHIFT_SHARE",
    "Drift",
    "EquipmentPage",
    "Health",
    "Machine",
    "Series",
    "build_equipment_page",
    "drifting_equipment",
    "equipment_catalogue",
    "equipment_href",
    "equipment_list",
    "find_machine",
    "series_health",
    "spec_for",
]

MAX_MACHINES = 500  # read points and series walked at most (a plant has tens of machines)
MAX_SERIES = 500
DEFAULT_SPAN = timedelta(hours=24)
READINGS_BUDGET = 6_000  # readings charted per page, shared by its series
MIN_PER_SERIES = 500
SAMPLE_RUNS = 40  # a series denser than its share of the budget is sampled in this many runs
WINDOW_EVENTS_MAX = 400  # lots are listed when the window holds at most this many events
LOTS_SHOWN = 200
ALERTS_SHOWN = 20


# -- catalogue -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Series:
    """One (equipment, parameter) time series of the ``readings`` table."""

    equipment: str  # the key readings are stored under (a sensor, or the machine itself)
    parameter: str
    unit: str | None  # of its newest reading
    last_time: str  # its newest reading
    read_point: str | None  # where its newest EPCIS readings were reported, if any

    @property
    def device(self) -> str:
        """The equipment key as people read it (a sensor's GIAI without its AI)."""
        return display_key(self.equipment).removeprefix("(8004) ")


@dataclass
class Machine:
    """A piece of equipment: a read point and/or the reading series attached to it."""

    key: str
    name: str
    read_point: str | None  # where its events happen (lots are found here)
    last_event: str | None = None
    series: list[Series] = field(default_factory=list)
    slug: str = ""  # how its page address names it: the short name when that is unique

    @property
    def href(self) -> str:
        return equipment_href(self.slug or self.key)

    @property
    def last_reading(self) -> str | None:
        return max((s.last_time for s in self.series), default=None)

    @property
    def parameters(self) -> list[str]:
        return sorted({s.parameter for s in self.series})

    @property
    def devices(self) -> list[str]:
        return sorted({s.equipment for s in self.series})


def equipment_href(slug: str, **query: str) -> str:
    """The address of an equipment page (``slug``: a machine's short name or any key)."""
    href = f"/ui/equipment/{quote(slug, safe='')}"
    given = {k: v for k, v in query.items() if v}
    return f"{href}?{urlencode(given)}" if given else href


def _extension(key: str) -> str | None:
    """``CH-04`` of an SGLN key ``.../414/<gln>/254/CH-04``; None for any other key."""
    head, sep, tail = key.rpartition("/254/")
    return unquote(tail) if sep and "/414/" in head and tail else None


def _is_site(key: str) -> bool:
    """A bare GLN: a whole site or party address, not a machine."""
    return "/414/" in key and "/254/" not in key


_SERIES_SQL = """
WITH RECURSIVE eq(e) AS (
    SELECT min(equipment) FROM readings
    UNION ALL
    SELECT (SELECT min(equipment) FROM readings WHERE equipment > eq.e) FROM eq
    WHERE eq.e IS NOT NULL
),
s(e, p) AS (
    SELECT eq.e, (SELECT min(parameter) FROM readings WHERE equipment = eq.e) FROM eq
    WHERE eq.e IS NOT NULL
    UNION ALL
    SELECT s.e, (SELECT min(parameter) FROM readings WHERE equipment = s.e AND parameter > s.p)
    FROM s WHERE s.p IS NOT NULL
)
SELECT s.e, s.p,
    (SELECT unit FROM readings WHERE equipment = s.e AND parameter = s.p
        ORDER BY time DESC LIMIT 1),
    (SELECT max(time) FROM readings WHERE equipment = s.e AND parameter = s.p),
    (SELECT ev.read_point FROM events ev WHERE ev.read_point IS NOT NULL AND ev.id IN (
        SELECT r.event FROM readings r WHERE r.equipment = s.e AND r.parameter = s.p
        ORDER BY r.time DESC LIMIT 5) ORDER BY ev.event_time DESC LIMIT 1)
FROM s WHERE s.p IS NOT NULL
ORDER BY s.e, s.p
LIMIT ?
"""

_READ_POINTS_SQL = """
WITH RECURSIVE rp(k) AS (
    SELECT min(read_point) FROM events
    UNION ALL
    SELECT (SELECT min(read_point) FROM events WHERE read_point > rp.k) FROM rp
    WHERE rp.k IS NOT NULL
)
SELECT rp.k, (SELECT max(event_time) FROM events WHERE read_point = rp.k)
FROM rp WHERE rp.k IS NOT NULL
LIMIT ?
"""


def _series(reader: Reader) -> list[Series]:
    return [Series(*row) for row in reader.query(_SERIES_SQL, (MAX_SERIES,))]


def equipment_catalogue(reader: Reader) -> list[Machine]:
    """Every machine of the store (see the module docstring), by name.

    Bounded: one seek per distinct read point, reading equipment and parameter (at most
    ``MAX_MACHINES`` read points and ``MAX_SERIES`` series).
    """
    machines: dict[str, Machine] = {}
    by_extension: dict[str, list[Machine]] = {}
    for key, last_event in reader.query(_READ_POINTS_SQL, (MAX_MACHINES,)):
        if _is_site(key):
            continue
        name = _extension(key) or display_key(key)
        machine = Machine(key=key, name=name, read_point=key, last_event=last_event)
        machines[key] = machine
        by_extension.setdefault(name, []).append(machine)
    for series in _series(reader):
        home = machines.get(series.read_point or "") or machines.get(series.equipment)
        if home is None and "/" not in series.equipment and ":" not in series.equipment:
            named = by_extension.get(series.equipment, [])
            home = named[0] if len(named) == 1 else None
        if home is None:
            home = Machine(
                key=series.equipment, name=display_key(series.equipment), read_point=None
            )
            machines[series.equipment] = home
        home.series.append(series)
    ordered = sorted(machines.values(), key=lambda m: (m.name.casefold(), m.key))
    counts: dict[str, int] = {}
    for machine in ordered:
        counts[machine.name] = counts.get(machine.name, 0) + 1
    for machine in ordered:
        machine.slug = machine.name if counts[machine.name] == 1 else machine.key
    return ordered


def find_machine(catalogue: Sequence[Machine], raw: str) -> Machine:
    """The machine ``raw`` names: its short name, its key in any form, or one of its sensors."""
    text = raw.strip()
    if not text:
        raise InvalidInput("name a piece of equipment, e.g. CH-04")
    named = [m for m in catalogue if text in (m.slug, m.name)]
    if len(named) == 1:
        return named[0]
    try:
        key = canonical(text).key
    except InvalidInput:
        key = text
    for machine in catalogue:
        if key == machine.key or key in machine.devices:
            return machine
    if named:
        keys = ", ".join(m.key for m in named[:5])
        raise NotFound(f"{text!r} names several pieces of equipment ({keys}); give the full key")
    raise NotFound(
        f"no equipment {text!r}: no read point or reading series of that name is in the store"
    )


# -- specs -----------------------------------------------------------------------------------------
def _applies(spec: SpecRow, equipment: str) -> bool:
    """The alert checker's rule: any equipment, this key, or the SGLN extension it ends with."""
    if not spec.equipment:
        return True
    return equipment == spec.equipment or equipment.endswith(f"/254/{spec.equipment}")


def specs_of(specs: Iterable[SpecRow], series: Series) -> list[SpecRow]:
    """The specs that apply to ``series``, most specific first."""
    found = [s for s in specs if s.parameter == series.parameter and _applies(s, series.equipment)]
    return sorted(found, key=lambda s: (not s.equipment, bool(s.product), s.id))


def spec_for(specs: Iterable[SpecRow], series: Series) -> SpecRow | None:
    """The spec whose limits a chart of ``series`` shows (see the module docstring)."""
    found = specs_of(specs, series)
    return found[0] if found else None


def _limits(spec: SpecRow | None) -> Limits | None:
    return None if spec is None else Limits(lsl=spec.lsl, usl=spec.usl, target=spec.target)


# -- health and drift ------------------------------------------------------------------------------
def _newest_values(reader: Reader, series: Series, count: int) -> list[float]:
    rows = reader.query(
        "SELECT value FROM readings WHERE equipment = ? AND parameter = ? "
        "ORDER BY time DESC LIMIT ?",
        (series.equipment, series.parameter, count),
    )
    return [float(r[0]) for r in rows if r[0] is not None and math.isfinite(r[0])]


def series_health(reader: Reader, series: Series, spec: SpecRow | None) -> Health:
    """Judge ``series`` from its newest ``2 x DRIFT_WINDOW`` readings (one indexed read)."""
    newest = _newest_values(reader, series, 2 * DRIFT_WINDOW)
    return judge(newest, spec, unit=series.unit)


def drifting_equipment(reader: Reader, *, limit: int = 10) -> list[Drift]:
    """The series whose newest readings are out of spec, drifting or shifted, worst first.

    One entry per (equipment, parameter) series, judged by :func:`series_health`; bounded by the
    catalogue walk and one indexed read of ``2 x DRIFT_WINDOW`` readings per series.
    """
    if limit < 1:
        raise InvalidInput(f"limit must be at least 1, got {limit}")
    catalogue = equipment_catalogue(reader)
    specs = _specs(reader, catalogue)
    found: list[tuple[int, float, Drift]] = []
    for machine in catalogue:
        for series in machine.series:
            health = series_health(reader, series, spec_for(specs, series))
            if not health.alarming:
                continue
            drift = Drift(
                key=machine.key,
                name=machine.name,
                detail=f"{series.parameter}: {health.message}",
                href=equipment_href(machine.slug, parameter=series.parameter),
                device=series.equipment,
                parameter=series.parameter,
                state=health.state,
                tone=health.tone,
                last_time=series.last_time,
            )
            found.append((_RANK[health.state], -health.share, drift))
    found.sort(key=lambda item: (item[0], item[1], item[2].name))
    return [drift for _, _, drift in found[:limit]]


def _specs(reader: Reader, catalogue: Sequence[Machine]) -> list[SpecRow]:
    parameters = sorted({s.parameter for m in catalogue for s in m.series})
    return specs_for(reader, parameters) if parameters else []


# -- the list page ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParameterRow:
    parameter: str
    device: str
    unit: str
    last_time: str
    health: Health


@dataclass(frozen=True)
class MachineRow:
    machine: Machine
    last_reading: str
    last_event: str
    parameters: list[ParameterRow]
    health: Health


def equipment_list(reader: Reader) -> list[MachineRow]:
    """Every machine with its parameters, newest reading and event, and its worst health."""
    catalogue = equipment_catalogue(reader)
    specs = _specs(reader, catalogue)
    rows: list[MachineRow] = []
    for machine in catalogue:
        params = [
            ParameterRow(
                parameter=s.parameter,
                device=s.device,
                unit=unit_symbol(s.unit),
                last_time=readable_time(s.last_time),
                health=series_health(reader, s, spec_for(specs, s)),
            )
            for s in machine.series
        ]
        worst = min(
            (p.health for p in params),
            key=lambda h: _RANK[h.state],
            default=Health("none", "no readings"),
        )
        rows.append(
            MachineRow(
                machine=machine,
                last_reading=readable_time(machine.last_reading or "") or "",
                last_event=readable_time(machine.last_event or ""),
                parameters=params,
                health=worst,
            )
        )
    return rows


# -- one machine's page ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Panel:
    """One parameter trend: the chart (a wide and a narrow drawing) and what it is based on."""

    series: Series
    title: str
    svg_wide: str
    svg_narrow: str
    count: int  # readings charted
    runs: int  # 0: every reading of the window; else sampled as this many runs...
    run_length: int  # ...of at most this many consecutive readings, spread over the window
    spec_text: str  # the limits drawn, or why there are none
    other_specs: list[str]  # further specs that apply (other products...), not drawn
    health: Health


@dataclass(frozen=True)
class LotRow:
    """One lot (or container, or item) in one role at the equipment during the window."""

    key: str
    text: str
    href: str
    role: str  # output, input, container, content, observed
    quantity: str  # summed over its events, when they share a unit
    events: int
    stamp: str  # its latest event in the window
    time: str


@dataclass
class EquipmentPage:
    """Everything the equipment page shows, ready for the template."""

    machine: Machine
    parameter: str  # the parameter asked for ('' for every parameter)
    parameters: list[str]
    start: str  # the window [start, end) in storage form
    end: str
    start_input: str  # the same for the form's datetime-local inputs (UTC)
    end_input: str
    default_window: bool
    panels: list[Panel]
    lots: list[LotRow]
    lots_more: int
    lots_note: str
    alerts: list[AlertLine]

    @property
    def last_reading_text(self) -> str:
        return readable_time(self.machine.last_reading or "")

    @property
    def last_event_text(self) -> str:
        return readable_time(self.machine.last_event or "")


@dataclass(frozen=True)
class AlertLine:
    """An alert as the equipment page lists it."""

    id: int
    stamp: str  # when it was raised
    time: str
    message: str
    acked: bool


_ROLE_WORDS = {
    "input": "input", "input_quantity": "input", "output": "output", "output_quantity": "output",
    "parent": "container", "child": "content", "child_quantity": "content", "epc": "observed",
    "quantity": "observed",
}  # fmt: skip
_ROLE_ORDER = {"output": 0, "container": 1, "content": 2, "observed": 3, "input": 4}


def _moment(stamp: str) -> datetime:
    moment = datetime.fromisoformat(stamp)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _input_value(stamp: str) -> str:
    """A storage time as a datetime-local input value (UTC, to the second)."""
    return _moment(stamp).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _window(
    series: Sequence[Series], machine: Machine, start: str | None, end: str | None
) -> tuple[str, str, bool]:
    lo = parse_time(start, "from") if start else None
    hi = parse_time(end, "to") if end else None
    if lo is None and hi is None:
        # The last 24 h of data present, not of the wall clock: a machine idle since last week
        # still shows its last day of work.
        newest = max((s.last_time for s in series), default=None) or machine.last_event
        if newest is None:
            raise NotFound(f"{machine.name} has neither readings nor events")
        top = _moment(newest).replace(microsecond=0) + timedelta(seconds=1)
        return utc_text(top - DEFAULT_SPAN), utc_text(top), True
    if lo is None:
        assert hi is not None
        lo = utc_text(_moment(hi) - DEFAULT_SPAN)
    if hi is None:
        hi = utc_text(_moment(lo) + DEFAULT_SPAN)
    if hi <= lo:
        raise InvalidInput(f"to ({end}) must be after from ({start})")
    return lo, hi, False


def _window_readings(
    reader: Reader, series: Series, start: str, end: str, limit: int
) -> list[tuple[str, float]]:
    """The readings of ``series`` in [start, end) (the caller has counted them: few enough)."""
    rows = reader.query(
        "SELECT time, value FROM readings WHERE equipment = ? AND parameter = ? "
        "AND time >= ? AND time < ? ORDER BY time LIMIT ?",
        (series.equipment, series.parameter, start, end, limit),
    )
    return [(r[0], float(r[1])) for r in rows if r[1] is not None]


def _sampled_readings(
    reader: Reader, series: Series, start: str, end: str, runs: int, run_length: int
) -> list[tuple[str, float]]:
    """The first ``run_length`` readings of each of ``runs`` equal slices of [start, end): one
    statement, one index seek per slice."""
    lo, hi = _moment(start), _moment(end)
    edges = [utc_text(lo + (hi - lo) * i / runs) for i in range(runs)] + [end]
    one = (
        "SELECT time, value FROM (SELECT time, value FROM readings WHERE equipment = ? "
        "AND parameter = ? AND time >= ? AND time < ? ORDER BY time LIMIT ?) run{i}"
    )
    sql = " UNION ALL ".join(one.format(i=i) for i in range(runs))
    params: list[object] = []
    for i in range(runs):
        params += [series.equipment, series.parameter, edges[i], edges[i + 1], run_length]
    rows = reader.query(sql, params)
    return [(r[0], float(r[1])) for r in rows if r[1] is not None]


def _panel(
    reader: Reader,
    machine: Machine,
    series: Series,
    specs: Sequence[SpecRow],
    start: str,
    end: str,
    per_series: int,
) -> Panel:
    # Counting on the index alone first (bounded) tells whether the window fits the budget.
    dense = (
        reader.query(
            "SELECT count(*) FROM (SELECT 1 FROM readings WHERE equipment = ? AND parameter = ? "
            "AND time >= ? AND time < ? LIMIT ?) w",
            (series.equipment, series.parameter, start, end, per_series + 1),
        )[0][0]
        > per_series
    )
    runs = run_length = 0
    if dense:
        # More than a chart draws: runs of consecutive readings spread over the whole window
        # (an overview of the day), rather than only its newest hour.
        runs = SAMPLE_RUNS
        run_length = max(1, per_series // runs)
        points = _sampled_readings(reader, series, start, end, runs, run_length)
    else:
        points = _window_readings(reader, series, start, end, per_series)
    applying = specs_of(specs, series)
    spec = applying[0] if applying else None
    several = len({s.equipment for s in machine.series}) > 1
    title = f"{series.parameter} · {series.device}" if several else series.parameter
    wide, narrow = line_charts(
        points, title=title, unit=series.unit, limits=_limits(spec), sizes=[(640, 240), (360, 220)]
    )
    return Panel(
        series=series,
        title=title,
        svg_wide=wide,
        svg_narrow=narrow,
        count=len(points),
        runs=runs,
        run_length=run_length,
        spec_text=_limit_text(spec) + _scope(spec) if spec else "no spec limits set",
        other_specs=[_limit_text(s) + _scope(s) for s in applying[1:]],
        health=series_health(reader, series, spec),
    )


def _scope(spec: SpecRow) -> str:
    parts = []
    if spec.product:
        parts.append(f"product {display_key(spec.product)}")
    parts.append(f"equipment {spec.equipment}" if spec.equipment else "any equipment")
    return f" ({', '.join(parts)})"


def _lots(reader: Reader, machine: Machine, start: str, end: str) -> tuple[list[LotRow], int, str]:
    if machine.read_point is None:
        return [], 0, "No events name this equipment as their read point, so no lots ran here."
    # A bounded count first: the window function reads every event of the window.
    count = reader.query(
        "SELECT count(*) FROM (SELECT 1 FROM events WHERE read_point = ? AND event_time >= ? "
        "AND event_time < ? LIMIT ?) w",
        (machine.read_point, start, end, WINDOW_EVENTS_MAX + 1),
    )[0][0]
    if count == 0:
        return [], 0, "No events at this equipment in this window."
    if count > WINDOW_EVENTS_MAX:
        return (
            [],
            0,
            f"More than {WINDOW_EVENTS_MAX} events at this equipment in this window: "
            "narrow the window to list its lots.",
        )
    try:
        result = window(reader, machine.read_point, start, end)
    except NotFound:  # a read point never stored as an object has no events to show
        return [], 0, "No events at this equipment in this window."
    # One row per (lot, role): a heat lot feeding twenty batches is one input, not twenty.
    grouped: dict[tuple[str, str], list[WindowLot]] = {}
    for lot in result.lots:
        grouped.setdefault((lot.id, _ROLE_WORDS.get(lot.role, lot.role)), []).append(lot)
    rows = [
        LotRow(
            key=key,
            text=display_key(key),
            href=f"/ui/passport?id={quote(key, safe='')}",
            role=role.replace("_", " "),
            quantity=_total(lots),
            events=len({lot.event for lot in lots}),
            stamp=max(lot.time for lot in lots),
            time=readable_time(max(lot.time for lot in lots)),
        )
        for (key, role), lots in grouped.items()
    ]
    # Outputs first (what was made here), newest first within each role.
    rows.sort(key=lambda r: r.stamp, reverse=True)
    rows.sort(key=lambda r: _ROLE_ORDER.get(r.role, len(_ROLE_ORDER)))
    note = "" if rows else "The events in this window name no lots."
    return rows[:LOTS_SHOWN], max(0, len(rows) - LOTS_SHOWN), note


def _total(lots: Sequence[WindowLot]) -> str:
    units = {lot.uom for lot in lots}
    amounts = [lot.quantity for lot in lots if lot.quantity is not None]
    if not amounts or len(units) != 1:
        return ""
    return f"{sum(amounts):g} {units.pop() or ''}".strip()


_ALERT_COLS = (
    "id, time, kind, spec, equipment, parameter, reading_time, value, lsl, usl, unit, source, "
    "object, site, message, acked_at, acked_by"
)


def recent_alerts(reader: Reader, machine: Machine, *, limit: int = ALERTS_SHOWN) -> list[AlertRow]:
    """The newest ``limit`` alerts raised on the machine or its sensors, however old."""
    # One query per key walks the (equipment, id) index backwards and stops after ``limit``
    # rows; a single IN query would read every alert of the machine to sort them.
    found: list[AlertRow] = []
    for key in sorted({machine.key, machine.name, *machine.devices}):
        rows = reader.query(
            f"SELECT {_ALERT_COLS} FROM alerts WHERE equipment = ? ORDER BY id DESC LIMIT ?",
            (key, limit),
        )
        found.extend(AlertRow(*r) for r in rows)
    return sorted(found, key=lambda a: a.id, reverse=True)[:limit]


def build_equipment_page(
    reader: Reader,
    equipment: str,
    *,
    parameter: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> EquipmentPage:
    """The page of one machine: a trend chart per parameter in the window ``[start, end)``.

    ``equipment`` is a short name (``CH-04``), a read point or sensor key in any form;
    :class:`NotFound` when the store knows no such equipment. ``parameter`` narrows the charts
    to one parameter (:class:`InvalidInput` when the machine has no readings of it). Without
    ``start`` and ``end`` the window is the last 24 h up to the machine's newest reading (of
    the chosen parameter); with one of them it spans 24 h from or to it.
    """
    catalogue = equipment_catalogue(reader)
    machine = find_machine(catalogue, equipment)
    chosen = measurement_word(parameter.strip()) if parameter and parameter.strip() else ""
    series = [s for s in machine.series if not chosen or s.parameter == chosen]
    if chosen and not series:
        known = ", ".join(machine.parameters) or "none"
        raise InvalidInput(
            f"parameter: {machine.name} has no readings of {chosen!r} (its parameters: {known})"
        )
    lo, hi, default = _window(series, machine, start, end)
    specs = specs_for(reader, sorted({s.parameter for s in series})) if series else []
    per_series = max(MIN_PER_SERIES, READINGS_BUDGET // max(1, len(series)))
    panels = [_panel(reader, machine, s, specs, lo, hi, per_series) for s in series]
    lots, lots_more, lots_note = _lots(reader, machine, lo, hi)
    return EquipmentPage(
        machine=machine,
        parameter=chosen,
        parameters=machine.parameters,
        start=lo,
        end=hi,
        start_input=_input_value(lo),
        end_input=_input_value(hi),
        default_window=default,
        panels=panels,
        lots=lots,
        lots_more=lots_more,
        lots_note=lots_note,
        alerts=[
            AlertLine(a.id, a.time, readable_time(a.time), a.message, a.acked_at is not None)
            for a in recent_alerts(reader, machine)
        ],
    )
