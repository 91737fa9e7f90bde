"""The audit log over HTTP (admin only); ``threadline audit`` on the command line."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from threadline.api.deps import Admin, ServicesDep
from threadline.api.responses import JSONBody
from threadline.store import audit

router = APIRouter(tags=["audit"])


class AuditEntry(BaseModel):
    """One audit entry (documentation: the handler serialises the store's own)."""

    id: int
    time: str
    actor: str | None
    role: str | None
    action: str
    target: str | None
    outcome: str
    address: str | None
    request_id: str | None
    detail: str | None


@router.get(
    "/audit",
    summary="Audit entries, oldest first",
    response_model=list[AuditEntry],
    responses={400: {"description": "since is not an ISO-8601 time"}},
)
def audit_log(
    services: ServicesDep,
    _caller: Admin,
    since: Annotated[str | None, Query(description="ISO-8601 time, inclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="At most the newest N")] = 1000,
) -> JSONBody:
    start = audit.parse_since(since) if since else None
    rows = audit.entries(services.store, since=start, limit=limit)
    return JSONBody([row.to_dict() for row in rows])
