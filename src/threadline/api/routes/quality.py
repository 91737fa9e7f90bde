"""Quality over HTTP: specs, alerts, holds.

``GET /specs`` ``GET /alerts`` ``GET /holds`` (viewer); ``POST /specs``,
``POST /alerts/{id}/ack``, ``POST /holds``, ``POST /holds/{id}/release`` (quality). Placing and
releasing a hold is written to the audit log with the hold's reason.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from threadline.api.deps import Quality, ServicesDep, Viewer
from threadline.api.responses import JSONBody
from threadline.quality import alerts as alerts_mod
from threadline.quality import holds as holds_mod
from threadline.quality import specs as specs_mod

router = APIRouter(tags=["quality"])

# Row ids are 64-bit: a larger number names nothing (and must not reach the database as one).
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class SpecRequest(BaseModel):
    """Limits of one parameter, for one product and/or equipment (omitted: any)."""

    model_config = ConfigDict(extra="forbid")
    parameter: str
    product: str | None = None
    equipment: str | None = Field(default=None, description="machine or operation")
    lsl: float | None = None
    usl: float | None = None
    target: float | None = None
    unit: str | None = None


class HoldRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    object: str = Field(description="the lot or container to hold, any identifier form")
    reason: str


class ReleaseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str


@router.get(
    "/specs",
    summary="Specification limits",
    responses={400: {"description": "A bad parameter or equipment identifier"}},
)
def get_specs(
    services: ServicesDep,
    _caller: Viewer,
    parameter: str | None = None,
    equipment: str | None = None,
) -> Response:
    found = specs_mod.list_specs(services.store, parameter=parameter, equipment=equipment)
    return JSONBody([s.to_dict() for s in found])


@router.post(
    "/specs",
    status_code=201,
    summary="Create or replace a spec",
    responses={400: {"description": "Bad limits (none, LSL above USL, target outside)"}},
)
async def post_spec(body: SpecRequest, services: ServicesDep, caller: Quality) -> Response:
    spec = await run_in_threadpool(
        lambda: specs_mod.set_spec(services.store, **body.model_dump(), user=caller.actor)
    )
    return JSONBody(spec.to_dict(), status_code=201)


@router.get(
    "/alerts",
    summary="Alerts, newest first",
    responses={400: {"description": "A query parameter the store cannot hold (NUL)"}},
)
def get_alerts(
    services: ServicesDep,
    _caller: Viewer,
    unacked: bool = False,
    kind: Literal["out_of_spec", "held_material"] | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> Response:
    found = alerts_mod.list_alerts(services.store, limit=limit, unacked=unacked, kind=kind)
    return JSONBody([a.to_dict() for a in found])


@router.post(
    "/alerts/{alert_id}/ack",
    summary="Acknowledge an alert",
    responses={404: {"description": "No alert has this id"}},
)
def ack_alert(alert_id: RowId, services: ServicesDep, caller: Quality) -> Response:
    return JSONBody(alerts_mod.acknowledge(services.store, alert_id, user=caller.actor).to_dict())


@router.get(
    "/holds",
    summary="Active holds, or the holds covering one object",
    responses={400: {"description": "The object is not a valid identifier"}},
)
def get_holds(
    services: ServicesDep,
    _caller: Viewer,
    object: Annotated[str | None, Query(description="is this object held?")] = None,
    all: bool = False,
) -> Response:
    if object is not None:
        with services.store.reader() as reader:
            covering = holds_mod.holds_on(reader, object, index=services.index)
        return JSONBody({"object": object, "on_hold": bool(covering), "holds": covering})
    found = holds_mod.list_holds(services.store, active_only=not all)
    return JSONBody([h.to_dict() for h in found])


@router.post(
    "/holds",
    status_code=201,
    summary="Put a lot or container (and everything downstream of it) on hold",
    responses={
        400: {"description": "No reason, or a bad identifier"},
        404: {"description": "The object is not in the store"},
    },
)
async def post_hold(
    body: HoldRequest, request: Request, services: ServicesDep, caller: Quality
) -> Response:
    hold = await run_in_threadpool(
        lambda: holds_mod.place_hold(
            services.store, body.object, reason=body.reason, user=caller.actor
        )
    )
    request.state.audited = True  # place_hold wrote the audit entry
    return JSONBody(hold.to_dict(), status_code=201)


@router.post(
    "/holds/{hold_id}/release",
    summary="Release a hold",
    responses={
        400: {"description": "No reason given"},
        404: {"description": "No hold has this id"},
        409: {"description": "The hold was released before"},
    },
)
async def release_hold(
    hold_id: RowId, body: ReleaseRequest, request: Request, services: ServicesDep, caller: Quality
) -> Response:
    hold = await run_in_threadpool(
        lambda: holds_mod.release_hold(
            services.store, hold_id, reason=body.reason, user=caller.actor
        )
    )
    request.state.audited = True  # release_hold wrote the audit entry
    return JSONBody(hold.to_dict())
