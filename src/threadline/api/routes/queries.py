"""EPCIS 2.0 REST named queries and their webhook subscriptions (``/queries``).

* ``POST /queries`` ``{"name": ..., "query": {parameter: value or [values]}}`` stores a named
  query after validating every parameter as ``GET /events`` would (400 naming the first bad
  one; 409 if the name is taken); 201 with ``Location: /queries/{name}``. Names are 1-128
  letters, digits, ``.``, ``_``, ``~`` or ``-``. ``perPage``/``nextPageToken`` belong to a
  request for results, not to a query.
* ``GET /queries`` (paged), ``GET /queries/{name}``, ``DELETE /queries/{name}`` (which also
  ends every subscription to it), ``GET /queries/{name}/events`` (paged like ``/events``).
* ``POST /queries/{name}/subscriptions`` ``{"dest", "signatureToken"?, "stream": true |
  "schedule": {...}, "reportIfEmpty"?, "initialRecordTime"?}``; ``GET`` lists them (paged),
  ``GET``/``DELETE .../subscriptions/{id}``. The ``signatureToken`` is never shown again. The
  request's ``GS1-EPC-Format`` sets the identifier form of the notifications, and
  ``Accept: application/xml`` makes them EPCIS XML (JSON-LD otherwise). Delivery, signing and
  schedules: :mod:`threadline.webhooks`.

Roles: any viewer reads queries, their results and subscriptions (never a secret); creating and
deleting queries and subscriptions needs an operator, since a subscription sends data out of the
plant.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.responses import Response

from threadline.api.deps import Operator, ServicesDep, Viewer
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
    negotiate,
    next_link,
    per_page_of,
)
from threadline.epcis.json_reader import utc_text
from threadline.epcis.query_params import parse_query
from threadline.errors import InvalidInput, QueryParameterError
from threadline.store import subscriptions as db
from threadline.webhooks import Schedule, SubscriptionControlsError, WebhookDispatcher, check_dest

router = APIRouter(tags=["queries"])

_NAME = re.compile(r"[A-Za-z0-9._~-]{1,128}")


class QueryDefinition(BaseModel):
    """A named query: its name and its EPCIS query parameters."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="1-128 letters, digits, '.', '_', '~' or '-'")
    query: dict[str, Any] = Field(
        description='EPCIS query parameters, e.g. {"eventType": ["ObjectEvent"], '
        '"EQ_bizStep": ["shipping"]}'
    )


class SubscriptionRequest(BaseModel):
    """A webhook subscription: ``stream: true`` or a ``schedule``, not both."""

    model_config = ConfigDict(extra="forbid")
    dest: str = Field(description="http(s) URL the notifications are POSTed to")
    signatureToken: str | None = Field(
        default=None, description="secret for the GS1-Signature HMAC (never shown again)"
    )
    stream: bool | None = None
    schedule: dict[str, Any] | None = Field(
        default=None, description="second, minute, hour, dayOfMonth, month, dayOfWeek (UTC)"
    )
    reportIfEmpty: bool = False
    initialRecordTime: str | None = None


class NamedQuery(BaseModel):
    """A stored named query (documentation of the answers)."""

    name: str
    query: dict[str, list[str]]
    createdAt: str


class SubscriptionInfo(BaseModel):
    """A subscription as the API shows it: never its secret, only whether there is one."""

    subscriptionID: str
    queryName: str
    dest: str
    createdAt: str
    stream: bool | None = None
    schedule: dict[str, str] | None = None
    reportIfEmpty: bool | None = None
    initialRecordTime: str | None = None
    lastNotifiedAt: str | None = None
    epcFormat: str
    format: str = Field(description="application/ld+json or application/xml")
    signed: bool
    lastError: str | None = None
    failures: int | None = None


def _dispatcher(request: Request) -> WebhookDispatcher | None:
    found = getattr(request.app.state, "webhooks", None)
    return found if isinstance(found, WebhookDispatcher) else None


def _changed(request: Request) -> None:
    dispatcher = _dispatcher(request)
    if dispatcher is not None:
        dispatcher.changed()


def _token(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def _untoken(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise QueryParameterError(
            "not a page token issued by this server", parameter="nextPageToken"
        ) from None


def _paging(request: Request) -> tuple[list[tuple[str, str]], int, str | None]:
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
    return given, per_page, (_untoken(tokens[-1]) if tokens else None)


def normalise_query(query: dict[str, Any]) -> dict[str, list[str]]:
    """A query object as stored: ``{name: [value, ...]}`` as strings, validated by the engine."""
    out: dict[str, list[str]] = {}
    for name, raw in query.items():
        if name in PAGING:
            raise QueryParameterError(
                "belongs to a request for results (GET /queries/{name}/events), not to the query",
                parameter=name,
            )
        values: list[str] = []
        for item in raw if isinstance(raw, list) else [raw]:
            if isinstance(item, bool):
                values.append("true" if item else "false")
            elif isinstance(item, int | float | str):
                values.append(str(item))
            else:
                raise QueryParameterError(
                    "values are strings, numbers or booleans, or lists of them", parameter=name
                )
        out[name] = values
    parse_query(out)  # the first unknown or bad parameter raises, named
    return out


# -- named queries ----------------------------------------------------------------------------


@router.post(
    "/queries",
    status_code=201,
    summary="Create a named query (its parameters are validated now)",
    response_model=NamedQuery,
    responses={
        400: {"description": "The name, or a query parameter, is unknown or bad (it is named)"},
        409: {"description": "A query of this name exists"},
    },
)
def create_query(
    definition: Annotated[QueryDefinition, Body()], services: ServicesDep, caller: Operator
) -> Response:
    if not _NAME.fullmatch(definition.name):
        raise InvalidInput(
            f"name {definition.name!r}: use 1-128 letters, digits, '.', '_', '~' or '-'"
        )
    params = normalise_query(definition.query)
    made = db.create_query(services.store, definition.name, params, user=caller.actor)
    headers = {**EPCIS_HEADERS, "Location": f"/queries/{quote(made.name, safe='')}"}
    return JSONBody(made.to_json(), status_code=201, headers=headers)


@router.get(
    "/queries",
    summary="Named queries, by name, paged",
    response_model=list[NamedQuery],
    responses={
        400: {"description": "A query parameter is unknown or has a bad value (it is named)"},
        406: {"description": "The Accept header names no format this resource offers"},
    },
)
def list_queries(
    request: Request,
    services: ServicesDep,
    _caller: Viewer,
    _per_page: PerPage = None,
    _token_: NextPageToken = None,
) -> Response:
    negotiate(request, xml=False)
    given, per_page, after = _paging(request)
    found = db.list_queries(services.store, limit=per_page + 1, after=after)
    headers = dict(EPCIS_HEADERS)
    if len(found) > per_page:
        found = found[:per_page]
        headers["Link"] = next_link(request, given, per_page, _token(found[-1].name))
    return JSONBody([q.to_json() for q in found], headers=headers)


@router.get(
    "/queries/{query_name}",
    summary="A named query's definition",
    response_model=NamedQuery,
    responses={404: {"description": "No query has this name"}},
)
def get_query(query_name: str, services: ServicesDep, _caller: Viewer) -> Response:
    return JSONBody(db.get_query(services.store, query_name).to_json(), headers=EPCIS_HEADERS)


@router.delete(
    "/queries/{query_name}",
    status_code=204,
    summary="Delete a named query and end every subscription to it",
    responses={404: {"description": "No query has this name"}},
)
def delete_query(
    query_name: str, request: Request, services: ServicesDep, _caller: Operator
) -> Response:
    db.delete_query(services.store, query_name)
    _changed(request)
    return Response(status_code=204, headers=EPCIS_HEADERS)


@router.get(
    "/queries/{query_name}/events",
    summary="The events a named query selects, paged like /events",
    responses={**QUERY_RESPONSES, 404: {"description": "No query has this name"}},
)
def query_events(
    query_name: str,
    request: Request,
    services: ServicesDep,
    _caller: Viewer,
    _per_page: PerPage = None,
    _token_: NextPageToken = None,
    _format: EpcFormat = None,
) -> Response:
    named = db.get_query(services.store, query_name)
    return answer_events(request, services, stored=named.query, query_name=named.name)


# -- subscriptions ----------------------------------------------------------------------------


def _initial_record_time(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise SubscriptionControlsError(
            f"{value!r} is not an ISO-8601 date-time with a zone (e.g. 2026-03-01T08:00:00Z)",
            field="initialRecordTime",
        )
    return utc_text(moment)


def _notification_format(request: Request) -> str:
    try:
        fmt, _media = negotiate(request)
    except HTTPException:  # the answer to this POST is JSON anyway; only XML changes anything
        return "jsonld"
    return fmt


@router.post(
    "/queries/{query_name}/subscriptions",
    status_code=201,
    summary="Subscribe a webhook to a named query (stream or schedule)",
    response_model=SubscriptionInfo,
    responses={
        400: {"description": "SubscriptionControlsException, naming the field"},
        404: {"description": "No query has this name"},
    },
)
def subscribe(
    query_name: str,
    subscription: Annotated[SubscriptionRequest, Body()],
    request: Request,
    services: ServicesDep,
    caller: Operator,
    _format: EpcFormat = None,
) -> Response:
    dest = check_dest(subscription.dest.strip())
    stream = subscription.stream is True
    if stream and subscription.schedule is not None:
        raise SubscriptionControlsError(
            "give either stream: true or a schedule, not both", field="stream"
        )
    if not stream and subscription.schedule is None:
        raise SubscriptionControlsError(
            "say when to notify: stream: true, or a schedule", field="schedule"
        )
    schedule: dict[str, str] | None = None
    if subscription.schedule is not None:
        Schedule.parse(subscription.schedule)
        schedule = {k: str(v) for k, v in subscription.schedule.items()}
    secret = subscription.signatureToken
    if secret is not None and not secret.strip():
        raise SubscriptionControlsError("must not be empty", field="signatureToken")
    made = db.create_subscription(
        services.store,
        db.Subscription(
            id=db.new_subscription_id(),
            query_name=query_name,
            dest=dest,
            secret=secret,
            stream=stream,
            schedule=schedule,
            report_if_empty=subscription.reportIfEmpty and not stream,
            format=_notification_format(request),
            epc_format=epc_form(request.headers.get("gs1-epc-format")),
            initial_record_time=_initial_record_time(subscription.initialRecordTime),
            created_by=caller.actor,
        ),
    )
    _changed(request)
    location = f"/queries/{quote(query_name, safe='')}/subscriptions/{made.id}"
    return JSONBody(
        made.to_json(), status_code=201, headers={**EPCIS_HEADERS, "Location": location}
    )


@router.get(
    "/queries/{query_name}/subscriptions",
    summary="Subscriptions to a named query",
    response_model=list[SubscriptionInfo],
    responses={
        400: {"description": "A query parameter is unknown or has a bad value (it is named)"},
        404: {"description": "No query has this name"},
    },
)
def list_subscriptions(
    query_name: str,
    request: Request,
    services: ServicesDep,
    _caller: Viewer,
    _per_page: PerPage = None,
    _token_: NextPageToken = None,
) -> Response:
    given, per_page, after = _paging(request)
    db.get_query(services.store, query_name)  # 404 for an unknown query
    position: tuple[str, str] | None = None
    if after is not None:
        created, _, sub_id = after.partition("|")
        position = (created, sub_id)
    found = db.list_subscriptions(services.store, query_name, limit=per_page + 1, after=position)
    headers = dict(EPCIS_HEADERS)
    if len(found) > per_page:
        found = found[:per_page]
        position_text = f"{found[-1].created_at}|{found[-1].id}"
        headers["Link"] = next_link(request, given, per_page, _token(position_text))
    return JSONBody([s.to_json() for s in found], headers=headers)


@router.get(
    "/queries/{query_name}/subscriptions/{subscription_id}",
    summary="One subscription",
    response_model=SubscriptionInfo,
    responses={404: {"description": "No such query, or it has no such subscription"}},
)
def get_subscription(
    query_name: str, subscription_id: str, services: ServicesDep, _caller: Viewer
) -> Response:
    found = db.get_subscription(services.store, query_name, subscription_id)
    return JSONBody(found.to_json(), headers=EPCIS_HEADERS)


@router.delete(
    "/queries/{query_name}/subscriptions/{subscription_id}",
    status_code=204,
    summary="Unsubscribe",
    responses={404: {"description": "No such query, or it has no such subscription"}},
)
def unsubscribe(
    query_name: str,
    subscription_id: str,
    request: Request,
    services: ServicesDep,
    _caller: Operator,
) -> Response:
    db.delete_subscription(services.store, query_name, subscription_id)
    _changed(request)
    return Response(status_code=204, headers=EPCIS_HEADERS)
