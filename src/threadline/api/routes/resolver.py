"""The GS1 Digital Link resolver: what a phone lands on when it scans a Threadline label.

``GET /01/{gtin}/10/{lot}``, ``/01/{gtin}/21/{serial}``, ``/01/{gtin}``, ``/00/{sscc}``,
``/414/{gln}[/254/{extension}]``, ``/417/{gln}``, ``/8003/{grai}``, ``/8004/{giai}`` and
``/253/{gdti}`` — the primary keys Threadline stores — with any further qualifiers and query
data attributes the GS1 Digital Link standard allows (``/01/…/22/…/10/…``, ``?17=261231``).
The whole request URI is parsed with :func:`threadline.gs1.digital_link.parse_digital_link`, so
the resolver accepts exactly what the standard's URI syntax accepts.

Answers, by what the client asks for (GS1 Digital Link resolver conventions):

* ``linkType=all``, or ``Accept: application/linkset+json`` / ``application/json``: the
  object's GS1 linkset (RFC 9264 JSON: ``{"linkset": [{"anchor": <DL URI>, <link type IRI>:
  [{"href", "title", "type"}], ...}]}``) pointing at Threadline's own resources — the passport
  (``gs1:pip``, also the ``gs1:defaultLink``), the backward and forward trace
  (``gs1:traceability``), where it is now (``gs1:logisticsInfo``) and its EPCIS events
  (``gs1:epcis``);
* ``linkType=<one of those>``: a 307 redirect to that link (the passport is served in place);
* otherwise (a browser, or a client that accepts anything): the passport page, in HTML.

A URI that breaks the Digital Link syntax or carries a bad check digit is a 400 naming the
fault; a valid key the store does not know is a 404. Both come as an HTML page to a browser
and as problem JSON to an API client. The routes are ``public=True``: open without credentials
when ``THREADLINE_PUBLIC_RESOLVER=1``, viewer otherwise.

Links are absolute, on ``THREADLINE_RESOLVER_BASE`` when set (the address printed in QR codes,
e.g. behind a reverse proxy), else on the address the client used to reach this server.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from threadline.api.deps import Services, ServicesDep, require
from threadline.api.pages.common import BrowserRoute, local_base, render
from threadline.config import Settings
from threadline.errors import InvalidInput, NotFound, ThreadlineError
from threadline.gs1.digital_link import parse_digital_link
from threadline.gs1.keys import canonical
from threadline.labels.content import passport_uri
from threadline.model.identifiers import Kind
from threadline.store.auth import Principal, Role
from threadline.web import Passport, build_passport, render_page

router = APIRouter(tags=["resolver"], route_class=BrowserRoute)

PublicViewer = Annotated[Principal, Depends(require(Role.viewer, public=True))]

LINKSET = "application/linkset+json"
GS1_VOC = "https://gs1.org/voc/"
# Primary keys Threadline stores objects by (see threadline.gs1.keys), with their qualifiers.
PRIMARY_KEYS: dict[str, tuple[str, str]] = {
    "01": ("GTIN", "/01/{gtin}[/22/{cpv}][/10/{lot}][/21/{serial}]"),
    "00": ("SSCC", "/00/{sscc}"),
    "414": ("GLN of a location", "/414/{gln}[/254/{extension}]"),
    "417": ("GLN of a party", "/417/{gln}"),
    "8003": ("GRAI", "/8003/{grai}"),
    "8004": ("GIAI", "/8004/{giai}"),
    "253": ("GDTI", "/253/{gdti}"),
}
# The host the request URI is parsed on: the Digital Link rules read only the path and query,
# and a fixed host keeps a client's Host header out of the parse.
_PARSE_HOST = "https://resolver.invalid"
_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The passport page (HTML) or the GS1 linkset (JSON)",
        "content": {"text/html": {}, LINKSET: {}, "application/json": {}},
    },
    307: {
        "description": "Redirect to the link of the requested linkType",
        "headers": {"Location": {"schema": {"type": "string"}}},
    },
    # Problem JSON for an API client (added for every error), an HTML page for a browser.
    400: {
        "description": "Not a valid GS1 Digital Link URI (the fault is named)",
        "content": {"text/html": {}},
    },
    404: {"description": "A valid key that the store does not know", "content": {"text/html": {}}},
}


def public_base(settings: Settings, request: Request) -> str:
    """Where Digital Link URIs and passport links point: the setting, else this server."""
    if settings.resolver_base:
        return settings.resolver_base.rstrip("/")
    return str(request.base_url).rstrip("/")


def _request_uri(request: Request) -> str:
    raw = request.scope.get("raw_path")
    # The raw path keeps %2F inside a lot or serial; the decoded path would split it.
    path = raw.decode("latin-1") if isinstance(raw, bytes) else request.url.path
    query = request.url.query
    return f"{_PARSE_HOST}{path}" + (f"?{query}" if query else "")


def resolve_uri(uri: str, *, shown: str | None = None) -> str:
    """The canonical key of the object a Digital Link ``uri`` names (path key and qualifiers).

    Raises :class:`InvalidInput` naming the fault when ``uri`` is not a valid GS1 Digital Link
    URI, or names a key Threadline never stores (it keeps the keys of :data:`PRIMARY_KEYS`).
    Messages show the URI on ``shown`` (the address the client used) instead of its host.
    """
    try:
        values = parse_digital_link(uri)
    except InvalidInput as exc:
        if shown is None:
            raise
        raise InvalidInput(exc.message.replace(_PARSE_HOST, shown)) from None
    if values[0].ai not in PRIMARY_KEYS:  # pragma: no cover - the routes admit only these
        raise InvalidInput(f"AI ({values[0].ai}) is not a key Threadline resolves")
    ident = canonical(uri)
    if ident.kind is Kind.URI:  # pragma: no cover - parse_digital_link found a primary key
        raise InvalidInput(f"{uri!r} names no GS1 key Threadline stores")
    return ident.key


def _quality(accept: str, media: str) -> float:
    best = 0.0
    kind = media.split("/", 1)[0]
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        name = fields[0].lower()
        if name not in (media, f"{kind}/*", "*/*"):
            continue
        q = 1.0
        for param in fields[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        # A more specific match wins over a wildcard even at a lower q, as HTTP says.
        if name == media:
            return q
        best = max(best, q * (0.99 if name == f"{kind}/*" else 0.98))
    return best


def wants_linkset(request: Request) -> str | None:
    """The linkset media type the client prefers over HTML, or ``None`` for the HTML page."""
    link_type = request.query_params.get("linkType")
    if link_type == "all":
        return LINKSET
    if link_type:  # one link asked for by name: its redirect (or the passport), not the set
        return None
    accept = request.headers.get("accept", "")
    if not accept:
        return None
    html = _quality(accept, "text/html")
    linkset = _quality(accept, LINKSET)
    json = _quality(accept, "application/json")
    if max(linkset, json) > html:
        return LINKSET if linkset >= json else "application/json"
    return None


def _link(href: str, title: str, media: str) -> dict[str, Any]:
    return {"href": href, "title": title, "type": media, "hreflang": ["en"]}


def linkset(key: str, base: str) -> dict[str, Any]:
    """The GS1 linkset of the object ``key`` (canonical), its links on ``base``."""
    anchor = passport_uri(key, base) or key
    quoted = quote(key, safe="")
    passport = _link(f"{anchor}?linkType=gs1:pip", "Passport", "text/html")
    links: dict[str, list[dict[str, Any]]] = {
        "defaultLink": [passport],
        "pip": [passport],
        "traceability": [
            _link(
                f"{base}/trace/backward?id={quoted}",
                "Backward trace: everything it was made from",
                "application/json",
            ),
            _link(
                f"{base}/trace/forward?id={quoted}",
                "Forward trace: everything made from it and where it went",
                "application/json",
            ),
        ],
        "logisticsInfo": [
            _link(f"{base}/where?id={quoted}", "Where it is now", "application/json")
        ],
        "epcis": [_link(f"{base}/epcs/{quoted}/events", "EPCIS events", "application/ld+json")],
    }
    context: dict[str, Any] = {"anchor": anchor}
    context.update({GS1_VOC + name: targets for name, targets in links.items()})
    return {"linkset": [context]}


def _html_error(exc: ThreadlineError, uri: str | None, static: str) -> HTMLResponse:
    heading = "Not found" if isinstance(exc, NotFound) else "Not a valid GS1 Digital Link"
    page = render_page(
        "error.html",
        status=exc.status,
        heading=heading,
        message=exc.message,
        uri=uri,
        static=static,
    )
    return HTMLResponse(page, status_code=exc.status, headers={"Vary": "Accept"})


def _static(request: Request) -> str:
    return f"{request.scope.get('root_path', '')}/static"


def _passport(services: Services, key: str, base: str) -> Passport:
    with services.store.reader() as reader:
        return build_passport(reader, key, base=base, index=services.index)


def _known(services: Services, key: str) -> None:
    with services.store.reader() as reader:
        if not reader.objects_by_key([key]):
            raise NotFound(f"no object {key} in the store")


async def resolve(
    request: Request,
    services: ServicesDep,
    _caller: PublicViewer,
    key: Annotated[
        str,
        Path(description="The key after the AI, then any qualifiers: 09520123456788/10/LOT7"),
    ],
    link_type: Annotated[
        str | None,
        Query(
            alias="linkType",
            max_length=200,
            description="all (the linkset), or a link type such as gs1:pip or gs1:traceability",
        ),
    ] = None,
) -> Response:
    """Resolve a GS1 Digital Link URI to the object's passport, linkset or one of its links."""
    api = wants_linkset(request)
    base = public_base(services.settings, request)
    uri = _request_uri(request)
    # The whole raw request URI is parsed, not ``key`` (decoded, it may have lost a %2F).
    try:
        found = resolve_uri(uri, shown=base)
        if api is not None:
            await run_in_threadpool(_known, services, found)
            body = orjson.dumps(linkset(found, base))
            # Linksets are meant to be read by other sites' scripts too (GS1 resolvers allow
            # CORS); with the public setting off the credentials still decide who reads.
            return Response(
                body,
                media_type=api,
                headers={"Vary": "Accept", "Access-Control-Allow-Origin": "*"},
            )
        if link_type and link_type not in ("gs1:pip", "gs1:defaultLink"):
            await run_in_threadpool(_known, services, found)
            name = link_type.removeprefix("gs1:").removeprefix(GS1_VOC)
            targets = linkset(found, base)["linkset"][0].get(GS1_VOC + name)
            if targets:
                return RedirectResponse(targets[0]["href"], status_code=307)
            # An unknown link type falls back to the default link, the passport.
        passport = await run_in_threadpool(_passport, services, found, local_base(request))
    except (InvalidInput, NotFound) as exc:
        if api is not None:
            raise
        shown = base + uri[len(_PARSE_HOST) :]
        return _html_error(exc, shown, _static(request))
    anchor = passport_uri(found, base)
    headers = {"Vary": "Accept"}
    if anchor:
        headers["Link"] = f'<{anchor}?linkType=all>; rel="linkset"; type="{LINKSET}"'
    return render(request, "passport.html", _caller, headers=headers, p=passport)


for _ai, (_name, _shape) in PRIMARY_KEYS.items():
    router.add_api_route(
        f"/{_ai}/{{key:path}}",
        resolve,
        methods=["GET"],
        name=f"resolve_{_ai}",
        summary=f"GS1 Digital Link resolver: {_name} ({_ai}), {_shape}",
        responses=_ANSWERS,
        response_model=None,
    )
