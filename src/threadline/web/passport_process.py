"""How an object was made and checked, as its passport shows it: the production steps (the events
that made it and its nearest upstream lots, with their machines and windows), the process readings
of their equipment charted against the spec limits, and the inspections of the object and what it
holds, each characteristic against its limits.

:func:`threadline.web.passport.build_passport` calls :func:`_steps`, :func:`_charts` and
:func:`_inspections`. This module also holds the small pieces every part of the passport shares
(:class:`Ref`, :class:`Place`, :func:`readable_time`, the bounded event look-up :func:`_events`),
so imports run one way: :mod:`threadline.web.passport` imports this module, never the reverse, and
re-exports its public names.

Every look-up is bounded: events are read from the objects' own rows of ``event_objects``,
readings by (equipment, parameter, time) range with a ``LIMIT``, and every list is capped (the
``*_SHOWN`` constants). What it derives, and how:

* **Production steps** — the TransformationEvents (and installing events) of the backward trace
  nearest to the object, and its own commissioning / creating / assembling ObjectEvents.
* **A step's window** — from its start to its end: the start is the earliest time its own sensor
  data states (``startTime``, or a reading ``time`` before the event), else an ObjectEvent at
  the same read point naming its lots within :data:`START_LOOKBACK` before it (a start scan);
  the end is the event (or a later ``endTime``). With only the one event known the window is the
  event time +- :data:`STEP_MARGIN`. A chart shows the window shaded, with half the window's
  length (at least :data:`STEP_MARGIN`) of readings either side for context.
* **Spec limits** — a spec applies to a reading when its parameter matches and its equipment is
  unset, the reading's equipment, or the machine the step ran at (read point or its bare name);
  its product, when set, must be the lot's. The most specific spec wins (as alerts match specs,
  plus the machine, since a sensor is named by its own device id).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import zip_longest
from typing import Any
from urllib.parse import quote

from threadline.epcis.cbv import Vocabulary, cbv_word
from threadline.epcis.json_reader import utc_text
from threadline.epcis.sensors import measurement_word, report_views
from threadline.errors import InvalidInput
from threadline.genealogy.trace import TraceResult
from threadline.genealogy.window import parse_time
from threadline.gs1.digital_link import percent_encode
from threadline.gs1.keys import canonical
from threadline.labels.content import display_key, passport_uri, stored_key_pairs
from threadline.model.identifiers import CANONICAL_BASE
from threadline.quality.specs import breach
from threadline.store.base import EventRow, Reader
from threadline.store.quality import SpecRow, specs_for
from threadline.web.charts import Limits, line_chart, unit_symbol

STEPS_SHOWN = 12
CHARTS_SHOWN = 6
INSPECTIONS_SHOWN = 10
CHART_ROWS = 1500  # readings read per chart; past that the window is sampled
CHART_SAMPLES = 240  # sampled readings: the first of each of this many equal slices
CHART_SIZE = (360, 220)  # drawing size: a phone's width; they scale (two a row on a desk)
STEP_MARGIN = timedelta(minutes=30)
START_LOOKBACK = timedelta(hours=12)
_PARAMETERS_PER_MACHINE = 6

_MADE_BY = frozenset({"consumed_into", "installed_in"})
_PROCESS_STEPS = ("assembling", "commissioning", "creating_class_instance", "repairing")
_NAME_TYPES = (
    "urn:epcglobal:epcis:vtype:ReadPoint",
    "urn:epcglobal:epcis:vtype:BusinessLocation",
    "urn:epcglobal:epcis:vtype:Party",
)
_GS1_ROOT = CANONICAL_BASE + "/"
_EVENT_COLS = (
    "e.id, e.event_id, e.type, e.action, e.biz_step, e.disposition, e.event_time, e.event_tz, "
    "e.record_time, e.read_point, e.biz_location, e.error_declared, e.doc"
)
_INPUTS = ("inputEPCList", "inputQuantityList", "childEPCs", "childQuantityList")
_OUTPUTS = ("outputEPCList", "outputQuantityList", "epcList", "quantityList")
_LOTS_PER_STEP = 6


@dataclass(frozen=True)
class Ref:
    """An identifier shown on a page: its text, and its passport address when it has one."""

    key: str
    text: str
    href: str | None


@dataclass(frozen=True)
class Place:
    """A machine or location as a person names it (``CH-04``), with its passport link."""

    ref: Ref
    name: str


@dataclass
class Step:
    """One production step: the event that made (part of) the object, where and when."""

    stamp: str
    time: str
    biz_step: str
    machine: Place | None
    location: Place | None
    inputs: list[Ref]
    outputs: list[Ref]
    depth: int  # 1: made the object itself (0: an event of the object's own)
    row: int
    objects: list[str]
    window: tuple[str, str] = ("", "")
    window_text: str = ""

    @property
    def own(self) -> bool:
        return self.depth <= 1


@dataclass(frozen=True)
class Chart:
    """One chart of a step's process readings (``svg`` comes escaped from the chart module)."""

    title: str
    step: str
    limits: str
    svg: str


@dataclass(frozen=True)
class Result:
    """One characteristic of an inspection against its limits (verdict '' without limits)."""

    characteristic: str
    value: str
    limits: str = ""
    verdict: str = ""
    tone: str = ""


@dataclass(frozen=True)
class Inspection:
    stamp: str
    time: str
    subject: Ref
    disposition: str
    tone: str
    place: Place | None
    defect: str | None
    results: list[Result]


# -- small helpers ---------------------------------------------------------------------------------
def _key(raw: Any) -> str | None:
    """The canonical key of an identifier found in a document (None when it is no string)."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return canonical(raw).key
    except InvalidInput:
        return raw


def _ref(key: str | None, base: str) -> Ref | None:
    return _cached_ref(key, base) if key else None


@lru_cache(maxsize=8192)
def _cached_ref(key: str, base: str) -> Ref:
    # A stored canonical GS1 key is valid already: its address on ``base`` comes from its
    # path's AI values (as passport_uri gives it) without checking each value again.
    pairs = stored_key_pairs(key)
    if pairs is not None:
        path = "".join(f"/{ai}/{percent_encode(value)}" for ai, value in pairs)
        return Ref(key, display_key(key), base.rstrip("/") + path)
    try:
        href = passport_uri(key, base)
    except InvalidInput:  # a stored key that no longer parses still has its passport
        href = None
    return Ref(key, display_key(key), href or f"{base}/ui/passport?id={quote(key, safe='')}")


def _refs(keys: Iterable[str], base: str, limit: int) -> list[Ref]:
    return [r for k in list(keys)[:limit] if (r := _ref(k, base))]


def _number(value: float, unit: str | None = None) -> str:
    symbol = unit_symbol(unit)
    return f"{value:.6g}" + (f" {symbol}" if symbol else "")


def _local(name: str) -> str:
    """``tl:heatNumber`` / ``https://x/y#heatNumber`` -> ``heatnumber``."""
    for sep in ("#", "/", ":"):
        name = name.rsplit(sep, 1)[-1]
    return name.lower()


def _named(view: Mapping[str, Any], local: str) -> str | None:
    """The first non-empty member of ``view`` whose local name is ``local``."""
    return next((str(v) for k, v in view.items() if _local(k) == local and v), None)


def _shift(stamp: str, delta: timedelta) -> str:
    return utc_text(datetime.fromisoformat(stamp) + delta)


def readable_time(stamp: str) -> str:
    """``2026-03-01T08:01:00.000000Z`` as ``2026-03-01 08:01:00 UTC`` (stored times are UTC)."""
    day, sep, clock = stamp.partition("T")
    if not sep:
        return stamp
    clock = clock.removesuffix("Z").split(".", 1)[0]
    return f"{day} {clock} UTC"


def _words(value: str | None, vocabulary: Vocabulary = "bizstep") -> str:
    return cbv_word(value, vocabulary).replace("_", " ") if value else ""


def _events(
    reader: Reader, ids: Sequence[int], where_sql: str, params: Sequence[Any], limit: int
) -> list[tuple[int, EventRow]]:
    """(object, event) of the events naming any of ``ids`` that satisfy ``where_sql``, newest
    first: an index range of ``event_objects`` per object, never a scan of the events."""
    if not ids:
        return []
    rows = reader.query_in(
        f"SELECT eo.object, {_EVENT_COLS} FROM event_objects eo JOIN events e ON e.id = eo.event "
        f"WHERE eo.object {{IN}} AND e.error_declared = ? AND {where_sql} "
        "ORDER BY e.event_time DESC, e.id DESC LIMIT ?",
        list(ids),
        (False, *params, limit),
    )
    found = [(r[0], _event_row(reader, r[1:])) for r in rows]
    found.sort(key=lambda item: (item[1].event_time, item[1].id), reverse=True)
    return found[:limit]


def _event_row(reader: Reader, r: Sequence[Any]) -> EventRow:
    """An :class:`EventRow` of the columns ``_EVENT_COLS``."""
    return EventRow._make((*r[:11], bool(r[11]), reader.store.load_json(r[12])))


def _places(reader: Reader, keys: Iterable[str | None], base: str) -> dict[str, Place]:
    """Machines and locations by key, named from master data, else by their GLN extension."""
    wanted = sorted({k for k in keys if k})
    names: dict[str, str] = {}
    for vtype in _NAME_TYPES if wanted else ():  # keyed by (type, id): indexed look-ups
        for ident, raw in reader.query_in(
            "SELECT id, attributes FROM master_data WHERE id {IN} AND type = ?", wanted, (vtype,)
        ):
            for item in reader.store.load_json(raw) or []:
                if isinstance(item, dict) and _local(str(item.get("id", ""))) == "name":
                    names.setdefault(ident, str(item.get("attribute")))
    out = {}
    for key in wanted:
        ref = _ref(key, base) or Ref(key, key, None)
        bare = _bare(key)
        out[key] = Place(ref, names.get(key) or (bare if bare and bare != "0" else ref.text))
    return out


def _bare(key: str | None) -> str | None:
    """The machine name a location key ends with (``.../254/CH-04`` -> ``CH-04``)."""
    _, sep, extension = (key or "").partition("/254/")
    return extension if sep and extension else None


# -- production steps ------------------------------------------------------------------------------
def _doc_keys(doc: Mapping[str, Any], names: Sequence[str]) -> list[str]:
    keys = (
        _key(item.get("epcClass") if isinstance(item, dict) else item)
        for name in names
        for item in doc.get(name) or []
    )
    return list(dict.fromkeys(k for k in keys if k))


def _window(event: EventRow, start_scan: str | None) -> tuple[tuple[str, str], str]:
    """The step's window (see the module docstring) and how it was found, in words."""
    stated: dict[str, list[str]] = {"startTime": [], "endTime": [], "time": []}
    for view in report_views(event.doc):
        for name, found in stated.items():
            try:
                found.append(parse_time(str(view[name]), name) if name in view else "")
            except InvalidInput:
                continue
    end = max([event.event_time, *stated["endTime"]])
    starts = [t for t in stated["startTime"] + stated["time"] if t and t < event.event_time]
    if starts:
        window, how = (min(starts), end), "as its sensor data states"
    elif start_scan:
        window, how = (start_scan, end), "from its start event"
    else:
        margin = int(STEP_MARGIN.total_seconds() // 60)
        window = (_shift(event.event_time, -STEP_MARGIN), _shift(event.event_time, STEP_MARGIN))
        how = f"event time ± {margin} min, no start recorded"
    first, last = readable_time(window[0]), readable_time(window[1])
    if first[:10] == last[:10]:
        last = last[11:]
    return window, f"{first.removesuffix(' UTC')} to {last} ({how})"


def _start_scan(reader: Reader, step: Step, ids: Mapping[str, int], machine: str) -> str | None:
    """The latest ObjectEvent at ``machine`` naming the step's lots shortly before it."""
    objects = [ids[k] for k in step.objects if k in ids]
    rows = reader.query_in(
        "SELECT max(e.event_time) FROM event_objects eo JOIN events e ON e.id = eo.event "
        "WHERE eo.object {IN} AND e.read_point = ? AND e.type = ? AND e.event_time < ? "
        "AND e.event_time >= ? AND e.error_declared = ?",
        objects,
        (machine, "ObjectEvent", step.stamp, _shift(step.stamp, -START_LOOKBACK), False),
    )
    return max((r[0] for r in rows if r[0]), default=None)


def _steps(reader: Reader, obj_id: int, backward: TraceResult, base: str) -> tuple[list[Step], int]:
    """The events that made the object and its nearest upstream lots, oldest first."""
    depth: dict[str, int] = {}
    since: dict[str, str] = {}
    for link in backward.links:
        if link.relation in _MADE_BY and link.event:
            depth[link.event] = min(link.depth, depth.get(link.event, link.depth))
            since[link.event] = link.valid_from
    marks = ", ".join("?" * len(_PROCESS_STEPS))
    for _, event in _events(
        reader,
        [obj_id],
        f"eo.role IN (?, ?) AND e.type = ? AND e.biz_step IN ({marks})",
        ("epc", "quantity", "ObjectEvent", *_PROCESS_STEPS),
        STEPS_SHOWN,
    ):
        depth.setdefault(event.event_id, 0)
        since.setdefault(event.event_id, event.event_time)
    # The nearest steps first, the latest first within a depth.
    chosen = sorted(sorted(depth, key=since.__getitem__, reverse=True), key=depth.__getitem__)
    if not chosen:
        return [], 0
    rows = reader.query_in(
        f"SELECT {_EVENT_COLS} FROM events e WHERE e.event_id {{IN}} "
        "AND e.is_declaration = ? AND e.error_declared = ?",
        chosen[:STEPS_SHOWN],
        (False, False),
    )
    events = sorted((_event_row(reader, r) for r in rows), key=lambda e: (e.event_time, e.id))
    places = _places(reader, [k for e in events for k in (e.read_point, e.biz_location)], base)
    steps = []
    for event in events:
        inputs, outputs = _doc_keys(event.doc, _INPUTS), _doc_keys(event.doc, _OUTPUTS)
        machine = places.get(event.read_point or "")
        location = places.get(event.biz_location or "")
        if machine and location and machine.ref.key.startswith(location.ref.key + "/"):
            location = None  # the hall a machine stands in says nothing more
        steps.append(
            Step(
                stamp=event.event_time,
                time=readable_time(event.event_time),
                biz_step=_words(event.biz_step) or event.type.replace("Event", "").lower(),
                machine=machine,
                location=location,
                inputs=_refs(inputs, base, _LOTS_PER_STEP),
                outputs=_refs(outputs, base, _LOTS_PER_STEP),
                depth=depth[event.event_id],
                row=event.id,
                objects=inputs[:20] + outputs[:20],
            )
        )
    # A step without sensor times may have a start scan: one indexed look-up per such step.
    plain = [s for s, e in zip(steps, events, strict=True) if not report_views(e.doc)]
    ids = reader.objects_by_key({k for s in plain for k in s.objects}) if plain else {}
    for step, event in zip(steps, events, strict=True):
        scan = None
        if step in plain and event.read_point and step.objects:
            scan = _start_scan(reader, step, {k: r.id for k, r in ids.items()}, event.read_point)
        step.window, step.window_text = _window(event, scan)
    return steps, max(0, len(chosen) - STEPS_SHOWN)


# -- spec limits -----------------------------------------------------------------------------------
def _products(keys: Iterable[str | None]) -> set[str]:
    """Every spelling a spec's product may have for the GTINs of ``keys`` (or GTINs themselves)."""
    out: set[str] = set()
    for key in filter(None, keys):
        try:
            gtin = canonical(key).product or (key if key.isdigit() else None)
        except InvalidInput:
            continue
        if gtin:
            out |= {gtin, f"{_GS1_ROOT}01/{gtin}"}
    return out


def _best_spec(
    specs: Mapping[str, list[SpecRow]],
    parameters: Sequence[str],
    equipment: Sequence[str | None],
    products: set[str],
) -> SpecRow | None:
    """The most specific spec of the first of ``parameters`` that has one (see the module doc)."""
    keys = {e for e in equipment if e}
    for parameter in parameters:
        fitting = [
            spec
            for spec in specs.get(parameter, ())
            if (
                not spec.equipment
                or spec.equipment in keys
                or any(k.endswith(f"/254/{spec.equipment}") for k in keys)
            )
            and (not spec.product or spec.product in products)
        ]
        if fitting:
            return max(fitting, key=lambda s: (bool(s.equipment), bool(s.product), -s.id))
    return None


def _specs(reader: Reader, parameters: Iterable[str]) -> dict[str, list[SpecRow]]:
    out: dict[str, list[SpecRow]] = {}
    for spec in specs_for(reader, sorted(set(parameters))):
        out.setdefault(spec.parameter, []).append(spec)
    return out


def _limits_text(spec: SpecRow | None, unit: str | None) -> str:
    if spec is None:
        return ""
    pairs = (("LSL", spec.lsl), ("target", spec.target), ("USL", spec.usl))
    return ", ".join(f"{n} {_number(v, unit or spec.unit)}" for n, v in pairs if v is not None)


def _parameter_name(parameter: str) -> str:
    return (_local(parameter) if ":" in parameter else parameter).replace("_", " ")


# -- process readings ------------------------------------------------------------------------------
_SERIES = (
    "SELECT time, value, mean_value, unit FROM readings WHERE equipment = ? AND parameter = ? "
    "AND time >= ? AND time < ? ORDER BY time LIMIT ?"
)


def _readings(
    reader: Reader, equipment: str, parameter: str, lo: str, hi: str
) -> tuple[list[tuple[str, float]], str | None, bool]:
    """(points, unit, sampled) of one parameter of one piece of equipment in [lo, hi)."""
    rows = reader.query(_SERIES, (equipment, parameter, lo, hi, CHART_ROWS + 1))
    sampled = len(rows) > CHART_ROWS
    if sampled:
        # Dense data: the first reading of each of CHART_SAMPLES equal slices, one index seek
        # each (all in one statement), instead of reading every row of the window.
        start, end = datetime.fromisoformat(lo), datetime.fromisoformat(hi)
        edges = [utc_text(start + (end - start) * i / CHART_SAMPLES) for i in range(CHART_SAMPLES)]
        edges.append(hi)
        params: list[Any] = []
        for i in range(CHART_SAMPLES):
            params += [equipment, parameter, edges[i], edges[i + 1], 1]
        union = " UNION ALL ".join(f"SELECT * FROM ({_SERIES}) s{i}" for i in range(CHART_SAMPLES))
        rows = sorted(reader.query(union, params))
    values = [(r[0], r[1] if r[1] is not None else r[2]) for r in rows]
    points = [(time, float(value)) for time, value in values if value is not None]
    return points, next((r[3] for r in rows if r[3]), None), sampled


def _machine_parameters(reader: Reader, equipment: str) -> list[tuple[str, str]]:
    """(equipment, parameter) of the readings keyed by a machine itself: index seeks only."""
    out: list[tuple[str, str]] = []
    while len(out) < _PARAMETERS_PER_MACHINE:
        rows = reader.query(
            "SELECT parameter FROM readings WHERE equipment = ? AND parameter > ? "
            "ORDER BY parameter LIMIT 1",
            (equipment, out[-1][1] if out else ""),
        )
        if not rows or rows[0][0] is None:
            break
        out.append((equipment, rows[0][0]))
    return out


def _charts(reader: Reader, steps: Sequence[Step], products: set[str]) -> list[Chart]:
    """Charts of the readings of each step's equipment around its window, capped."""
    # The object's own steps first, then upstream, nearest first; the latest first per depth.
    order = sorted(sorted(steps, key=lambda s: s.stamp, reverse=True), key=lambda s: s.depth)
    order = [s for s in order if s.machine is not None]
    carried: dict[int, list[tuple[str, str]]] = {}
    for row, equipment, parameter in reader.query_in(
        "SELECT DISTINCT event, equipment, parameter FROM readings WHERE event {IN}",
        [s.row for s in order],
    ):
        if equipment and parameter:
            carried.setdefault(row, []).append((equipment, parameter))
    own: dict[str, list[tuple[str, str]]] = {}
    per_step: list[list[tuple[Step, str, str]]] = []
    for step in order:
        assert step.machine is not None
        machine = step.machine.ref.key
        if machine not in own:
            bare = _bare(machine)
            own[machine] = _machine_parameters(reader, machine) + (
                _machine_parameters(reader, bare) if bare else []
            )
        series = dict.fromkeys(sorted(carried.get(step.row, [])) + own[machine])
        per_step.append([(step, equipment, parameter) for equipment, parameter in series])
    # Round robin over the steps: the cap leaves room for the first series of every step.
    plan = [item for tier in zip_longest(*per_step) for item in tier if item is not None]
    specs = _specs(reader, [p for _, _, p in plan])
    charts: list[Chart] = []
    for step, equipment, parameter in plan:
        if len(charts) >= CHARTS_SHOWN:
            break
        assert step.machine is not None
        start, end = (datetime.fromisoformat(t) for t in step.window)
        pad = max((end - start) / 2, STEP_MARGIN)
        points, unit, sampled = _readings(
            reader, equipment, parameter, utc_text(start - pad), utc_text(end + pad)
        )
        if not points:
            continue
        machine = step.machine.ref.key
        spec = _best_spec(
            specs,
            [parameter],
            [equipment, machine, _bare(machine)],
            products | _products(r.key for r in step.outputs),
        )
        unit = unit or (spec.unit if spec else None)
        title = f"{_parameter_name(parameter)} at {step.machine.name}"
        limits = Limits(spec.lsl, spec.usl, spec.target) if spec else None
        own_key = equipment in (machine, _bare(machine))
        sensor = "" if own_key else f", sensor {display_key(equipment)}"
        charts.append(
            Chart(
                title=title,
                step=f"{step.biz_step}, {step.time}{sensor}" + (" (sampled)" if sampled else ""),
                limits=_limits_text(spec, unit),
                svg=line_chart(
                    points, title=title, unit=unit, limits=limits, window=step.window,
                    width=CHART_SIZE[0], height=CHART_SIZE[1],
                ),
            )
        )  # fmt: skip
    return charts


# -- inspections -----------------------------------------------------------------------------------
def _inspections(
    reader: Reader, subjects: Mapping[int, Ref], products: set[str], base: str
) -> list[Inspection]:
    """The latest inspections of ``subjects`` with each characteristic against its limits."""
    found = _events(reader, list(subjects), "e.biz_step = ?", ("inspecting",), INSPECTIONS_SHOWN)
    views = {event.id: report_views(event.doc) for _, event in found}
    names = {measurement_word(str(v.get("type") or "")) for vs in views.values() for v in vs}
    names |= {c for vs in views.values() for v in vs if (c := _named(v, "characteristic"))}
    specs = _specs(reader, names) if found else {}
    places = _places(reader, [event.read_point for _, event in found], base)
    out = []
    for oid, event in found:
        disposition = cbv_word(event.disposition or "", "disp")
        defect = _named(event.doc, "defect")
        results = [_result(v, specs, event.read_point, products) for v in views[event.id]]
        out.append(
            Inspection(
                stamp=event.event_time,
                time=readable_time(event.event_time),
                subject=subjects[oid],
                disposition=disposition.replace("_", " ") or "no disposition",
                tone={"conformant": "ok", "non_conformant": "bad"}.get(disposition, "gone"),
                place=places.get(event.read_point or ""),
                defect=defect.replace("_", " ") if defect else None,
                results=[r for r in results if r is not None],
            )
        )
    return out


def _result(
    view: Mapping[str, Any],
    specs: Mapping[str, list[SpecRow]],
    read_point: str | None,
    products: set[str],
) -> Result | None:
    word = measurement_word(str(view.get("type") or ""))
    characteristic = _named(view, "characteristic")
    name = _parameter_name(characteristic or word)
    numbers = [view.get(n) for n in ("value", "meanValue")]
    value = next((float(v) for v in numbers if isinstance(v, int | float) and v is not True), None)
    if value is None:
        other = view.get("stringValue", view.get("booleanValue"))
        return None if other is None else Result(name, str(other))
    unit = view.get("uom") if isinstance(view.get("uom"), str) else None
    spec = _best_spec(
        specs,
        [p for p in (characteristic, word) if p],
        [_key(view.get("deviceID")), read_point, _bare(read_point)],
        products,
    )
    shown = _number(value, unit)
    low, high = view.get("minValue"), view.get("maxValue")
    if isinstance(low, int | float) and isinstance(high, int | float):
        shown += f" (range {low:.6g} to {high:.6g})"
    if spec is None:
        return Result(name, shown)
    why = breach(value, spec.lsl, spec.usl)
    verdict, tone = (f"out of limits: {why}", "bad") if why else ("within limits", "ok")
    return Result(name, shown, _limits_text(spec, unit), verdict, tone)
