"""Named EPCIS queries and webhook subscriptions: their rows (tables from migration 0008).

A named query keeps its EPCIS query parameters as ``{name: [value, ...]}`` (validated by the
caller before it is stored). A subscription belongs to one named query and keeps where and how
to deliver (``dest``, stream or schedule, document format, identifier form), the signing secret
and its *watermark*: the row id of the last event already reported. Event rows are numbered in
commit order, so "everything after the watermark" is exactly what the subscriber has not had;
the watermark is written after each successful delivery, which is what makes a restart neither
repeat nor skip a notification.

The secret is kept as given (the server needs it to sign each delivery); nothing here returns it
to an API caller: :meth:`Subscription.to_json` leaves it out.

The second half keeps the rows of *alert* subscriptions and their delivery outbox (tables from
migration 0011; the rules are in :mod:`threadline.quality.alerts`, the delivery in
:mod:`threadline.ingest.alert_webhooks`). Its functions that take a ``cursor`` work inside the
caller's write transaction; the others open their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from threadline.errors import Conflict, NotFound
from threadline.store.auth import now_text, transaction
from threadline.store.base import Store
from threadline.store.quality import AlertRow

__all__ = [
    "AlertDelivery",
    "AlertSubscription",
    "NamedQuery",
    "Subscription",
    "active_subscriptions",
    "alert_subscription_filters",
    "claim_alert_subscription",
    "create_alert_subscription",
    "create_query",
    "create_subscription",
    "delete_alert_subscription",
    "delete_query",
    "delete_subscription",
    "due_alert_subscriptions",
    "get_alert_subscription",
    "get_query",
    "get_subscription",
    "insert_alert_subscription",
    "list_alert_deliveries",
    "list_alert_subscriptions",
    "list_queries",
    "list_subscriptions",
    "pending_alert_deliveries",
    "queue_alert_deliveries",
    "record_alert_delivered",
    "record_alert_failure",
    "record_delivery",
    "record_failure",
    "release_alert_subscription",
    "set_watermark",
]

QueryParams = dict[str, list[str]]

_SUB_COLS = (
    "id, query_name, dest, secret, stream, schedule, report_if_empty, format, epc_format, "
    "initial_record_time, watermark, created_at, created_by, last_notified_at, last_error, "
    "failures"
)
# How identifier forms are named in the GS1-EPC-Format header.
EPC_FORMAT_NAMES = {
    "dl": "Always_GS1_Digital_Link",
    "urn": "Always_EPC_URN",
    "as_captured": "Never_Translates",
}


@dataclass(frozen=True)
class NamedQuery:
    name: str
    query: QueryParams
    created_at: str
    created_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The query as ``GET /queries/{name}`` shows it."""
        return {"name": self.name, "query": self.query, "createdAt": self.created_at}


@dataclass
class Subscription:
    """One webhook subscription (see the module docstring)."""

    id: str
    query_name: str
    dest: str
    secret: str | None
    stream: bool
    schedule: dict[str, str] | None
    report_if_empty: bool
    format: str  # "jsonld" or "xml"
    epc_format: str  # an IdentifierForm: "dl", "urn" or "as_captured"
    initial_record_time: str | None = None
    watermark: int = 0
    created_at: str = field(default_factory=now_text)
    created_by: str | None = None
    last_notified_at: str | None = None
    last_error: str | None = None
    failures: int = 0

    def to_json(self) -> dict[str, Any]:
        """The subscription as the API shows it: never the secret, only whether there is one."""
        out: dict[str, Any] = {
            "subscriptionID": self.id,
            "queryName": self.query_name,
            "dest": self.dest,
            "createdAt": self.created_at,
        }
        if self.stream:
            out["stream"] = True
        else:
            out["schedule"] = dict(self.schedule or {})
            out["reportIfEmpty"] = self.report_if_empty
        if self.initial_record_time is not None:
            out["initialRecordTime"] = self.initial_record_time
        if self.last_notified_at is not None:
            out["lastNotifiedAt"] = self.last_notified_at
        out["epcFormat"] = EPC_FORMAT_NAMES.get(self.epc_format, self.epc_format)
        out["format"] = "application/xml" if self.format == "xml" else "application/ld+json"
        out["signed"] = self.secret is not None
        if self.last_error is not None:
            out["lastError"] = self.last_error
            out["failures"] = self.failures
        return out


def _subscription(store: Store, row: Sequence[Any]) -> Subscription:
    schedule = store.load_json(row[5]) if row[5] is not None else None
    return Subscription(
        id=row[0],
        query_name=row[1],
        dest=row[2],
        secret=row[3],
        stream=bool(row[4]),
        schedule=schedule,
        report_if_empty=bool(row[6]),
        format=row[7],
        epc_format=row[8],
        initial_record_time=row[9],
        watermark=int(row[10]),
        created_at=row[11],
        created_by=row[12],
        last_notified_at=row[13],
        last_error=row[14],
        failures=int(row[15]),
    )


# -- named queries --------------------------------------------------------------------------------


def create_query(store: Store, name: str, query: QueryParams, *, user: str | None) -> NamedQuery:
    """Store a named query; :class:`Conflict` if the name is taken."""
    made = NamedQuery(name, query, now_text(), user)
    with transaction(store, write=True) as cursor:
        cursor.execute(
            store.sql(
                "INSERT INTO named_queries (name, query, created_at, created_by) "
                f"VALUES (?, {store.json_param()}, ?, ?) ON CONFLICT (name) DO NOTHING"
            ),
            (name, store.dump_json(query), made.created_at, user),
        )
        if cursor.rowcount == 0:
            raise Conflict(f"a query named {name!r} already exists; delete it first")
    return made


def get_query(store: Store, name: str) -> NamedQuery:
    with transaction(store, write=False) as cursor:
        cursor.execute(
            store.sql(
                "SELECT name, query, created_at, created_by FROM named_queries WHERE name = ?"
            ),
            (name,),
        )
        row = cursor.fetchone()
    if row is None:
        raise NotFound(f"no query named {name!r}")
    return NamedQuery(row[0], store.load_json(row[1]), row[2], row[3])


def list_queries(store: Store, *, limit: int, after: str | None = None) -> list[NamedQuery]:
    """Named queries in name order, at most ``limit``, those after ``after`` (keyset paging)."""
    sql = "SELECT name, query, created_at, created_by FROM named_queries"
    params: list[Any] = []
    if after is not None:
        sql += " WHERE name > ?"
        params.append(after)
    sql += " ORDER BY name LIMIT ?"
    params.append(limit)
    with transaction(store, write=False) as cursor:
        cursor.execute(store.sql(sql), params)
        rows = cursor.fetchall()
    return [NamedQuery(r[0], store.load_json(r[1]), r[2], r[3]) for r in rows]


def delete_query(store: Store, name: str) -> int:
    """Delete a named query and every subscription to it; returns how many were unsubscribed."""
    with transaction(store, write=True) as cursor:
        cursor.execute(store.sql("DELETE FROM subscriptions WHERE query_name = ?"), (name,))
        unsubscribed = max(cursor.rowcount, 0)
        cursor.execute(store.sql("DELETE FROM named_queries WHERE name = ?"), (name,))
        if cursor.rowcount == 0:
            raise NotFound(f"no query named {name!r}")
    return int(unsubscribed)


# -- subscriptions --------------------------------------------------------------------------------


def new_subscription_id() -> str:
    return str(uuid.uuid4())


def create_subscription(store: Store, sub: Subscription) -> Subscription:
    """Store ``sub`` with its starting watermark; :class:`NotFound` without its named query.

    The watermark starts at the last event row already stored (only events recorded from now
    on are reported) or, with ``initial_record_time``, at the last row recorded before it.
    """
    with transaction(store, write=True) as cursor:
        cursor.execute(store.sql("SELECT 1 FROM named_queries WHERE name = ?"), (sub.query_name,))
        if cursor.fetchone() is None:
            raise NotFound(f"no query named {sub.query_name!r}")
        if sub.initial_record_time is None:
            cursor.execute("SELECT coalesce(max(id), 0) FROM events")
        else:
            cursor.execute(
                store.sql("SELECT coalesce(max(id), 0) FROM events WHERE record_time < ?"),
                (sub.initial_record_time,),
            )
        sub.watermark = int(cursor.fetchone()[0])
        cursor.execute(
            store.sql(
                f"INSERT INTO subscriptions ({_SUB_COLS}) VALUES "
                f"(?, ?, ?, ?, ?, {store.json_param()}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            (
                sub.id,
                sub.query_name,
                sub.dest,
                sub.secret,
                sub.stream,
                None if sub.schedule is None else store.dump_json(sub.schedule),
                sub.report_if_empty,
                sub.format,
                sub.epc_format,
                sub.initial_record_time,
                sub.watermark,
                sub.created_at,
                sub.created_by,
                sub.last_notified_at,
                sub.last_error,
                sub.failures,
            ),
        )
    return sub


def get_subscription(store: Store, query_name: str, sub_id: str) -> Subscription:
    with transaction(store, write=False) as cursor:
        cursor.execute(
            store.sql(f"SELECT {_SUB_COLS} FROM subscriptions WHERE id = ? AND query_name = ?"),
            (sub_id, query_name),
        )
        row = cursor.fetchone()
    if row is None:
        raise NotFound(f"query {query_name!r} has no subscription {sub_id!r}")
    return _subscription(store, row)


def list_subscriptions(
    store: Store, query_name: str, *, limit: int, after: tuple[str, str] | None = None
) -> list[Subscription]:
    """Subscriptions to one query, oldest first, after the (createdAt, id) ``after``."""
    sql = f"SELECT {_SUB_COLS} FROM subscriptions WHERE query_name = ?"
    params: list[Any] = [query_name]
    if after is not None:
        sql += " AND (created_at > ? OR (created_at = ? AND id > ?))"
        params += [after[0], after[0], after[1]]
    sql += " ORDER BY created_at, id LIMIT ?"
    params.append(limit)
    with transaction(store, write=False) as cursor:
        cursor.execute(store.sql(sql), params)
        rows = cursor.fetchall()
    return [_subscription(store, r) for r in rows]


def delete_subscription(store: Store, query_name: str, sub_id: str) -> None:
    with transaction(store, write=True) as cursor:
        cursor.execute(
            store.sql("DELETE FROM subscriptions WHERE id = ? AND query_name = ?"),
            (sub_id, query_name),
        )
        if cursor.rowcount == 0:
            raise NotFound(f"query {query_name!r} has no subscription {sub_id!r}")


def active_subscriptions(store: Store) -> list[tuple[Subscription, QueryParams]]:
    """Every subscription with the parameters of its named query."""
    cols = ", ".join(f"s.{c.strip()}" for c in _SUB_COLS.split(","))
    with transaction(store, write=False) as cursor:
        cursor.execute(
            f"SELECT {cols}, q.query FROM subscriptions s "
            "JOIN named_queries q ON q.name = s.query_name ORDER BY s.created_at, s.id"
        )
        rows = cursor.fetchall()
    return [(_subscription(store, r[:-1]), store.load_json(r[-1])) for r in rows]


# -- delivery bookkeeping (through a cursor, in whatever transaction the caller has) ---------------


def record_delivery(
    store: Store, cursor: Any, sub_id: str, *, watermark: int, notified_at: str
) -> None:
    """A delivery was acknowledged (2xx): note it, move the watermark up, clear the failures.

    An empty report (``reportIfEmpty``) is a notification too, with no watermark to move.
    """
    cursor.execute(
        store.sql(
            "UPDATE subscriptions SET watermark = CASE WHEN watermark < ? THEN ? "
            "ELSE watermark END, last_notified_at = ?, last_error = NULL, failures = 0 "
            "WHERE id = ?"
        ),
        (watermark, watermark, notified_at, sub_id),
    )


def set_watermark(store: Store, cursor: Any, sub_id: str, watermark: int) -> None:
    """Skip rows that matched nothing (never moves a watermark back)."""
    cursor.execute(
        store.sql("UPDATE subscriptions SET watermark = ? WHERE id = ? AND watermark < ?"),
        (watermark, sub_id, watermark),
    )


def record_failure(store: Store, cursor: Any, sub_id: str, *, error: str, failures: int) -> None:
    cursor.execute(
        store.sql("UPDATE subscriptions SET last_error = ?, failures = ? WHERE id = ?"),
        (error[:500], failures, sub_id),
    )


# -- alert subscriptions (migration 0011) ----------------------------------------------------------

_ALERT_SUB_COLS = (
    "id, dest, secret, kind, equipment, parameter, site, created_at, created_by, "
    "last_delivered_at, last_error, failures, retry_at"
)
_DELIVERY_COLS = (
    "id, subscription, alert, queued_at, attempts, last_attempt_at, status, last_error, "
    "delivered_at"
)
_ALERT_COLS = (
    "a.id, a.time, a.kind, a.spec, a.equipment, a.parameter, a.reading_time, a.value, a.lsl, "
    "a.usl, a.unit, a.source, a.object, a.site, a.message, a.acked_at, a.acked_by"
)


@dataclass
class AlertSubscription:
    """Where to POST alerts, and which: ``kind``/``equipment``/``parameter``/``site`` None = any.

    ``failures``, ``last_error`` and ``retry_at`` describe the deliveries so far (shared by every
    process that delivers); ``pending`` (when read with it) counts alerts not yet delivered.
    """

    id: str
    dest: str
    secret: str | None = None
    kind: str | None = None
    equipment: str | None = None
    parameter: str | None = None
    site: str | None = None
    created_at: str = field(default_factory=now_text)
    created_by: str | None = None
    last_delivered_at: str | None = None
    last_error: str | None = None
    failures: int = 0
    retry_at: str | None = None
    pending: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The subscription as the API shows it: never the secret, only whether there is one."""
        data = asdict(self)
        del data["secret"]
        data["signed"] = self.secret is not None
        return data


@dataclass(frozen=True)
class AlertDelivery:
    """One alert for one subscription: queued, tried ``attempts`` times, delivered or not yet."""

    id: int
    subscription: str
    alert: int
    queued_at: str
    attempts: int
    last_attempt_at: str | None
    status: int | None
    last_error: str | None
    delivered_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _alert_subscription(row: Sequence[Any], pending: int | None = None) -> AlertSubscription:
    return AlertSubscription(
        id=row[0],
        dest=row[1],
        secret=row[2],
        kind=row[3],
        equipment=row[4],
        parameter=row[5],
        site=row[6],
        created_at=row[7],
        created_by=row[8],
        last_delivered_at=row[9],
        last_error=row[10],
        failures=int(row[11]),
        retry_at=row[12],
        pending=pending,
    )


def insert_alert_subscription(store: Store, cursor: Any, sub: AlertSubscription) -> None:
    cursor.execute(
        store.sql(
            f"INSERT INTO alert_subscriptions ({_ALERT_SUB_COLS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        (
            sub.id, sub.dest, sub.secret, sub.kind, sub.equipment, sub.parameter, sub.site,
            sub.created_at, sub.created_by, sub.last_delivered_at, sub.last_error, sub.failures,
            sub.retry_at,
        ),
    )  # fmt: skip


def create_alert_subscription(
    store: Store,
    dest: str,
    *,
    secret: str | None = None,
    kind: str | None = None,
    equipment: str | None = None,
    parameter: str | None = None,
    site: str | None = None,
    user: str | None = None,
) -> AlertSubscription:
    """Store an alert subscription as given (no checks; :mod:`threadline.quality.alerts` checks)."""
    sub = AlertSubscription(
        new_subscription_id(), dest, secret, kind, equipment, parameter, site, created_by=user
    )
    with transaction(store, write=True) as cursor:
        insert_alert_subscription(store, cursor, sub)
    sub.pending = 0
    return sub


def _pending_counts(store: Store, cursor: Any, sub_id: str | None = None) -> dict[str, int]:
    sql = "SELECT subscription, count(*) FROM alert_deliveries WHERE delivered_at IS NULL"
    params: list[Any] = []
    if sub_id is not None:
        sql += " AND subscription = ?"
        params.append(sub_id)
    cursor.execute(store.sql(sql + " GROUP BY subscription"), params)
    return {r[0]: int(r[1]) for r in cursor.fetchall()}


def get_alert_subscription(store: Store, sub_id: str) -> AlertSubscription:
    """One alert subscription with its pending count; :class:`NotFound` when there is none."""
    with transaction(store, write=False) as cursor:
        cursor.execute(
            store.sql(f"SELECT {_ALERT_SUB_COLS} FROM alert_subscriptions WHERE id = ?"), (sub_id,)
        )
        row = cursor.fetchone()
        if row is None:
            raise NotFound(f"no alert subscription {sub_id!r}")
        pending = _pending_counts(store, cursor, sub_id).get(sub_id, 0)
    return _alert_subscription(row, pending)


def list_alert_subscriptions(store: Store, *, limit: int = 1000) -> list[AlertSubscription]:
    """Alert subscriptions, oldest first, with their pending counts."""
    with transaction(store, write=False) as cursor:
        cursor.execute(
            store.sql(
                f"SELECT {_ALERT_SUB_COLS} FROM alert_subscriptions ORDER BY created_at, id LIMIT ?"
            ),
            (limit,),
        )
        rows = cursor.fetchall()
        pending = _pending_counts(store, cursor) if rows else {}
    return [_alert_subscription(r, pending.get(r[0], 0)) for r in rows]


def delete_alert_subscription(store: Store, cursor: Any, sub_id: str) -> AlertSubscription:
    """Delete a subscription with its delivery record; :class:`NotFound` when there is none."""
    cursor.execute(
        store.sql(f"SELECT {_ALERT_SUB_COLS} FROM alert_subscriptions WHERE id = ?"), (sub_id,)
    )
    row = cursor.fetchone()
    if row is None:
        raise NotFound(f"no alert subscription {sub_id!r}")
    cursor.execute(store.sql("DELETE FROM alert_deliveries WHERE subscription = ?"), (sub_id,))
    cursor.execute(store.sql("DELETE FROM alert_subscriptions WHERE id = ?"), (sub_id,))
    return _alert_subscription(row)


def alert_subscription_filters(store: Store, cursor: Any) -> list[AlertSubscription]:
    """Every alert subscription (filters only: no secret), read in the caller's transaction."""
    cursor.execute(
        "SELECT id, dest, NULL, kind, equipment, parameter, site, created_at FROM "
        "alert_subscriptions"
    )
    return [AlertSubscription(*r) for r in cursor.fetchall()]


def queue_alert_deliveries(
    store: Store, cursor: Any, pairs: Iterable[tuple[str, int]], *, queued_at: str
) -> None:
    """Queue alert ``pairs`` (subscription id, alert id); queueing one twice keeps one."""
    cursor.executemany(
        store.sql(
            "INSERT INTO alert_deliveries (subscription, alert, queued_at, attempts) "
            "VALUES (?, ?, ?, 0) ON CONFLICT (subscription, alert) DO NOTHING"
        ),
        [(sub_id, alert_id, queued_at) for sub_id, alert_id in pairs],
    )


def due_alert_subscriptions(
    store: Store, *, now: str, claimer: str
) -> tuple[list[AlertSubscription], str | None]:
    """Subscriptions with alerts to deliver now, and the earliest later retry (or None).

    Due: something pending, no retry waiting (``retry_at`` passed) and no live lease of
    another process.
    """
    with store.reader() as reader:
        rows = reader.query(
            f"SELECT {_ALERT_SUB_COLS}, claimed_by, claimed_until FROM alert_subscriptions s "
            "WHERE EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.subscription = s.id "
            "AND d.delivered_at IS NULL) ORDER BY created_at, id"
        )
    due: list[AlertSubscription] = []
    later: str | None = None
    for row in rows:
        sub = _alert_subscription(row[:13])
        held = row[13] is not None and row[13] != claimer and (row[14] or "") >= now
        if sub.retry_at is not None and sub.retry_at > now:
            later = sub.retry_at if later is None else min(later, sub.retry_at)
        elif not held:
            due.append(sub)
    return due, later


def claim_alert_subscription(
    store: Store, cursor: Any, sub_id: str, *, claimer: str, now: str, until: str
) -> bool:
    """Take (or renew) the delivery lease of a subscription; False if another process holds it."""
    cursor.execute(
        store.sql(
            "UPDATE alert_subscriptions SET claimed_by = ?, claimed_until = ? WHERE id = ? "
            "AND (claimed_by IS NULL OR claimed_by = ? OR claimed_until < ?)"
        ),
        (claimer, until, sub_id, claimer, now),
    )
    return bool(cursor.rowcount == 1)


def release_alert_subscription(store: Store, cursor: Any, sub_id: str, *, claimer: str) -> None:
    cursor.execute(
        store.sql(
            "UPDATE alert_subscriptions SET claimed_by = NULL, claimed_until = NULL "
            "WHERE id = ? AND claimed_by = ?"
        ),
        (sub_id, claimer),
    )


def pending_alert_deliveries(
    store: Store, sub_id: str, *, limit: int
) -> list[tuple[AlertDelivery, AlertRow]]:
    """The oldest undelivered alerts of one subscription, in the order they were queued."""
    cols = ", ".join(f"d.{c.strip()}" for c in _DELIVERY_COLS.split(","))
    with store.reader() as reader:
        rows = reader.query(
            f"SELECT {cols}, {_ALERT_COLS} FROM alert_deliveries d "
            "JOIN alerts a ON a.id = d.alert "
            "WHERE d.subscription = ? AND d.delivered_at IS NULL ORDER BY d.id LIMIT ?",
            (sub_id, limit),
        )
    return [(AlertDelivery(*r[:9]), AlertRow(*r[9:])) for r in rows]


def record_alert_delivered(
    store: Store,
    cursor: Any,
    delivery: AlertDelivery,
    *,
    status: int,
    at: str,
    claimer: str,
    lease_until: str,
) -> None:
    """The receiver answered 2xx: mark the delivery done, clear the failures, renew the lease."""
    cursor.execute(
        store.sql(
            "UPDATE alert_deliveries SET attempts = attempts + 1, last_attempt_at = ?, "
            "status = ?, last_error = NULL, delivered_at = ? WHERE id = ?"
        ),
        (at, status, at, delivery.id),
    )
    cursor.execute(
        store.sql(
            "UPDATE alert_subscriptions SET last_delivered_at = ?, last_error = NULL, "
            "failures = 0, retry_at = NULL, claimed_until = CASE WHEN claimed_by = ? THEN ? "
            "ELSE claimed_until END WHERE id = ?"
        ),
        (at, claimer, lease_until, delivery.subscription),
    )


def record_alert_failure(
    store: Store,
    cursor: Any,
    delivery: AlertDelivery,
    *,
    status: int | None,
    error: str,
    at: str,
    retry_at: str,
) -> None:
    """An attempt failed: note it on the delivery, count it on the subscription, set the retry."""
    cursor.execute(
        store.sql(
            "UPDATE alert_deliveries SET attempts = attempts + 1, last_attempt_at = ?, "
            "status = ?, last_error = ? WHERE id = ?"
        ),
        (at, status, error[:500], delivery.id),
    )
    cursor.execute(
        store.sql(
            "UPDATE alert_subscriptions SET last_error = ?, failures = failures + 1, "
            "retry_at = ? WHERE id = ?"
        ),
        (error[:500], retry_at, delivery.subscription),
    )


def list_alert_deliveries(store: Store, sub_id: str, *, limit: int = 50) -> list[AlertDelivery]:
    """The delivery record of one subscription, newest alert first; NotFound without it."""
    get_alert_subscription(store, sub_id)
    with store.reader() as reader:
        rows = reader.query(
            f"SELECT {_DELIVERY_COLS} FROM alert_deliveries WHERE subscription = ? "
            "ORDER BY alert DESC LIMIT ?",
            (sub_id, limit),
        )
    return [AlertDelivery(*r) for r in rows]
