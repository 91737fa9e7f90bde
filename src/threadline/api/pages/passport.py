"""``/ui/passport?id=KEY``: the passport page of any stored object, by any of its identifiers.

GS1 keys also have their Digital Link address (the resolver shows the same page); this route
serves every other identifier too (a party, a location, a production order URI).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from threadline.api.deps import ServicesDep, Viewer
from threadline.api.pages.common import PageRoute, local_base, render
from threadline.web import build_passport

router = APIRouter(tags=["pages"], route_class=PageRoute, include_in_schema=False)


@router.get("/ui/passport", response_model=None)
async def passport_page(
    request: Request,
    services: ServicesDep,
    caller: Viewer,
    id_: Annotated[str, Query(alias="id", min_length=1, max_length=2000)],
) -> Response:
    base = local_base(request)

    def build() -> object:
        with services.store.reader() as reader:
            return build_passport(reader, id_, base=base, index=services.index)

    passport = await run_in_threadpool(build)
    return render(request, "passport.html", caller, p=passport)
