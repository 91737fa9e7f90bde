"""The demo plant: simulate, store, and point the user at three questions worth asking."""

from __future__ import annotations

import time
from collections.abc import Callable

from threadline.service import parse_events
from threadline.sim import Plant
from threadline.store.base import AppendResult, Store


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
    result = store.append(
        parse_events(plant.events(), source=f"demo plant ({scale}, seed {seed})"),
        progress=progress,
    )
    return plant, result, time.perf_counter() - started


def tour(
    plant: Plant, result: AppendResult, counts: dict[str, int], seconds: float, *, db: str | None
) -> str:
    """A short text: what was built and three commands to try on it."""
    h = plant.highlights
    db_arg = f" --db {db}" if db else ""
    start, end = h.drift_window
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
