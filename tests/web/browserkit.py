"""Browser tests' kit: the small demo plant behind a live server, driven with Debian's Chromium.

The plant is the simulated demo plant (``threadline.sim``, small scale, seed 7) plus what it
lacks for the pages: a serialised part made under a production order, a forming-force spec some
readings break (alerts), a hold on a finished lot, and one user per role (password
``livekit.PASSWORD``). It is built once per test run and copied for each test module, so a
module that places holds does not change what another module sees.

``site`` (module-scoped; import ``site_fixture``) is that plant behind the real server (on a
free port) and one Chromium for the module. ``site.page(role)`` opens a fresh browser context
logged in as ``role`` (the login form is used once per role and module; later contexts reuse
the session cookie), ``site.page(None)`` one without a session.

Chromium is Debian's ``/usr/bin/chromium``: the browsers Playwright downloads are never used.
Without it the tests skip with the reason, except under ``THREADLINE_REQUIRE_SERVICES=1``
(CI), where they fail.

(A module rather than a conftest.py, like ``livekit``: a second conftest would shadow the root
one for the tests importing from it.)
"""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conftest import REQUIRE_SERVICES
from threadline.service import parse_events
from threadline.sim import Highlights
from threadline.store import Store, open_store
from threadline.store.auth import Role, add_user

from livekit import PASSWORD, ROLES, LiveServer, settings_for, start_server

ROOT = Path(__file__).resolve().parents[2]


def _load_script(name: str) -> ModuleType:
    """A script of ``scripts/`` as a module (the screenshot script holds the page list)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


screenshots = _load_script("screenshots")
Samples = screenshots.Samples
CHROMIUM = Path(screenshots.CHROMIUM)

# What the demo plant lacks, added to it: a serialised bolt made under a production order.
SERIAL = "SN-24-000042"
PRODUCTION_ORDER = "https://threadline.example/prodorder/PRO-24-00042"


def chromium_or_skip() -> None:
    """Skip (or, where services are required, fail) when Debian's Chromium is missing."""
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing (apt-get install chromium); the browser tests need it"
    if REQUIRE_SERVICES:
        pytest.fail(reason)
    pytest.skip(reason)


def serial_key(gtin: str) -> str:
    """The serialised bolt's key: serial :data:`SERIAL` of product ``gtin``."""
    return f"https://id.gs1.org/01/{gtin}/21/{SERIAL}"


def extra_events(lot: str, gtin: str) -> list[dict[str, Any]]:
    """A bolt of ``lot`` (of product ``gtin``) serialised as a test piece under an order."""
    return [
        {
            "type": "TransformationEvent",
            "eventTime": "2024-01-19T08:00:00.000Z",
            "eventTimeZoneOffset": "+01:00",
            "eventID": "urn:uuid:6d1c5e0a-35e8-4bb5-9d0e-4c2d8e0f4242",
            "inputQuantityList": [{"epcClass": lot, "quantity": 1, "uom": "EA"}],
            "outputEPCList": [serial_key(gtin)],
            "bizStep": "commissioning",
            "disposition": "active",
            "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.QA-01"},
            "bizLocation": {"id": "urn:epc:id:sgln:4012345.00001.0"},
            "bizTransactionList": [{"type": "prodorder", "bizTransaction": PRODUCTION_ORDER}],
        }
    ]


@dataclass(frozen=True)
class DemoPlant:
    """The built plant (a SQLite file to copy) and what tests look for in it."""

    db: Path
    highlights: Highlights
    samples: Any  # screenshots.Samples

    @property
    def serial(self) -> str:
        """The key of the serialised bolt made under :data:`PRODUCTION_ORDER`."""
        return serial_key(self.samples.gtin)


_built: dict[Path, DemoPlant] = {}


def demo_plant(tmp_path_factory: pytest.TempPathFactory) -> DemoPlant:
    """The plant of this test run, built on first use."""
    folder = tmp_path_factory.getbasetemp() / "browser-plant"
    if folder in _built:
        return _built[folder]
    folder.mkdir(exist_ok=True)
    db = folder / "plant.db"
    plant = screenshots.build_plant(db)
    store = open_store(str(db))
    try:
        samples = screenshots.pick_samples(store)
        store.append(
            list(parse_events(extra_events(samples.lot, samples.gtin), source="browser tests"))
        )
        screenshots.add_quality_data(store, samples)
        for role in ROLES:
            add_user(store, name=role, role=Role[role], password=PASSWORD)
    finally:
        store.close()
    _built[folder] = DemoPlant(db, plant.highlights, samples)
    return _built[folder]


def copy_database(source: Path, target: Path) -> None:
    # The backup API copies a consistent database whatever is still in the write-ahead log.
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


@dataclass
class Site:
    """A live server over a copy of the plant, and a browser."""

    live: LiveServer
    store: Store
    plant: DemoPlant
    browser: Any
    sessions: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.live.url

    @property
    def samples(self) -> Any:
        return self.plant.samples

    @property
    def highlights(self) -> Highlights:
        return self.plant.highlights

    def session(self, role: str) -> Any:
        """The storage state (session cookie) of ``role``, logging in through the form once."""
        if role not in self.sessions:
            context = self.browser.new_context(base_url=self.url)
            try:
                page = context.new_page()
                screenshots.log_in(page, self.url, role, PASSWORD)
                assert page.get_by_test_id("user").inner_text().startswith(role)
                self.sessions[role] = context.storage_state()
            finally:
                context.close()
        return self.sessions[role]

    @contextmanager
    def context(
        self, role: str | None, *, width: int = 1440, height: int = 900, **options: Any
    ) -> Iterator[Any]:
        """A browser context (closed afterwards), logged in as ``role`` unless it is None."""
        state = self.session(role) if role else None
        context = self.browser.new_context(
            base_url=self.url,
            viewport={"width": width, "height": height},
            storage_state=state,
            **options,
        )
        context.set_default_timeout(15_000)
        try:
            yield context
        finally:
            context.close()

    @contextmanager
    def page(self, role: str | None, *, width: int = 1440, height: int = 900) -> Iterator[Any]:
        """A page in a fresh context logged in as ``role`` (None: no session)."""
        with self.context(role, width=width, height=height) as context:
            yield context.new_page()


def open_page(page: Any, path: str, *, status: int = 200) -> Any:
    """``page.goto(path)``, checking the HTTP status of the answer."""
    answer = page.goto(path)
    assert answer is not None, f"no answer for {path}"
    assert answer.status == status, f"{path} answered {answer.status}: {answer.text()[:500]}"
    return answer


@pytest.fixture(scope="module", name="site")
def site_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    plant = demo_plant(tmp_path_factory)
    db = tmp_path_factory.mktemp("browser") / "plant.db"
    copy_database(plant.db, db)
    store = open_store(str(db))
    live = start_server(settings_for(str(db), graph_index="on"))
    try:
        with sync_playwright() as playwright:
            browser = screenshots.launch(playwright)
            try:
                yield Site(live, store, plant, browser)
            finally:
                browser.close()
    finally:
        live.stop()
        store.close()
