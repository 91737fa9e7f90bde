"""``threadline bench``: the DESIGN.md section 6 budgets this core owns, each beside a baseline.

Measured in one run on one machine: forward trace of a heat lot (p50/p99 through the Python API),
backward trace of a shipped box, recall scope of a heat lot, and bulk import of a validated EPCIS
JSON document with projections, durable capture over HTTP, and MQTT readings into storage
(:mod:`threadline.bench_readings`). Baselines: a raw recursive CTE over the same edges table, an
in-memory adjacency walk, and raw SQLite inserts of the same number of rows.
"""

from __future__ import annotations

import gc
import os
import platform
import random
import resource
import sqlite3
import statistics
import time
from collections import defaultdict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import Progress

from threadline.demo import build_demo
from threadline.errors import InvalidInput
from threadline.genealogy import recall, trace
from threadline.genealogy.index import GraphIndex
from threadline.service import import_document
from threadline.sim import Plant
from threadline.store import Store, open_store

IMPORT_EVENTS = 200_000  # size of the bulk-import document (the whole plant when smaller)
BUDGETS = {
    "forward_trace_p50_ms": 5.0,
    "forward_trace_p99_ms": 20.0,
    "recall_p50_ms": 50.0,
    "import_events_per_s": 25_000.0,
    "capture_events_per_s": 3_000.0,
    "mqtt_readings_per_s": 50_000.0,
    "page_server_p95_ms": 100.0,
    "graph_interactive_ms": 1000.0,
}
SECTIONS = ("trace", "import", "capture", "readings", "pages")
CAPTURE_EVENTS = 20_000  # events POSTed by the durable-capture measurement
CAPTURE_PER_REQUEST = 10  # events per EPCIS document in that measurement
READINGS_BENCH = 200_000  # readings published by the MQTT ingestion measurement


def percentile(samples: list[float], q: float) -> float:
    """The ``q``-th percentile of ``samples`` (nearest rank)."""
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def _time_ms(fn: Callable[[str], object], keys: list[str], repeat: int) -> list[float]:
    samples = []
    for i in range(repeat):
        started = time.perf_counter()
        fn(keys[i % len(keys)])
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _plant_db(workdir: Path, scale: str, seed: int, console: Console) -> tuple[Path, Plant]:
    path = workdir / f"plant-{scale}-{seed}.db"
    plant = Plant(scale=scale, seed=seed)
    marker = path.with_suffix(".done")
    if path.exists() and marker.exists():
        console.print(f"reusing {path}")
        return path, plant
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    console.print(f"building the {scale} plant into {path} ...")
    with (
        open_store(str(path), batch_size=20_000) as store,
        Progress(console=console, transient=True, disable=console.quiet) as bar,
    ):
        task = bar.add_task(f"{scale} plant", total=None)
        _, result, seconds = build_demo(
            store,
            scale=scale,
            seed=seed,
            on_start=lambda n: bar.update(task, total=n),
            progress=lambda n: bar.advance(task, n),
        )
    console.print(f"  {result.inserted:,} events in {seconds:.1f} s")
    marker.write_text(f"{result.inserted} {seconds:.3f}\n")
    return path, plant


def _heat_lots(store: Store, limit: int) -> list[str]:
    with store.reader() as r:
        rows = r.query(
            "SELECT DISTINCT o.key FROM events e JOIN event_objects eo ON eo.event = e.id "
            "JOIN objects o ON o.id = eo.object WHERE e.biz_step = ? AND e.action = ? "
            "AND o.kind = ? LIMIT ?",
            ("receiving", "ADD", "lgtin", limit),
        )
    return [r[0] for r in rows]


def _shipped_boxes(store: Store, limit: int) -> list[str]:
    with store.reader() as r:
        rows = r.query(
            "SELECT o.key FROM edges e JOIN objects o ON o.id = e.src "
            "JOIN status s ON s.object = e.dst WHERE e.relation = ? AND o.kind = ? "
            "AND s.state = ? LIMIT ?",
            ("packed_in", "sscc", "shipped", limit),
        )
    return [r[0] for r in rows]


def _cte_baseline(path: Path, ids: list[int], repeat: int) -> list[float]:
    conn = sqlite3.connect(path)
    sql = (
        "WITH RECURSIVE down(id) AS (SELECT ? UNION SELECT e.dst FROM edges e "
        "JOIN down d ON e.src = d.id) SELECT count(*) FROM down"
    )
    samples = []
    for i in range(repeat):
        started = time.perf_counter()
        conn.execute(sql, (ids[i % len(ids)],)).fetchone()
        samples.append((time.perf_counter() - started) * 1000)
    conn.close()
    return samples


def _adjacency_baseline(path: Path, ids: list[int], repeat: int) -> tuple[list[float], float]:
    conn = sqlite3.connect(path)
    started = time.perf_counter()
    adjacency: dict[int, list[int]] = defaultdict(list)
    for src, dst in conn.execute("SELECT src, dst FROM edges"):
        adjacency[src].append(dst)
    load_s = time.perf_counter() - started
    conn.close()
    samples = []
    for i in range(repeat):
        started = time.perf_counter()
        seen = {ids[i % len(ids)]}
        queue = deque(seen)
        while queue:
            for nxt in adjacency.get(queue.popleft(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        samples.append((time.perf_counter() - started) * 1000)
    return samples, load_s


def _import_bench(workdir: Path, plant: Plant, console: Console) -> dict[str, float]:
    doc_path = workdir / f"import-{plant.scale}-{plant.seed}.jsonld"
    events = []
    for event in plant.events():
        events.append(event)
        if len(events) >= IMPORT_EVENTS:
            break
    document = {
        "@context": plant.document_context(),
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-01-01T00:00:00Z",
        "epcisBody": {"eventList": events},
    }
    doc_path.write_bytes(orjson.dumps(document))
    db = workdir / "import-target.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    console.print(f"importing {len(events):,} events from {doc_path.name} ...")
    with open_store(str(db), batch_size=20_000) as store:
        started = time.perf_counter()
        report = import_document(store, doc_path)
        seconds = time.perf_counter() - started
    # Baseline: the same number of raw rows into a bare SQLite table, one transaction.
    raw = workdir / "raw-baseline.db"
    raw.unlink(missing_ok=True)
    conn = sqlite3.connect(raw)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, event_id TEXT, doc TEXT)")
    rows = [(i, e["eventID"], "{}") for i, e in enumerate(events)]
    started = time.perf_counter()
    conn.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    conn.commit()
    raw_seconds = time.perf_counter() - started
    conn.close()
    return {
        "events": float(report.result.inserted),
        "events_per_s": report.result.inserted / seconds,
        "raw_rows_per_s": len(rows) / raw_seconds,
        "document_mb": doc_path.stat().st_size / 1e6,
    }


def _capture_bench(events: int, postgres: str | None, console: Console) -> dict[str, Any]:
    from threadline.bench_capture import run_capture_bench

    out: dict[str, Any] = {}
    # (engine, database, events per request, commits by the writer process): the SQLite
    # service commits through a writer process; the same load through its writer thread shows
    # what the process is worth.
    runs: list[tuple[str, str | None, int, bool]] = [
        ("SQLite", None, CAPTURE_PER_REQUEST, True),
        ("SQLite (writer thread)", None, CAPTURE_PER_REQUEST, False),
        ("SQLite", None, 1, True),
    ]
    if postgres:
        runs.append(("PostgreSQL", postgres, CAPTURE_PER_REQUEST, False))
    for engine, db, per, process in runs:
        count = events if per > 1 else max(1, events // 5)
        console.print(f"durable capture on {engine}: {count:,} events, {per} per request ...")
        measured = run_capture_bench(db=db, events=count, per_request=per, writer_process=process)
        out[f"{engine} x{per}"] = {**measured, "engine": engine}
    return out


def _readings_bench(workdir: Path, readings: int, console: Console) -> dict[str, Any]:
    from threadline.bench_readings import run_readings_bench

    console.print(f"MQTT readings into storage: {readings:,} readings ...")
    return run_readings_bench(workdir, readings=readings)


def _pages_bench(
    path: Path, heats: list[str], boxes: list[str], console: Console
) -> dict[str, Any]:
    from threadline.bench_pages import run_pages_bench

    console.print("page server times (and the graph in Chromium, when present) ...")
    return run_pages_bench(str(path), heats=heats[:50], boxes=boxes[:50])


def run_bench(
    *,
    scale: str,
    seed: int,
    workdir: Path,
    repeat: int,
    console: Console,
    capture_events: int = CAPTURE_EVENTS,
    postgres: str | None = None,
    readings: int = READINGS_BENCH,
    only: frozenset[str] = frozenset(SECTIONS),
) -> dict[str, Any]:
    """Build or reuse the plant, run the measurements of ``only`` (all by default), report."""
    unknown = only - set(SECTIONS)
    if unknown:
        raise InvalidInput(
            f"unknown benchmark section(s) {', '.join(sorted(unknown))}; "
            f"choose from {', '.join(SECTIONS)}"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    path, plant = _plant_db(workdir, scale, seed, console)
    results: list[dict[str, Any]] = []

    def add(
        name: str,
        value: float,
        unit: str,
        *,
        budget: float | None = None,
        baseline: float | None = None,
        baseline_name: str = "",
        higher_is_better: bool = False,
    ) -> None:
        row: dict[str, Any] = {
            "name": name,
            "value": value,
            "unit": unit,
            "value_text": f"{value:,.2f} {unit}",
        }
        if budget is not None:
            row["budget"] = budget
            row["budget_text"] = ("≥ " if higher_is_better else "≤ ") + f"{budget:,.0f} {unit}"
            row["ok"] = value >= budget if higher_is_better else value <= budget
        if baseline is not None:
            row["baseline"] = baseline
            row["baseline_text"] = f"{baseline:,.2f} {unit} ({baseline_name})"
            ratio = value / baseline if baseline else float("inf")
            row["ratio"] = ratio
            row["ratio_text"] = f"{ratio:.3g}x"
        results.append(row)

    with open_store(str(path)) as store:
        counts = store.counts()
        heats = _heat_lots(store, 500)
        boxes = _shipped_boxes(store, 500)
        random.Random(seed).shuffle(heats)
        console.print(
            f"{counts['objects']:,} objects, {counts['edges']:,} edges; "
            f"{len(heats)} heat lots, {len(boxes)} shipped boxes sampled"
        )
    index_load_s = index_rss = 0.0
    sizes: list[int] = []
    fwd: list[float] = []
    bwd: list[float] = []
    rec: list[float] = []
    if "trace" in only:
        with open_store(str(path)) as store:
            with store.reader() as r:
                heat_ids = [r.objects_by_key([h])[h].id for h in heats]
                started = time.perf_counter()
                index = GraphIndex.load(r)
                index_load_s = time.perf_counter() - started
            index_rss = _rss_mb()
            # A long-running process (the server) freezes what it built at start-up, so the cyclic
            # collector does not walk the libraries' objects again and again during requests.
            gc.collect()
            gc.freeze()

            def forward(key: str) -> object:
                with store.reader() as r:
                    return trace(r, key, "forward", index=index)

            def forward_sql(key: str) -> object:
                with store.reader() as r:
                    return trace(r, key, "forward")

            def backward(key: str) -> object:
                with store.reader() as r:
                    return trace(r, key, "backward", index=index)

            def scope(key: str) -> object:
                with store.reader() as r:
                    return recall(r, [key], index=index)

            with store.reader() as r:
                sizes = [len(trace(r, h, "forward", index=index).nodes) for h in heats]
            _time_ms(forward, heats, min(20, repeat))  # warm caches
            fwd = _time_ms(forward, heats, repeat)
            fwd_sql = _time_ms(forward_sql, heats, max(20, repeat // 4))
            bwd = _time_ms(backward, boxes, repeat) if boxes else []
            rec = _time_ms(scope, heats, max(20, repeat // 2))
        cte = _cte_baseline(path, heat_ids, repeat)
        adjacency, load_s = _adjacency_baseline(path, heat_ids, repeat)
        cte50, adj50 = statistics.median(cte), statistics.median(adjacency)

        add(
            "forward trace p50 (heat lot)",
            statistics.median(fwd),
            "ms",
            budget=BUDGETS["forward_trace_p50_ms"],
            baseline=cte50,
            baseline_name="recursive CTE p50",
        )
        add(
            "forward trace p99 (heat lot)",
            percentile(fwd, 99),
            "ms",
            budget=BUDGETS["forward_trace_p99_ms"],
            baseline=percentile(cte, 99),
            baseline_name="recursive CTE p99",
        )
        add(
            "forward trace p50, SQL walk (CLI path)",
            statistics.median(fwd_sql),
            "ms",
            baseline=cte50,
            baseline_name="recursive CTE p50",
        )
        add(
            "forward trace p50 vs in-memory walk",
            statistics.median(fwd),
            "ms",
            baseline=adj50,
            baseline_name=f"adjacency p50, {load_s:.1f} s to load",
        )
        if bwd:
            add("backward trace p50 (shipped box)", statistics.median(bwd), "ms")
            add("backward trace p99 (shipped box)", percentile(bwd, 99), "ms")
        add(
            "recall scope p50 (heat lot)",
            statistics.median(rec),
            "ms",
            budget=BUDGETS["recall_p50_ms"],
            baseline=cte50,
            baseline_name="recursive CTE p50",
        )
        add("recall scope p99 (heat lot)", percentile(rec, 99), "ms")
    imported = _import_bench(workdir, plant, console) if "import" in only else None
    if imported:
        add(
            "bulk import (validated, projections)",
            imported["events_per_s"],
            "events/s",
            budget=BUDGETS["import_events_per_s"],
            baseline=imported["raw_rows_per_s"],
            baseline_name="raw SQLite insert",
            higher_is_better=True,
        )
    captures = _capture_bench(capture_events, postgres, console) if "capture" in only else {}
    for measured in captures.values():
        per, engine = measured["events_per_request"], measured["engine"]
        add(
            f"durable capture over HTTP, {engine}, {measured['clients']} clients, "
            f"{per} event{'s' if per > 1 else ''}/request",
            measured["events_per_s"],
            "events/s",
            budget=BUDGETS["capture_events_per_s"] if engine == "SQLite" and per > 1 else None,
            baseline=measured["commit_per_event_baseline_per_s"],
            baseline_name="one commit per event",
            higher_is_better=True,
        )
    ingest = _readings_bench(workdir, readings, console) if "readings" in only else None
    if ingest:
        for run, budget in (("batched", BUDGETS["mqtt_readings_per_s"]), ("single", None)):
            measured = ingest[run]
            per = measured["per_message"]
            add(
                f"readings into storage ({ingest['mode']}), {per} reading"
                f"{'s' if per > 1 else ''}/message",
                measured["readings_per_s"],
                "readings/s",
                budget=budget,
                baseline=ingest["raw_rows_per_s"],
                baseline_name="raw executemany into readings",
                higher_is_better=True,
            )
    pages = _pages_bench(path, heats, boxes, console) if "pages" in only else None
    if pages:
        health = pages["pages"].pop("health (baseline)")["server_p95_ms"]
        for name, timed in pages["pages"].items():
            if timed["server_p95_ms"] is None:
                continue
            add(
                f"page server time p95: {name}"
                + (f" ({timed['failed']} failed)" if timed["failed"] else ""),
                timed["server_p95_ms"],
                "ms",
                budget=BUDGETS["page_server_p95_ms"],
                baseline=health,
                baseline_name="/health p95",
            )
        rss = pages["server_rss_mb"]
        add("server RSS after start-up (genealogy index loaded)", rss["started"], "MB")
        add("server RSS after every page was asked for", rss["after_pages"], "MB")
        graph = pages["graph_in_browser"]
        if graph:
            add(
                f"graph of a heat lot ({graph['descendants']:,} descendants) interactive in "
                "Chromium, slowest of 5",
                graph["interactive_ms_max"],
                "ms",
                budget=BUDGETS["graph_interactive_ms"],
                baseline=graph["login_page_interactive_ms_max"],
                baseline_name="login page, slowest of 5",
            )
    if "trace" in only:
        add("genealogy index load", index_load_s, "s")
        add("peak RSS after index load", index_rss, "MB")
    add("peak RSS of this process", _rss_mb(), "MB")
    return {
        "scale": scale,
        "seed": seed,
        "counts": counts,
        "descendants_per_heat_lot": {
            "min": min(sizes),
            "median": statistics.median(sizes),
            "p99": percentile([float(s) for s in sizes], 99),
            "max": max(sizes),
        }
        if sizes
        else {},
        "samples": {"forward": len(fwd), "backward": len(bwd), "recall": len(rec)},
        "import": imported,
        "capture": captures,
        "readings": ingest,
        "pages": pages,
        "results": results,
        "machine": (
            f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}, {platform.platform()}"
        ),
    }
