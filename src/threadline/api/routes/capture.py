"""EPCIS 2.0 capture over HTTP: ``/capture`` (documents, capture jobs) and ``POST /events``.

Every capture is answered only after its events are committed: the request waits for the
service's group committer, which lets concurrent requests share one transaction and one fsync.
Limits are advertised in ``GS1-EPCIS-Capture-Limit`` (events) and
``GS1-EPCIS-Capture-File-Size-Limit`` (bytes); a larger request gets 413 before its body is read.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from threadline.api.deps import Operator, ServicesDep, Viewer, client_address, request_id
from threadline.api.responses import JSONBody, problem
from threadline.capture import CaptureService, job_cursor
from threadline.errors import CaptureLimitExceeded, Conflict, StoreError
from threadline.store import audit
from threadline.store.auth import Principal
from threadline.store.base import AppendResult

router = APIRouter(tags=["capture"])

EPCIS_HEADERS = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}


class CaptureJob(BaseModel):
    """A capture job as the EPCIS REST binding shows it (documentation of the answers)."""

    captureID: str
    createdAt: str
    finishedAt: str | None = None
    running: bool
    success: bool | None = None
    captureErrorBehaviour: str = Field(description="rollback or proceed")
    eventsReceived: int
    eventsCaptured: int | None = None
    duplicates: int | None = Field(default=None, description="Events that were stored before")
    errors: list[dict[str, Any]] = Field(
        default_factory=list, description="One problem per faulty event, located"
    )


def _service(services: ServicesDep) -> CaptureService:
    capture = services.capture
    if capture is None:  # the lifespan always sets it; a clear error beats an AttributeError
        raise StoreError("capture is not available: the service has no writer")
    return capture


def _limit_headers(capture: CaptureService) -> dict[str, str]:
    return {
        **EPCIS_HEADERS,
        "GS1-EPCIS-Capture-Limit": str(capture.limits.max_events),
        "GS1-EPCIS-Capture-File-Size-Limit": str(capture.limits.max_bytes),
    }


async def _body(request: Request, capture: CaptureService) -> bytes:
    declared = request.headers.get("content-length")
    if (
        declared
        and declared.isascii()
        and declared.isdigit()
        and int(declared) > capture.limits.max_bytes
    ):
        raise CaptureLimitExceeded(
            f"the body is {int(declared):,} bytes; this service accepts at most "
            f"{capture.limits.max_bytes:,} bytes per capture"
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > capture.limits.max_bytes:
            raise CaptureLimitExceeded(
                f"the body exceeds {capture.limits.max_bytes:,} bytes, the limit per capture"
            )
    return bytes(body)


def _audit_entry(
    request: Request, caller: Principal, outcome: str, detail: str, cursor: Any
) -> None:
    # Written in the transaction of the capture itself: no extra commit per request, and the
    # record of the write commits exactly when the write does.
    request.state.audited = True
    route = request.scope.get("route")
    audit.append(
        request.app.state.services.store,
        cursor,
        action=f"{request.method} {getattr(route, 'path', request.url.path)}",
        outcome=outcome,
        actor=caller.actor,
        role=caller.role.name,
        target=request.url.path,
        address=client_address(request),
        request_id=request_id(request),
        detail=detail,
    )


@router.options("/capture", summary="Capture limits and allowed methods", status_code=204)
def capture_options(services: ServicesDep, _caller: Viewer) -> Response:
    headers = _limit_headers(_service(services))
    headers["Allow"] = "OPTIONS, GET, POST"
    return Response(status_code=204, headers=headers)


@router.post(
    "/capture",
    status_code=202,
    summary="Capture an EPCIS document (JSON-LD or XML); answered after commit",
    response_model=CaptureJob,
    responses={
        400: {"description": "The document is faulty, or no event in it could be captured"},
        413: {"description": "More events or bytes than the advertised limits"},
    },
)
async def capture_document(
    request: Request,
    services: ServicesDep,
    caller: Operator,
    behaviour: Annotated[
        str,
        Header(
            alias="GS1-Capture-Error-Behaviour",
            description="rollback (default): all or nothing; proceed: store the good events",
        ),
    ] = "rollback",
) -> Response:
    capture = _service(services)
    body = await _body(request, capture)

    def audited(cursor: Any, job: dict[str, Any]) -> None:
        outcome = "ok" if job["success"] else ("partial" if job["eventsCaptured"] else "rejected")
        detail = (
            f"capture {job['captureID']}: {job['eventsCaptured']} of {job['eventsReceived']} "
            f"events stored, {job['duplicates']} already stored, {len(job['errors'])} faults"
        )
        _audit_entry(request, caller, outcome, detail, cursor)

    job = await run_in_threadpool(
        lambda: capture.capture(
            body,
            behaviour=behaviour,  # type: ignore[arg-type]  # checked by capture()
            user=caller.actor,
            audit=audited,
        )
    )
    headers = _limit_headers(capture)
    headers["Location"] = f"/capture/{job['captureID']}"
    if not job["success"] and job["eventsCaptured"] == 0 and job["errors"]:
        # Nothing was stored: say so now rather than only in the job document.
        first = job["errors"][0]
        return problem(
            "ValidationException",
            f"no events were captured: {first['title']}",
            400,
            headers=headers,
            captureID=job["captureID"],
            errors=job["errors"],
        )
    return JSONBody(job, status_code=202, headers=headers)


@router.get("/capture", summary="Capture jobs, newest first", response_model=list[CaptureJob])
def capture_jobs(
    services: ServicesDep,
    _caller: Viewer,
    per_page: Annotated[int, Query(alias="perPage", ge=1, le=1000)] = 30,
    next_page_token: Annotated[str | None, Query(alias="nextPageToken")] = None,
) -> Response:
    capture = _service(services)
    jobs = capture.jobs(limit=per_page + 1, before=next_page_token)
    headers = dict(EPCIS_HEADERS)
    if len(jobs) > per_page:
        jobs = jobs[:per_page]
        token = quote(job_cursor(jobs[-1]), safe="")
        headers["Link"] = f'</capture?perPage={per_page}&nextPageToken={token}>; rel="next"'
    return JSONBody(jobs, headers=headers)


@router.get(
    "/capture/{capture_id}",
    summary="One capture job",
    response_model=CaptureJob,
    responses={404: {"description": "No capture job has this id"}},
)
def capture_job(capture_id: str, services: ServicesDep, _caller: Viewer) -> Response:
    return JSONBody(_service(services).job(capture_id), headers=dict(EPCIS_HEADERS))


@router.post(
    "/events",
    status_code=201,
    summary="Capture one EPCIS event; answered after commit",
    response_class=Response,  # 201 with a Location header and no body
    responses={
        400: {"description": "The event is faulty (the fault is located)"},
        409: {"description": "An event with this eventID is stored"},
        413: {"description": "The event is larger than the advertised limit"},
    },
)
async def capture_event(request: Request, services: ServicesDep, caller: Operator) -> Response:
    capture = _service(services)
    body = await _body(request, capture)

    def audited(cursor: Any, result: AppendResult) -> None:
        outcome = "ok" if result.inserted else "duplicate"
        _audit_entry(request, caller, outcome, f"{result.inserted} event stored", cursor)

    event, result = await run_in_threadpool(lambda: capture.capture_event(body, audit=audited))
    if result.inserted == 0:
        raise Conflict(f"event {event.event_id} is already stored")
    headers = {**EPCIS_HEADERS, "Location": f"/events/{quote(event.event_id, safe='')}"}
    return Response(status_code=201, headers=headers)
