"""Screenshots of every Threadline page on a phone (390 px) and a desk (1440 px); overflow check.

Usage::

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--db PATH]

Without ``--db`` it builds the small demo plant (seed 7) in a temporary folder, with a
forming-force spec on its first cold header (so the alerts page has alerts) and one hold.
With ``--db`` it works on a copy of that SQLite plant, so the original is left as it was.
Either way it adds a user of role quality, starts the server on a free local port, logs in
through the login form with Debian's Chromium (``/usr/bin/chromium``, driven by Playwright),
opens every page at both widths, writes ``<page>-390.png`` and ``<page>-1440.png`` into
``--out`` and reports anything that sticks out past the right edge of the screen. It exits 1
when a page overflows or does not answer as expected.

The browser tests import this file (``tests/web/browserkit.py``): the page list, the plant
samples, the login steps and the overflow check live here once.
"""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

CHROMIUM = "/usr/bin/chromium"
WIDTHS = (390, 1440)
HEIGHTS = {390: 844, 1440: 900}
SCREENSHOT_USER = "screenshots"
SCREENSHOT_PASSWORD = "screenshots of every page"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
MISSING_SSCC = "urn:epc:id:sscc:4012345.9999999999"


# -- what the pages show: identifiers picked from the plant ------------------------------------


@dataclass(frozen=True)
class Samples:
    """Identifiers of one plant the pages are opened with (canonical keys unless noted)."""

    heat_lot: str
    heat_number: str  # as the mill certificate gives it (tl:heatNumber)
    lot: str  # a finished lot
    lot_code: str  # its lot number alone
    gtin: str  # its product's GTIN-14
    box: str  # an SSCC
    sscc: str  # the same SSCC as 18 digits
    customer: str  # a customer's party GLN
    purchase_order: str  # a customer's purchase order (bizTransaction)
    equipment: str  # a cold header's read point (SGLN)


def _doc(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else json.loads(value)


def pick_samples(store: Any) -> Samples:
    """Samples from ``store`` (a demo plant); bounded queries, so a large plant answers fast."""
    from threadline.gs1.keys import canonical
    from threadline.model.identifiers import CANONICAL_BASE

    with store.reader() as reader:
        heat_lot = heat_number = ""
        for (doc,) in reader.query(
            "SELECT doc FROM events WHERE biz_step = ? ORDER BY id LIMIT 50", ("receiving",)
        ):
            event = _doc(doc)
            number = (event.get("ilmd") or {}).get("tl:heatNumber")
            if number and event.get("quantityList"):
                heat_lot = canonical(event["quantityList"][0]["epcClass"]).key
                heat_number = str(number)
                break
        rows = reader.query(
            "SELECT key, product FROM objects WHERE kind = ? AND key LIKE ? ORDER BY id LIMIT 1",
            ("lgtin", "%/10/FL%"),
        )
        lot, gtin = rows[0] if rows else ("", "")
        # The lowest SSCC: the plant's first box (a range of the key index, not a scan).
        boxes = reader.query(
            "SELECT key FROM objects WHERE key >= ? AND key < ? ORDER BY key LIMIT 1",
            (f"{CANONICAL_BASE}/00/", f"{CANONICAL_BASE}/00/~"),
        )
        box = boxes[0][0] if boxes else ""
        customer = purchase_order = ""
        for (doc,) in reader.query(
            "SELECT doc FROM events WHERE biz_step = ? ORDER BY id LIMIT 1", ("shipping",)
        ):
            event = _doc(doc)
            for party in event.get("destinationList", []):
                if party.get("type") == "owning_party":
                    customer = canonical(party["destination"]).key
            for deal in event.get("bizTransactionList", []):
                if deal.get("type") == "po":
                    purchase_order = deal["bizTransaction"]
        headers = reader.query(
            "SELECT read_point FROM events WHERE type = ? AND read_point IS NOT NULL "
            "ORDER BY id LIMIT 1",
            ("TransformationEvent",),
        )
        equipment = canonical(headers[0][0]).key if headers else ""
    missing = [
        name
        for name, value in (("heat lot", heat_lot), ("finished lot", lot), ("box", box))
        if not value
    ]
    if missing:
        raise SystemExit(f"the plant has no {', '.join(missing)}: is it a Threadline demo plant?")
    return Samples(
        heat_lot=heat_lot,
        heat_number=heat_number,
        lot=lot,
        lot_code=lot.rsplit("/10/", 1)[1],
        gtin=gtin or lot.split("/01/", 1)[1][:14],
        box=box,
        sscc=box.rsplit("/", 1)[1],
        customer=customer,
        purchase_order=purchase_order,
        equipment=equipment,
    )


@dataclass(frozen=True)
class Shot:
    """One page to open: its file name stem, its path, and the HTTP status it answers with."""

    name: str
    path: str
    status: int = 200
    logged_in: bool = True


def _q(value: str) -> str:
    return quote(value, safe="")


def equipment_name(key: str) -> str:
    """The machine name of an SGLN key (``.../254/CH-04`` -> ``CH-04``)."""
    return key.rsplit("/254/", 1)[-1]


@dataclass(frozen=True)
class Page:
    """One page of Threadline: how to address it on a plant's samples."""

    name: str
    path: Callable[[Samples], str]
    status: int = 200
    logged_in: bool = True


def _graph(key: str, direction: str) -> str:
    return "/ui/graph?" + urlencode({"id": key, "direction": direction})


PAGES = (
    Page("login", lambda s: "/login", logged_in=False),
    Page("dashboard", lambda s: "/"),
    Page("search", lambda s: "/ui/search?" + urlencode({"q": s.gtin})),
    Page("passport", lambda s: f"/ui/passport?id={_q(s.box)}"),
    Page("passport-lot", lambda s: f"/ui/passport?id={_q(s.lot)}"),
    Page("graph", lambda s: _graph(s.heat_lot, "forward")),
    Page("graph-backward", lambda s: _graph(s.box, "backward")),
    Page("recall", lambda s: "/ui/recall"),
    Page("recall-scope", lambda s: "/ui/recall/scope?" + urlencode({"ids": s.heat_lot})),
    Page("alerts", lambda s: "/ui/alerts"),
    Page("holds", lambda s: "/ui/holds"),
    Page("equipment", lambda s: "/ui/equipment"),
    Page("equipment-detail", lambda s: f"/ui/equipment/{_q(equipment_name(s.equipment))}"),
    Page("not-found", lambda s: f"/ui/passport?id={_q(MISSING_SSCC)}", status=404),
)
"""Every page of Threadline, in the order they are shot."""


def page_list(s: Samples) -> list[Shot]:
    """Every page of Threadline, opened on the samples of one plant."""
    return [Shot(p.name, p.path(s), p.status, p.logged_in) for p in PAGES]


# -- the overflow check ------------------------------------------------------------------------

# Elements whose right edge lies past the viewport; content of an element that scrolls by itself
# (overflow-x auto or scroll, such as .table-wrap) may be wider, the scrolling element may not.
OVERFLOW_JS = """
() => {
  const width = window.innerWidth;
  const found = [];
  const root = document.documentElement;
  if (root.scrollWidth > width) {
    found.push(`the page is ${root.scrollWidth}px wide on a ${width}px screen`);
  }
  const scrolls = (el) => {
    for (let up = el.parentElement; up; up = up.parentElement) {
      const x = getComputedStyle(up).overflowX;
      if (x === 'auto' || x === 'scroll') return true;
    }
    return false;
  };
  const name = (el) => {
    let text = el.tagName.toLowerCase();
    if (el.id) text += '#' + el.id;
    if (typeof el.className === 'string' && el.className.trim()) {
      text += '.' + el.className.trim().split(/\\s+/).join('.');
    }
    const words = (el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 50);
    return words ? `${text} "${words}"` : text;
  };
  const hits = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) continue;  // hidden, or visually-hidden labels
    if (scrolls(el)) continue;
    if (box.right > width + 0.5) {
      hits.push([el, `${name(el)} ends at ${Math.round(box.right)}px`]);
    } else if (getComputedStyle(el).overflowX === 'visible' && el.clientWidth > 0
               && box.left + el.scrollWidth > width + 0.5
               && el.scrollWidth > el.clientWidth + 1) {
      // The box fits but what is inside does not (a long word that never wraps).
      const end = Math.round(box.left + el.scrollWidth);
      hits.push([el, `${name(el)}: its content ends at ${end}px`]);
    }
  }
  // Name the innermost culprits, not every ancestor that grew with them.
  const inside = (el) => hits.some(([other]) => other !== el && el.contains(other));
  const innermost = hits.filter(([el]) => !inside(el));
  for (const [, text] of innermost.slice(0, 15)) found.push(text);
  return found;
}
"""


def overflow(page: Any) -> list[str]:
    """What sticks out past the right edge of ``page``'s viewport (empty when nothing does)."""
    return list(page.evaluate(OVERFLOW_JS))


# -- browser and login -------------------------------------------------------------------------


def launch(playwright: Any) -> Any:
    """Debian's Chromium under Playwright (the browsers Playwright downloads are never used)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])


def log_in(page: Any, base: str, name: str, password: str, *, next_path: str = "/") -> None:
    """Log in through the login form and wait for the page asked for."""
    page.goto(f"{base}/login?" + urlencode({"next": next_path}))
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def shoot(
    new_page: Callable[[int, bool], Any],
    base: str,
    shots: Sequence[Shot],
    out: Path,
    *,
    widths: Sequence[int] = WIDTHS,
) -> dict[str, list[str]]:
    """Open every shot at every width, save ``<name>-<width>.png`` in ``out``.

    ``new_page(width, logged_in)`` gives a page in a fresh browser context of that width (with a
    session when ``logged_in``); the caller closes it when done (it is a context manager).
    Returns the faults per ``<name>-<width>``: overflow past the right edge, or an unexpected
    HTTP status. An empty dict means every page fit.
    """
    out.mkdir(parents=True, exist_ok=True)
    faults: dict[str, list[str]] = {}
    for width in widths:
        for logged_in in (False, True):
            todo = [s for s in shots if s.logged_in == logged_in]
            if not todo:
                continue
            with new_page(width, logged_in) as page:
                for shot in todo:
                    answer = page.goto(base + shot.path)
                    problems: list[str] = []
                    status = answer.status if answer is not None else 0
                    if status != shot.status:
                        problems.append(f"answered {status}, expected {shot.status}")
                    page.screenshot(path=str(out / f"{shot.name}-{width}.png"), full_page=True)
                    problems += overflow(page)
                    if problems:
                        faults[f"{shot.name}-{width}"] = problems
    return faults


# -- the plant and the server (for the command line) -------------------------------------------


def add_quality_data(store: Any, samples: Samples) -> None:
    """Alerts and a hold, so those pages have rows: a forming-force spec on the first cold
    header that some of its readings break, and a hold on a finished lot."""
    from threadline.ingest.readings import MachineReading
    from threadline.quality.alerts import AlertChecker
    from threadline.quality.holds import place_hold
    from threadline.quality.specs import set_spec

    # The demo plant names a header's force gauge after it (CH-03 -> 4012345FF-CH-03).
    device = "https://id.gs1.org/8004/4012345FF-" + equipment_name(samples.equipment)
    with store.reader() as reader:
        rows = reader.query(
            "SELECT equipment, parameter, time, value, unit, device_id, source FROM readings "
            "WHERE equipment = ? ORDER BY time LIMIT 500",
            (device,),
        )
    readings = [
        MachineReading(row[0], row[1], row[2], float(row[3]), row[4], row[5], row[6], None)
        for row in rows
    ]
    if readings:
        values = sorted(r.value for r in readings)
        limit = values[int(len(values) * 0.9)]  # the top tenth is out of spec
        set_spec(store, parameter=readings[0].parameter, equipment=device, usl=limit)
        quiet = logging.getLogger("threadline.quality")
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # each new alert is logged; these are expected
        try:
            AlertChecker().check(store, readings)
        finally:
            quiet.setLevel(level)
    place_hold(store, samples.lot, reason="Hardness below spec on the sample; sort before use")


def build_plant(path: Path) -> Any:
    """The small demo plant (seed 7) in a new SQLite file at ``path``; returns the plant."""
    from threadline.demo import build_demo
    from threadline.store import open_store

    store = open_store(str(path))
    try:
        plant, _, _ = build_demo(store, scale="small", seed=7)
    finally:
        store.close()
    return plant


@contextmanager
def serve(db: str, **changes: Any) -> Iterator[str]:
    """Threadline on a free local port over ``db``; yields its base URL."""
    import httpx

    from threadline.api.server import address, bind, make_server
    from threadline.config import Settings

    sock = bind("127.0.0.1", 0)
    server = make_server(replace(Settings.from_env(db=db), **changes), log_level="warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = address(sock)
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if not thread.is_alive() or time.monotonic() > deadline:
                raise SystemExit(f"the server at {base} did not start")
            time.sleep(0.05)  # polling interval while the server starts
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _copy(source: Path, target: Path) -> None:
    # SQLite's backup API copies a consistent database, write-ahead log included.
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the PNG files")
    parser.add_argument("--db", type=Path, help="a demo plant (SQLite file) to use a copy of")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: apt-get install chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    from threadline.store import open_store
    from threadline.store.auth import Role, add_user

    with tempfile.TemporaryDirectory(prefix="threadline-shots-") as tmp:
        db = Path(tmp) / "plant.db"
        if args.db:
            if not args.db.is_file():
                print(f"--db {args.db}: no such file", file=sys.stderr)
                return 2
            _copy(args.db, db)
        else:
            print("building the small demo plant ...", flush=True)
            build_plant(db)
        store = open_store(str(db))
        try:
            samples = pick_samples(store)
            if not args.db:
                add_quality_data(store, samples)
            add_user(store, name=SCREENSHOT_USER, role=Role.quality, password=SCREENSHOT_PASSWORD)
        finally:
            store.close()
        with serve(str(db), graph_index="on") as base, sync_playwright() as playwright:
            browser = launch(playwright)
            try:
                state = _session(browser, base)

                @contextmanager
                def new_page(width: int, logged_in: bool) -> Iterator[Any]:
                    context = browser.new_context(
                        viewport={"width": width, "height": HEIGHTS.get(width, 900)},
                        storage_state=state if logged_in else None,
                    )
                    try:
                        yield context.new_page()
                    finally:
                        context.close()

                faults = shoot(new_page, base, page_list(samples), args.out)
            finally:
                browser.close()
    shots = len(page_list(samples)) * len(WIDTHS)
    print(f"{shots} screenshots in {args.out}")
    for name, problems in sorted(faults.items()):
        print(f"{name}:")
        for problem in problems:
            print(f"  {problem}")
    if faults:
        print(f"{len(faults)} page view(s) with faults", file=sys.stderr)
        return 1
    print("nothing overflows")
    return 0


def _session(browser: Any, base: str) -> Any:
    context = browser.new_context()
    try:
        page = context.new_page()
        log_in(page, base, SCREENSHOT_USER, SCREENSHOT_PASSWORD)
        return context.storage_state()
    finally:
        context.close()


if __name__ == "__main__":
    sys.exit(main())
