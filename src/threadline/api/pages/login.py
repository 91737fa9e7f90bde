"""The login and logout pages: a form posting name and password, and a logout button.

They reuse the API's login (:func:`~threadline.api.routes.auth.sign_in`): the same throttling,
the same audit entries, the same session cookie. A successful login goes to ``next`` when it is
a path on this server (never to another site) and to the dashboard otherwise.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from threadline.api.deps import SESSION_COOKIE, ServicesDep, Viewer
from threadline.api.pages.common import PageRoute, check_csrf, render
from threadline.api.routes.auth import end_session, set_session_cookie, sign_in
from threadline.errors import TooManyRequests, Unauthenticated

router = APIRouter(tags=["pages"], route_class=PageRoute, include_in_schema=False)


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this server, else the dashboard (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login", response_model=None)
def login_form(
    request: Request,
    next_: Annotated[str | None, Query(alias="next", max_length=2000)] = None,
) -> Response:
    return render(request, "login.html", None, next=safe_next(next_), error=None, name="")


@router.post("/login", response_model=None)
async def login_submit(
    request: Request,
    services: ServicesDep,
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next_: Annotated[str, Form(alias="next", max_length=2000)] = "/",
) -> Response:
    target = safe_next(next_)
    if not name or not password:
        return render(
            request,
            "login.html",
            None,
            status=400,
            next=target,
            name=name,
            error="Enter your name and your password.",
        )
    try:
        _user, secret, _expires = await sign_in(request, services, name, password)
    except (Unauthenticated, TooManyRequests) as exc:
        return render(
            request,
            "login.html",
            None,
            status=exc.status,
            next=target,
            name=name,
            error=exc.message[:1].upper() + exc.message[1:] + ".",
        )
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, services, secret)
    return response


@router.post("/logout", response_model=None)
def logout_submit(
    request: Request,
    services: ServicesDep,
    caller: Viewer,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, caller, csrf)
    end_session(request, services, caller)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response
