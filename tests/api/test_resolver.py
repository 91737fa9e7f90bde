"""The GS1 Digital Link resolver and the label routes, against a real server on each backend.

Covers: a label's QR code scanned (decoded) and opened lands on the passport; the linkset's
shape and that its links work; linkType redirects; 404 and 400 for browsers (HTML) and API
clients (problem JSON); the public setting on and off; and the GS1 Syntax Engine's Digital Link
URI vectors, through the resolver's parser and, where an HTTP request can carry them, through
the routes.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
import pytest
from PIL import Image

from conftest import CONFORMANCE
from threadline.errors import InvalidInput
from threadline.gs1.digital_link import build_digital_link, parse_digital_link
from threadline.gs1.keys import canonical, canonical_key, check_digit
from threadline.labels import decode_image
from threadline.service import import_document
from threadline.store import Store, open_store
from threadline.store.auth import Role, add_user, create_token

from livekit import PASSWORD, LiveServer, fresh_database, settings_for, start_server
from plantkit import B1, F1, P1, X1, document, receive, small_plant

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
LINKSET_JSON = {"Accept": "application/linkset+json"}
PLAIN_JSON = {"Accept": "application/json"}
VOC = "https://gs1.org/voc/"

_ODD_GTIN = "0401234544444"
ODD_GTIN = _ODD_GTIN + check_digit(_ODD_GTIN)
ODD = f"https://id.example.com/01/{ODD_GTIN}/10/A%2FB(7)"  # a lot number holding "/"
# Objects named by GS1 Syntax Engine vectors, stored so that those vectors resolve (200).
VECTOR_LOT = "https://id.gs1.org/01/09520123456788/10/ABC123"
VECTOR_SSCC = "https://id.gs1.org/00/006141411234567890"


def load(store: Store, tmp: Path) -> None:
    events, _ = small_plant()
    extra = [receive(90 + i, lot, 10) for i, lot in enumerate((ODD, VECTOR_LOT))]
    observe = receive(95, VECTOR_LOT, 1)
    del observe["quantityList"], observe["ilmd"]
    observe.update(action="OBSERVE", bizStep="inspecting", epcList=[VECTOR_SSCC])
    path = tmp / "resolver-plant.jsonld"
    path.write_text(json.dumps(document([*events, *extra, observe])))
    import_document(store, path)


class Site:
    """A running server with the public resolver on, and a viewer's token."""

    def __init__(self, kind: str, store: Store, live: LiveServer, token: str) -> None:
        self.kind, self.store, self.live, self.token = kind, store, live, token

    def anonymous(self, **headers: str) -> Any:
        return self.live.client(headers=headers, follow_redirects=False)

    def viewer(self, **headers: str) -> Any:
        return self.live.client(
            headers={"Authorization": f"Bearer {self.token}", **headers}, follow_redirects=False
        )

    def dl(self, key: str) -> str:
        """The Digital Link URI of canonical ``key`` on this server."""
        return build_digital_link(parse_digital_link(key), base=self.live.url)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("resolver")
    with fresh_database(request.param, tmp) as db:
        store = open_store(db)
        load(store, tmp)
        add_user(store, name="viewer", role=Role.viewer, password=PASSWORD)
        token = create_token(store, name="viewer", label="resolver tests")[1]
        live = start_server(settings_for(db, public_resolver=True, resolver_base=None))
        try:
            yield Site(request.param, store, live, token)
        finally:
            live.stop()
            store.close()


def _rasterise(body: bytes, fmt: str) -> Any:
    if fmt == "png":
        return Image.open(io.BytesIO(body))
    if fmt == "svg":
        resvg = pytest.importorskip("resvg_py", reason="resvg-py rasterises SVG labels")
        return Image.open(io.BytesIO(resvg.svg_to_bytes(svg_string=body.decode())))
    pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 rasterises PDF labels")
    document = pdfium.PdfDocument(body)
    try:
        return document[0].render(scale=300 / 72).to_pil()
    finally:
        document.close()


# -- scanning a label lands on the passport ------------------------------------------------------


@pytest.mark.parametrize(("identifier", "fmt"), [(X1, "png"), (P1, "pdf"), (ODD, "svg")])
def test_a_scanned_label_opens_the_passport(site: Site, identifier: str, fmt: str) -> None:
    with site.viewer() as client:
        label = client.get(f"/labels/{quote(identifier, safe='')}", params={"format": fmt})
    assert label.status_code == 200, label.text
    (found,) = decode_image(_rasterise(label.content, fmt))
    assert found.symbology_identifier == "]Q1"
    key = canonical_key(identifier)
    assert found.text == site.dl(key)
    # The phone opens the URI it decoded, with a browser's Accept header and no credentials.
    with site.anonymous(**BROWSER) as phone:
        page = phone.get(found.text)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert f'data-testid="object-id">{key}</code>' in page.text
    assert page.headers["vary"] == "Accept"
    assert 'rel="linkset"' in page.headers["link"]


def test_the_passport_shows_status_where_timeline_and_neighbours(site: Site) -> None:
    with site.anonymous(**BROWSER) as phone:
        page = phone.get(site.dl(canonical_key(F1))).text
    assert '<p class="badge tone-ok" role="status">active</p>' in page
    assert "2000 EA of 18000" in page  # on hand
    assert page.count('<li>\n      <time datetime="') == 5  # its five events, newest first
    for neighbour in (B1, X1):  # upstream and downstream, linked to their passports
        assert f'href="{site.dl(canonical_key(neighbour))}"' in page
    assert 'href="/static/threadline.css"' in page
    with site.anonymous() as browser:
        css = browser.get("/static/threadline.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_a_box_passport_shows_its_container_chain(site: Site) -> None:
    with site.anonymous(**BROWSER) as phone:
        page = phone.get(site.dl(canonical_key(X1))).text
    chain = re.search(r'<ol class="chain">(.*?)</ol>', page, re.S)
    assert chain is not None
    assert site.dl(canonical_key(P1)) in chain.group(1)
    assert '<p class="badge tone-gone" role="status">shipped</p>' in page


# -- the linkset ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "query", "media"),
    [
        (LINKSET_JSON, "", "application/linkset+json"),
        (PLAIN_JSON, "", "application/json"),
        (BROWSER, "?linkType=all", "application/linkset+json"),
    ],
)
def test_an_api_client_gets_the_gs1_linkset(
    site: Site, headers: dict[str, str], query: str, media: str
) -> None:
    key = canonical_key(X1)
    anchor = site.dl(key)
    with site.anonymous(**headers) as client:
        answer = client.get(anchor + query)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == media
    (context,) = answer.json()["linkset"]
    assert context["anchor"] == anchor
    types = {name.removeprefix(VOC) for name in context if name != "anchor"}
    assert types == {"defaultLink", "pip", "traceability", "logisticsInfo", "epcis"}
    for name, targets in context.items():
        if name == "anchor":
            continue
        assert targets and all({"href", "title", "type"} <= set(t) for t in targets)
        assert all(t["href"].startswith(site.live.url + "/") for t in targets)
    hrefs = [t["href"] for t in context[VOC + "traceability"]]
    assert hrefs == [
        f"{site.live.url}/trace/backward?id={quote(key, safe='')}",
        f"{site.live.url}/trace/forward?id={quote(key, safe='')}",
    ]


def test_the_linkset_links_lead_to_answers(site: Site) -> None:
    key = canonical_key(X1)
    with site.anonymous(**LINKSET_JSON) as client:
        (context,) = client.get(site.dl(key)).json()["linkset"]
    with site.viewer() as viewer:
        backward = viewer.get(context[VOC + "traceability"][0]["href"])
        where = viewer.get(context[VOC + "logisticsInfo"][0]["href"])
        events = viewer.get(context[VOC + "epcis"][0]["href"])
    assert backward.status_code == 200 and backward.json()["root"] == key
    assert where.status_code == 200 and where.json()["container_chain"] == [canonical_key(P1)]
    assert events.status_code == 200, events.text
    with site.anonymous() as phone:
        passport = phone.get(context[VOC + "pip"][0]["href"], headers=PLAIN_JSON)
    # gs1:pip is the passport whatever the Accept header says.
    assert passport.status_code == 200 and passport.headers["content-type"].startswith("text/html")


def test_a_link_type_redirects_to_its_link(site: Site) -> None:
    key = canonical_key(F1)
    with site.anonymous() as client:
        trace = client.get(site.dl(key), params={"linkType": "gs1:traceability"})
        where = client.get(site.dl(key), params={"linkType": "gs1:logisticsInfo"})
        unknown = client.get(site.dl(key), params={"linkType": "gs1:recipeInfo"})
    assert trace.status_code == 307
    assert trace.headers["location"] == f"{site.live.url}/trace/backward?id={quote(key, safe='')}"
    assert where.status_code == 307 and "/where?id=" in where.headers["location"]
    # A link type the object has no link of falls back to the default link: the passport.
    assert unknown.status_code == 200 and "text/html" in unknown.headers["content-type"]


# -- 404 and 400 -----------------------------------------------------------------------------------


UNKNOWN_SSCC = "https://id.gs1.org/00/" + "01234567000000001" + check_digit("01234567000000001")


def test_an_unknown_key_is_404_html_for_a_browser_and_problem_json_for_an_api(site: Site) -> None:
    uri = site.dl(UNKNOWN_SSCC)
    with site.anonymous(**BROWSER) as phone:
        page = phone.get(uri)
    with site.anonymous(**PLAIN_JSON) as client:
        problem = client.get(uri)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert '<h1 id="error-heading">Not found</h1>' in page.text
    assert problem.status_code == 404
    assert problem.headers["content-type"] == "application/problem+json"
    assert problem.json()["type"] == "not_found"
    assert "no object" in problem.json()["title"]


@pytest.mark.parametrize(
    ("path", "fault"),
    [
        ("/00/140123450000000014", "Invalid SSCC check digit"),
        ("/01/04012345222228/10/F1", "Invalid GTIN check digit"),
        ("/01/4012345222227", "a GS1 Digital Link URI carries the GTIN as 14 digits"),
        ("/00/140123450000000013/10/X", "(00) takes no qualifiers"),
        ("/01/04012345222227/10/F1?17=270231", "not a valid date"),
        ("/414/4012345000023/254/", "empty value"),
    ],
)
def test_an_invalid_uri_is_400_naming_the_fault(site: Site, path: str, fault: str) -> None:
    with site.anonymous(**PLAIN_JSON) as client:
        problem = client.get(path)
    with site.anonymous(**BROWSER) as phone:
        page = phone.get(path)
    assert problem.status_code == 400, problem.text
    assert problem.json()["type"] == "invalid_input"
    assert fault in problem.json()["title"]
    assert "resolver.invalid" not in problem.json()["title"]
    assert page.status_code == 400
    assert "Not a valid GS1 Digital Link" in page.text
    assert fault.replace("'", "&#39;") in page.text


# -- the public setting --------------------------------------------------------------------------


def test_with_the_public_setting_off_the_resolver_needs_a_viewer(site: Site) -> None:
    if site.kind != "sqlite":
        pytest.skip("the setting is read by the app, not the backend: one backend suffices")
    db = site.store.url.removeprefix("sqlite:///")
    private = start_server(settings_for(db, public_resolver=False))
    try:
        uri = build_digital_link(parse_digital_link(canonical_key(X1)), base=private.url)
        with private.client(headers=BROWSER) as anonymous:
            refused = anonymous.get(uri)
        with private.client(headers={"Accept": "application/json"}) as machine:
            machine_refused = machine.get(uri)
        with private.client(headers={**BROWSER, "Authorization": f"Bearer {site.token}"}) as v:
            allowed = v.get(uri)
    finally:
        private.stop()
    # A browser is sent to the login page, which comes back to the scanned label afterwards;
    # a machine gets the API's 401.
    assert refused.status_code == 303
    login = refused.headers["location"]
    assert login.startswith("/login?next=%2F00%2F")
    assert machine_refused.status_code == 401
    assert machine_refused.json()["type"] == "unauthenticated"
    assert allowed.status_code == 200 and canonical_key(X1) in allowed.text
    with site.anonymous(**BROWSER) as anonymous:  # the public server lets the same call in
        assert anonymous.get(site.dl(canonical_key(X1))).status_code == 200


def test_the_resolver_base_setting_is_what_labels_and_linksets_point_at(site: Site) -> None:
    if site.kind != "sqlite":
        pytest.skip("the setting is read by the app, not the backend: one backend suffices")
    db = site.store.url.removeprefix("sqlite:///")
    public = "https://trace.plant.example/dl"
    proxied = start_server(settings_for(db, public_resolver=True, resolver_base=public))
    key = canonical_key(X1)
    try:
        with proxied.client(headers={"Authorization": f"Bearer {site.token}"}) as viewer:
            label = viewer.get(f"/labels/{quote(X1, safe='')}", params={"symbology": "qr"})
        # Behind a proxy that strips /dl, the request reaches the server at the bare path.
        with proxied.client(headers=LINKSET_JSON) as client:
            (context,) = client.get("/00/040123450000000016").json()["linkset"]
    finally:
        proxied.stop()
    (found,) = decode_image(_rasterise(label.content, "png"))
    assert found.text == f"{public}/00/040123450000000016"
    assert context["anchor"] == f"{public}/00/040123450000000016"
    where = context[VOC + "logisticsInfo"][0]["href"]
    assert where == f"{public}/where?id={quote(key, safe='')}"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", None),
        ("https://trace.plant.example/", "https://trace.plant.example"),
        ("http://10.0.0.5:8000/dl", "http://10.0.0.5:8000/dl"),
        ("ftp://trace.plant.example", "must be an http:// or https:// address"),
        ("https://", "must be an http:// or https:// address"),
        ("https://trace.plant.example/?x=1", "must not contain a query or fragment"),
    ],
)
def test_the_resolver_base_setting_is_checked(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: str | None
) -> None:
    from threadline.config import Settings

    monkeypatch.setenv("THREADLINE_RESOLVER_BASE", raw)
    if expected is None or expected.startswith("http"):
        assert Settings.from_env(db="x.db").resolver_base == expected
        return
    with pytest.raises(InvalidInput, match=f"THREADLINE_RESOLVER_BASE {expected}"):
        Settings.from_env(db="x.db")


def test_labels_themselves_are_never_public(site: Site) -> None:
    with site.anonymous() as anonymous:
        answer = anonymous.get(f"/labels/{quote(X1, safe='')}")
    assert answer.status_code == 401


# -- the label routes ----------------------------------------------------------------------------


def test_the_label_route_names_what_cannot_be_labelled(site: Site) -> None:
    with site.viewer() as viewer:
        unknown = viewer.get(f"/labels/{quote(UNKNOWN_SSCC, safe='')}")
        bad = viewer.get("/labels/" + quote("https://id.gs1.org/00/140123450000000014", safe=""))
        choice = viewer.get(f"/labels/{quote(X1, safe='')}", params={"symbology": "code39"})
    assert unknown.status_code == 404 and unknown.json()["type"] == "not_found"
    assert bad.status_code == 400 and "wrong check digit" in bad.json()["title"]
    assert choice.status_code == 422 and choice.json()["errors"][0]["where"] == (
        "query parameter 'symbology'"
    )


def test_the_sheet_route_prints_every_id(site: Site) -> None:
    ids = [X1, P1, F1]
    with site.viewer() as viewer:
        sheet = viewer.get("/labels", params={"id": ids, "symbology": "datamatrix"})
    assert sheet.status_code == 200, sheet.text
    assert sheet.headers["content-type"] == "application/pdf"
    assert 'filename="labels-3-datamatrix.pdf"' in sheet.headers["content-disposition"]
    found = decode_image(_rasterise(sheet.content, "pdf"))
    assert sorted(d.symbology_identifier for d in found) == ["]d2"] * 3


# -- the GS1 Syntax Engine's Digital Link vectors --------------------------------------------------

VECTORS = CONFORMANCE / "digital-link" / "gs1-syntax-engine" / "test-vectors.jsonl"
_ALPHAS = re.compile(r"/(gtin|ser|sscc|lot|gln|cpv)/")
_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?\[\]@!$&'()*+,;=%]*")
_STORED_KEYS = ("00", "01", "253", "414", "417", "8003", "8004")


def _vectors() -> list[dict[str, Any]]:
    """parseDLuri records with the engine's default options (those Threadline shares)."""
    if not VECTORS.is_file():
        return []
    out = []
    for line in VECTORS.read_text(encoding="utf-8").splitlines():
        record = json.loads(line) if line.strip() else None
        if not record or record["macro"] != "test_parseDLuri":
            continue
        settings = " ".join(record["ctx_settings_in_effect"])
        if "PermitUnknownAIs" in settings or "ZeroSuppressedGTINinDLuris(ctx, true)" in settings:
            continue
        args = record["args"]
        if args["should_succeed"] and _ALPHAS.search(args["dl_uri"]):
            continue  # deprecated alpha names: see tests/gs1/test_gs1_vectors.py
        out.append(record)
    return out


RECORDS = _vectors()
MISSING = pytest.mark.skipif(not RECORDS, reason=f"Digital Link vectors not found at {VECTORS}")


def _id(record: dict[str, Any]) -> str:
    return str(record["source"]).rsplit("#L", 1)[-1] + ":" + record["args"]["dl_uri"][:40]


@MISSING
@pytest.mark.parametrize("record", RECORDS, ids=_id)
def test_the_resolver_parser_passes_the_uri_vectors(record: dict[str, Any]) -> None:
    from threadline.api.routes.resolver import resolve_uri

    args = record["args"]
    if not args["should_succeed"]:
        with pytest.raises(InvalidInput):
            resolve_uri(args["dl_uri"])
        return
    values = parse_digital_link(args["dl_uri"])
    if values[0].ai not in _STORED_KEYS:
        with pytest.raises(InvalidInput, match="not a key Threadline resolves"):
            resolve_uri(args["dl_uri"])
        return
    assert resolve_uri(args["dl_uri"]) == canonical(args["dl_uri"]).key


def _routable(record: dict[str, Any]) -> bool:
    """A vector an HTTP request can carry to a route as written: plain host, no fragment,
    only URI characters, well-formed escapes, path starting with a key Threadline stores."""
    uri = record["args"]["dl_uri"]
    if not uri.startswith(("http://", "https://")) or "#" in uri or not _URI_CHARS.fullmatch(uri):
        return False
    if re.search(r"%(?![0-9A-Fa-f]{2})", uri):
        return False
    parts = urlsplit(uri)
    first = parts.path.split("/")[1] if parts.path.count("/") >= 2 else ""
    return bool(re.fullmatch(r"[a-z0-9.]+", parts.netloc)) and first in _STORED_KEYS


ROUTABLE = [r for r in RECORDS if _routable(r)]


@MISSING
def test_enough_vectors_reach_the_routes() -> None:
    outcomes = {r["args"]["should_succeed"] for r in ROUTABLE}
    assert len(ROUTABLE) >= 40 and outcomes == {True, False}


@MISSING
@pytest.mark.parametrize("record", ROUTABLE, ids=_id)
def test_the_resolver_routes_pass_the_uri_vectors(site: Site, record: dict[str, Any]) -> None:
    if site.kind != "sqlite":
        pytest.skip("URI parsing does not depend on the backend: one backend suffices")
    uri = record["args"]["dl_uri"]
    parts = urlsplit(uri)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    with site.anonymous(**PLAIN_JSON) as client:
        answer = client.get(target)
    if not record["args"]["should_succeed"]:
        assert answer.status_code == 400, (uri, answer.text)
        assert answer.json()["type"] == "invalid_input"
        return
    key = canonical(uri).key
    stored = key in (VECTOR_LOT, VECTOR_SSCC)
    assert answer.status_code == (200 if stored else 404), (uri, answer.text)
    if stored:
        assert orjson.loads(answer.content)["linkset"][0]["anchor"].endswith(
            key.removeprefix("https://id.gs1.org")
        )
