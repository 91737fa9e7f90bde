"""Dependencies shared by the routes: the running services, the caller, role checks.

Every route declares the least role it needs with one of the typed aliases (``Viewer``,
``Operator``, ``Quality``, ``Admin``) or ``Depends(require(role))``; :func:`create_app` refuses
to build an app with a route that does not (``/health`` and the login route excepted). A route
that may be public (the label resolver) uses ``require(Role.viewer, public=True)``: it is open to
callers without credentials only when ``THREADLINE_PUBLIC_RESOLVER=1``.

Credentials: ``Authorization: Bearer <token>`` (machines) or the session cookie set by
``POST /auth/login`` (people). A bearer header wins over a cookie. Missing or invalid credentials
get 401, a role too low 403; both are written to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from threadline.capture import CaptureService
from threadline.config import Settings
from threadline.errors import Forbidden, Unauthenticated
from threadline.genealogy.index import GraphIndex
from threadline.store import audit
from threadline.store.auth import Principal, Role, principal_for_session, principal_for_token
from threadline.store.base import Store

SESSION_COOKIE = "threadline_session"

_bearer = HTTPBearer(auto_error=False, description="An API token from `threadline tokens create`")
_cookie = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="Set by `POST /auth/login`"
)


@dataclass
class Services:
    """What the running app holds: its settings, the open store and the genealogy index."""

    settings: Settings
    store: Store
    index: GraphIndex | None = None
    # The single writer of captures (group commit) and the capture jobs on top of it.
    capture: CaptureService | None = None


async def get_services(request: Request) -> Services:
    # async: FastAPI runs a plain function dependency on the thread pool, a hop per request
    # for what is only an attribute read.
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def request_id(request: Request) -> str | None:
    value = getattr(request.state, "request_id", None)
    return str(value) if value is not None else None


def audit_request(
    request: Request,
    services: Services,
    *,
    action: str,
    outcome: str,
    principal: Principal | None = None,
    actor: str | None = None,
    role: str | None = None,
    target: str | None = None,
    detail: str | None = None,
) -> None:
    """Append an audit entry about this request (and tell the audit middleware it is done)."""
    request.state.audited = True
    audit.record(
        services.store,
        action=action,
        outcome=outcome,
        actor=principal.actor if principal else actor,
        role=principal.role.name if principal else role,
        target=target if target is not None else f"{request.method} {request.url.path}",
        address=client_address(request),
        request_id=request_id(request),
        detail=detail,
    )


class RoleGuard:
    """The dependency :func:`require` returns: the caller, if their role is high enough."""

    def __init__(self, role: Role, *, public: bool = False) -> None:
        self.role = role
        self.public = public

    async def __call__(
        self,
        request: Request,
        services: ServicesDep,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        session: Annotated[str | None, Depends(_cookie)],
    ) -> Principal:
        # Every request passes here. Where the store answers a one-row lookup at once (SQLite:
        # a local read that never waits for writers), it is asked on the event loop: a trip
        # through the thread pool cost more than the lookup, and halved the requests per
        # second of an authenticated route. Audit entries are writes and always go through
        # the pool (a write may wait for the store's write lock).
        if services.store.quick_reads:
            found, why = self._identify(services, bearer, session)
        else:
            found, why = await run_in_threadpool(self._identify, services, bearer, session)
        if found is None:
            await run_in_threadpool(
                lambda: audit_request(
                    request, services, action="refused", outcome="unauthenticated", detail=why
                )
            )
            raise Unauthenticated(why)
        if found.role < self.role:
            await run_in_threadpool(
                lambda: audit_request(
                    request, services, action="refused", outcome="forbidden", principal=found
                )
            )
            raise Forbidden(
                f"{found.actor} has role {found.role.name}; this needs {self.role.name} or higher"
            )
        request.state.principal = found
        return found

    def _identify(
        self,
        services: Services,
        bearer: HTTPAuthorizationCredentials | None,
        session: str | None,
    ) -> tuple[Principal | None, str]:
        """The caller, or None and why not."""
        store = services.store
        if bearer is not None:
            found = principal_for_token(store, bearer.credentials)
            return found, "the API token is not valid (unknown, revoked, or its user disabled)"
        if session:
            found = principal_for_session(store, session)
            return found, "the session has ended or expired; log in again"
        if self.public and services.settings.public_resolver:
            return Principal.public(), ""
        return None, "credentials required: log in, or send Authorization: Bearer <token>"


def require(role: Role, *, public: bool = False) -> RoleGuard:
    """A dependency admitting callers whose role is ``role`` or higher (see module docstring)."""
    return RoleGuard(role, public=public)


async def reads_only(request: Request) -> None:
    """Marks a POST route that changes nothing (``/recall``): not audited as a write."""
    request.state.read_only = True


Viewer = Annotated[Principal, Depends(require(Role.viewer))]
Operator = Annotated[Principal, Depends(require(Role.operator))]
Quality = Annotated[Principal, Depends(require(Role.quality))]
Admin = Annotated[Principal, Depends(require(Role.admin))]
