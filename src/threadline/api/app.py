"""The FastAPI application factory behind ``threadline serve``.

:func:`create_app` builds the app from :class:`~threadline.config.Settings` without touching the
database; the store is opened (and the genealogy index loaded) in the lifespan, when the server
starts, and closed when it stops.

The genealogy index (``THREADLINE_GRAPH_INDEX``): ``on`` loads the whole genealogy into memory at
start-up, ``off`` walks it in SQL on each request, ``auto`` (the default) loads it when the store
holds more than :data:`INDEX_MIN_EDGES` edges. The index itself is about 150 bytes per edge with
its object keys and eventIDs (359 MB for the 2.4M-edge large demo plant, loaded in about 18 s);
loading also holds the rows briefly, so the server's resident memory after start-up is more
(medium demo plant, 174k edges: 282 MB with the index, 107 MB without). It keeps itself current
from the store's graph version before each use; a trace through it answers in about a third of
the time of the SQL walk (medium plant over HTTP: p50 7 ms against 19 ms).

The interactive docs pages are left out (they load their scripts from a CDN; plant networks are
often offline); the OpenAPI document is at ``/openapi.json`` for any authenticated caller.
"""

from __future__ import annotations

import ctypes
import gc
import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute
from starlette.staticfiles import StaticFiles

from threadline.api import responses
from threadline.api.deps import RoleGuard, Services, Viewer
from threadline.api.middleware import AuditMiddleware
from threadline.api.pages import ROUTERS as PAGE_ROUTERS
from threadline.api.responses import JSONBody
from threadline.api.routes import (
    audit,
    auth,
    capture,
    events,
    health,
    labels,
    quality,
    queries,
    resolver,
    scans,
    trace,
    users,
    vocabularies,
)
from threadline.capture import CaptureLimits, CaptureService
from threadline.config import Settings
from threadline.genealogy.index import GraphIndex
from threadline.ingest.alerts import publisher_from_env
from threadline.quality.alerts import AlertChecker
from threadline.quality.holds import HoldGuard
from threadline.store import Store, open_store
from threadline.store.group_commit import GroupCommitter
from threadline.store.writer_process import ProcessGroupCommitter
from threadline.web import STATIC_DIR
from threadline.webhooks import start_webhooks

log = logging.getLogger("threadline.api")

INDEX_MIN_EDGES = 100_000
# Routes that need no credentials: liveness, and the login that hands them out.
OPEN_ROUTES = frozenset({"/health", "/auth/login", "/login"})


def _load_index(services: Services) -> GraphIndex | None:
    mode = services.settings.graph_index
    if mode == "off":
        return None
    with services.store.reader() as reader:
        if mode == "auto":
            edges = reader.count("edges")
            if edges <= INDEX_MIN_EDGES:
                log.info(
                    "genealogy index: off (%d edges, auto loads above %d)", edges, INDEX_MIN_EDGES
                )
                return None
        index = GraphIndex.load(reader)
    log.info("genealogy index: %d edges loaded", len(index))
    return index


def _give_back_freed_memory() -> None:
    """Return the heap freed after loading the index to the operating system.

    Loading holds every edge row as Python objects for a moment; glibc keeps the freed pages in
    its arenas, which on the large demo plant left the server at about twice the memory the
    index itself needs. ``malloc_trim`` hands them back (a no-op elsewhere than glibc).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        return


def _committer(store: Store, settings: Settings) -> GroupCommitter:
    """The service's single writer: a process of its own for a SQLite file (when enabled)."""
    if settings.writer_process and ProcessGroupCommitter.fits(store):
        return ProcessGroupCommitter(store)
    return GroupCommitter(store)


def _lifespan(settings: Settings, *, freeze_gc: bool) -> Any:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await run_in_threadpool(open_store, settings.db, batch_size=settings.batch_size)
        committer = await run_in_threadpool(_committer, store, settings)
        limits = CaptureLimits(settings.capture_max_events, settings.capture_max_bytes)
        # Alerts on captured sensor readings go to THREADLINE_MQTT_BROKER when it is set.
        publisher = publisher_from_env()
        alerts = AlertChecker(publisher)
        guard = HoldGuard(settings.hold_enforcement, alerts=alerts)
        services = Services(
            settings=settings,
            store=store,
            capture=CaptureService(store, committer, limits, guard=guard, alerts=alerts),
        )
        try:
            services.index = await run_in_threadpool(_load_index, services)
            if freeze_gc:
                # A long-running server keeps what it built at start-up: the cyclic collector
                # need not walk those objects again during requests.
                gc.collect()
                gc.freeze()
            _give_back_freed_memory()
            app.state.services = services
            if settings.webhook_delivery:
                app.state.webhooks = start_webhooks(store, committer, settings)
            yield
        finally:
            webhooks = getattr(app.state, "webhooks", None)
            if webhooks is not None:
                webhooks.close()  # before the committer: it records deliveries through it
            committer.close()  # finishes what is queued before the store closes
            if publisher is not None:
                publisher.close()
            store.close()

    return lifespan


def _guards(dependencies: list[Any]) -> Iterator[RoleGuard]:
    for dependant in dependencies:
        if isinstance(dependant.call, RoleGuard):
            yield dependant.call
        yield from _guards(dependant.dependencies)


def api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """Every API route of an app, including those of included routers."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
            continue
        # Newer FastAPI keeps an included router whole (a private route type) instead of
        # copying its routes into the app; it still lists them as "effective route contexts".
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for context in contexts():
                if isinstance(context.original_route, APIRoute):
                    yield context.original_route
        elif isinstance(getattr(route, "routes", None), list):
            yield from api_routes(route.routes)  # type: ignore[attr-defined]


def check_routes(routes: list[BaseRoute]) -> None:
    """Refuse an app with a route that does not declare its role (see :mod:`.deps`)."""
    for route in api_routes(routes):
        if route.path in OPEN_ROUTES:
            continue
        if not any(True for _ in _guards(route.dependant.dependencies)):
            raise RuntimeError(
                f"route {sorted(route.methods or ())} {route.path} declares no role; "
                "add a Viewer/Operator/Quality/Admin dependency"
            )


def create_app(settings: Settings, *, freeze_gc: bool = False) -> FastAPI:
    """The Threadline HTTP API for ``settings`` (nothing is opened until it starts)."""
    app = FastAPI(
        title="Threadline",
        summary="Track-and-trace on GS1 EPCIS 2.0 events",
        version="0.1.0",
        lifespan=_lifespan(settings, freeze_gc=freeze_gc),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    responses.install(app)
    app.add_middleware(AuditMiddleware)
    for module in (
        health,
        auth,
        users,
        audit,
        trace,
        capture,
        events,
        vocabularies,
        queries,
        scans,
        labels,
        resolver,
        quality,
    ):
        app.include_router(module.router)
    for page_router in PAGE_ROUTERS:
        app.include_router(page_router)
    # The pages' stylesheet (and later their other assets), shipped inside the package.
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    def openapi_document() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = responses.describe_errors(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi_document  # type: ignore[method-assign]  # FastAPI's way to extend it

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(_caller: Viewer) -> JSONBody:
        return JSONBody(app.openapi())

    check_routes(app.routes)
    return app
