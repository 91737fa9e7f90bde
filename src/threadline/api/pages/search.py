"""``/ui/search?q=TEXT``: one box for a lot code, serial, SSCC, GTIN, scan, Digital Link, order,
customer or heat number; the results grouped by kind (:mod:`threadline.web.search`).

When the text names exactly one stored object (a scanned box label, a full SSCC, a lot code found
under one product only) the page answers ``303`` straight to that object's passport; anything
else, including several matches, is the grouped list.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from threadline.api.deps import ServicesDep, Viewer
from threadline.api.pages.common import PageRoute, passport_href, render
from threadline.web.search import SearchResult, search

router = APIRouter(tags=["pages"], route_class=PageRoute, include_in_schema=False)


@router.get("/ui/search", response_model=None)
async def search_page(
    request: Request,
    services: ServicesDep,
    caller: Viewer,
    q: Annotated[str, Query()] = "",
) -> Response:
    def run() -> SearchResult:
        with services.store.reader() as reader:
            return search(reader, q)

    result = await run_in_threadpool(run) if q.strip() else SearchResult(query="")
    if result.single is not None:
        return RedirectResponse(passport_href(result.single), status_code=303)
    return render(
        request,
        "search.html",
        caller,
        query=result.query,
        result=result,
        link=passport_href,
    )
