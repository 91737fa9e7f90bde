"""EPCIS 2.0 REST top-level vocabularies: ``/eventTypes``, ``/bizSteps``, ``/bizLocations``,
``/readPoints``, ``/dispositions``, and the events of each value (``/bizSteps/{bizStep}/events``).

A list answers the OpenAPI ``Collection`` shape (``{"@context", "type": "Collection",
"member": [...]}``, JSON only), paged with ``perPage``/``nextPageToken`` and a ``Link`` header
like the event lists. ``/eventTypes`` lists the five EPCIS event types (all are supported); the
other lists hold the values present in the store's events: CBV words bare (``shipping``), other
vocabulary URIs as captured, locations in the ``GS1-EPC-Format`` asked for. A value's
``/events`` takes any spelling of it (``shipping``,
``https://ref.gs1.org/cbv/BizStep-shipping``; an EPC URN or a Digital Link, URL-encoded) plus
the EPCIS query parameters, as ``GET /events`` does.
"""

from __future__ import annotations

import base64
import binascii
import threading
import weakref
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from threadline.api.deps import Services, ServicesDep, Viewer
from threadline.api.responses import JSONBody
from threadline.api.routes.events import (
    EPCIS_HEADERS,
    PAGING,
    QUERY_RESPONSES,
    EpcFormat,
    NextPageToken,
    PerPage,
    answer_events,
    epc_form,
    form_name,
    negotiate,
    next_link,
    per_page_of,
)
from threadline.epcis.forms import render_identifier
from threadline.epcis.jsonld_writer import EPCIS_CONTEXT_URL
from threadline.epcis.query_params import EVENT_TYPES
from threadline.errors import NotFound, QueryParameterError
from threadline.store.base import Reader, Store

router = APIRouter(tags=["query"])

# (reader, after, limit) -> up to ``limit`` values after ``after``, in order.
Values = Callable[[Reader, str | None, int], list[str]]


def _token(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def _after(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise QueryParameterError(
            "not a page token issued by this server", parameter="nextPageToken"
        ) from None


def _collection(
    request: Request, services: Services, values: Values, *, identifiers: bool = False
) -> Response:
    _fmt, media = negotiate(request, xml=False)
    given = list(request.query_params.multi_items())
    for name, _value in given:
        if name not in PAGING:
            raise QueryParameterError(
                "unknown query parameter (a list pages with perPage and nextPageToken only)",
                parameter=name,
            )
    per_page = per_page_of(given)
    if isinstance(per_page, str) or per_page < 1:
        raise QueryParameterError(f"{per_page!r} is not a positive integer", parameter="perPage")
    tokens = [v for n, v in given if n == "nextPageToken"]
    after = _after(tokens[-1]) if tokens else None
    form = epc_form(request.headers.get("gs1-epc-format")) if identifiers else "dl"
    with services.store.reader() as reader:
        found = values(reader, after, per_page + 1)
        page = found[:per_page]
        members: list[Any] = page
        if identifiers:
            lengths = {
                key: row.gcp_length
                for key, row in reader.objects_by_key(page).items()
                if row.gcp_length is not None
            }
            members = [render_identifier(v, form, lengths) for v in page]
    headers = dict(EPCIS_HEADERS)
    if identifiers:
        headers["GS1-EPC-Format"] = form_name(form)
    if len(found) > per_page:
        headers["Link"] = next_link(request, given, per_page, _token(page[-1]))
    body = {"@context": EPCIS_CONTEXT_URL, "type": "Collection", "member": members}
    return JSONBody(body, headers=headers, media_type=media)


_COLUMNS = ("biz_step", "disposition", "read_point", "biz_location")


class _Present:
    """The distinct values of the vocabulary columns of one store, kept current incrementally.

    A full ``DISTINCT`` over the events costs about a second at 1.4M events (no index on these
    columns, and indexing them would slow every capture); event rows are only ever appended,
    numbered in commit order, so after the first scan each request reads just the rows
    committed since the previous one.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.upto = 0
        self.values: dict[str, set[str]] = {c: set() for c in _COLUMNS}

    def of(self, reader: Reader, column: str) -> list[str]:
        with self.lock:
            last = int(reader.query("SELECT coalesce(max(id), 0) FROM events")[0][0])
            if last < self.upto:  # the events were replaced (a restore): start again
                self.upto, self.values = 0, {c: set() for c in _COLUMNS}
            if last > self.upto:
                rows = reader.query(
                    f"SELECT DISTINCT {', '.join(_COLUMNS)} FROM events WHERE id > ? AND id <= ?",
                    (self.upto, last),
                )
                for row in rows:
                    for name, value in zip(_COLUMNS, row, strict=True):
                        if value is not None:
                            self.values[name].add(str(value))
                self.upto = last
            return sorted(self.values[column])


_PRESENT: weakref.WeakKeyDictionary[Store, _Present] = weakref.WeakKeyDictionary()
_PRESENT_LOCK = threading.Lock()


def _distinct(column: str) -> Values:
    def values(reader: Reader, after: str | None, limit: int) -> list[str]:
        with _PRESENT_LOCK:
            present = _PRESENT.setdefault(reader.store, _Present())
        return [v for v in present.of(reader, column) if after is None or v > after][:limit]

    return values


def _event_types(_reader: Reader, after: str | None, limit: int) -> list[str]:
    return [t for t in sorted(EVENT_TYPES) if after is None or t > after][:limit]


class Collection(BaseModel):
    """The EPCIS REST binding's list of values (documentation of the answers)."""

    model_config = ConfigDict(populate_by_name=True)
    context: str = Field(alias="@context")
    type: str = Field(description="Collection")
    member: list[str]


_COLLECTION = {"schema": {"$ref": "#/components/schemas/Collection"}}
COLLECTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A Collection",
        "model": Collection,
        "content": {"application/json": _COLLECTION, "application/ld+json": _COLLECTION},
    },
    400: {"description": "A query parameter is unknown or has a bad value (it is named)"},
    406: {"description": "The Accept header names no format this resource offers"},
}


@router.get(
    "/eventTypes",
    summary="The EPCIS event types (all five are supported)",
    responses=COLLECTION_RESPONSES,
)
def event_types(
    request: Request,
    services: ServicesDep,
    _caller: Viewer,
    _per_page: PerPage = None,
    _token: NextPageToken = None,
) -> Response:
    return _collection(request, services, _event_types)


@router.get(
    "/eventTypes/{event_type}/events",
    summary="EPCIS events of one type, filtered by the EPCIS query parameters, paged",
    responses={**QUERY_RESPONSES, 404: {"description": "Not an EPCIS event type"}},
)
def event_type_events(
    event_type: str,
    request: Request,
    services: ServicesDep,
    _caller: Viewer,
    _per_page: PerPage = None,
    _token: NextPageToken = None,
    _format: EpcFormat = None,
) -> Response:
    if event_type not in EVENT_TYPES:
        raise NotFound(f"no event type {event_type!r}; the types are {', '.join(EVENT_TYPES)}")
    return answer_events(request, services, fixed=[("eventType", event_type)])


def _vocabulary(path: str, column: str, parameter: str, what: str, identifiers: bool) -> None:
    """Register ``GET path`` (the values present) and ``GET path/{value}/events``."""
    values = _distinct(column)

    def listing(
        request: Request,
        services: ServicesDep,
        _caller: Viewer,
        _per_page: PerPage = None,
        _token: NextPageToken = None,
        _format: EpcFormat = None,
    ) -> Response:
        return _collection(request, services, values, identifiers=identifiers)

    def value_events(
        value: str,
        request: Request,
        services: ServicesDep,
        _caller: Viewer,
        _per_page: PerPage = None,
        _token: NextPageToken = None,
        _format: EpcFormat = None,
    ) -> Response:
        return answer_events(request, services, fixed=[(parameter, value)])

    listing.__name__ = f"list_{column}"
    value_events.__name__ = f"{column}_events"
    router.add_api_route(
        path,
        listing,
        methods=["GET"],
        summary=f"The {what} named by stored events",
        responses=COLLECTION_RESPONSES,
    )
    router.add_api_route(
        f"{path}/{{value:path}}/events",
        value_events,
        methods=["GET"],
        summary=f"EPCIS events at one of the {what} (any spelling, URL-encoded), paged",
        # 404: a value no path can carry (a line break) leaves the request without a route.
        responses={**QUERY_RESPONSES, 404: {"description": "Not a value a path can carry"}},
    )


_vocabulary("/bizSteps", "biz_step", "EQ_bizStep", "business steps", False)
_vocabulary("/bizLocations", "biz_location", "EQ_bizLocation", "business locations", True)
_vocabulary("/readPoints", "read_point", "EQ_readPoint", "read points", True)
_vocabulary("/dispositions", "disposition", "EQ_disposition", "dispositions", False)
