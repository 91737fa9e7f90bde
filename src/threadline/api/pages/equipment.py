"""The equipment pages: ``/ui/equipment`` (every machine and how its process is doing) and
``/ui/equipment/{equipment}`` (one machine's parameter trends, alerts and lots in a window)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from threadline.api.deps import ServicesDep, Viewer
from threadline.api.pages.common import PageRoute, render
from threadline.web.equipment import (
    DRIFT_SHARE,
    DRIFT_WINDOW,
    SHIFT_SHARE,
    EquipmentPage,
    MachineRow,
    build_equipment_page,
    equipment_list,
)

router = APIRouter(tags=["pages"], route_class=PageRoute, include_in_schema=False)

_RULES = {"window": DRIFT_WINDOW, "drift_share": DRIFT_SHARE, "shift_share": SHIFT_SHARE}


@router.get("/ui/equipment", response_model=None)
async def equipment_list_page(request: Request, services: ServicesDep, caller: Viewer) -> Response:
    def build() -> list[MachineRow]:
        with services.store.reader() as reader:
            return equipment_list(reader)

    rows = await run_in_threadpool(build)
    return render(request, "equipment_list.html", caller, rows=rows, rules=_RULES)


@router.get("/ui/equipment/{equipment:path}", response_model=None)
async def equipment_page(
    request: Request,
    services: ServicesDep,
    caller: Viewer,
    equipment: str,
    parameter: Annotated[str, Query(max_length=200)] = "",
    from_: Annotated[str, Query(alias="from", max_length=64)] = "",
    to: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    def build() -> EquipmentPage:
        with services.store.reader() as reader:
            return build_equipment_page(
                reader, equipment, parameter=parameter, start=from_ or None, end=to or None
            )

    page = await run_in_threadpool(build)
    return render(request, "equipment.html", caller, p=page, rules=_RULES)
