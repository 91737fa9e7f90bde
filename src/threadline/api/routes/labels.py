"""Labels over HTTP: ``GET /labels/{id}`` (one label) and ``GET /labels?id=…`` (an A4 sheet).

``symbology`` is ``qr`` (GS1 Digital Link URI), ``datamatrix`` or ``gs1-128`` (element string
with FNC1); ``format`` is ``png``, ``svg`` or ``pdf`` (a printable 100 x 150 mm label). QR codes
point at ``THREADLINE_RESOLVER_BASE`` when set, else at the address the client used to reach
this server, so a label printed from here scans back to here. Any viewer may print labels.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from threadline.api.deps import Services, ServicesDep, Viewer
from threadline.api.routes.resolver import public_base
from threadline.labels import Rendered, render_labels

router = APIRouter(tags=["labels"])

SymbologyQuery = Annotated[
    str,
    Query(
        pattern="^(qr|datamatrix|gs1-128)$",
        description="qr (GS1 Digital Link URI), datamatrix or gs1-128 (element string with FNC1)",
    ),
]
FormatQuery = Annotated[
    str, Query(pattern="^(png|svg|pdf)$", description="png, svg or pdf (100 x 150 mm label)")
]
ScaleQuery = Annotated[int, Query(ge=1, le=40, description="Pixels per module (png, svg)")]
_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The label",
        "content": {"image/png": {}, "image/svg+xml": {}, "application/pdf": {}},
    },
    400: {"description": "Not a GS1 key, or data that fails GS1 validation"},
    404: {"description": "No such object in the store"},
}


def _render(
    services: Services, ids: list[str], symbology: str, fmt: str, base: str, sheet: bool, scale: int
) -> Rendered:
    with services.store.reader() as reader:
        return render_labels(
            reader, ids, symbology=symbology, fmt=fmt, base=base, sheet=sheet, scale=scale
        )


def _file(rendered: Rendered) -> Response:
    return Response(
        rendered.body,
        media_type=rendered.media_type,
        headers={"Content-Disposition": f'inline; filename="{rendered.filename}"'},
    )


@router.get(
    "/labels/{id:path}",
    summary="The label of one lot, box or pallet",
    responses=_ANSWERS,
    response_class=Response,
)
async def label(
    request: Request,
    services: ServicesDep,
    _caller: Viewer,
    id: Annotated[str, Path(description="EPC URN, Digital Link or canonical key")],
    symbology: SymbologyQuery = "qr",
    format: FormatQuery = "png",
    scale: ScaleQuery = 6,
) -> Response:
    base = public_base(services.settings, request)
    rendered = await run_in_threadpool(
        _render, services, [id], symbology, format, base, False, scale
    )
    return _file(rendered)


@router.get(
    "/labels",
    summary="An A4 sheet of small labels (PDF), one per id",
    responses=_ANSWERS,
    response_class=Response,
)
async def label_sheet(
    request: Request,
    services: ServicesDep,
    _caller: Viewer,
    id: Annotated[
        list[str], Query(min_length=1, max_length=500, description="Objects, in print order")
    ],
    symbology: SymbologyQuery = "datamatrix",
) -> Response:
    base = public_base(services.settings, request)
    rendered = await run_in_threadpool(_render, services, id, symbology, "pdf", base, True, 6)
    return _file(rendered)
