"""Simulated time: integer milliseconds since the plant's start, working calendars, timestamps.

The plant timeline starts on Monday 2024-01-08 at 05:00 UTC (06:00 in the plant's CET time zone).
Production runs three shifts, Monday 05:00 UTC to Saturday 05:00 UTC; docks and customers work
weekday day hours. Calendars are kept in UTC (the one-hour DST shift of shift start is ignored);
``eventTimeZoneOffset`` follows the EU rule (+01:00 in winter, +02:00 in summer).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

__all__ = [
    "DAY",
    "HOUR",
    "MINUTE",
    "SECOND",
    "T0_MS",
    "WEEK",
    "Stamper",
    "in_hours",
    "iso",
    "work_end",
    "work_start",
]

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY
_WORK_SPAN = 5 * DAY  # Monday 05:00 to Saturday 05:00 UTC
_WEEKEND = 2 * DAY

_T0 = datetime(2024, 1, 8, 5, 0, 0, tzinfo=UTC)
T0_MS = int(_T0.timestamp()) * 1000
"""Absolute (Unix epoch) milliseconds of simulated time 0."""


def work_start(t: int) -> int:
    """The earliest production time at or after ``t`` (skips weekends)."""
    w = t % WEEK
    return t if w < _WORK_SPAN else t + WEEK - w


def work_end(start: int, duration: int) -> int:
    """When a job of ``duration`` (< 5 days) started at ``start`` ends, pausing over weekends."""
    w = start % WEEK
    if w >= _WORK_SPAN:
        start += WEEK - w
        w = 0
    if w + duration > _WORK_SPAN:
        duration += _WEEKEND
    return start + duration


def in_hours(t: int, open_h: int, close_h: int) -> int:
    """The earliest time >= ``t`` that falls on a weekday between ``open_h`` and ``close_h`` UTC."""
    a = T0_MS + t
    day, r = divmod(a, DAY)
    open_ms, close_ms = open_h * HOUR, close_h * HOUR
    while True:
        if (day + 3) % 7 < 5:  # 1970-01-01 was a Thursday; Monday = 0
            if r < open_ms:
                return day * DAY + open_ms - T0_MS
            if r < close_ms:
                return day * DAY + r - T0_MS
        day += 1
        r = 0


def _last_sunday(year: int, month: int) -> date:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    d = nxt - timedelta(days=1)
    return d - timedelta(days=(d.weekday() + 1) % 7)


def _offset_for(d: date) -> str:
    """CET/CEST offset in force at noon UTC of ``d``."""
    return "+02:00" if _last_sunday(d.year, 3) <= d < _last_sunday(d.year, 10) else "+01:00"


_MMSS = [f"{m:02d}:{s:02d}." for m in range(60) for s in range(60)]
_MSZ = [f"{ms:03d}Z" for ms in range(1000)]


class Stamper:
    """Formats simulated times as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC) plus the local offset.

    The ``YYYY-MM-DDTHH:`` prefix and the offset are cached for the current hour; minutes,
    seconds and milliseconds come from lookup tables, so a call is one subtraction, one divmod and
    two string concatenations while time moves forward within the hour.
    """

    __slots__ = ("_day0", "_hour_prefix", "_hour_start", "_offset", "_offsets", "_prefixes")

    def __init__(self) -> None:
        self._day0 = T0_MS // DAY
        self._prefixes: list[str] = []
        self._offsets: list[str] = []
        self._hour_start = 1 << 62
        self._hour_prefix = ""
        self._offset = ""

    def _grow(self, index: int) -> None:
        while len(self._prefixes) <= index:
            d = date(1970, 1, 1) + timedelta(days=self._day0 + len(self._prefixes))
            self._prefixes.append(f"{d.isoformat()}T")
            self._offsets.append(_offset_for(d))

    def _enter_hour(self, t: int) -> None:
        day, r = divmod(t + T0_MS, DAY)
        i = day - self._day0
        if i >= len(self._prefixes):
            self._grow(i)
        h = r // HOUR
        self._hour_start = t - (r - h * HOUR)
        self._hour_prefix = f"{self._prefixes[i]}{h:02d}:"
        self._offset = self._offsets[i]

    def stamp(self, t: int) -> tuple[str, str]:
        """``(eventTime, eventTimeZoneOffset)`` for simulated time ``t``."""
        r = t - self._hour_start
        if r >= HOUR or r < 0:
            self._enter_hour(t)
            r = t - self._hour_start
        sec, ms = divmod(r, SECOND)
        return self._hour_prefix + _MMSS[sec] + _MSZ[ms], self._offset

    def text(self, t: int) -> str:
        """Just the eventTime text."""
        return self.stamp(t)[0]

    def year2(self, t: int) -> int:
        """Two-digit year of simulated time ``t`` (for lot numbers)."""
        day = (t + T0_MS) // DAY - self._day0
        if day >= len(self._prefixes):
            self._grow(day)
        return int(self._prefixes[day][2:4])


def iso(t: int) -> str:
    """ISO-8601 UTC text of simulated time ``t`` (same format as event times)."""
    return Stamper().text(t)
