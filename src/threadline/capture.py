"""Capture: EPCIS documents and single events arriving over the service, with capture jobs.

A capture is acknowledged only after its events are committed (through the service's
:class:`~threadline.store.group_commit.GroupCommitter`, so concurrent captures share commits).
Each ``POST /capture`` becomes a *capture job* whose document the client can read back.

Error behaviour follows the EPCIS 2.0 REST bindings (``GS1-Capture-Error-Behaviour``):
``rollback`` (the default) stores nothing of a document with any faulty event; ``proceed``
stores the good events and lists the faulty ones in the job's errors.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from threadline.epcis.json_reader import _namespaces, iter_event_objects, parse_event, utc_text
from threadline.epcis.xml_reader import is_xml, xml_document_to_json
from threadline.errors import (
    CaptureLimitExceeded,
    DocumentError,
    InvalidInput,
    NotFound,
    ThreadlineError,
)
from threadline.model.events import AnyEvent
from threadline.quality.alerts import AlertChecker
from threadline.quality.holds import HoldGuard
from threadline.service import keep_namespaces
from threadline.store.base import AppendResult, Store
from threadline.store.group_commit import AlsoWrite, GroupCommitter
from threadline.store.readings import reading_rows

Behaviour = Literal["rollback", "proceed"]


@dataclass(frozen=True)
class CaptureLimits:
    """What the service advertises in ``GS1-EPCIS-Capture-Limit`` / ``...-File-Size-Limit``."""

    max_events: int = 10_000
    max_bytes: int = 16 * 1024 * 1024


@dataclass
class ParsedCapture:
    events: list[AnyEvent]
    faults: list[DocumentError]
    received: int


def parse_capture(data: bytes, *, limits: CaptureLimits, source: str = "request") -> ParsedCapture:
    """Read an EPCIS document (JSON-LD or XML, told apart by content) event by event.

    Document-level faults raise :class:`DocumentError`; faulty events are collected (located
    by index and pointer) so that the caller can apply its error behaviour.
    """
    if len(data) > limits.max_bytes:
        raise CaptureLimitExceeded(
            f"the document is {len(data):,} bytes; this service accepts at most "
            f"{limits.max_bytes:,} bytes per capture"
        )
    if is_xml(data):
        document: Any = xml_document_to_json(data, source=source)
    else:
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise DocumentError(f"not valid JSON: {exc}", source=source) from None
    if not isinstance(document, dict) or document.get("type") not in (
        "EPCISDocument",
        "EPCISQueryDocument",
    ):
        raise DocumentError(
            "the body must be an EPCISDocument (type EPCISDocument)", source=source, pointer="/type"
        )
    base, raw_events = iter_event_objects(document)
    if len(raw_events) > limits.max_events:
        raise CaptureLimitExceeded(
            f"the document holds {len(raw_events):,} events; this service accepts at most "
            f"{limits.max_events:,} events per capture"
        )
    namespaces = _namespaces(document.get("@context"))
    events: list[AnyEvent] = []
    faults: list[DocumentError] = []
    for i, obj in enumerate(raw_events):
        try:
            events.append(parse_event(obj, index=i, pointer=f"{base}/{i}", namespaces=namespaces))
        except DocumentError as exc:
            faults.append(exc.located(source=source))
    # Stored one by one, events keep the prefixes their document's @context defines.
    kept = list(keep_namespaces(events, document.get("@context")))
    return ParsedCapture(kept, faults, len(raw_events))


def parse_single_event(data: bytes, *, limits: CaptureLimits) -> AnyEvent:
    """One EPCIS event posted on its own (``POST /events``), JSON-LD."""
    if len(data) > limits.max_bytes:
        raise CaptureLimitExceeded(f"the event is larger than {limits.max_bytes:,} bytes")
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DocumentError(f"not valid JSON: {exc}", source="request") from None
    if isinstance(obj, dict) and obj.get("type") in ("EPCISDocument", "EPCISQueryDocument"):
        raise InvalidInput("POST /events takes one event; send documents to /capture")
    context = obj.get("@context") if isinstance(obj, dict) else None
    return parse_event(obj, index=0, pointer="", namespaces=_namespaces(context))


def _fault_json(fault: DocumentError) -> dict[str, Any]:
    return {
        "type": "epcisException:ValidationException",
        "title": fault.message,
        "status": 400,
        "index": fault.index,
        "pointer": fault.pointer,
    }


class CaptureService:
    """Runs capture jobs against a store through its group committer."""

    def __init__(
        self,
        store: Store,
        committer: GroupCommitter,
        limits: CaptureLimits | None = None,
        *,
        guard: HoldGuard | None = None,
        alerts: AlertChecker | None = None,
    ) -> None:
        self.store = store
        self.committer = committer
        self.limits = limits or CaptureLimits()
        # Error-proofing against held material, and spec checks of captured sensor readings.
        self.alerts = alerts or AlertChecker()
        self.guard = guard or HoldGuard(alerts=self.alerts)

    def _after_commit(self, events: list[AnyEvent], flagged: list[Any], user: str | None) -> None:
        self.guard.flag(self.store, flagged, user=user)
        sensing = [e for e in events if e.sensor_elements]
        if sensing:
            readings = [r for e in sensing for r in reading_rows(e, None)]
            self.alerts.check(self.store, readings)

    def capture(
        self,
        data: bytes,
        *,
        behaviour: Behaviour = "rollback",
        user: str | None = None,
        audit: Callable[[Any, dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Capture a document; returns the finished job document.

        The events, the job document and (through ``audit``) the audit entry commit in one
        transaction, shared with whatever else the group committer is writing at that moment;
        ``audit(cursor, job)`` writes the audit entry of the request in it.
        Faults of the document as a whole raise (HTTP 400/413) and create no job; event faults
        under ``rollback`` produce a failed job with nothing stored.
        """
        if behaviour not in ("rollback", "proceed"):
            raise InvalidInput(
                f"GS1-Capture-Error-Behaviour must be rollback or proceed, got {behaviour!r}"
            )
        parsed = parse_capture(data, limits=self.limits)
        job: dict[str, Any] = {
            "captureID": str(uuid.uuid4()),
            "createdAt": utc_text(datetime.now(UTC)),
            "running": False,
            "captureErrorBehaviour": behaviour,
            "eventsReceived": parsed.received,
        }
        errors = [_fault_json(f) for f in parsed.faults]
        storing = parsed.events if behaviour == "proceed" or not parsed.faults else []
        flagged = self.guard.check(self.store, storing, user=user)  # HeldMaterial: 409

        def finish(cursor: Any, result: AppendResult, problems: list[dict[str, Any]]) -> None:
            job.update(
                finishedAt=utc_text(datetime.now(UTC)),
                success=not problems,
                eventsCaptured=result.inserted,
                duplicates=result.duplicates,
                errors=problems,
            )
            self._save(cursor, job, user)
            if audit is not None:
                audit(cursor, job)

        try:
            self.committer.append(storing, also=lambda cur, res: finish(cur, res, errors))
        except ThreadlineError as exc:
            failure = {"type": exc.code, "title": exc.message, "status": exc.status}
            self.committer.append([], also=lambda cur, res: finish(cur, res, [*errors, failure]))
        else:
            self._after_commit(storing, flagged, user)
        return job

    def capture_event(
        self, data: bytes, *, audit: AlsoWrite | None = None, user: str | None = None
    ) -> tuple[AnyEvent, AppendResult]:
        """``POST /events``: one event, committed (with its audit entry) before this returns."""
        event = parse_single_event(data, limits=self.limits)
        flagged = self.guard.check(self.store, [event], user=user)  # HeldMaterial: 409
        result = self.committer.append([event], also=audit)
        self._after_commit([event], flagged, user)
        return event, result

    # -- jobs ------------------------------------------------------------------------------------
    def _save(self, cursor: Any, job: dict[str, Any], user: str | None) -> None:
        cursor.execute(
            self.store.sql(
                "INSERT INTO capture_jobs (id, created_at, finished_at, running, success, "
                "behaviour, received, captured, username, doc) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {self.store.json_param()})"
            ),
            (
                job["captureID"],
                job["createdAt"],
                job["finishedAt"],
                job["running"],
                job["success"],
                job["captureErrorBehaviour"],
                job["eventsReceived"],
                job["eventsCaptured"],
                user,
                orjson.dumps(job).decode(),
            ),
        )

    def job(self, job_id: str) -> dict[str, Any]:
        with self.store.reader() as reader:
            rows = reader.query("SELECT doc FROM capture_jobs WHERE id = ?", (job_id,))
        if not rows:
            raise NotFound(f"no capture job {job_id!r}")
        doc: dict[str, Any] = self.store.load_json(rows[0][0])
        return doc

    def jobs(self, *, limit: int = 30, before: str | None = None) -> list[dict[str, Any]]:
        """Newest first; ``before`` is a createdAt/id cursor from the previous page."""
        sql = "SELECT doc, created_at, id FROM capture_jobs"
        params: list[Any] = []
        if before:
            created, _, job_id = before.partition("|")
            sql += " WHERE created_at < ? OR (created_at = ? AND id < ?)"
            params += [created, created, job_id]
        sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
        params.append(limit)
        with self.store.reader() as reader:
            rows = reader.query(sql, params)
        return [self.store.load_json(r[0]) for r in rows]


def job_cursor(job: dict[str, Any]) -> str:
    return f"{job['createdAt']}|{job['captureID']}"
