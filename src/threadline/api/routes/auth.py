"""Login sessions for people: ``POST /auth/login``, ``POST /auth/logout``, ``GET /auth/me``.

A failed login answers the same 401 whether or not the name exists (and costs the same argon2
work). Repeated failures are throttled per name and client address: from the
``THREADLINE_LOGIN_MAX_FAILURES``-th consecutive failure (default 5) within 15 minutes, that name
is locked for that address for ``THREADLINE_LOGIN_LOCKOUT_SECONDS`` (default 30 s), doubling with
each further failure up to 15 minutes; attempts while locked get 429 with ``Retry-After`` and are
not even checked. A success resets the count. The failures are read from the audit log, so the
lockout holds across restarts and across server processes sharing a store.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from threadline.api.deps import (
    SESSION_COOKIE,
    Services,
    ServicesDep,
    Viewer,
    audit_request,
    client_address,
)
from threadline.api.responses import JSONBody
from threadline.epcis.json_reader import utc_text
from threadline.errors import TooManyRequests, Unauthenticated
from threadline.store import audit
from threadline.store.auth import Principal, User, check_login, close_session, open_session

router = APIRouter(prefix="/auth", tags=["auth"])

WINDOW = timedelta(minutes=15)
MAX_LOCKOUT = 900.0


class LoginRequest(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    password: Annotated[str, Field(min_length=1, max_length=1000)]


class Session(BaseModel):
    name: str
    role: str
    expires: str = Field(description="When the session ends (ISO-8601 UTC)")


class Me(BaseModel):
    name: str
    role: str
    via: str = Field(description="session, token or public")
    token: str | None = Field(description="The token's label, when a token was used")


def lockout_seconds(failures: int, *, max_failures: int, base: float) -> float:
    """How long a name is locked for an address after ``failures`` consecutive failures."""
    if failures < max_failures:
        return 0.0
    return min(base * 2.0 ** (failures - max_failures), MAX_LOCKOUT)


def _remaining_lockout(services: Services, name: str, address: str | None) -> float:
    now = datetime.now(UTC)
    failures = audit.login_failures(
        services.store, name=name, address=address, since=utc_text(now - WINDOW)
    )
    settings = services.settings
    lock = lockout_seconds(
        len(failures), max_failures=settings.login_max_failures, base=settings.login_lockout_seconds
    )
    if not lock:
        return 0.0
    newest = datetime.fromisoformat(failures[0].replace("Z", "+00:00"))
    return max(0.0, (newest + timedelta(seconds=lock) - now).total_seconds())


async def _credentials(request: Request) -> LoginRequest:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    data: Any
    if content_type == "application/json":
        try:
            data = await request.json()
        except ValueError:
            raise RequestValidationError(
                [{"loc": ("body",), "msg": "not valid JSON", "type": "json_invalid"}]
            ) from None
    else:
        form = await request.form()
        data = {key: form.get(key) for key in ("name", "password") if key in form}
        if "name" not in data and "username" in form:  # OAuth2 password-form field name
            data["name"] = form.get("username")
    try:
        return LoginRequest.model_validate(data)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors()]
        raise RequestValidationError(errors) from None


_LOGIN_BODY = {
    "required": True,
    "content": {
        media: {"schema": LoginRequest.model_json_schema()}
        for media in ("application/json", "application/x-www-form-urlencoded")
    },
}


@router.post(
    "/login",
    summary="Log in with name and password (JSON or form); sets the session cookie",
    response_model=Session,
    openapi_extra={"requestBody": _LOGIN_BODY},
    responses={
        401: {"description": "Wrong name or password"},
        422: {"description": "The body is not a name and a password"},
        429: {"description": "Locked"},
    },
)
async def login(request: Request, services: ServicesDep) -> Response:
    given = await _credentials(request)
    user, secret, expires = await sign_in(request, services, given.name, given.password)
    response = JSONBody({"name": user.name, "role": user.role.name, "expires": expires})
    set_session_cookie(response, services, secret)
    return response


async def sign_in(
    request: Request, services: Services, name: str, password: str
) -> tuple[User, str, str]:
    """Check a login (throttled and audited) and open a session: (user, secret, expires).

    Raises :class:`TooManyRequests` while the name is locked for this address and
    :class:`Unauthenticated` for a wrong name or password.
    """
    address = client_address(request)
    remaining = await run_in_threadpool(_remaining_lockout, services, name, address)
    if remaining > 0:
        await run_in_threadpool(
            audit_request,
            request,
            services,
            action="login",
            outcome="throttled",
            actor=name,
            target=name,
        )
        wait = math.ceil(remaining)
        raise TooManyRequests(
            f"too many failed logins for this name from {address}; try again in {wait} s",
            retry_after=wait,
        )
    user = await run_in_threadpool(check_login, services.store, name=name, password=password)
    if user is None:
        await run_in_threadpool(
            audit_request,
            request,
            services,
            action="login",
            outcome="failed",
            actor=name,
            target=name,
        )
        raise Unauthenticated("wrong name or password")
    hours = services.settings.session_hours
    secret, expires = await run_in_threadpool(
        lambda: open_session(services.store, user=user, hours=hours, address=address)
    )
    await run_in_threadpool(
        audit_request,
        request,
        services,
        action="login",
        outcome="ok",
        actor=user.name,
        role=user.role.name,
        target=user.name,
    )
    return user, secret, expires


def set_session_cookie(response: Response, services: Services, secret: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(services.settings.session_hours * 3600),
        path="/",
        httponly=True,
        samesite="lax",
        secure=services.settings.cookie_secure,
    )


def end_session(request: Request, services: Services, caller: Principal) -> bool:
    """Close the caller's session (if a session cookie is how they came), audited."""
    secret = request.cookies.get(SESSION_COOKIE)
    ended = caller.via == "session" and secret is not None and close_session(services.store, secret)
    audit_request(
        request,
        services,
        action="logout",
        outcome="ok" if ended else "no session",
        principal=caller,
        target=caller.name,
    )
    return ended


@router.post("/logout", summary="End the current session", status_code=204)
def logout(request: Request, services: ServicesDep, caller: Viewer) -> Response:
    end_session(request, services, caller)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


@router.get("/me", summary="Who the credentials belong to", response_model=Me)
def me(caller: Viewer) -> JSONBody:
    return JSONBody(
        {
            "name": caller.name,
            "role": caller.role.name,
            "via": caller.via,
            "token": caller.token_label if caller.via == "token" else None,
        }
    )
