"""``/ui/graph?id=KEY&direction=forward|backward|both``: the genealogy graph of any stored object.

The figure is drawn server-side (:mod:`threadline.web.graph`), so the page works without
JavaScript: a counted group is a link to the same page with ``expand=<group id>`` added
(repeatable); ``graph.js`` only swaps the figure in place instead of loading a new page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from threadline.api.deps import ServicesDep, Viewer
from threadline.api.pages.common import PageRoute, render
from threadline.errors import InvalidInput
from threadline.web.graph import MARKS_LIMIT, MAX_CHILDREN, GraphView, build_graph, parse_expand

router = APIRouter(tags=["pages"], route_class=PageRoute, include_in_schema=False)


@router.get("/ui/graph", response_model=None)
async def graph_page(
    request: Request,
    services: ServicesDep,
    caller: Viewer,
    id_: Annotated[str, Query(alias="id")] = "",
    direction: str = "forward",
    expand: Annotated[list[str] | None, Query()] = None,
) -> Response:
    # Checked here rather than by FastAPI so that bad input gets the HTML error page.
    if not id_.strip() or len(id_) > 2000:
        raise InvalidInput(
            "id: give the identifier of one stored object (a lot, serial, SSCC or any URI, "
            "at most 2,000 characters)"
        )
    groups = parse_expand(expand or [])

    def build() -> GraphView:
        with services.store.reader() as reader:
            return build_graph(reader, id_.strip(), direction, expand=groups, index=services.index)

    view = await run_in_threadpool(build)
    return render(
        request, "graph.html", caller, g=view, direction=view.layout.direction,
        max_children=MAX_CHILDREN, marks_limit=MARKS_LIMIT,
    )  # fmt: skip
