"""Scans over HTTP: ``POST /scans`` ``{"station", "data", "time"?}`` (operator).

The scan becomes an EPCIS ObjectEvent (OBSERVE) from the station's configuration
(:mod:`threadline.ingest.scans`), committed through the service's single writer before the
answer: 201 with the event when it is new, 200 when the same scan (same station, data and time)
was stored before. An unknown station or data that is not GS1 data is a 400 naming the fault.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from threadline.api.deps import Operator, ServicesDep, client_address, request_id
from threadline.api.responses import JSONBody
from threadline.errors import StoreError
from threadline.ingest.scans import ScanResult, scan_event
from threadline.ingest.stations import get_station
from threadline.store import audit
from threadline.store.base import AppendResult

router = APIRouter(tags=["scans"])


class ScanRequest(BaseModel):
    """One scan at a station."""

    model_config = ConfigDict(extra="forbid")
    station: str = Field(description="the station's id (`threadline stations list`)")
    data: str = Field(
        description="raw scan data: with a symbology identifier (]d2, ]C1, ]Q1...), a GS1 "
        "Digital Link URI, or an element string such as (01)...(10)..."
    )
    time: str | None = Field(
        default=None, description="scan time, ISO-8601 with a zone (default: now)"
    )


class ScanAnswer(BaseModel):
    """The recorded scan: its event and what it identified."""

    eventID: str = Field(description="the event's eventID (the CBV 2.0 event hash)")
    stored: bool = Field(description="false when the same scan was stored before")
    station: str
    id: str = Field(description="the scanned identifier, canonical GS1 Digital Link form")
    kind: str = Field(description="sgtin, lgtin, gtin, sscc, sgln, grai, giai, ...")
    event: dict[str, Any] = Field(description="the EPCIS ObjectEvent as stored")


@router.post(
    "/scans",
    status_code=201,
    summary="Record a scan at a station as an EPCIS ObjectEvent; answered after commit",
    response_model=ScanAnswer,
    responses={
        200: {"model": ScanAnswer, "description": "The same scan was stored before"},
        400: {"description": "Unknown station, or data that is not GS1 data (the fault named)"},
    },
)
async def post_scan(
    body: ScanRequest, request: Request, services: ServicesDep, caller: Operator
) -> Response:
    capture = services.capture
    if capture is None:  # the lifespan always sets it
        raise StoreError("scans are not available: the service has no writer")
    store = services.store

    def record() -> ScanResult:
        station = get_station(store, body.station)
        event, item = scan_event(station, body.data, body.time)

        def audited(cursor: Any, result: AppendResult) -> None:
            # Written in the scan's own transaction, as captures are.
            request.state.audited = True
            audit.append(
                store,
                cursor,
                action="POST /scans",
                outcome="ok" if result.inserted else "duplicate",
                actor=caller.actor,
                role=caller.role.name,
                target=f"/scans {station.id}",
                address=client_address(request),
                request_id=request_id(request),
                detail=f"{item.kind} {item.id} -> {event.event_id}",
            )

        result = capture.committer.append([event], also=audited)
        return ScanResult(event.event_id, result.inserted > 0, station.id, item, event.raw)

    result = await run_in_threadpool(record)
    return JSONBody(result.to_dict(), status_code=201 if result.stored else 200)
