"""The demo plant: simulate, store, and point the user at three questions worth asking."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import islice

from threadline.service import parse_events
from threadline.sim import Plant
from threadline.store.base import AppendResult, Store

CHUNK = 100_000


def build_demo(
    store: Store,
    *,
    scale: str,
    seed: int,
    on_start: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[Plant, AppendResult, float]:
    """Generate the plant and append it to ``store`` (re-running it stores nothing twice)."""
    plant = Plant(scale=scale, seed=seed)
    if on_start:
        on_start(plant.estimated_events())
    started = time.perf_counter()
    events = parse_events(plant.events(), source=f"demo plant ({scale}, seed {seed})")
    result = AppendResult()
    # Commit every CHUNK events: a large plant is millions of events, and one transaction would
    # hold them all in the WAL; re-running the demo skips what an interrupted run stored.
    while chunk := list(islice(events, CHUNK)):
        result.merge(store.append(chunk, progress=progress))
    return plant, result, time.perf_counter() - started


def tour(
    plant: Plant, result: AppendResult, counts: dict[str, int], seconds: float, *, db: str | None
) -> str:
    """A short text: what was built and three commands to try on it."""
    h = plant.highlights
    db_arg = f" --db '{db}'" if db else ""
    start, last = h.drift_window
    # The window's end is exclusive; end it just after the last drifting batch.
    end = (datetime.fromisoformat(last) + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    rate = result.inserted / seconds if seconds > 0 else 0.0
    lines = [
        "",
        f"[bold]Demo plant ready[/] — {result.inserted} events stored"
        + (f" ({result.duplicates} were already there)" if result.duplicates else "")
        + f" in {seconds:.1f} s ({rate:,.0f} events/s)",
        f"  {counts['events']:,} events, {counts['objects']:,} objects, "
        f"{counts['edges']:,} genealogy edges in the store",
        "",
        "[bold]Try:[/]",
        "  # which customers received parts made from this supplier heat, and how many?",
        f"  threadline recall '{h.heat_lot}'{db_arg}",
        "  # what went into a shipped box: lots, furnace loads, machines, heats",
        f"  threadline trace backward '{h.shipped_box}'{db_arg}",
        "  # which lots ran on the drifting header while its forming force climbed",
        f"  threadline window --equipment '{h.drifting_header}' --from {start} --to {end}{db_arg}",
        "",
        "  # a box taken off a pallet before that pallet shipped: where is it now?",
        f"  threadline where '{h.unpacked_box}'{db_arg}",
    ]
    return "\n".join(lines)
