"""``/ui/holds``: holds on lots and containers; placing and releasing one.

Anyone signed in sees the active holds (and the released ones with ``?released=1``); quality and
admin users also get a form to place a hold and one to release each active hold. Placing and
releasing go through :mod:`threadline.quality.holds`, which writes the audit entry in the same
transaction as the hold, as the JSON API does. A form that cannot be carried out (an identifier
the store does not know, no reason, a hold released meanwhile) shows the page again with the
error and what was typed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from threadline.api.deps import Quality, ServicesDep, Viewer
from threadline.api.pages.common import PageRoute, check_csrf, passport_href, render
from threadline.errors import Conflict, InvalidInput, NotFound, ThreadlineError
from threadline.quality import holds as holds_mod
from threadline.store.auth import Principal
from threadline.web.lists import holds_page, row_id

router = APIRouter(tags=["pages"], route_class=PageRoute, include_in_schema=False)

FIELD_MAX = 2000
_DONE = {"placed": "Hold #{id} placed.", "released": "Hold #{id} released."}


def _field(value: str, name: str) -> str:
    """A form field as typed, refused when no identifier or reason could be that long or hold
    a NUL character (PostgreSQL text cannot store one)."""
    if len(value) > FIELD_MAX:
        raise InvalidInput(f"{name} is longer than {FIELD_MAX} characters")
    if "\x00" in value:
        raise InvalidInput(f"{name} holds a NUL character")
    return value


async def _page(
    request: Request,
    services: ServicesDep,
    caller: Principal,
    *,
    released: bool = False,
    status: int = 200,
    notice: str | None = None,
    error: str | None = None,
    error_hold: int | None = None,
    identifier: str = "",
    reason: str = "",
) -> Response:
    page = await run_in_threadpool(
        lambda: holds_page(
            services.store, link=passport_href, show_released=released, index=services.index
        )
    )
    return render(
        request,
        "holds.html",
        caller,
        status=status,
        page=page,
        notice=notice,
        error=error,
        error_hold=error_hold,
        identifier=identifier,
        reason=reason,
    )


@router.get("/ui/holds", response_model=None)
async def holds_list(
    request: Request,
    services: ServicesDep,
    caller: Viewer,
    released: Annotated[str | None, Query()] = None,
    done: Annotated[str | None, Query()] = None,
    id_: Annotated[str | None, Query(alias="id")] = None,
) -> Response:
    number = row_id(id_, "id") if done in _DONE else None
    notice = _DONE[done].format(id=number) if done in _DONE and number is not None else None
    return await _page(
        request, services, caller, released=released in ("1", "true", "yes"), notice=notice
    )


@router.post("/ui/holds", response_model=None)
async def hold_place(
    request: Request,
    services: ServicesDep,
    caller: Quality,
    csrf: Annotated[str, Form()] = "",
    identifier: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, caller, csrf)
    try:
        wanted = _field(identifier, "The identifier").strip()
        why = _field(reason, "The reason")
        if not wanted:
            raise InvalidInput("Enter the lot or container to hold (any identifier form).")
        hold = await run_in_threadpool(
            lambda: holds_mod.place_hold(services.store, wanted, reason=why, user=caller.actor)
        )
    except (InvalidInput, NotFound) as exc:
        return await _failed(request, services, caller, exc, identifier=identifier, reason=reason)
    request.state.audited = True  # place_hold wrote the audit entry
    return RedirectResponse(f"/ui/holds?done=placed&id={hold.id}", status_code=303)


@router.post("/ui/holds/{hold_id}/release", response_model=None)
async def hold_release(
    request: Request,
    services: ServicesDep,
    caller: Quality,
    hold_id: str,
    csrf: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, caller, csrf)
    number = row_id(hold_id, "the hold id")
    assert number is not None  # a path segment is never empty
    try:
        why = _field(reason, "The reason")
        hold = await run_in_threadpool(
            lambda: holds_mod.release_hold(services.store, number, reason=why, user=caller.actor)
        )
    except (InvalidInput, NotFound, Conflict) as exc:
        return await _failed(request, services, caller, exc, error_hold=number)
    request.state.audited = True  # release_hold wrote the audit entry
    return RedirectResponse(f"/ui/holds?done=released&id={hold.id}", status_code=303)


async def _failed(
    request: Request,
    services: ServicesDep,
    caller: Principal,
    exc: ThreadlineError,
    *,
    identifier: str = "",
    reason: str = "",
    error_hold: int | None = None,
) -> Response:
    """The holds page again, with the error beside the form that caused it."""
    message = exc.message.removeprefix("--reason: ")
    message = message[:1].upper() + message[1:]
    return await _page(
        request,
        services,
        caller,
        status=exc.status,
        error=message if message.endswith(".") else message + ".",
        error_hold=error_hold,
        identifier=identifier,
        reason=reason,
    )
