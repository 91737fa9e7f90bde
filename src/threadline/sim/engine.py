"""The discrete-event core: a time-ordered agenda, event headers and running totals.

Handlers are scheduled with :meth:`Engine.at` and run in (time, scheduling order); a handler
appends the EPCIS events it produces to :attr:`Engine.out`, always stamped with the handler's own
time, so the stream comes out in non-decreasing ``eventTime`` order without sorting.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from threadline.sim.clock import Stamper
from threadline.sim.ids import EventIds

__all__ = ["Engine", "Handler", "Lot", "Stats"]

Handler = Callable[[int, Any], None]


@dataclass
class Stats:
    """Running totals of what has been generated (see :class:`threadline.sim.PlantCounts`)."""

    edges: int = 0
    heat_lots: int = 0
    headed_batches: int = 0
    merged_batches: int = 0
    rolled_batches: int = 0
    heat_treated_lots: int = 0
    finished_lots: int = 0
    nonconforming_lots: int = 0
    scrap_events: int = 0
    held_lots: int = 0
    sensor_reports: int = 0
    boxes: int = 0
    mixed_boxes: int = 0
    loose_boxes: int = 0
    pallets: int = 0
    repacks: int = 0
    shipments: int = 0
    customer_receipts: int = 0
    assemblies: int = 0
    error_declarations: int = 0
    parties: set[str] = field(default_factory=set)
    locations: set[str] = field(default_factory=set)
    customers: set[str] = field(default_factory=set)


class Lot:
    """A lot-level class made in the plant (or a supplier heat lot, for genealogy bookkeeping)."""

    __slots__ = ("drift", "epc", "family", "heats", "qty")

    def __init__(
        self, epc: str, family: int, qty: int, heats: tuple[int, ...], drift: float
    ) -> None:
        self.epc = epc
        self.family = family
        self.qty = qty
        self.heats = heats  # indices of the supplier heat lots it is made from
        self.drift = drift  # highest forming-force drift factor among its headed batches


class Engine:
    """Agenda, clock, ID source, output buffer and totals shared by the plant's stages."""

    def __init__(self, seed: int) -> None:
        self.heap: list[tuple[int, int, Handler, Any, int]] = []
        self.seq = 0
        self.active = 0  # scheduled one-off (non-recurring) handlers not yet run
        self.out: list[dict[str, Any]] = []
        self.ids = EventIds(seed)
        self.stamper = Stamper()
        self.stamp = self.stamper.stamp
        self.rng = random.Random(seed * 7919 + 17)
        self.stats = Stats()
        self.by_type: dict[str, int] = {
            "ObjectEvent": 0,
            "AggregationEvent": 0,
            "TransformationEvent": 0,
        }
        self.now = 0

    def at(self, t: int, fn: Handler, payload: Any = None) -> None:
        """Run ``fn(t, payload)`` at simulated time ``t`` (must not be in the past)."""
        heapq.heappush(self.heap, (t, self.seq, fn, payload, 1))
        self.seq += 1
        self.active += 1

    def recurring(self, t: int, fn: Handler, payload: Any = None) -> None:
        """Like :meth:`at`, for self-rescheduling chains (not counted in :attr:`active`)."""
        heapq.heappush(self.heap, (t, self.seq, fn, payload, 0))
        self.seq += 1

    def run(self) -> Iterator[dict[str, Any]]:
        """Run the agenda to exhaustion, yielding events as handlers produce them."""
        heap = self.heap
        out = self.out
        pop = heapq.heappop
        while heap:
            t, _, fn, payload, weight = pop(heap)
            self.active -= weight
            self.now = t
            fn(t, payload)
            if out:
                by_type = self.by_type
                for event in out:
                    by_type[event["type"]] += 1
                yield from out
                out.clear()
