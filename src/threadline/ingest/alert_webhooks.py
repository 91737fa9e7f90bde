"""Webhook delivery of alerts: each stored alert POSTed to every subscriber whose filters it passes.

Subscriptions (``POST /alerts/subscriptions``, ``threadline alerts subscribe``) and the rule of
which alert goes to whom are in :mod:`threadline.quality.alerts`. This module posts them.

**Where deliveries come from.** Alerts are raised in several processes: the server (captured
sensor readings, flagged captures of held material) and each ingester (MQTT, OPC UA), which
share only the database. So delivery goes through an *outbox*: the transaction that stores a
new alert also writes one ``alert_deliveries`` row per matching subscription. Nothing about a
receiver is done in that transaction, so a slow or dead endpoint never delays or fails the
storing of readings or alerts.

**Who delivers.** Every process that raises alerts runs one :class:`AlertWebhookDispatcher`
(the server from :func:`threadline.webhooks.start_webhooks`; an ingester from its ``start``
when an :class:`~threadline.quality.alerts.AlertChecker` listens to it), unless
``THREADLINE_WEBHOOK_DELIVERY=0``. A dispatcher posts at once what its own process queued (it
is woken after the commit) and finds what other processes queued by polling the outbox every
:data:`POLL_SECONDS` (one indexed read; the partial index holds only undelivered rows). Any
running dispatcher delivers for every subscription, so alerts an ingester raised still go out
while that ingester is stopped, as long as the server (or another ingester) runs.

**One at a time, in order.** Before posting for a subscription a dispatcher takes its *lease*
(``claimed_by`` until ``claimed_until``, renewed with each delivery): two processes never post
the same subscription's alerts at once, and each subscription receives its alerts in the order
they were stored. A process that dies holding a lease loses it when it runs out
(:data:`LEASE_SECONDS` or three times the timeout, whichever is longer).

**What is posted.** One ``POST`` per alert to the subscription's ``dest``, the body being the
alert as JSON (the same object as the MQTT message on ``threadline/{site}/alerts``: ``id``,
``time``, ``kind``, ``spec``, ``equipment``, ``parameter``, ``reading_time``, ``value``, ``lsl``,
``usl``, ``unit``, ``source``, ``object``, ``site``, ``message``), with headers:

* ``Content-Type: application/json``;
* ``GS1-Signature: sha256=<hex>`` — HMAC-SHA256 of the exact body bytes keyed with the
  subscription's secret (UTF-8), as for EPCIS query subscriptions; absent without a secret;
* ``Threadline-Alert-ID`` (the alert's id, also in the body), ``Threadline-Subscription-ID``,
  ``Threadline-Delivery-Attempt`` (1 for the first try).

**Retries and guarantees.** A 2xx answer marks the delivery done (``delivered_at``); anything
else (a transport error, a timeout, another status) is written to the delivery and to the
subscription (``last_error``, ``failures``) and the subscription waits ``backoff`` seconds,
doubling with each failure in a row up to :data:`MAX_BACKOFF`, before the same alert is tried
again; later alerts wait behind it. There is no last attempt: an alert stays queued until its
receiver takes it or the subscription is removed. Delivery is at least once: a crash between
a receiver's 2xx and the write that records it sends that alert again, so receivers should
deduplicate on the alert id. Delivered rows are kept as the delivery record
(``GET /alerts/subscriptions/{id}/deliveries``). Proxies from the environment are not used.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx

from threadline.config import Settings
from threadline.epcis.json_reader import utc_text
from threadline.quality.alerts import AlertChecker, alert_message, on_deliveries_queued
from threadline.store import subscriptions as db
from threadline.store.auth import transaction
from threadline.store.base import Store
from threadline.store.quality import AlertRow

__all__ = [
    "LEASE_SECONDS",
    "MAX_BACKOFF",
    "POLL_SECONDS",
    "AlertWebhookDispatcher",
    "sign",
    "start_alert_delivery",
]

log = logging.getLogger("threadline.webhooks")

POLL_SECONDS = 1.0
LEASE_SECONDS = 60.0
MAX_BACKOFF = 300.0
BATCH = 100  # deliveries read per round trip to the outbox


def sign(body: bytes, secret: str) -> str:
    """The ``GS1-Signature`` of ``body``: ``sha256=`` + hex HMAC-SHA256 keyed by ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def alert_body(alert: AlertRow) -> bytes:
    """What a subscriber receives for ``alert`` (the MQTT alert message)."""
    return alert_message(asdict(alert))


class AlertWebhookDispatcher:
    """Posts queued alerts to their subscribers from one thread; see the module docstring.

    ``clock`` returns the current UTC time (the lease and the retry times are compared with it
    as stored text, on every process alike).
    """

    def __init__(
        self,
        store: Store,
        *,
        timeout: float = 10.0,
        backoff: float = 1.0,
        poll: float = POLL_SECONDS,
        lease: float | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.timeout = timeout
        self.backoff = max(backoff, 0.01)  # never a busy loop against a dead endpoint
        self.poll = max(poll, 0.01)
        self.lease = lease if lease is not None else max(LEASE_SECONDS, 3 * timeout)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.claimer = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.delivered = 0
        self.failed = 0
        self._wake = threading.Event()
        self._stopping = False
        self._unhook: Callable[[], None] | None = None
        self._thread = threading.Thread(
            target=self._run, name="threadline-alert-webhooks", daemon=True
        )

    # -- control (any thread) ---------------------------------------------------------------------
    def start(self) -> AlertWebhookDispatcher:
        """Start delivering (what is queued already goes first)."""
        self._unhook = on_deliveries_queued(self._queued)
        self._thread.start()
        return self

    def wake(self) -> None:
        """Look at the outbox now rather than at the next poll."""
        self._wake.set()

    def close(self) -> None:
        """Stop; a post in flight finishes or times out first, and the leases are given back."""
        if self._stopping:
            return
        self._stopping = True
        if self._unhook is not None:
            self._unhook()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.timeout + 30)

    def _queued(self, store: Store) -> None:
        if store is self.store:
            self._wake.set()

    # -- the delivery thread ----------------------------------------------------------------------
    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout, follow_redirects=False, trust_env=False) as client:
            while not self._stopping:
                self._wake.clear()
                try:
                    wait = self.deliver_due(client)
                except Exception:  # e.g. the database briefly unreachable: look again later
                    log.exception("alert webhooks: could not read the outbox")
                    wait = self.poll
                if not self._stopping:
                    self._wake.wait(timeout=wait)

    def _now(self, later: float = 0.0) -> str:
        return utc_text(self.clock() + timedelta(seconds=later))

    def _write(self, fn: Callable[[Any], Any]) -> Any:
        """Run ``fn(cursor)`` in a write transaction; None (logged) when that fails."""
        try:
            with transaction(self.store, write=True) as cursor:
                return fn(cursor)
        except Exception:  # bookkeeping must not kill the thread; the outbox keeps the alert
            log.exception("alert webhooks: could not record a delivery")
            return None

    def deliver_due(self, client: httpx.Client) -> float:
        """One round: deliver what is due for every subscription; returns seconds to wait."""
        now = self._now()
        due, later = db.due_alert_subscriptions(self.store, now=now, claimer=self.claimer)
        wait = self.poll
        for sub in due:
            if self._stopping:
                break
            retry_at = self._drain(client, sub)
            if retry_at is not None:
                later = retry_at if later is None else min(later, retry_at)
        if later is not None:
            seconds = (datetime.fromisoformat(later) - self.clock()).total_seconds()
            wait = min(wait, max(seconds, 0.0))
        return wait

    def _drain(self, client: httpx.Client, sub: db.AlertSubscription) -> str | None:
        """Deliver ``sub``'s queue in order until it is empty or a post fails.

        Returns the time of the retry a failure set, else None.
        """
        claimed = self._write(
            lambda cursor: db.claim_alert_subscription(
                self.store, cursor, sub.id, claimer=self.claimer, now=self._now(),
                until=self._now(self.lease),
            )
        )  # fmt: skip
        if not claimed:
            return None  # another process is at it (or the store is away): the poll comes back
        failures = sub.failures
        try:
            while not self._stopping:
                pending = db.pending_alert_deliveries(self.store, sub.id, limit=BATCH)
                if not pending:
                    return None
                for delivery, alert in pending:
                    if self._stopping:
                        return None
                    status, error = self._post(client, sub, delivery, alert)
                    if error is not None:
                        return self._failed(delivery, status, error, failures)
                    done = self._write(partial(self._delivered, delivery, status))
                    self.delivered += 1
                    failures = 0
                    if not done:
                        return None  # not recorded: it will be posted again (at least once)
            return None
        finally:
            self._write(
                lambda cursor: db.release_alert_subscription(
                    self.store, cursor, sub.id, claimer=self.claimer
                )
            )

    def _delivered(self, delivery: db.AlertDelivery, status: int | None, cursor: Any) -> bool:
        db.record_alert_delivered(
            self.store, cursor, delivery, status=status or 200, at=self._now(),
            claimer=self.claimer, lease_until=self._now(self.lease),
        )  # fmt: skip
        return True

    def _post(
        self,
        client: httpx.Client,
        sub: db.AlertSubscription,
        delivery: db.AlertDelivery,
        alert: AlertRow,
    ) -> tuple[int | None, str | None]:
        """Post one alert: (HTTP status or None, None when it was taken, else what went wrong)."""
        body = alert_body(alert)
        headers = {
            "Content-Type": "application/json",
            "Threadline-Alert-ID": str(alert.id),
            "Threadline-Subscription-ID": sub.id,
            "Threadline-Delivery-Attempt": str(delivery.attempts + 1),
        }
        if sub.secret:
            headers["GS1-Signature"] = sign(body, sub.secret)
        try:
            answer = client.post(sub.dest, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        if 200 <= answer.status_code < 300:
            return answer.status_code, None
        return answer.status_code, f"{sub.dest} answered HTTP {answer.status_code}"

    def _failed(
        self, delivery: db.AlertDelivery, status: int | None, error: str, failures: int
    ) -> str:
        self.failed += 1
        delay = min(self.backoff * 2**failures, MAX_BACKOFF)
        retry_at = self._now(delay)
        log.warning(
            "alert %s to subscription %s failed (%s); next try in %g s",
            delivery.alert, delivery.subscription, error, delay,
        )  # fmt: skip
        self._write(
            lambda cursor: db.record_alert_failure(
                self.store, cursor, delivery, status=status, error=error, at=self._now(),
                retry_at=retry_at,
            )
        )  # fmt: skip
        return retry_at


def start_alert_delivery(
    store: Store, listeners: Iterable[object], settings: Settings | None = None
) -> AlertWebhookDispatcher | None:
    """A started dispatcher for an ingester whose ``listeners`` raise alerts, else None.

    Only when an :class:`AlertChecker` is among them and webhook delivery is on
    (``THREADLINE_WEBHOOK_DELIVERY``; timeout and backoff from ``THREADLINE_WEBHOOK_*``).
    """
    if not any(isinstance(listener, AlertChecker) for listener in listeners):
        return None
    settings = settings or Settings.from_env(db=store.describe())
    if not settings.webhook_delivery:
        return None
    return AlertWebhookDispatcher(
        store, timeout=settings.webhook_timeout, backoff=settings.webhook_backoff
    ).start()
