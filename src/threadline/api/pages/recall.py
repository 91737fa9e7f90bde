"""The recall pages: choose suspects, see the recall scope, hold what is in stock, download.

``GET /ui/recall`` (viewer) offers three ways to choose suspects; each is a GET form to
``GET /ui/recall/scope`` so that a scope can be bookmarked and shared. Its parameters (the same
for the downloads and, as hidden fields, for the hold form) are one of:

- ``ids`` (repeated, or one value of several lines): objects in any identifier form;
- ``lot``: a supplier lot code or heat number (or the lot's full identifier);
- ``equipment``, ``from``, ``to``: what ran at a read point in a time window (UTC).

``POST /ui/recall/holds`` (quality) places a hold, with the reason given, on every in-stock
object of the scope that no active hold covers yet (each hold audited by
:func:`~threadline.quality.holds.place_hold`), then returns to the scope page with ``held=N``.
``GET /ui/recall/customers.csv|.xlsx`` and ``/ui/recall/scope.csv|.xlsx`` (viewer) are the
spreadsheets of :mod:`threadline.reports.recall`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from threadline.api.deps import Quality, Services, ServicesDep, Viewer
from threadline.api.pages.common import PageRoute, check_csrf, passport_href, render
from threadline.errors import InvalidInput, NotFound
from threadline.quality.holds import place_hold
from threadline.reports import recall as report
from threadline.web.passport import readable_time
from threadline.web.recall import (
    Gathered,
    Selection,
    build_scope_view,
    gather,
    hold_targets,
    parse_selection,
)

router = APIRouter(tags=["pages"], route_class=PageRoute, include_in_schema=False)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_REASON = 500


@dataclass(frozen=True)
class RawSelection:
    """The selection fields as sent (checked by :func:`parse_selection`, not by FastAPI, so
    that every fault is answered with a page naming the field)."""

    ids: list[str]
    lot: str | None
    equipment: str | None
    start: str | None
    end: str | None

    def parse(self) -> Selection:
        return parse_selection(self.ids, self.lot, self.equipment, self.start, self.end)

    def form(self) -> dict[str, str]:
        """The values to put back into the choice form."""
        return {
            "ids": "\n".join(self.ids),
            "lot": self.lot or "",
            "equipment": self.equipment or "",
            "start": _local_input(self.start),
            "end": _local_input(self.end),
        }


def _local_input(value: str | None) -> str:
    """A time as a ``datetime-local`` field shows it (``2024-01-08T14:13:20``), if it is one."""
    text = (value or "").strip().removesuffix("Z")
    return text.split(".", 1)[0][:19] if len(text) >= 16 and text[10:11] == "T" else ""


async def _query_selection(
    ids: Annotated[list[str] | None, Query()] = None,
    lot: str | None = None,
    equipment: str | None = None,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
) -> RawSelection:
    return RawSelection(ids or [], lot, equipment, start, end)


QuerySelection = Annotated[RawSelection, Depends(_query_selection)]


def _gather(services: Services, selection: Selection) -> Gathered:
    with services.store.reader() as reader:
        return gather(reader, selection, index=services.index)


def _count(value: str | None) -> int | None:
    """A confirmation count from the query string (``held=3``); anything else is ignored."""
    return int(value) if value is not None and value.isdigit() and len(value) < 10 else None


@router.get("/ui/recall", response_model=None)
async def recall_form(request: Request, caller: Viewer) -> Response:
    return render(
        request,
        "recall.html",
        caller,
        error=None,
        form=RawSelection([], None, None, None, None).form(),
    )


@router.get("/ui/recall/scope", response_model=None)
async def recall_scope(
    request: Request,
    services: ServicesDep,
    caller: Viewer,
    raw: QuerySelection,
    held: str | None = None,
    already: str | None = None,
) -> Response:
    try:
        selection = raw.parse()
        gathered = await run_in_threadpool(_gather, services, selection)
    except (InvalidInput, NotFound) as exc:
        # Back to the choice, with what was typed and what is wrong with it.
        return render(
            request, "recall.html", caller, status=exc.status, error=exc.message, form=raw.form()
        )
    view = build_scope_view(gathered, passport_href)
    window = view.window
    return render(
        request,
        "recall_scope.html",
        caller,
        v=view,
        scope_query=selection.query(),
        params=selection.params(),
        held=_count(held),
        already=_count(already) or 0,
        window_from=readable_time(window.start) if window else "",
        window_to=readable_time(window.end) if window else "",
    )


@router.post("/ui/recall/holds", response_model=None)
async def recall_holds(
    request: Request,
    services: ServicesDep,
    caller: Quality,
    csrf: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    ids: Annotated[list[str] | None, Form()] = None,
    lot: Annotated[str | None, Form()] = None,
    equipment: Annotated[str | None, Form()] = None,
    start: Annotated[str | None, Form(alias="from")] = None,
    end: Annotated[str | None, Form(alias="to")] = None,
) -> Response:
    check_csrf(request, caller, csrf)
    selection = RawSelection(ids or [], lot, equipment, start, end).parse()
    reason = reason.strip()
    if not reason:
        raise InvalidInput("reason: say why the material is held")
    if len(reason) > MAX_REASON or "\x00" in reason:
        raise InvalidInput(f"reason: at most {MAX_REASON} characters of text")

    def hold_all() -> tuple[int, int]:
        gathered = _gather(services, selection)
        targets = hold_targets(gathered)
        for key in targets:
            place_hold(services.store, key, reason=reason, user=caller.actor)
        return len(targets), len(gathered.held)

    placed, already = await run_in_threadpool(hold_all)
    request.state.audited = True  # place_hold wrote one audit entry per hold
    url = f"/ui/recall/scope?{selection.query()}&held={placed}"
    if already:
        url += f"&already={already}"
    return RedirectResponse(url, status_code=303)


CSV = "text/csv; charset=utf-8"
# (file, extension) -> (media type, the file made from the gathered scope and its selection)
_FILES: dict[tuple[str, str], tuple[str, Callable[[Gathered, Selection], str | bytes]]] = {
    ("customers", "csv"): (CSV, lambda g, _s: report.customers_csv(g.scope, g.names)),
    ("customers", "xlsx"): (XLSX, lambda g, _s: report.customers_xlsx(g.scope, g.names)),
    ("scope", "csv"): (CSV, lambda g, _s: report.scope_csv(g.scope, g.names)),
    ("scope", "xlsx"): (
        XLSX,
        lambda g, s: report.scope_xlsx(g.scope, g.names, selection=s.describe()),
    ),
}


async def _download(services: Services, raw: RawSelection, name: str, extension: str) -> Response:
    selection = raw.parse()
    media_type, make = _FILES[(name, extension)]

    def build() -> str | bytes:
        return make(_gather(services, selection), selection)

    body = await run_in_threadpool(build)
    filename = f"recall-{name}-{selection.slug()}.{extension}"
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/ui/recall/customers.csv", response_model=None)
async def customers_csv(services: ServicesDep, _caller: Viewer, raw: QuerySelection) -> Response:
    return await _download(services, raw, "customers", "csv")


@router.get("/ui/recall/customers.xlsx", response_model=None)
async def customers_xlsx(services: ServicesDep, _caller: Viewer, raw: QuerySelection) -> Response:
    return await _download(services, raw, "customers", "xlsx")


@router.get("/ui/recall/scope.csv", response_model=None)
async def scope_csv(services: ServicesDep, _caller: Viewer, raw: QuerySelection) -> Response:
    return await _download(services, raw, "scope", "csv")


@router.get("/ui/recall/scope.xlsx", response_model=None)
async def scope_xlsx(services: ServicesDep, _caller: Viewer, raw: QuerySelection) -> Response:
    return await _download(services, raw, "scope", "xlsx")
