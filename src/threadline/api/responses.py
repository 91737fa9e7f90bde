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
import psycopg
import sqlalchemy.exc
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


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        # FastAPI's answer to a JSON body that is not text says only "error parsing the body";
        # this is the same kind of fault as JSON that does not parse, and is answered alike.
        fault = f"not UTF-8 text (byte 0x{cause.object[cause.start]:02x} at offset {cause.start})"
        invalid = RequestValidationError([{"loc": ("body",), "msg": fault, "type": "json_invalid"}])
        return _validation_error(request, invalid)
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


def _nul_where(request: Request) -> str:
    for name, value in request.query_params.multi_items():
        if "\x00" in value or "\x00" in name:
            return f"query parameter {name!r}"
    for name, value in request.path_params.items():
        if "\x00" in str(value):
            return f"path parameter {name!r}"
    for name, value in request.headers.items():
        if "\x00" in value:
            return f"header {name}"
    return "the body"


def _data_error(request: Request, exc: Exception) -> Response:
    fault = exc.orig if isinstance(exc, sqlalchemy.exc.DBAPIError) else exc
    # psycopg refuses, before anything reaches the server, text holding a NUL character (which
    # PostgreSQL text cannot hold; SQLite can): that is the request's fault, not the server's.
    if isinstance(fault, psycopg.DataError) and "NUL" in str(fault):
        return problem(
            "invalid_input",
            f"{_nul_where(request)} holds a NUL character (\\x00), which names and "
            "identifiers may not contain",
            400,
        )
    return _unexpected(request, exc)


def install(app: FastAPI) -> None:
    """Render every error of ``app`` in the one problem shape."""
    app.add_exception_handler(ThreadlineError, _threadline_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(psycopg.DataError, _data_error)
    app.add_exception_handler(sqlalchemy.exc.DataError, _data_error)
    app.add_exception_handler(Exception, _unexpected)


# -- the OpenAPI side of the same shape ------------------------------------------------------

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 7807 problem details; extension members say where the fault is",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "Stable error code"},
        "title": {"type": "string", "description": "What went wrong, and where"},
        "status": {"type": "integer", "description": "The HTTP status"},
        "parameter": {"type": ["string", "null"], "description": "The faulty query parameter"},
        "pointer": {"type": ["string", "null"], "description": "JSON pointer into the body"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "additionalProperties": True,
}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# Default statuses of every operation that needs credentials (see :mod:`.deps`).
_GUARDED = {
    401: "No credentials, or they are not valid (unknown, revoked, expired, user disabled)",
    403: "The caller's role is too low for this operation",
}


def describe_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Make an app's OpenAPI ``document`` say what :func:`install` does: every error is a Problem.

    Routes declare which error statuses they answer (``responses=``); this adds the
    ``application/problem+json`` body to each of them, 401 and 403 to every operation that takes
    credentials, and replaces FastAPI's own validation-error body (which this app never sends).
    """
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            answers = operation.setdefault("responses", {})
            if operation.get("security"):
                for status, description in _GUARDED.items():
                    answers.setdefault(str(status), {"description": description})
            for status, answer in answers.items():
                if status[:1] not in ("4", "5"):
                    continue
                content = answer.setdefault("content", {})
                if status == "422" and answer.get("description") == "Validation Error":
                    content.pop("application/json", None)  # FastAPI's HTTPValidationError
                    answer["description"] = "The request does not match this description"
                # Another media type a route declares for its errors (an HTML page for a
                # browser) stays; the problem body is always one of them.
                content.setdefault(PROBLEM, {"schema": _PROBLEM_REF})
            operation["responses"] = dict(sorted(answers.items()))
    for unused in ("HTTPValidationError", "ValidationError"):  # the second is used by the first
        if f'"#/components/schemas/{unused}"'.encode() not in orjson.dumps(document):
            schemas.pop(unused, None)
    return document
