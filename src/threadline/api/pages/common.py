"""What every page shares: HTML errors, the login redirect, the page frame and form checks.

Page routers use :class:`PageRoute`: a :class:`~threadline.errors.ThreadlineError` raised while
answering (a missing object, bad input, a role too low) becomes the error page with its status,
and a caller without credentials is sent to ``/login?next=<this page>`` instead of getting a 401.
The role checks are the API's own (``Viewer``, ``Quality``...): a page offers only what the caller
may do, and the route refuses it anyway if someone posts the form by hand.

Forms that change something carry a ``csrf`` field, a digest of the session secret: the session
cookie is ``SameSite=Lax`` already, and the token makes a forged cross-site post fail even in a
browser that ignores that attribute. Callers using an API token (no cookie) need no token.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.responses import HTMLResponse, RedirectResponse, Response

from threadline.api.deps import SESSION_COOKIE
from threadline.errors import Forbidden, NotFound, ThreadlineError, Unauthenticated
from threadline.store.auth import Principal, Role
from threadline.web import render_page

__all__ = [
    "NAVIGATION",
    "BrowserRoute",
    "NavItem",
    "PageRoute",
    "check_csrf",
    "csrf_token",
    "local_base",
    "passport_href",
    "render",
    "static_root",
]


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    role: Role


# The main menu, with the least role that may open each page.
NAVIGATION = (
    NavItem("Dashboard", "/", Role.viewer),
    NavItem("Search", "/ui/search", Role.viewer),
    NavItem("Recall", "/ui/recall", Role.viewer),
    NavItem("Alerts", "/ui/alerts", Role.viewer),
    NavItem("Holds", "/ui/holds", Role.viewer),
    NavItem("Equipment", "/ui/equipment", Role.viewer),
)


def static_root(request: Request) -> str:
    return f"{request.scope.get('root_path', '')}/static"


def local_base(request: Request) -> str:
    """This server's own address: pages link within it (not to the public resolver domain)."""
    return str(request.base_url).rstrip("/")


def passport_href(key: str) -> str:
    """The in-app address of any object's passport (GS1 key or any other URI)."""
    return f"/ui/passport?id={quote(key, safe='')}"


def csrf_token(request: Request) -> str:
    """The form token of the caller's session ('' for a caller without a session cookie)."""
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return ""
    return hmac.new(secret.encode(), b"threadline-form", hashlib.sha256).hexdigest()[:40]


def check_csrf(request: Request, caller: Principal, given: str | None) -> None:
    """Refuse a form post from a session whose ``csrf`` field is missing or wrong."""
    if caller.via != "session":
        return
    expected = csrf_token(request)
    if not given or not hmac.compare_digest(given, expected):
        raise Forbidden(
            "the form did not come from a current Threadline page (its token is missing or "
            "stale); reload the page and try again"
        )


def render(
    request: Request,
    template: str,
    caller: Principal | None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page in the common frame: menu for ``caller``'s role, search box, form token."""
    role = caller.role if caller is not None and caller.via != "public" else None
    nav = [item for item in NAVIGATION if role is not None and role >= item.role]
    page = render_page(
        template,
        static=static_root(request),
        user=caller if role is not None else None,
        nav=nav,
        here=request.url.path,
        csrf=csrf_token(request),
        may_hold=role is not None and role >= Role.quality,
        **context,
    )
    return HTMLResponse(page, status_code=status, headers=headers)


_HEADINGS = {
    400: "That input is not valid",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    429: "Too many attempts",
}


def error_page(request: Request, exc: ThreadlineError) -> Response:
    """The error page for ``exc`` (a login redirect when credentials are missing)."""
    if isinstance(exc, Unauthenticated) and request.method in ("GET", "HEAD"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    caller = getattr(request.state, "principal", None)
    heading = _HEADINGS.get(exc.status, "Something went wrong")
    if isinstance(exc, NotFound):
        heading = "Not found"
    return render(
        request,
        "error.html",
        caller,
        status=exc.status,
        code=exc.status,
        heading=heading,
        message=exc.message,
        uri=None,
    )


def _prefers_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


class PageRoute(APIRoute):
    """A route answering people: every Threadline error becomes an HTML page."""

    always_html = True

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        always = self.always_html

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except ThreadlineError as exc:
                if always or _prefers_html(request):
                    return error_page(request, exc)
                raise

        return answer


class BrowserRoute(PageRoute):
    """A route for both machines and browsers: HTML errors only when the caller asks for HTML."""

    always_html = False
