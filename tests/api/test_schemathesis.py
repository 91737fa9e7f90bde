"""schemathesis against the app's own OpenAPI: no 5xx and no schema violations.

The document is the app's own (built from the app object, and checked to be exactly what the
live server publishes at ``/openapi.json``). schemathesis runs every operation in it against a
real server (uvicorn over HTTP, on the hand-built plant; SQLite with the in-memory genealogy
index, PostgreSQL with the SQL walk), as admin, with a bounded, deterministic set of requests:
its examples, coverage and fuzzing phases, positive and negative, at most :data:`MAX_EXAMPLES`
fuzzed ones per operation, from a fixed seed (about 2,000 requests per backend; the whole file
takes about 75 s on a 2-core machine). Each answer is checked:

* ``not_a_server_error``: no 5xx, whatever the input;
* ``status_code_conformance``: the status is one the operation declares;
* ``content_type_conformance``: the Content-Type is one declared for that status;
* ``response_schema_conformance``: the body matches the declared schema (every error is an
  ``application/problem+json`` Problem);
* ``response_headers_conformance``: declared response headers are present and well-formed.

Nothing is excluded; what would otherwise spoil the run is contained instead:

* Subscriptions name arbitrary generated ``dest`` URLs. The server runs with webhook delivery
  off (``THREADLINE_WEBHOOK_DELIVERY=0``): subscriptions are created, listed and deleted as
  usual, but nothing is ever POSTed anywhere.
* ``POST /users/{name}/disable``, ``DELETE /tokens/{token_id}`` and ``POST /auth/logout`` could
  take the admin's credentials away mid-run (token ids are small integers that generation
  hits). Every request carries a bearer token minted for it alone, of an admin whose name
  generation cannot guess; a bearer token wins over the generated session cookie, and logout
  ends only a session that the request was made with.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from threadline.api.app import api_routes, create_app
from threadline.config import Settings
from threadline.store import Store, open_store
from threadline.store.auth import Role, add_user, create_token

from livekit import PASSWORD, LiveServer, fresh_database, load_plant, settings_for, start_server

# Bounded for CI; a deeper local hunt: THREADLINE_SCHEMATHESIS_EXAMPLES=200, another seed.
MAX_EXAMPLES = int(os.environ.get("THREADLINE_SCHEMATHESIS_EXAMPLES", "20"))
SEED = int(os.environ.get("THREADLINE_SCHEMATHESIS_SEED", "20260301"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@dataclass
class Target:
    """The server under test and a way to mint admin credentials for each request."""

    live: LiveServer
    store: Store
    admin: str

    def fresh_admin_headers(self) -> dict[str, str]:
        secret = create_token(self.store, name=self.admin, label="schemathesis")[1]
        return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"], name="target")
def target_fixture(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    with fresh_database(request.param, tmp_path_factory.mktemp("schemathesis")) as db:
        store = open_store(db)
        load_plant(store)
        admin = f"admin-{uuid.uuid4().hex}"
        add_user(store, name=admin, role=Role.admin, password=PASSWORD)
        # Traces walk the in-memory index on one backend and SQL on the other.
        index = "on" if request.param == "sqlite" else "off"
        live = start_server(settings_for(db, graph_index=index, webhook_delivery=False))
        try:
            yield Target(live, store, admin)
        finally:
            live.stop()
            store.close()


def _schema() -> schemathesis.BaseSchema:
    """The app's OpenAPI document, as ``/openapi.json`` serves it (building it opens nothing)."""
    document = create_app(Settings(db=":memory:")).openapi()
    config = schemathesis.Config.from_dict(
        {"seed": SEED, "generation": {"max-examples": MAX_EXAMPLES}}
    )
    return schemathesis.openapi.from_dict(document, config=config)


schema = _schema()


# The seed in the schemathesis config makes the run repeatable; no example database either.
@settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@schema.parametrize()
def test_every_operation_conforms(case: schemathesis.Case, target: Target) -> None:
    case.call_and_validate(
        base_url=target.live.url,
        headers=target.fresh_admin_headers(),
        checks=CHECKS,
        timeout=60,
    )


def test_the_fuzzed_document_is_the_one_the_server_publishes(target: Target) -> None:
    with target.live.client(headers=target.fresh_admin_headers()) as client:
        published = client.get("/openapi.json")
    assert published.status_code == 200
    assert published.json() == schema.raw_schema
    documented = {(m.upper(), p) for p, ops in published.json()["paths"].items() for m in ops}
    app = create_app(Settings(db=":memory:"))
    served = {
        (method, route.path_format)
        for route in api_routes(app.routes)
        if route.include_in_schema
        for method in route.methods or ()
    }
    assert served == documented


def test_the_server_under_test_sends_no_webhooks(target: Target) -> None:
    """Generated subscriptions name any host: the server under test keeps them, sends nothing."""
    name = f"q-{uuid.uuid4().hex[:8]}"
    with target.live.client(headers=target.fresh_admin_headers()) as client:
        made = client.post("/queries", json={"name": name, "query": {"EQ_bizStep": ["shipping"]}})
        sub = client.post(
            f"/queries/{name}/subscriptions",
            json={"dest": "http://127.0.0.1:9/hook", "stream": True},
        )
    assert made.status_code == 201 and sub.status_code == 201, sub.text
    assert not target.live.settings.webhook_delivery
    assert getattr(target.live.server.config.app.state, "webhooks", None) is None
