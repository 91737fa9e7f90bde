"""``/health``: the one route open to everyone (load balancers, start-up polling)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from threadline.api.deps import ServicesDep
from threadline.api.responses import JSONBody, problem

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    index: bool


@router.get(
    "/health",
    summary="Liveness and store reachability (no credentials needed)",
    response_model=Health,
    responses={503: {"description": "The store cannot be reached"}},
)
async def health(services: ServicesDep) -> Response:
    def probe() -> None:
        with services.store.reader() as reader:
            reader.query("SELECT 1")

    try:
        await run_in_threadpool(probe)
    except Exception:
        return problem("store_unavailable", "the store cannot be reached", 503)
    return JSONBody({"status": "ok", "index": services.index is not None})
