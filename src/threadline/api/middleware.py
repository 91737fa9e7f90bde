"""Request ids and the audit record of every write request.

Each response says how long the server took to start it (``Server-Timing: app;dur=<ms>``), which
is what the pages' benchmark reads.

Each request gets an id (the client's ``X-Request-ID`` when it is a sane token, else a fresh
one), echoed in the response and written with every audit entry about the request.

Every request with an unsafe method (POST, PUT, PATCH, DELETE) is written to the audit log
before its response starts, so no client hears "done" about a write that was not recorded:
action ``METHOD /route/template``, outcome ``ok`` or ``error <status>``. Routes that record
their own, more specific entry (login, logout, refusals) or that change nothing (a POST that only
asks a question, marked with :func:`~threadline.api.deps.reads_only`) set a flag on the request
state and are skipped here. A route that commits events can append its audit row in the same
transaction (:func:`threadline.store.audit.append`) and set ``request.state.audited = True``.
Should the audit append itself fail, that is logged loudly and the answer still goes out: the
write it describes has committed, and hiding that from the client would be worse.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from functools import partial
from typing import Any

import anyio.to_thread
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from threadline.store import audit

log = logging.getLogger("threadline.audit")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class AuditMiddleware:
    """ASGI middleware: request ids, and an audit entry for each write request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        state["request_id"] = request_id
        write = scope["method"] not in SAFE_METHODS
        started = False
        began = time.perf_counter()

        async def send_with_audit(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                headers["Server-Timing"] = f"app;dur={(time.perf_counter() - began) * 1000:.2f}"
                if write:
                    await self._record(scope, state, int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, send_with_audit)
        except Exception:
            if write and not started:
                await self._record(scope, state, 500)
            raise

    async def _record(self, scope: Scope, state: dict[str, Any], status: int) -> None:
        if state.get("audited") or state.get("read_only"):
            return
        state["audited"] = True
        services = getattr(scope["app"].state, "services", None)
        if services is None:
            return
        principal = state.get("principal")
        route = scope.get("route")
        template = getattr(route, "path", None) or scope.get("path", "")
        client = scope.get("client")
        entry = dict(
            action=f"{scope['method']} {template}",
            outcome="ok" if status < 400 else f"error {status}",
            actor=principal.actor if principal else None,
            role=principal.role.name if principal else None,
            target=scope.get("path"),
            address=client[0] if client else None,
            request_id=state.get("request_id"),
        )
        try:
            await anyio.to_thread.run_sync(partial(audit.record, services.store, **entry))
        except Exception:  # the write itself is done; a lost audit row must be loud, not fatal
            log.exception("could not record %s in the audit log", entry)
