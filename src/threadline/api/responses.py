"""One JSON body for answers and one error shape for every failure.

Errors follow the EPCIS 2.0 REST binding (RFC 7807 problem details):
``{"type": code, "title": message, "status": n}``, plus the error's own located fields (a
document fault's ``source``, ``index``, ``pointer``; a refused login's ``retry_after``; a request
validation failure's ``errors``) as extension members. The ``type`` is the stable code of the
:class:`~threadline.errors.ThreadlineError` (or ``validation_error``, ``not_found``, ...).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from threadline.errors import ThreadlineError, TooManyRequests, Unauthenticated

log = logging.getLogger("threadline.api")

PROBLEM = "application/problem+json"
_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


class JSONBody(Response):
    """A JSON answer, serialised with orjson (trace answers run to thousands of nodes)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def problem(
    code: str, title: str, status: int, *, headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    body = {"type": code, "title": title, "status": status}
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM, headers=headers)


def _threadline_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ThreadlineError)
    extra = {k: v for k, v in exc.to_dict().items() if k not in ("ok", "status", "code", "error")}
    headers = {}
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    return problem(exc.code, exc.message, exc.status, headers=headers or None, **extra)


def _where(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "path", "header", "cookie"):
        return f"{parts[0]} parameter {'.'.join(parts[1:])!r}"
    if parts and parts[0] == "body":
        return "body" + "".join(f"/{p}" for p in parts[1:])
    return ".".join(parts) or "request"


def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"where": _where(e.get("loc", ())), "message": str(e.get("msg", ""))} for e in exc.errors()
    ]
    title = "; ".join(f"{e['where']}: {e['message']}" for e in errors) or "invalid request"
    return problem("validation_error", title, 422, errors=errors)


def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = dict(exc.headers) if exc.headers else None
    return problem(code, str(exc.detail), exc.status_code, headers=headers)


def _unexpected(request: Request, exc: Exception) -> Response:
    request_id = getattr(request.state, "request_id", None)
    log.error("request %s failed", request_id, exc_info=exc)
    return problem(
        "internal_error",
        f"internal server error (request {request_id}); the server log has the details",
        500,
    )


def install(app: FastAPI) -> None:
    """Render every error of ``app`` in the one problem shape."""
    app.add_exception_handler(ThreadlineError, _threadline_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
