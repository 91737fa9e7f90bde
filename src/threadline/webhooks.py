"""Webhook delivery of EPCIS query subscriptions (``POST /queries/{name}/subscriptions``).

A subscription either *streams* (it is notified after each commit that stored events matching
its named query) or runs on a *schedule* (cron-like fields, see :class:`Schedule`). Each
notification is one HTTP ``POST`` of an EPCISQueryDocument (``queryName`` = the named query,
``subscriptionID`` set) to the subscription's ``dest``, at most :data:`BATCH` events per
document, with these headers:

* ``Content-Type``: ``application/ld+json`` (or ``application/xml`` when the subscription was
  created with ``Accept: application/xml``);
* ``GS1-Signature: sha256=<hex>`` — the lowercase hex HMAC-SHA256 of the exact body bytes, keyed
  with the subscription's ``signatureToken`` (UTF-8); absent when the subscription gave none.
  A receiver recomputes it over the raw body it received and compares in constant time;
* ``GS1-EPCIS-Version: 2.0.0``, ``GS1-CBV-Version: 2.0.0``, ``GS1-Query-Name: <name>``,
  ``GS1-Subscription-ID: <id>``.

What a notification holds: the events matching the query recorded after the subscription's
*watermark* (the last event row already reported; event rows are numbered in commit order), in
record order; the named query's ``orderBy``/``eventCountLimit``/``maxEventCount`` do not apply
to notifications. The watermark moves (and ``lastNotifiedAt`` is set) only when the receiver
answers 2xx, and it is stored, so a restart neither repeats nor skips a notification (delivery
is at-least-once only in the moment between a 2xx and that write). A scheduled subscription
reports what was recorded since its previous report; with ``reportIfEmpty`` it posts an empty
document when nothing was.

Failures (a transport error or a non-2xx answer) are retried with exponential backoff
(``backoff``, doubling, at most 5 minutes apart) up to ``attempts`` times; after that the
subscription waits for its next trigger (a commit, its schedule, a restart) and then resends
everything from its watermark, so nothing is skipped. ``lastError`` and ``failures`` show it.

Threads: commits only drop a note on the delivery worker's queue (the writer never waits for a
receiver); one worker thread posts, one scheduler thread times the scheduled subscriptions.
Proxies from the environment are not used for deliveries.

The service's :func:`start_webhooks` also starts the delivery of *alert* subscriptions
(``/alerts/subscriptions``), signed the same way; how and by which processes alerts are
delivered is in :mod:`threadline.ingest.alert_webhooks`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import orjson

from threadline.config import Settings
from threadline.epcis.forms import IdentifierForm
from threadline.epcis.query_params import EventQuery, PageToken, parse_query
from threadline.errors import DocumentError, InvalidInput
from threadline.ingest.alert_webhooks import AlertWebhookDispatcher, sign
from threadline.service import query_document, render_rows
from threadline.store.auth import now_text, transaction
from threadline.store.base import Store
from threadline.store.group_commit import GroupCommitter
from threadline.store.query import run_query
from threadline.store.subscriptions import (
    Subscription,
    active_subscriptions,
    record_delivery,
    record_failure,
    set_watermark,
)

__all__ = [
    "BATCH",
    "Schedule",
    "SubscriptionControlsError",
    "WebhookDispatcher",
    "check_dest",
    "sign",
    "start_webhooks",
]

log = logging.getLogger("threadline.webhooks")

BATCH = 500  # events per notification document
MAX_BACKOFF = 300.0
# Watermarks moved past events that matched nothing are written at most this often (losing one
# in a crash only means looking at those events again, never reporting them twice).
WATERMARK_FLUSH_SECONDS = 30.0
EPCIS_HEADERS = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}

Write = Callable[[Callable[[Any], None]], None]


class SubscriptionControlsError(InvalidInput):
    """A subscription request that cannot be honoured (EPCIS ``SubscriptionControlsException``).

    ``field`` names the member of the request at fault.
    """

    code = "SubscriptionControlsException"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)

    def to_dict(self) -> dict[str, object]:
        data = super().to_dict()
        data["field"] = self.field
        return data


def check_dest(dest: str) -> str:
    """``dest`` if it is an absolute http(s) URL, else :class:`SubscriptionControlsError`."""
    try:
        parts = urlsplit(dest)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise SubscriptionControlsError(f"{dest!r} is not an http:// or https:// URL", field="dest")
    return dest


# -- schedules --------------------------------------------------------------------------------

_BOUNDS = {
    "second": (0, 59),
    "minute": (0, 59),
    "hour": (0, 23),
    "dayOfMonth": (1, 31),
    "month": (1, 12),
    "dayOfWeek": (1, 7),
}
# How significant each field is; omitted fields less significant than every given one take
# their first value (so {"hour": "1", "minute": "5"} fires once a day, at 01:05:00).
_LEVEL = {"second": 0, "minute": 1, "hour": 2, "dayOfMonth": 3, "dayOfWeek": 3, "month": 4}
_SEARCH_DAYS = 366 * 29  # a 29 February that is also a given weekday recurs within 28 years


def _field_values(name: str, raw: Any) -> frozenset[int]:
    low, high = _BOUNDS[name]
    text = str(raw).strip() if isinstance(raw, str | int) and not isinstance(raw, bool) else None
    if not text:
        raise SubscriptionControlsError(
            "must be a string such as '5', '1,15', '[8-17]', '*' or '*/10'",
            field=f"schedule.{name}",
        )
    out: set[int] = set()
    for element in text.split(","):
        base, slash, step_text = element.strip().partition("/")
        base = base.strip()
        try:
            step = int(step_text) if slash else 1
            if base == "*":
                first, last = low, high
            else:
                inner = base[1:-1] if base.startswith("[") and base.endswith("]") else base
                a, dash, b = inner.partition("-")
                first = int(a)
                last = int(b) if dash else (high if slash else first)
        except ValueError:
            raise SubscriptionControlsError(
                f"{element.strip()!r} is not a number, a range [a-b], '*' or one of those "
                "followed by /step",
                field=f"schedule.{name}",
            ) from None
        if step < 1 or not low <= first <= last <= high:
            raise SubscriptionControlsError(
                f"{element.strip()!r} is outside {low}-{high} (or its range or step is empty)",
                field=f"schedule.{name}",
            )
        out.update(range(first, last + 1, step))
    return frozenset(out)


@dataclass(frozen=True)
class Schedule:
    """When a scheduled subscription runs: the EPCIS query schedule, read as cron does.

    Fields ``second`` (0-59), ``minute`` (0-59), ``hour`` (0-23), ``dayOfMonth`` (1-31),
    ``month`` (1-12) and ``dayOfWeek`` (1-7, 1 = Monday); each a comma-separated list of
    numbers, ranges ``[a-b]`` (or ``a-b``), ``*``, and any of those followed by ``/step``
    (``0/30`` = 0 and 30). A time matches when every field matches (day of month *and* day of
    week). An omitted field less significant than every given one takes its first value; any
    other omitted field matches everything. Times are UTC.
    """

    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    @classmethod
    def parse(cls, spec: Mapping[str, Any]) -> Schedule:
        """Validate a ``schedule`` object; faults name the field."""
        if not isinstance(spec, Mapping) or not spec:
            raise SubscriptionControlsError(
                "must name at least one of " + ", ".join(_BOUNDS), field="schedule"
            )
        unknown = sorted(set(spec) - set(_BOUNDS))
        if unknown:
            raise SubscriptionControlsError(
                f"unknown field (use {', '.join(_BOUNDS)})", field=f"schedule.{unknown[0]}"
            )
        given = {name: _field_values(name, raw) for name, raw in spec.items()}
        lowest = min(_LEVEL[name] for name in given)
        values: dict[str, frozenset[int]] = {}
        for name, (low, high) in _BOUNDS.items():
            if name in given:
                values[name] = given[name]
            elif _LEVEL[name] < lowest and name != "dayOfWeek":
                values[name] = frozenset({low})
            else:
                values[name] = frozenset(range(low, high + 1))
        schedule = cls(
            tuple(sorted(values["second"])),
            tuple(sorted(values["minute"])),
            tuple(sorted(values["hour"])),
            values["dayOfMonth"],
            values["month"],
            values["dayOfWeek"],
        )
        if schedule.next_after(datetime(2000, 1, 1, tzinfo=UTC)) is None:
            raise SubscriptionControlsError("no date matches this schedule", field="schedule")
        return schedule

    def _day_matches(self, day: date) -> bool:
        return (
            day.month in self.months and day.day in self.days and day.isoweekday() in self.weekdays
        )

    def next_after(self, moment: datetime) -> datetime | None:
        """The first whole second strictly after ``moment`` that the schedule matches (UTC)."""
        start = moment.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
        day = start.date()
        for _ in range(_SEARCH_DAYS):
            if self._day_matches(day):
                today = day == start.date()
                for h in self.hours:
                    if today and h < start.hour:
                        continue
                    for m in self.minutes:
                        if today and h == start.hour and m < start.minute:
                            continue
                        for s in self.seconds:
                            if today and (h, m) == (start.hour, start.minute) and s < start.second:
                                continue
                            return datetime(day.year, day.month, day.day, h, m, s, tzinfo=UTC)
            day += timedelta(days=1)
        return None


# -- delivery ----------------------------------------------------------------------------------


@dataclass
class _Live:
    """A subscription as the worker tracks it."""

    sub: Subscription
    query: EventQuery
    pending: bool = False  # something to look at: a commit, a fire, a start-up
    fired: bool = False  # the schedule fired (an empty report is due if reportIfEmpty)
    attempts: int = 0
    retry_at: float = 0.0  # time.monotonic() before which no new attempt is made
    dirty: bool = False  # the watermark moved in memory and is not written yet


def _delivery_query(params: Mapping[str, list[str]]) -> EventQuery:
    # Notifications report in record order whatever the named query asks for its pages.
    return replace(
        parse_query(params),
        order_by=None,
        event_count_limit=None,
        max_event_count=None,
        per_page=None,
        page_token=None,
    )


class WebhookDispatcher:
    """Delivers subscription notifications from its own threads; see the module docstring.

    ``write(fn)`` runs ``fn(cursor)`` in a write transaction (the service passes one that goes
    through its group committer); ``clock`` returns the current UTC time (for the scheduler).
    """

    def __init__(
        self,
        store: Store,
        *,
        write: Write | None = None,
        timeout: float = 10.0,
        attempts: int = 5,
        backoff: float = 1.0,
        batch: int = BATCH,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.timeout = timeout
        self.attempts = max(attempts, 1)
        self.backoff = backoff
        self.batch = batch
        self.clock = clock or (lambda: datetime.now(UTC))
        self._write_fn = write or self._write_direct
        self._queue: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        self._subs: dict[str, _Live] = {}  # owned by the worker thread
        self._flushed_at = time.monotonic()
        self._closed = False
        self._worker = threading.Thread(target=self._work, name="threadline-webhooks", daemon=True)
        self._scheduler = _Scheduler(self)
        # Alert subscriptions, delivered alongside (closed with this dispatcher).
        self.alerts: AlertWebhookDispatcher | None = None

    # -- control (any thread) ---------------------------------------------------------------------
    def start(self) -> None:
        """Start delivering: every stream subscription first catches up from its watermark."""
        self._queue.put(("reload", None))
        self._worker.start()
        self._scheduler.start()

    def committed(self, first: int, last: int) -> None:
        """Commit listener: event rows ``first``..``last`` were committed."""
        if not self._closed:
            self._queue.put(("commit", last))

    def changed(self) -> None:
        """Subscriptions or named queries were created or deleted: reload them."""
        if not self._closed:
            self._queue.put(("reload", None))
            self._scheduler.changed()

    def close(self) -> None:
        """Stop both threads (a delivery in flight finishes or times out first)."""
        if self._closed:
            return
        self._closed = True
        if self.alerts is not None:
            self.alerts.close()
        self._scheduler.stop()
        self._queue.put(None)
        if self._worker.is_alive():
            self._worker.join(timeout=self.timeout + 30)

    # -- the worker thread -----------------------------------------------------------------------
    def _write_direct(self, fn: Callable[[Any], None]) -> None:
        with transaction(self.store, write=True) as cursor:
            fn(cursor)

    def _write(self, fn: Callable[[Any], None]) -> None:
        try:
            self._write_fn(fn)
        except Exception:  # bookkeeping must not kill the worker; the next delivery retries it
            log.exception("could not record a webhook delivery")

    def _work(self) -> None:
        with httpx.Client(timeout=self.timeout, follow_redirects=False, trust_env=False) as client:
            while True:
                try:
                    message = self._queue.get(timeout=self._wait())
                except queue.Empty:
                    message = ("tick", None)
                messages = [message]
                while True:
                    try:
                        messages.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                if None in messages:
                    self._flush_watermarks()
                    return
                for kind, value in (m for m in messages if m is not None):
                    self._handle(kind, value)
                self._deliver_due(client)
                if time.monotonic() - self._flushed_at > WATERMARK_FLUSH_SECONDS:
                    self._flush_watermarks()

    def _wait(self) -> float | None:
        waiting = [live.retry_at for live in self._subs.values() if live.pending]
        flush = any(live.dirty for live in self._subs.values())
        if not waiting and not flush:
            return None
        due = min(waiting) if waiting else self._flushed_at + WATERMARK_FLUSH_SECONDS
        if flush:
            due = min(due, self._flushed_at + WATERMARK_FLUSH_SECONDS)
        return max(due - time.monotonic(), 0.0)

    def _handle(self, kind: str, value: Any) -> None:
        if kind == "reload":
            self._reload()
        elif kind == "commit":
            for live in self._subs.values():
                if live.sub.stream and value > live.sub.watermark:
                    live.pending = True
        elif kind == "fire":
            fired = self._subs.get(value)
            if fired is not None:
                fired.pending = fired.fired = True

    def _reload(self) -> None:
        try:
            rows = active_subscriptions(self.store)
        except Exception:
            log.exception("could not read the subscriptions; keeping the ones known")
            return
        known, self._subs = self._subs, {}
        for sub, params in rows:
            old = known.get(sub.id)
            if old is not None:
                old.sub.last_notified_at = sub.last_notified_at
                self._subs[sub.id] = old
                continue
            try:
                query = _delivery_query(params)
            except InvalidInput as exc:
                log.error("subscription %s: its query %r no longer parses: %s", sub.id, params, exc)
                continue
            # New here (or at start-up): a stream looks for what it has not reported yet.
            self._subs[sub.id] = _Live(sub, query, pending=sub.stream)

    def _deliver_due(self, client: httpx.Client) -> None:
        now = time.monotonic()
        for live in list(self._subs.values()):
            if live.pending and live.retry_at <= now and not self._closed:
                try:
                    self._deliver(client, live)
                except Exception as exc:  # e.g. the database briefly unreachable: back off
                    log.exception("subscription %s: delivery failed", live.sub.id)
                    self._failed(live, f"the server could not prepare the notification: {exc}")

    def _deliver(self, client: httpx.Client, live: _Live) -> None:
        sub = live.sub
        while True:
            query = replace(
                live.query,
                page_token=PageToken(None, sub.watermark, 0, live.query.fingerprint),
                per_page=self.batch,
            )
            # One read transaction: the last row id and the matching rows come from one state
            # of the store, so moving the watermark to that id can skip nothing.
            with self.store.reader() as reader:
                high = int(reader.query("SELECT coalesce(max(id), 0) FROM events")[0][0])
                rows = run_query(reader, query)
                events = render_rows(reader, rows, cast(IdentifierForm, sub.epc_format))
            more = rows.next_page_token is not None
            upto = int(rows[-1]["id"]) if more else max(high, sub.watermark)
            if not events and not (live.fired and sub.report_if_empty):
                if upto > sub.watermark:
                    sub.watermark, live.dirty = upto, True
                break
            body, media = self._document(sub, events, rows)
            error = self._post(client, sub, body, media)
            if error is not None:
                self._failed(live, error)
                return
            notified = now_text()
            self._write(partial(self._delivered, sub.id, upto, notified))
            sub.watermark = max(sub.watermark, upto)
            sub.last_notified_at, live.dirty, live.fired, live.attempts = notified, False, False, 0
            if not more:
                break
        live.pending = live.fired = False
        live.retry_at = 0.0

    def _delivered(self, sub_id: str, upto: int, notified: str, cursor: Any) -> None:
        record_delivery(self.store, cursor, sub_id, watermark=upto, notified_at=notified)

    def _document(
        self, sub: Subscription, events: list[dict[str, Any]], rows: list[dict[str, Any]]
    ) -> tuple[bytes, str]:
        """The notification's body and Content-Type.

        Events that the XML binding cannot carry (an extension prefix no context defines) are
        reported to an XML subscriber as a problem document instead, as the standard asks of a
        server-side error, so that one such event cannot block the subscription for good.
        """
        if sub.format != "xml":
            data = query_document(events, query_name=sub.query_name, subscription_id=sub.id)
            return data, "application/ld+json"
        try:
            data = query_document(
                events, fmt="xml", query_name=sub.query_name, subscription_id=sub.id
            )
        except DocumentError as exc:
            ids = ", ".join(str(r["event_id"]) for r in rows[:5]) + (
                ", ..." if len(rows) > 5 else ""
            )
            problem = {
                "type": "epcisException:ImplementationException",
                "title": f"events {ids} cannot be written as EPCIS XML: {exc.message}; "
                "subscribe with JSON-LD to receive them",
                "status": 500,
                "subscriptionID": sub.id,
            }
            return orjson.dumps(problem), "application/problem+json"
        return data, "application/xml"

    def _post(self, client: httpx.Client, sub: Subscription, body: bytes, media: str) -> str | None:
        """Deliver one document; None when the receiver answered 2xx, else what went wrong."""
        headers = {
            "Content-Type": media,
            **EPCIS_HEADERS,
            "GS1-Query-Name": sub.query_name,
            "GS1-Subscription-ID": sub.id,
        }
        if sub.secret:
            headers["GS1-Signature"] = sign(body, sub.secret)
        try:
            answer = client.post(sub.dest, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if 200 <= answer.status_code < 300:
            return None
        return f"{sub.dest} answered HTTP {answer.status_code}"

    def _failed(self, live: _Live, error: str) -> None:
        live.attempts += 1
        failures = live.attempts
        self._write(
            lambda cursor: record_failure(
                self.store, cursor, live.sub.id, error=error, failures=failures
            )
        )
        live.sub.last_error = error
        if live.attempts >= self.attempts:
            log.warning(
                "subscription %s: %d deliveries failed (%s); waiting for the next trigger",
                live.sub.id,
                live.attempts,
                error,
            )
            live.pending = live.fired = False
            live.attempts, live.retry_at = 0, 0.0
            return
        delay = min(self.backoff * 2 ** (live.attempts - 1), MAX_BACKOFF)
        live.retry_at = time.monotonic() + delay

    def _flush_watermarks(self) -> None:
        self._flushed_at = time.monotonic()
        dirty = [live for live in self._subs.values() if live.dirty]
        if not dirty:
            return
        marks = [(live.sub.id, live.sub.watermark) for live in dirty]

        def write(cursor: Any) -> None:
            for sub_id, mark in marks:
                set_watermark(self.store, cursor, sub_id, mark)

        self._write(write)
        for live in dirty:
            live.dirty = False


class _Scheduler:
    """Times the scheduled subscriptions and tells the worker when one is due."""

    def __init__(self, dispatcher: WebhookDispatcher) -> None:
        self.dispatcher = dispatcher
        self._wake = threading.Event()
        self._reload = True
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, name="threadline-webhook-scheduler", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def changed(self) -> None:
        self._reload = True
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _load(self, schedules: dict[str, Schedule]) -> None:
        try:
            rows = active_subscriptions(self.dispatcher.store)
        except Exception:
            log.exception("could not read the subscriptions; keeping the schedules known")
            return
        fresh: dict[str, Schedule] = {}
        for sub, _params in rows:
            if sub.stream or not sub.schedule:
                continue
            try:
                fresh[sub.id] = Schedule.parse(sub.schedule)
            except InvalidInput as exc:
                log.error("subscription %s: its schedule no longer parses: %s", sub.id, exc)
        schedules.clear()
        schedules.update(fresh)

    def _run(self) -> None:
        clock = self.dispatcher.clock
        schedules: dict[str, Schedule] = {}
        due: dict[str, datetime] = {}
        while not self._stopping:
            now = clock()
            if self._reload:
                self._reload = False
                self._load(schedules)
                due = {k: v for k, v in due.items() if k in schedules}
            for sub_id, schedule in schedules.items():
                if sub_id not in due:
                    found = schedule.next_after(now)
                    if found is not None:
                        due[sub_id] = found
            for sub_id, when in list(due.items()):
                if when <= now:
                    self.dispatcher._queue.put(("fire", sub_id))
                    # Missed times (a busy machine, a suspended process) are not made up.
                    found = schedules[sub_id].next_after(now)
                    if found is None:
                        del due[sub_id]
                    else:
                        due[sub_id] = found
            wait = min(((w - now).total_seconds() for w in due.values()), default=60.0)
            self._wake.wait(timeout=min(max(wait, 0.005), 60.0))
            self._wake.clear()


def start_webhooks(
    store: Store, committer: GroupCommitter, settings: Settings
) -> WebhookDispatcher:
    """The service's dispatcher: told of every commit, writing through the group committer.

    It also starts (and will close) the delivery of alert subscriptions, as :attr:`alerts`.
    """

    def write(fn: Callable[[Any], None]) -> None:
        committer.append([], also=lambda cursor, _result: fn(cursor))

    dispatcher = WebhookDispatcher(
        store,
        write=write,
        timeout=settings.webhook_timeout,
        attempts=settings.webhook_attempts,
        backoff=settings.webhook_backoff,
    )
    committer.add_listener(dispatcher.committed)
    dispatcher.start()
    dispatcher.alerts = AlertWebhookDispatcher(
        store, timeout=settings.webhook_timeout, backoff=settings.webhook_backoff
    ).start()
    return dispatcher
