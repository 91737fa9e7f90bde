"""``/``: the dashboard, the first page after signing in (see :mod:`threadline.web.dashboard`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from threadline.api.deps import ServicesDep, Viewer
from threadline.api.pages.common import PageRoute, passport_href, render
from threadline.web.dashboard import build_dashboard

router = APIRouter(tags=["pages"], route_class=PageRoute, include_in_schema=False)


@router.get("/", response_model=None)
async def dashboard(request: Request, services: ServicesDep, caller: Viewer) -> Response:
    board = await run_in_threadpool(lambda: build_dashboard(services.store, link=passport_href))
    return render(request, "dashboard.html", caller, board=board)
