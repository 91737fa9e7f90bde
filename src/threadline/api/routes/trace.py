"""The traceability questions over HTTP, answering exactly the JSON of the CLI's ``--json``.

Both call the same :mod:`threadline.genealogy` functions and serialise the same ``to_dict()``;
here the genealogy index of the running app (when it holds one) does the walking.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from threadline.api.deps import Services, ServicesDep, Viewer, reads_only
from threadline.api.responses import JSONBody
from threadline.errors import InvalidInput
from threadline.genealogy import recall, trace, where, window
from threadline.genealogy.trace import Direction
from threadline.genealogy.window import parse_time
from threadline.store.base import Reader

router = APIRouter(tags=["traceability"])

IdQuery = Annotated[
    str, Query(min_length=1, max_length=2000, description="EPC URN, Digital Link or other URI")
]
DepthQuery = Annotated[int | None, Query(ge=0, le=10_000, description="Stop after N links")]
LinksQuery = Annotated[bool, Query(description="Also list every link followed (for graphs)")]
_ANSWERS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Not an identifier (a malformed GS1 key, or blank); it is named"},
    404: {"description": "No such object or equipment in the store"},
}


class RecallRequest(BaseModel):
    """The suspect set of a recall."""

    ids: list[Annotated[str, Field(min_length=1, max_length=2000)]] = Field(
        min_length=1, max_length=1000, description="Suspect objects, any GS1 form"
    )


def _answer(services: Services, ask: Callable[[Reader], Any], parameter: str) -> JSONBody:
    try:
        with services.store.reader() as reader:
            return JSONBody(ask(reader).to_dict())
    except InvalidInput as exc:
        if type(exc) is not InvalidInput:
            raise
        # The identifier parser says what is wrong with a value; this says which value it was.
        raise InvalidInput(f"{parameter}: {exc.message}") from None


def _trace(
    services: Services, direction: Direction, identifier: str, depth: int | None, links: bool
) -> JSONBody:
    return _answer(
        services,
        lambda r: trace(
            r, identifier, direction, max_depth=depth, links=links, index=services.index
        ),
        "id",
    )


@router.get("/trace/backward", summary="Everything upstream of an object", responses=_ANSWERS)
def trace_backward(
    services: ServicesDep,
    _caller: Viewer,
    id: IdQuery,
    depth: DepthQuery = None,
    links: LinksQuery = False,
) -> JSONBody:
    return _trace(services, "backward", id, depth, links)


@router.get("/trace/forward", summary="Everything downstream of an object", responses=_ANSWERS)
def trace_forward(
    services: ServicesDep,
    _caller: Viewer,
    id: IdQuery,
    depth: DepthQuery = None,
    links: LinksQuery = False,
) -> JSONBody:
    return _trace(services, "forward", id, depth, links)


@router.post(
    "/recall",
    summary="Recall scope of a suspect set: shipments, customers, stock",
    dependencies=[Depends(reads_only)],
    responses=_ANSWERS,
)
def recall_scope(services: ServicesDep, _caller: Viewer, body: RecallRequest) -> JSONBody:
    return _answer(services, lambda r: recall(r, body.ids, index=services.index), "ids")


@router.get("/where", summary="Where an object is now and in what state", responses=_ANSWERS)
def where_now(services: ServicesDep, _caller: Viewer, id: IdQuery) -> JSONBody:
    return _answer(services, lambda r: where(r, id), "id")


@router.get(
    "/window",
    summary="What ran on a piece of equipment in a time window",
    responses={
        **_ANSWERS,
        400: {"description": "equipment is not an identifier, from or to not a time, to <= from"},
    },
)
def process_window(
    services: ServicesDep,
    _caller: Viewer,
    equipment: Annotated[
        str, Query(min_length=1, max_length=2000, description="Read point or SGLN extension")
    ],
    start: Annotated[str, Query(alias="from", description="ISO-8601 start (inclusive)")],
    end: Annotated[str, Query(alias="to", description="ISO-8601 end (exclusive)")],
) -> JSONBody:
    # Checked here so that the messages name this API's parameters, not the CLI's options.
    lo = parse_time(start, "from")
    if parse_time(end, "to") <= lo:
        raise InvalidInput(f"to ({end}) must be after from ({start})")
    return _answer(services, lambda r: window(r, equipment, start, end), "equipment")
