"""Quality over HTTP: specs, alerts, holds, alert webhook subscriptions.

``GET /specs`` ``GET /alerts`` ``GET /holds`` (viewer); ``POST /specs``,
``POST /alerts/{id}/ack``, ``POST /holds``, ``POST /holds/{id}/release`` (quality). Placing and
releasing a hold is written to the audit log with the hold's reason.

Alert webhooks: ``POST /alerts/subscriptions`` ``{"dest", "secret"?, "kind"?, "equipment"?,
"parameter"?, "site"?}`` (quality; 201 with ``Location``) subscribes ``dest`` to the alerts
raised from then on that pass every filter given; ``DELETE /alerts/subscriptions/{id}``
(quality) ends one. ``GET /alerts/subscriptions``, ``GET /alerts/subscriptions/{id}`` and
``GET /alerts/subscriptions/{id}/deliveries`` (viewer) show them, their pending count and the
delivery record, never the secret. Both writes are audited with the destination. What is
posted, signed and retried: :mod:`threadline.ingest.alert_webhooks`.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypedDict

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from threadline.api.deps import Quality, ServicesDep, Viewer
from threadline.api.responses import JSONBody
from threadline.quality import alerts as alerts_mod
from threadline.quality import holds as holds_mod
from threadline.quality import specs as specs_mod
from threadline.store.auth import Principal

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


class AlertSubscriptionRequest(BaseModel):
    """Where to POST alerts, and which (each filter left out: any)."""

    model_config = ConfigDict(extra="forbid")
    dest: str = Field(description="http(s) URL each alert is POSTed to")
    secret: str | None = Field(
        default=None, description="key of the GS1-Signature HMAC-SHA256 (never shown again)"
    )
    kind: Literal["out_of_spec", "held_material"] | None = None
    equipment: str | None = Field(default=None, description="machine, any identifier form")
    parameter: str | None = Field(default=None, description="e.g. forming_force")
    site: str | None = Field(default=None, description="the site of the readings")


class AlertSubscriptionInfo(BaseModel):
    """An alert subscription as the API shows it (documentation of the answers)."""

    id: str
    dest: str
    signed: bool
    kind: str | None
    equipment: str | None
    parameter: str | None
    site: str | None
    created_at: str
    created_by: str | None
    last_delivered_at: str | None
    last_error: str | None
    failures: int
    retry_at: str | None = Field(description="when a failed delivery is tried again")
    pending: int | None = Field(description="alerts queued and not delivered yet")


class AlertDeliveryInfo(BaseModel):
    """One alert for one subscription (documentation of the answers)."""

    id: int
    subscription: str
    alert: int
    queued_at: str
    attempts: int
    last_attempt_at: str | None
    status: int | None = Field(description="HTTP status of the last attempt")
    last_error: str | None
    delivered_at: str | None


SubscriptionId = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$")]


class _Who(TypedDict):
    user: str | None
    role: str | None
    address: str | None
    request_id: str | None


def _audit_fields(request: Request, caller: Principal) -> _Who:
    """Who asked, from where, in which request: for the audit entry the write appends.

    The route sets ``request.state.audited`` once the write succeeded; a refused one is
    recorded by the audit middleware as usual.
    """
    return {
        "user": caller.actor,
        "role": caller.role.name,
        "address": request.client.host if request.client else None,
        "request_id": getattr(request.state, "request_id", None),
    }


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
    "/alerts/subscriptions",
    status_code=201,
    summary="Subscribe a webhook to alerts",
    response_model=AlertSubscriptionInfo,
    responses={400: {"description": "dest is not an http(s) URL, or a filter is bad"}},
)
async def post_alert_subscription(
    body: AlertSubscriptionRequest, request: Request, services: ServicesDep, caller: Quality
) -> Response:
    who = _audit_fields(request, caller)
    sub = await run_in_threadpool(
        lambda: alerts_mod.subscribe(services.store, **body.model_dump(), **who)
    )
    request.state.audited = True  # subscribe appended its own, more specific entry
    return JSONBody(
        sub.to_dict(), status_code=201, headers={"Location": f"/alerts/subscriptions/{sub.id}"}
    )


@router.get(
    "/alerts/subscriptions",
    summary="Webhook subscriptions to alerts, oldest first",
    response_model=list[AlertSubscriptionInfo],
)
def get_alert_subscriptions(services: ServicesDep, _caller: Viewer) -> Response:
    return JSONBody([s.to_dict() for s in alerts_mod.alert_subscriptions(services.store)])


@router.get(
    "/alerts/subscriptions/{subscription_id}",
    summary="One webhook subscription to alerts",
    response_model=AlertSubscriptionInfo,
    responses={404: {"description": "No alert subscription has this id"}},
)
def get_alert_subscription(
    subscription_id: SubscriptionId, services: ServicesDep, _caller: Viewer
) -> Response:
    return JSONBody(alerts_mod.alert_subscription(services.store, subscription_id).to_dict())


@router.get(
    "/alerts/subscriptions/{subscription_id}/deliveries",
    summary="The delivery record of one alert subscription, newest alert first",
    response_model=list[AlertDeliveryInfo],
    responses={404: {"description": "No alert subscription has this id"}},
)
def get_alert_deliveries(
    subscription_id: SubscriptionId,
    services: ServicesDep,
    _caller: Viewer,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
) -> Response:
    found = alerts_mod.alert_deliveries(services.store, subscription_id, limit=limit)
    return JSONBody([d.to_dict() for d in found])


@router.delete(
    "/alerts/subscriptions/{subscription_id}",
    status_code=204,
    summary="End a webhook subscription to alerts",
    responses={404: {"description": "No alert subscription has this id"}},
)
async def delete_alert_subscription(
    subscription_id: SubscriptionId, request: Request, services: ServicesDep, caller: Quality
) -> Response:
    who = _audit_fields(request, caller)
    await run_in_threadpool(lambda: alerts_mod.unsubscribe(services.store, subscription_id, **who))
    request.state.audited = True  # unsubscribe appended its own, more specific entry
    return Response(status_code=204)


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
