"""SVG charts drawn by Threadline itself: no plotting library, no script, no external asset.

:func:`line_chart` draws one time series of process readings (say the forming force of a cold
header) as an ``<svg class="chart">`` element that a page can inline and a PDF renderer can draw:
presentation attributes rather than a stylesheet, a ``viewBox`` so it scales down to a phone,
``role="img"`` with an ``aria-label`` that says what the chart shows in words.

What it shows:

- the readings as a line (and as dots when there are few of them), oldest on the left;
- the spec limits as labelled horizontal lines (LSL and USL dashed red, the target dotted green);
  the value axis reaches the limits, so a reading well inside them still shows how much room
  is left, unless that would flatten the readings into less than a twelfth of the height: such
  a far limit is named at the top or bottom edge instead;
- readings outside the limits (a value on a limit is inside, as in
  :func:`threadline.quality.specs.breach`) marked with red rings, and counted in the corner;
- a time axis in UTC with ticks on round times (hours, days, months as the span needs) and the
  date under the first tick of each day; a value axis with round ticks and the unit;
- optionally a shaded time window ``[from, to)``, e.g. the production window of a lot.

Thousands of readings are reduced before drawing: per pixel column of the plot only the lowest and
the highest reading are kept (in their time order), which keeps every spike visible while the SVG
stays a few kilobytes however long the series. Out-of-spec marks are thinned the same way (the
most extreme reading per column). Zero readings give a framed "No data" chart, one reading a
chart with a single dot: neither is an error.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from threadline.errors import InvalidInput

__all__ = ["UNIT_SYMBOLS", "Limits", "line_chart", "line_charts", "unit_symbol"]


@dataclass(frozen=True)
class Limits:
    """Spec limits drawn on a chart; any of them may be absent."""

    lsl: float | None = None
    usl: float | None = None
    target: float | None = None


# UN/ECE Recommendation 20 codes (the ``uom`` of EPCIS sensor reports) as people write them.
UNIT_SYMBOLS = {
    "4H": "µm",
    "A": "A",
    "B47": "kN",
    "BAR": "bar",
    "C62": "",
    "CEL": "°C",
    "CMT": "cm",
    "DD": "°",
    "FAH": "°F",
    "GRM": "g",
    "HTZ": "Hz",
    "HUR": "h",
    "KEL": "K",
    "KGM": "kg",
    "KPA": "kPa",
    "KWT": "kW",
    "LTR": "l",
    "MIN": "min",
    "MMT": "mm",
    "MTR": "m",
    "NEW": "N",
    "NU": "N·m",
    "P1": "%",
    "PAL": "Pa",
    "RPM": "rpm",
    "SEC": "s",
    "VLT": "V",
    "WTT": "W",
}


def unit_symbol(unit: str | None) -> str:
    """The symbol of a UN/ECE rec 20 unit code (``CEL`` -> ``°C``); other text as given."""
    if not unit:
        return ""
    return UNIT_SYMBOLS.get(unit, unit)


# -- look ------------------------------------------------------------------------------------------
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
_INK = "#1f2933"
_MUTED = "#5f6b7a"
_GRID = "#e3e7ec"
_LINE = "#1f5fa8"
_BAD = "#c0392b"
_GOOD = "#2e7d32"
_WINDOW = "#f5b041"

_TITLE_Y = 16
_TOP = 36  # title line, then the unit above the value axis
_BOTTOM = 34  # two lines of time labels
_RIGHT = 12
_DOTS_UP_TO = 60  # fewer readings than this are also drawn as dots
_MARK_SPACING = 6  # out-of-spec rings: at most one per this many pixels
_TITLED_MARKS = 40
_LIMIT_REACH = 12  # the value axis spans at most this many times the readings' own range
_SINGLE_SPAN_S = 1800.0  # a lone time is shown with half an hour either side

_MIN_WIDTH, _MIN_HEIGHT = 200, 120

_SECOND, _MINUTE, _HOUR, _DAY = 1, 60, 3600, 86400
_STEPS = (
    *(s * _SECOND for s in (1, 2, 5, 10, 15, 30)),
    *(m * _MINUTE for m in (1, 2, 5, 10, 15, 30)),
    *(h * _HOUR for h in (1, 2, 3, 6, 12)),
    *(d * _DAY for d in (1, 2, 7, 14)),
)
_MONTH_STEPS = (1, 2, 3, 6, 12, 24, 60, 120)
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


# -- input -----------------------------------------------------------------------------------------
def _epoch(value: str, what: str) -> float:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{what}: {value!r} is not an ISO-8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _series(points: Sequence[tuple[str, float]], title: str) -> list[tuple[float, float]]:
    """(epoch seconds, value) in time order; values that are not finite numbers are left out."""
    out: list[tuple[float, float]] = []
    append = out.append
    days: dict[str, float] = {}
    isfinite = math.isfinite
    for i, point in enumerate(points):
        try:
            time, raw = point
            value = float(raw)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"chart {title!r}: point {i} must be a (time, number) pair, got {point!r}"
            ) from None
        if not isfinite(value):
            continue
        # The store's own form, 2024-01-08T07:12:19.090000Z, without a datetime per point
        # (a chart of thousands of readings would spend most of its time there).
        if len(time) == 27 and time[10] == "T" and time[26] == "Z" and time[19] == ".":
            day = days.get(time[:10])
            if day is None:
                day = days[time[:10]] = _epoch(time[:10], f"chart {title!r}: point {i}")
            try:
                clock = int(time[11:13]) * 3600 + int(time[14:16]) * 60 + float(time[17:26])
            except ValueError:
                clock = _epoch(time, f"chart {title!r}: point {i}") - day
            append((day + clock, value))
        else:
            append((_epoch(time, f"chart {title!r}: point {i}"), value))
    out.sort()
    return out


# -- scales ----------------------------------------------------------------------------------------
def _nice_step(span: float, count: int) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about ``count`` intervals."""
    raw = span / max(1, count)
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if factor * power >= raw:
            return factor * power
    return 10.0 * power


def _value_scale(values: Iterable[float], count: int) -> tuple[float, float, float]:
    """(low, high, step) of the value axis: round ends that include every value."""
    values = list(values)
    lo, hi = min(values), max(values)
    if hi == lo:
        pad = max(abs(lo) * 0.05, 1.0)
        lo, hi = lo - pad, hi + pad
    else:
        pad = (hi - lo) * 0.04  # a reading on the edge should not sit on the frame
        # ...but values that never go below zero get no negative tick for it.
        lo, hi = (0.0 if lo >= 0 > lo - pad else lo - pad), hi + pad
    step = _nice_step(hi - lo, count)
    return math.floor(lo / step) * step, math.ceil(hi / step) * step, step


def _decimals(step: float) -> int:
    """Digits after the point that tick labels ``step`` apart need (2.5 -> 1, 0.05 -> 2)."""
    for digits in range(7):
        if abs(round(step, digits) - step) <= step * 1e-6:
            return digits
    return 6


def _number(value: float, decimals: int) -> str:
    value = round(value, decimals)
    return f"{value + 0.0 if value else 0.0:,.{decimals}f}"  # no "-0"


def _plain(value: float) -> str:
    """A limit or reading as people write it: up to six significant digits."""
    return f"{value:.6g}"


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _time_ticks(lo: float, hi: float, count: int) -> tuple[list[float], float]:
    """Round UTC times between ``lo`` and ``hi`` (about ``count``) and the step in seconds."""
    span = hi - lo
    for step in _STEPS:
        if span / step <= count:
            first = math.ceil(lo / step) * step
            if step >= 7 * _DAY:  # weeks start on Monday (1970-01-01 was a Thursday)
                monday = 4 * _DAY
                first = math.ceil((lo - monday) / step) * step + monday
            ticks = []
            t = float(first)
            while t <= hi:
                ticks.append(t)
                t += step
            return ticks, float(step)
    # Longer spans: ticks on the first of a month, every 1, 2, 3, 6... months.
    months = next((m for m in _MONTH_STEPS if span / (m * 30.4 * _DAY) <= count), 240)
    start = _utc(lo)
    index = start.year * 12 + start.month - 1
    if start != datetime(start.year, start.month, 1, tzinfo=UTC):
        index += 1
    index = math.ceil(index / months) * months
    ticks = []
    while True:
        t = datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC).timestamp()
        if t > hi:
            break
        ticks.append(t)
        index += months
    return ticks, float(months * 30 * _DAY)


def _tick_labels(ticks: list[float], step: float) -> list[tuple[str, str]]:
    """Two lines per tick: the time of day (or date), and the date (or year) where it changes."""
    labels: list[tuple[str, str]] = []
    previous: datetime | None = None
    for t in ticks:
        moment = _utc(t)
        if step >= 28 * _DAY:
            first = f"{_MONTHS[moment.month - 1]}"
            second = str(moment.year) if previous is None or previous.year != moment.year else ""
        elif step >= _DAY:
            first = f"{moment.day} {_MONTHS[moment.month - 1]}"
            second = str(moment.year) if previous is None or previous.year != moment.year else ""
        else:
            first = moment.strftime("%H:%M:%S" if step < _MINUTE else "%H:%M")
            new_day = previous is None or previous.date() != moment.date()
            second = f"{moment.day} {_MONTHS[moment.month - 1]}" if new_day else ""
        labels.append((first, second))
        previous = moment
    return labels


def _stamp(epoch: float) -> str:
    moment = _utc(epoch)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if moment.second else "%Y-%m-%d %H:%M")


# -- reduction -------------------------------------------------------------------------------------
def _reduce(
    series: list[tuple[float, float]], lo: float, hi: float, columns: int
) -> list[tuple[float, float]]:
    """At most two readings per pixel column (its lowest and highest, in time order)."""
    if len(series) <= 2 * columns:
        return series
    scale = columns / (hi - lo)
    out: list[tuple[float, float]] = []
    column = -1
    low = high = series[0]
    for point in series:
        c = min(columns - 1, int((point[0] - lo) * scale))
        if c != column:
            if column >= 0:
                out.extend((low, high) if low[0] <= high[0] else (high, low))
                if low is high:
                    out.pop()
            column, low, high = c, point, point
        elif point[1] < low[1]:
            low = point
        elif point[1] > high[1]:
            high = point
    out.extend((low, high) if low[0] <= high[0] else (high, low))
    if low is high:
        out.pop()
    return out


# -- drawing ---------------------------------------------------------------------------------------
def _text(
    x: float, y: float, content: str, *, anchor: str = "start", size: int = 11, **attrs: str
) -> str:
    extra = "".join(f' {k.rstrip("_").replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}"{extra}>'
        f"{escape(content)}</text>"
    )


def _open(width: int, height: int, label: str, title: str) -> list[str]:
    return [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="{escape(label)}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" font-family="{escape(_FONT)}" fill="{_INK}">',
        f"<title>{escape(label)}</title>",
        f'<rect class="chart-bg" x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        _text(4, _TITLE_Y, title, size=13, font_weight="600", class_="chart-title"),
    ]


def _no_data(title: str, width: int, height: int) -> str:
    parts = _open(width, height, f"{title}: no data", title)
    top, bottom = _TOP, height - _BOTTOM
    parts.append(
        f'<rect x="4.5" y="{top + 0.5}" width="{width - 9}" height="{bottom - top}" '
        f'fill="none" stroke="{_GRID}"/>'
    )
    parts.append(
        _text(width / 2, (top + bottom) / 2 + 4, "No data", anchor="middle", size=13, fill=_MUTED)
    )
    parts.append("</svg>")
    return "\n".join(parts)


def line_chart(
    points: Sequence[tuple[str, float]],
    *,
    title: str,
    unit: str | None = None,
    limits: Limits | None = None,
    window: tuple[str, str] | None = None,
    width: int = 640,
    height: int = 240,
) -> str:
    """A time-series chart of ``points`` as an ``<svg class="chart" role="img">`` element.

    ``points`` are (ISO-8601 time, value) pairs in any order; a time without a zone is UTC, and
    values that are not finite (NaN, infinity) are left out. ``unit`` is a UN/ECE rec 20 code
    (shown as its symbol) or plain text. ``limits`` draws LSL/USL/target lines and marks
    readings outside them; ``window`` shades ``[from, to)`` (and widens the time axis to show
    it whole). Every text is escaped; the element has a ``viewBox`` so CSS may scale it.

    Raises :class:`InvalidInput` for a time that is not ISO-8601, a value that is not a number,
    a window that ends before it starts, or a size below 200 x 120.
    """
    return line_charts(
        points, title=title, unit=unit, limits=limits, window=window, sizes=[(width, height)]
    )[0]


def line_charts(
    points: Sequence[tuple[str, float]],
    *,
    title: str,
    unit: str | None = None,
    limits: Limits | None = None,
    window: tuple[str, str] | None = None,
    sizes: Sequence[tuple[int, int]],
) -> list[str]:
    """:func:`line_chart` at each of ``sizes`` (width, height), reading ``points`` once.

    For a page that offers a wide drawing to desks and a narrow one to phones.
    """
    for width, height in sizes:
        if width < _MIN_WIDTH or height < _MIN_HEIGHT:
            raise InvalidInput(
                f"chart {title!r}: {width} x {height} is too small (at least "
                f"{_MIN_WIDTH} x {_MIN_HEIGHT})"
            )
    series = _series(points, title)
    shade: tuple[float, float] | None = None
    if window is not None:
        shade = (_epoch(window[0], "window start"), _epoch(window[1], "window end"))
        if shade[1] <= shade[0]:
            raise InvalidInput(
                f"chart {title!r}: the window ends ({window[1]}) before it starts ({window[0]})"
            )
    return [_draw(series, shade, title, unit, limits, w, h) for w, h in sizes]


def _draw(
    series: list[tuple[float, float]],
    shade: tuple[float, float] | None,
    title: str,
    unit: str | None,
    limits: Limits | None,
    width: int,
    height: int,
) -> str:
    if not series:
        return _no_data(title, width, height)

    symbol = unit_symbol(unit)
    unit_text = f" {symbol}" if symbol else ""
    limits = limits if limits is not None and limits != Limits() else None

    # Time axis: the readings and the whole window.
    t_lo, t_hi = series[0][0], series[-1][0]
    if shade is not None:
        t_lo, t_hi = min(t_lo, shade[0]), max(t_hi, shade[1])
    if t_hi == t_lo:
        t_lo, t_hi = t_lo - _SINGLE_SPAN_S, t_hi + _SINGLE_SPAN_S

    # Value axis: the readings and the limits near enough, with round ends.
    every_limit = [
        (name, value)
        for name, value in (
            ("LSL", None if limits is None else limits.lsl),
            ("USL", None if limits is None else limits.usl),
            ("Target", None if limits is None else limits.target),
        )
        if value is not None and math.isfinite(value)
    ]
    v_count = max(2, (height - _TOP - _BOTTOM) // 36)
    values = [v for _, v in series]
    v_min, v_max = min(values), max(values)
    drawn_limits, beyond = _reachable(every_limit, v_min, v_max)
    v_lo, v_hi, v_step = _value_scale([v_min, v_max, *(v for _, v in drawn_limits)], v_count)
    decimals = _decimals(v_step)
    v_ticks: list[float] = []
    tick = v_lo
    while tick <= v_hi + v_step * 1e-6:
        v_ticks.append(tick)
        tick = v_lo + v_step * len(v_ticks)
    v_labels = [_number(t, decimals) for t in v_ticks]

    left = max(36, 8 + 7 * max(len(s) for s in v_labels))
    right = width - _RIGHT
    top, bottom = _TOP, height - _BOTTOM
    plot_w, plot_h = right - left, bottom - top

    def x_of(t: float) -> float:
        return left + (t - t_lo) / (t_hi - t_lo) * plot_w

    def y_of(v: float) -> float:
        return bottom - (v - v_lo) / (v_hi - v_lo) * plot_h

    low = -math.inf if limits is None or limits.lsl is None else limits.lsl
    high = math.inf if limits is None or limits.usl is None else limits.usl
    outside = [p for p in series if not low <= p[1] <= high]
    label = (
        f"{title}: {len(series):,} reading{'s' if len(series) != 1 else ''}"
        + (
            f" at {_stamp(series[0][0])} UTC"
            if len(series) == 1
            else f" from {_stamp(series[0][0])} to {_stamp(series[-1][0])} UTC"
        )
        + (
            f", value {_plain(v_min)}{unit_text}"
            if v_min == v_max
            else f", values {_plain(v_min)} to {_plain(v_max)}{unit_text}"
        )
    )
    if limits is not None:
        bounds = [
            f"{name} {_plain(value)}" for name, value in every_limit if name in ("LSL", "USL")
        ]
        if bounds:
            label += f"; limits {', '.join(bounds)}"
        label += f"; {len(outside):,} outside the limits" if bounds else ""
    if shade is not None:
        label += f"; shaded window {_stamp(shade[0])} to {_stamp(shade[1])} UTC"

    parts = _open(width, height, label, title)
    if outside:
        parts.append(
            _text(
                right,
                _TITLE_Y,
                f"{len(outside):,} outside limits",
                anchor="end",
                fill=_BAD,
                font_weight="600",
                class_="chart-oos-count",
            )
        )
    if symbol:
        parts.append(_text(4, top - 6, symbol, fill=_MUTED, class_="chart-unit"))

    # Shaded window, under everything else.
    if shade is not None:
        x0, x1 = x_of(max(shade[0], t_lo)), x_of(min(shade[1], t_hi))
        parts.append(
            f'<rect class="chart-window" x="{x0:.1f}" y="{top}" width="{max(1.0, x1 - x0):.1f}" '
            f'height="{plot_h}" fill="{_WINDOW}" fill-opacity="0.22">'
            f"<title>{escape(f'Window {_stamp(shade[0])} to {_stamp(shade[1])} UTC')}</title>"
            "</rect>"
        )

    # Value grid and labels.
    for tick_value, text in zip(v_ticks, v_labels, strict=True):
        y = y_of(tick_value)
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{_GRID}"/>')
        parts.append(_text(left - 5, y + 4, text, anchor="end", fill=_MUTED))

    # Time ticks and labels.
    t_count = max(2, plot_w // 90)
    t_ticks, t_step = _time_ticks(t_lo, t_hi, t_count)
    for t, (first, second) in zip(t_ticks, _tick_labels(t_ticks, t_step), strict=True):
        x = x_of(t)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom + 4}" stroke="{_GRID}"/>'
        )
        anchor = "start" if x - left < 20 else "end" if right - x < 20 else "middle"
        parts.append(_text(x, bottom + 15, first, anchor=anchor, fill=_MUTED, class_="tick"))
        if second:
            parts.append(_text(x, bottom + 28, second, anchor=anchor, fill=_MUTED, class_="tick"))
    parts.append(_text(4, height - 6, "UTC", fill=_MUTED, class_="chart-zone"))
    parts.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        f'stroke="#c5ccd4"/>'
    )

    # The readings.
    shown = _reduce(series, t_lo, t_hi, max(1, int(plot_w)))
    coords = " ".join(f"{x_of(t):.1f},{y_of(v):.1f}" for t, v in shown)
    if len(shown) > 1:
        parts.append(
            f'<polyline class="chart-line" points="{coords}" fill="none" stroke="{_LINE}" '
            f'stroke-width="1.5" stroke-linejoin="round"/>'
        )
    if len(series) < _DOTS_UP_TO:
        parts.extend(
            f'<circle class="chart-dot" cx="{x_of(t):.1f}" cy="{y_of(v):.1f}" r="2.5" '
            f'fill="{_LINE}"/>'
            for t, v in series
        )

    # Spec lines over the readings, so that a dense series cannot hide them.
    for name, value in drawn_limits:
        y = y_of(value)
        colour, dash = (_GOOD, "2 3") if name == "Target" else (_BAD, "6 4")
        parts.append(
            f'<line class="chart-limit limit-{name.lower()}" x1="{left}" x2="{right}" '
            f'y1="{y:.1f}" y2="{y:.1f}" stroke="{colour}" stroke-width="1.5" '
            f'stroke-dasharray="{dash}"/>'
        )

    # Out-of-spec marks: the most extreme reading per few pixels (rings would only overlap).
    if outside and limits is not None:
        centre = _centre(limits, v_min, v_max)
        worst: dict[int, tuple[float, float]] = {}
        for t, v in outside:
            slot = int(x_of(t) / _MARK_SPACING)
            kept = worst.get(slot)
            if kept is None or abs(v - centre) > abs(kept[1] - centre):
                worst[slot] = (t, v)
        marks = sorted(worst.values())
        titled = len(marks) <= _TITLED_MARKS  # a hover text each, while they stay few
        parts.append(f'<g class="chart-oos" fill="none" stroke="{_BAD}" stroke-width="1.8">')
        parts.extend(
            f'<circle cx="{x_of(t):.1f}" cy="{y_of(v):.1f}" r="4">'
            + (f"<title>{escape(_oos_title(t, v, unit_text))}</title>" if titled else "")
            + "</circle>"
            for t, v in marks
        )
        parts.append("</g>")

    # Limit labels last, on a white halo, at the right end inside the plot.
    for name, value in drawn_limits:
        y = y_of(value)
        below = name == "LSL"  # LSL's label under its line, the others above theirs
        parts.append(
            _text(
                right - 4,
                y + (12 if below else -4),
                f"{name} {_plain(value)}",
                anchor="end",
                size=10,
                fill=_GOOD if name == "Target" else _BAD,
                stroke="#ffffff",
                stroke_width="3",
                paint_order="stroke",
                class_="chart-limit-label",
            )
        )

    # Limits too far out to draw without flattening the readings: named at the edge.
    for side, y in (("above", top + 12), ("below", bottom - 5)):
        names = [
            f"{name} {_plain(value)}"
            for name, value in beyond
            if (value > v_max) == (side == "above")
        ]
        if names:
            parts.append(
                _text(
                    right - 4,
                    y,
                    f"{', '.join(names)} ({side})",
                    anchor="end",
                    size=10,
                    fill=_BAD,
                    stroke="#ffffff",
                    stroke_width="3",
                    paint_order="stroke",
                    class_="chart-limit-beyond",
                )
            )

    parts.append("</svg>")
    return "\n".join(parts)


def _reachable(
    limits: list[tuple[str, float]], v_min: float, v_max: float
) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """The limits the value axis reaches (nearest first, while the readings keep at least
    1/``_LIMIT_REACH`` of the height) and the ones left beyond it, each in the given order."""
    span = max(v_max - v_min, abs(v_max + v_min) / 2 * 0.02, 1e-9)
    lo, hi = v_min, v_max
    reached: set[str] = set()
    middle = (v_min + v_max) / 2
    for name, value in sorted(limits, key=lambda item: abs(item[1] - middle)):
        if max(hi, value) - min(lo, value) <= _LIMIT_REACH * span:
            reached.add(name)
            lo, hi = min(lo, value), max(hi, value)
    return (
        [item for item in limits if item[0] in reached],
        [item for item in limits if item[0] not in reached],
    )


def _centre(limits: Limits, v_min: float, v_max: float) -> float:
    if limits.target is not None:
        return limits.target
    if limits.lsl is not None and limits.usl is not None:
        return (limits.lsl + limits.usl) / 2
    return (v_min + v_max) / 2


def _oos_title(t: float, v: float, unit_text: str) -> str:
    return f"{_stamp(t)} UTC: {_plain(v)}{unit_text} outside the limits"
