"""EPCIS 2.0 REST query: ``GET /events``, ``/events/{eventID}``, ``/epcs/{epc}/events``.

Every ``.../events`` resource answers an EPCISQueryDocument for the EPCIS query parameters in its
URL (all that :func:`threadline.epcis.query_params.parse_query` supports; an unknown one is a 400
``QueryParameterException`` naming it), restricted by what its path names. The helpers here are
shared with :mod:`.vocabularies` and :mod:`.queries`:

* content negotiation (:func:`negotiate`): ``Accept: application/ld+json`` or
  ``application/json`` (or none, or ``*/*``) gives JSON-LD, ``application/xml`` (or
  ``text/xml``) EPCIS 2.0 XML; anything else is 406;
* ``GS1-EPC-Format`` (:func:`epc_form`): ``Always_GS1_Digital_Link`` (the default, also for
  ``No_Preference``), ``Always_EPC_URN``, ``Never_Translates`` (as captured); the answer says
  which applied in its own ``GS1-EPC-Format`` header;
* paging (:func:`answer_events`): ``perPage`` (default :data:`DEFAULT_PER_PAGE`, at most
  :data:`MAX_PER_PAGE`; a larger value is served as that) and ``nextPageToken``; while more
  events match, the answer carries ``Link: <same URL with nextPageToken>; rel="next"``. Tokens
  are keyset positions: they do not expire, and events captured meanwhile never shift a page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Header, Query, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

from threadline.api.deps import Services, ServicesDep, Viewer
from threadline.epcis.forms import IdentifierForm
from threadline.errors import DocumentError, InvalidInput, NotFound, QueryParameterError
from threadline.gs1.keys import canonical
from threadline.model.identifiers import Kind
from threadline.service import events_document
from threadline.store.subscriptions import EPC_FORMAT_NAMES

router = APIRouter(tags=["query"])

EPCIS_HEADERS = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 1000
PAGING = ("perPage", "nextPageToken")

Format = Literal["jsonld", "xml"]
Params = list[tuple[str, str]]

# Accept media type -> (document format, Content-Type of the answer).
_MEDIA: dict[str, tuple[Format, str]] = {
    "application/ld+json": ("jsonld", "application/ld+json"),
    "application/json": ("jsonld", "application/json"),
    "application/*": ("jsonld", "application/json"),
    "*/*": ("jsonld", "application/json"),
    "application/xml": ("xml", "application/xml"),
    "text/xml": ("xml", "application/xml"),
}
EPC_FORMATS: dict[str, IdentifierForm] = {
    "Always_GS1_Digital_Link": "dl",
    "No_Preference": "dl",
    "Always_EPC_URN": "urn",
    "Never_Translates": "as_captured",
}

# Documented here for the OpenAPI; the handlers read the query string as a whole.
PerPage = Annotated[
    str | None,
    Query(
        alias="perPage",
        description=f"events per page (default {DEFAULT_PER_PAGE}, at most {MAX_PER_PAGE})",
    ),
]
NextPageToken = Annotated[
    str | None, Query(alias="nextPageToken", description="from the Link header of a page")
]
EpcFormat = Annotated[
    str | None,
    Header(
        alias="GS1-EPC-Format",
        description="Always_GS1_Digital_Link (default), Always_EPC_URN, Never_Translates, "
        "No_Preference",
    ),
]
QUERY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An EPCISQueryDocument",
        "content": {"application/ld+json": {}, "application/xml": {}},
    },
    400: {"description": "A query parameter is unknown or has a bad value (it is named)"},
    406: {"description": "The Accept header names no format this resource offers"},
    413: {"description": "More events match than the query's maxEventCount"},
}


def negotiate(request: Request, *, xml: bool = True) -> tuple[Format, str]:
    """The document format and Content-Type the ``Accept`` header asks for (406 if none fits)."""
    header = request.headers.get("accept", "").strip()
    if not header:
        return "jsonld", "application/json"
    best: tuple[tuple[float, int, int], tuple[Format, str]] | None = None
    for index, item in enumerate(header.split(",")):
        media, *options = (part.strip() for part in item.split(";"))
        quality = 1.0
        for option in options:
            name, _, value = option.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        choice = _MEDIA.get(media.lower())
        if choice is None or quality <= 0 or (choice[0] == "xml" and not xml):
            continue
        rank = (quality, 0 if "*" in media else 1, -index)
        if best is None or rank > best[0]:
            best = (rank, choice)
    if best is None:
        offered = "application/ld+json, application/json" + (", application/xml" if xml else "")
        raise HTTPException(406, f"cannot answer in {header!r}; this resource offers {offered}")
    return best[1]


def epc_form(value: str | None) -> IdentifierForm:
    """The identifier form a ``GS1-EPC-Format`` header asks for (Digital Link when absent)."""
    if value is None or not value.strip():
        return "dl"
    found = EPC_FORMATS.get(value.strip())
    if found is None:
        raise InvalidInput(
            f"header GS1-EPC-Format: {value.strip()!r} is not one of {', '.join(EPC_FORMATS)}"
        )
    return found


def form_name(form: IdentifierForm) -> str:
    return EPC_FORMAT_NAMES[form]


def per_page_of(given: Sequence[tuple[str, str]]) -> int | str:
    """The page size asked for (at most the maximum), or the raw text for the parser to refuse."""
    values = [v for n, v in given if n == "perPage"]
    if not values:
        return DEFAULT_PER_PAGE
    text = values[-1].strip()
    # ASCII only: str.isdigit() also admits digits int() cannot read, such as '³'.
    if text.isascii() and text.isdigit():
        return min(int(text), MAX_PER_PAGE)
    return text


def next_link(request: Request, given: Iterable[tuple[str, str]], per_page: int, token: str) -> str:
    """``<this URL with perPage and the next page's token>; rel="next"``."""
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) else quote(request.url.path)
    keep = [(n, v) for n, v in given if n not in PAGING]
    keep += [("perPage", str(per_page)), ("nextPageToken", token)]
    return f'<{path}?{urlencode(keep, quote_via=quote)}>; rel="next"'


def answer_events(
    request: Request,
    services: Services,
    *,
    fixed: Sequence[tuple[str, str]] = (),
    stored: dict[str, list[str]] | None = None,
    query_name: str = "SimpleEventQuery",
    missing: str | None = None,
) -> Response:
    """An EPCISQueryDocument page for this request's query string plus ``fixed`` parameters.

    ``fixed`` come from the path (a client may not give them again); ``stored`` are a named
    query's parameters, with which the query string may only page. ``missing``: answer 404 with
    that message when nothing matches.
    """
    fmt, media = negotiate(request)
    form = epc_form(request.headers.get("gs1-epc-format"))
    given = list(request.query_params.multi_items())
    if stored is not None:
        for name, _value in given:
            if name not in PAGING:
                raise QueryParameterError(
                    "a named query's parameters are fixed when it is created; only perPage and "
                    "nextPageToken may be given here",
                    parameter=name,
                )
    named = {n for n, _ in given}
    for name, _value in fixed:
        if name in named:
            raise QueryParameterError(
                f"is given by the path {request.url.path}; leave it out of the query string",
                parameter=name,
            )
    per_page = per_page_of(given)
    params: Params = list(fixed)
    for name, values in (stored or {}).items():
        params.extend((name, v) for v in values)
    params.extend((n, v) for n, v in given if n != "perPage")
    params.append(("perPage", str(per_page)))
    try:
        output = events_document(
            services.store, params, fmt=fmt, epc_format=form, query_name=query_name
        )
    except DocumentError as exc:
        if fmt != "xml":
            raise
        # Stored events the XML binding cannot carry (an extension prefix no context defines):
        # the client can still have them as JSON-LD.
        raise HTTPException(
            406, f"these events cannot be written as EPCIS XML ({exc.message}); ask for JSON-LD"
        ) from None
    if missing is not None and output.events == 0:
        raise NotFound(missing)
    headers = {**EPCIS_HEADERS, "GS1-EPC-Format": form_name(form)}
    if output.next_page_token is not None and isinstance(per_page, int):
        headers["Link"] = next_link(request, given, per_page, output.next_page_token)
    return Response(output.data, media_type=media, headers=headers)


@router.get(
    "/events",
    summary="EPCIS events matching the EPCIS query parameters in the query string, paged",
    responses=QUERY_RESPONSES,
)
def events(
    request: Request,
    services: ServicesDep,
    _caller: Viewer,
    _per_page: PerPage = None,
    _token: NextPageToken = None,
    _format: EpcFormat = None,
) -> Response:
    return answer_events(request, services)


@router.get(
    "/events/{event_id:path}",
    summary="One EPCIS event (with its error declaration, if any) by eventID (URL-encoded)",
    responses={**QUERY_RESPONSES, 404: {"description": "No event has this eventID"}},
)
def event(
    event_id: str,
    request: Request,
    services: ServicesDep,
    _caller: Viewer,
    _format: EpcFormat = None,
) -> Response:
    return answer_events(
        request,
        services,
        fixed=[("EQ_eventID", event_id)],
        missing=f"no event with eventID {event_id!r}",
    )


def epc_parameter(services: Services, epc: str) -> str:
    """The MATCH_ parameter that finds events naming ``epc``; 404 for an identifier never seen."""
    try:
        ident = canonical(epc)
    except InvalidInput as exc:
        raise InvalidInput(f"epc {epc!r}: {exc.message}") from None
    if ident.kind is not Kind.GTIN:  # a GTIN alone stands for its instances and lots
        with services.store.reader() as reader:
            if not reader.objects_by_key([ident.key]):
                raise NotFound(f"no event names {epc!r}")
    return "MATCH_anyEPCClass" if ident.kind is Kind.LGTIN else "MATCH_anyEPC"


@router.get(
    "/epcs/{epc:path}/events",
    summary="EPCIS events naming an identifier (EPC URN or Digital Link, URL-encoded)",
    responses={**QUERY_RESPONSES, 404: {"description": "No event names this identifier"}},
)
def epc_events(
    epc: str,
    request: Request,
    services: ServicesDep,
    _caller: Viewer,
    _per_page: PerPage = None,
    _token: NextPageToken = None,
    _format: EpcFormat = None,
) -> Response:
    parameter = epc_parameter(services, epc)
    return answer_events(request, services, fixed=[(parameter, epc)])
