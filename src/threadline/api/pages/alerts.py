"""``/ui/alerts``: the alerts, newest first, and acknowledging one.

Anyone signed in sees the list (open alerts, or all of them with ``?show=all``); quality and
admin users get an Acknowledge button on each open alert, which posts to
``/ui/alerts/{id}/ack`` and comes back to the list with a confirmation.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from threadline.api.deps import Quality, ServicesDep, Viewer, audit_request
from threadline.api.pages.common import PageRoute, check_csrf, passport_href, render
from threadline.errors import InvalidInput
from threadline.quality import alerts as alerts_mod
from threadline.web.lists import Shown, alerts_page, row_id

router = APIRouter(tags=["pages"], route_class=PageRoute, include_in_schema=False)


def shown(raw: str | None) -> Shown:
    if raw in (None, "", "open"):
        return "open"
    if raw == "all":
        return "all"
    raise InvalidInput(f"show must be open or all, not {raw[:40]}")


@router.get("/ui/alerts", response_model=None)
async def alerts_list(
    request: Request,
    services: ServicesDep,
    caller: Viewer,
    show: Annotated[str | None, Query()] = None,
    done: Annotated[str | None, Query()] = None,
    id_: Annotated[str | None, Query(alias="id")] = None,
) -> Response:
    which = shown(show)
    acked = row_id(id_, "id") if done == "acked" else None
    page = await run_in_threadpool(
        lambda: alerts_page(services.store, show=which, link=passport_href)
    )
    notice = f"Alert #{acked} acknowledged." if acked is not None else None
    return render(request, "alerts.html", caller, page=page, notice=notice)


@router.post("/ui/alerts/{alert_id}/ack", response_model=None)
async def alert_ack(
    request: Request,
    services: ServicesDep,
    caller: Quality,
    alert_id: str,
    csrf: Annotated[str, Form()] = "",
    show: Annotated[str, Form()] = "open",
) -> Response:
    check_csrf(request, caller, csrf)
    number = row_id(alert_id, "the alert id")
    assert number is not None  # a path segment is never empty
    which = shown(show)
    alert = await run_in_threadpool(
        lambda: alerts_mod.acknowledge(services.store, number, user=caller.actor)
    )
    await run_in_threadpool(
        lambda: audit_request(
            request,
            services,
            action="ack",
            outcome="ok",
            principal=caller,
            target=f"alert #{alert.id}",
            detail=alert.message[:500],
        )
    )
    return RedirectResponse(f"/ui/alerts?show={which}&done=acked&id={alert.id}", status_code=303)
