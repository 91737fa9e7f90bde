"""Server time of every page on a plant, and how soon a heat lot's graph is usable in a browser.

A real ``threadline serve`` runs over the plant's database (the genealogy index loaded, as in
production); one client asks for each page in turn with a session of the quality role and reads
the server's own time from the ``Server-Timing`` header (the middleware measures from the request
to the start of the response; the client's round trip is reported beside it). Each page is asked
for ``repeat`` times over sampled subjects: heat lots for passports, graphs and recall scopes,
shipped boxes for backward graphs, the plant's equipment for trend pages.

When Chromium and Playwright are present, the forward graph of the heat lot whose descendants
are nearest 1,500 is opened in the browser, and the time from navigation start to the page being
interactive (``domInteractive``) and loaded (``loadEventEnd``) is reported, beside the same for
the login page (the smallest page) as the baseline. The baseline of the server times is
``/health``, the least a request through the same stack costs.
"""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from threadline.bench import percentile
from threadline.bench_capture import served
from threadline.genealogy.trace import trace
from threadline.store import open_store
from threadline.store.auth import Role, add_user, check_login, open_session

PAGE_BUDGET_MS = 100.0
GRAPH_BUDGET_MS = 1000.0
GRAPH_DESCENDANTS = 1500
CHROMIUM = "/usr/bin/chromium"
_USER = "page-bench"
_NAVIGATION_TIMES = (
    "() => { const n = performance.getEntriesByType('navigation')[0];"
    " return {interactive: n.domInteractive, loaded: n.loadEventEnd}; }"
)
_PASSWORD = "page-bench-password-1"


def _lot_code(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def _subjects(db: str, heats: list[str], boxes: list[str]) -> dict[str, Any]:
    """Equipment and the graph heat lot, and a session cookie for the benchmark's user."""
    with open_store(db) as store:
        user = check_login(store, name=_USER, password=_PASSWORD)
        if user is None:
            add_user(store, name=_USER, role=Role.quality, password=_PASSWORD)
            user = check_login(store, name=_USER, password=_PASSWORD)
        assert user is not None
        secret, _ = open_session(store, user=user, hours=2, address="127.0.0.1")
        with store.reader() as r:
            equipment = [
                row[0]
                for row in r.query(
                    "SELECT DISTINCT equipment FROM readings WHERE equipment IS NOT NULL LIMIT 20",
                    (),
                )
            ]
            sizes = {h: len(trace(r, h, "forward").nodes) for h in heats[:40]}
    graph_lot = min(sizes, key=lambda h: abs(sizes[h] - GRAPH_DESCENDANTS)) if sizes else None
    return {
        "cookie": secret,
        "equipment": equipment,
        "graph_lot": graph_lot,
        "graph_descendants": sizes.get(graph_lot, 0) if graph_lot else 0,
        "heats": heats,
        "boxes": boxes,
    }


def _pages(s: dict[str, Any]) -> dict[str, Callable[[int], str]]:
    heats: list[str] = s["heats"] or [""]
    boxes: list[str] = s["boxes"] or heats
    equipment: list[str] = s["equipment"] or ["none"]

    def q(value: str) -> str:
        return quote(value, safe="")

    return {
        "health (baseline)": lambda i: "/health",
        "dashboard": lambda i: "/",
        "search (lot code)": lambda i: f"/ui/search?q={q(_lot_code(heats[i % len(heats)]))}",
        "passport (heat lot)": lambda i: f"/ui/passport?id={q(heats[i % len(heats)])}",
        "passport (shipped box)": lambda i: f"/ui/passport?id={q(boxes[i % len(boxes)])}",
        "graph forward (heat lot)": lambda i: (
            f"/ui/graph?id={q(heats[i % len(heats)])}&direction=forward"
        ),
        "graph backward (shipped box)": lambda i: (
            f"/ui/graph?id={q(boxes[i % len(boxes)])}&direction=backward"
        ),
        "recall scope (heat lot)": lambda i: f"/ui/recall/scope?ids={q(heats[i % len(heats)])}",
        "recall form": lambda i: "/ui/recall",
        "alerts": lambda i: "/ui/alerts",
        "holds": lambda i: "/ui/holds",
        "equipment list": lambda i: "/ui/equipment",
        "equipment trends": lambda i: f"/ui/equipment/{q(equipment[i % len(equipment)])}",
    }


def _server_ms(answer: httpx.Response) -> float:
    timing = answer.headers.get("server-timing", "")
    for part in timing.split(";"):
        if part.strip().startswith("dur="):
            return float(part.strip()[4:])
    raise RuntimeError(f"no Server-Timing in the answer to {answer.request.url}")


def _time_pages(
    base: str, cookie: str, pages: dict[str, Callable[[int], str]], repeat: int
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with httpx.Client(base_url=base, cookies={"threadline_session": cookie}, timeout=60) as client:
        for name, url_for in pages.items():
            client.get(url_for(0))  # warm: templates compiled, caches filled
            server: list[float] = []
            wall: list[float] = []
            failures: list[str] = []
            for i in range(repeat):
                started = time.perf_counter()
                answer = client.get(url_for(i))
                wall.append((time.perf_counter() - started) * 1000)
                if answer.status_code != 200:
                    failures.append(f"{answer.status_code} {url_for(i)}")
                    continue
                server.append(_server_ms(answer))
            out[name] = {
                "requests": repeat,
                "failures": failures[:5],
                "failed": len(failures),
                "server_p50_ms": statistics.median(server) if server else None,
                "server_p95_ms": percentile(server, 95) if server else None,
                "round_trip_p95_ms": percentile(wall, 95),
            }
    return out


def _graph_in_browser(base: str, cookie: str, lot: str) -> dict[str, Any] | None:
    """Navigation timings of the graph page in Chromium, or None when no browser is present."""
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).exists()):
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    url = f"{base}/ui/graph?id={quote(lot, safe='')}&direction=forward"
    runs: list[dict[str, float]] = []
    baseline: list[dict[str, float]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            context.add_cookies([{"name": "threadline_session", "value": cookie, "url": base}])
            page = context.new_page()
            for target, into in ((f"{base}/login", baseline), (url, runs)):
                for _ in range(5):
                    page.goto(target, wait_until="load")
                    into.append(page.evaluate(_NAVIGATION_TIMES))
        finally:
            browser.close()
    interactive = [r["interactive"] for r in runs]
    loaded = [r["loaded"] for r in runs]
    return {
        "url": url,
        "runs": len(runs),
        "login_page_interactive_ms_max": max(r["interactive"] for r in baseline),
        "interactive_ms_max": max(interactive),
        "interactive_ms_median": statistics.median(interactive),
        "loaded_ms_max": max(loaded),
        "loaded_ms_median": statistics.median(loaded),
    }


def run_pages_bench(
    db: str, *, heats: list[str], boxes: list[str], repeat: int = 40
) -> dict[str, Any]:
    """Serve ``db`` and time every page ``repeat`` times (see the module docstring)."""
    subjects = _subjects(db, heats, boxes)
    with served(db, graph_index="on", deadline_s=300) as (base, process):
        started_rss = _rss_of(process.pid)
        pages = _time_pages(base, subjects["cookie"], _pages(subjects), repeat)
        served_rss = _rss_of(process.pid)
        graph = (
            _graph_in_browser(base, subjects["cookie"], subjects["graph_lot"])
            if subjects["graph_lot"]
            else None
        )
    if graph is not None:
        graph["descendants"] = subjects["graph_descendants"]
    return {
        "pages": pages,
        "graph_in_browser": graph,
        "server_rss_mb": {"started": started_rss, "after_pages": served_rss},
    }


def _rss_of(pid: int) -> float:
    """Resident memory of process ``pid`` in MB (Linux), or 0.0 where it cannot be read."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
