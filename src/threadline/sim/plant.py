"""The public face of the simulator: :class:`Plant`, its :class:`Highlights` and
:class:`PlantCounts`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from threadline.sim.clock import iso
from threadline.sim.config import FAMILIES, SCALE_CONFIGS, SCALES, make_customers
from threadline.sim.engine import Engine
from threadline.sim.logistics import Logistics
from threadline.sim.production import Production

__all__ = ["EPCIS_CONTEXT", "TL_NAMESPACE", "Highlights", "Plant", "PlantCounts"]

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
TL_NAMESPACE = "https://threadline.example/ns/"


@dataclass(frozen=True)
class Highlights:
    """Things the demo tour points at; every ID is written exactly as in the events."""

    heat_lot: str
    """A supplier heat lot (``urn:epc:class:lgtin:...``) whose material reached customers; it is
    the lot the drifting header was running when the drift began."""
    shipped_box: str
    """A box (SSCC) holding material of :attr:`heat_lot` that shipped (to :attr:`customer`)."""
    drifting_header: str
    """Read point (SGLN) of the cold-heading machine whose forming force drifted."""
    drift_window: tuple[str, str]
    """First and last drifting batch event time (ISO-8601 UTC)."""
    customer: str
    """Customer party (PGLN) that received :attr:`shipped_box`."""
    unpacked_box: str
    """A box taken off a pallet before that pallet shipped; it shipped later on another pallet."""
    unpacked_from: str
    """The pallet :attr:`unpacked_box` was taken off."""
    error_event_id: str
    """eventID of the furnace-load event later declared in error (reason ``incorrect_data``)."""


@dataclass(frozen=True)
class PlantCounts:
    """What one generation run produced (exact, counted while generating).

    ``identifiers`` = lots + boxes + pallets + parties + locations + assemblies, i.e. the distinct
    IDs found in epcList, parentID, childEPCs, every quantity list's epcClass, readPoint,
    bizLocation and source/destination lists. ``edges_estimate`` follows the genealogy rules in
    the package docstring; the repeated record carrying ``errorDeclaration`` adds no edges.
    """

    events: int
    object_events: int
    aggregation_events: int
    transformation_events: int
    heat_lots: int
    headed_batches: int
    merged_batches: int
    rolled_batches: int
    heat_treated_lots: int
    finished_lots: int
    lots: int
    nonconforming_lots: int
    scrap_events: int
    held_lots: int
    sensor_reports: int
    boxes: int
    mixed_boxes: int
    loose_boxes: int
    pallets: int
    repacks: int
    shipments: int
    customer_receipts: int
    customers: int
    parties: int
    locations: int
    assemblies: int
    error_declarations: int
    identifiers: int
    edges_estimate: int


class Plant:
    """A deterministic fastener plant producing EPCIS 2.0 events.

    ``counts`` and ``highlights`` are known *after* generating: they are recorded when
    :meth:`events` is iterated to the end; reading them earlier runs one full generation
    internally (and caches the result). :meth:`estimated_events` is available at once.
    """

    def __init__(self, *, scale: str = "small", seed: int = 7) -> None:
        if scale not in SCALE_CONFIGS:
            raise ValueError(f"unknown plant scale {scale!r}; choose one of {', '.join(SCALES)}")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TypeError(f"seed must be an int, got {seed!r}")
        self.scale = scale
        self.seed = seed
        self._cfg = SCALE_CONFIGS[scale]
        self._result: tuple[PlantCounts, Highlights] | None = None
        self._estimate: int | None = None

    def __repr__(self) -> str:
        return f"Plant(scale={self.scale!r}, seed={self.seed})"

    def _build(self) -> tuple[Engine, Production, Logistics]:
        eng = Engine(self.seed)
        logistics = Logistics(eng, self._cfg, make_customers(self._cfg.customers))
        production = Production(eng, self._cfg, self.seed, logistics)
        logistics.production = production
        production.start()
        logistics.start()
        return eng, production, logistics

    def events(self) -> Iterator[dict[str, Any]]:
        """The plant's EPCIS 2.0 events (compact JSON-LD, default context) in time order.

        Events come in non-decreasing ``eventTime`` order, except the one record carrying an
        ``errorDeclaration``: it restates the erroneous event (same eventID and eventTime) and
        is placed at its ``declarationTime``, right after its corrective event. Each call starts
        a fresh, identical run.
        """
        eng, production, logistics = self._build()
        yield from eng.run()
        if self._result is None:
            self._result = self._summarise(eng, production, logistics)

    def document_context(self) -> list[Any]:
        """The ``@context`` for an EPCISDocument wrapping these events."""
        return [EPCIS_CONTEXT, {"tl": TL_NAMESPACE}]

    def _ensure(self) -> tuple[PlantCounts, Highlights]:
        if self._result is None:
            for _ in self.events():
                pass
        assert self._result is not None
        return self._result

    @property
    def counts(self) -> PlantCounts:
        """Exact counts of the run (generates once if :meth:`events` was not exhausted yet)."""
        return self._ensure()[0]

    @property
    def highlights(self) -> Highlights:
        """The demo tour's starting points (generates once if needed)."""
        return self._ensure()[1]

    def estimated_events(self) -> int:
        """A close estimate of the number of events, for a progress bar (no generation)."""
        if self._result is not None:
            return self._result[0].events
        if self._estimate is None:
            eng = Engine(self.seed)
            production = Production(eng, self._cfg, self.seed, None)
            total = 0.0
            for hd in production.headers:
                fam = FAMILIES[hd.family]
                batches = production._expected_batches(hd)
                boxes = fam.batch_pcs / fam.box_qty * 0.985
                # heading, half a sensor report, rolling, a third of furnace, plating and
                # inspection, boxes, pallets and a little shipping
                total += batches * (2.5 + 1.0 + boxes * (1.0 + 1 / 40 + 1 / 400))
            total += self._cfg.heat_lots
            self._estimate = int(total)
        return self._estimate

    def _summarise(
        self, eng: Engine, production: Production, logistics: Logistics
    ) -> tuple[PlantCounts, Highlights]:
        st = eng.stats
        by_type = eng.by_type
        lots = (
            st.heat_lots
            + st.headed_batches
            + st.rolled_batches
            + st.heat_treated_lots
            + st.finished_lots
        )
        counts = PlantCounts(
            events=sum(by_type.values()),
            object_events=by_type["ObjectEvent"],
            aggregation_events=by_type["AggregationEvent"],
            transformation_events=by_type["TransformationEvent"],
            heat_lots=st.heat_lots,
            headed_batches=st.headed_batches,
            merged_batches=st.merged_batches,
            rolled_batches=st.rolled_batches,
            heat_treated_lots=st.heat_treated_lots,
            finished_lots=st.finished_lots,
            lots=lots,
            nonconforming_lots=st.nonconforming_lots,
            scrap_events=st.scrap_events,
            held_lots=st.held_lots,
            sensor_reports=st.sensor_reports,
            boxes=st.boxes,
            mixed_boxes=st.mixed_boxes,
            loose_boxes=st.loose_boxes,
            pallets=st.pallets,
            repacks=st.repacks,
            shipments=st.shipments,
            customer_receipts=st.customer_receipts,
            customers=len(st.customers),
            parties=len(st.parties),
            locations=len(st.locations),
            assemblies=st.assemblies,
            error_declarations=st.error_declarations,
            identifiers=lots
            + st.boxes
            + st.pallets
            + len(st.parties)
            + len(st.locations)
            + st.assemblies,
            edges_estimate=st.edges,
        )
        missing = [
            name
            for name, value in (
                ("heat lot", production.highlight_heat),
                ("shipped box", logistics.shipped_box),
                ("unpacked box", logistics.unpacked_box),
                ("error event", production.error_event_id),
            )
            if value is None
        ]
        if missing or not production.drift_times:
            raise RuntimeError(f"plant run lacks highlights: {', '.join(missing) or 'drift'}")
        assert production.highlight_heat is not None
        highlights = Highlights(
            heat_lot=production.heats[production.highlight_heat].epc,
            shipped_box=str(logistics.shipped_box),
            drifting_header=production.drift_header.rp,
            drift_window=(iso(production.drift_times[0]), iso(production.drift_times[-1])),
            customer=str(logistics.shipped_to),
            unpacked_box=str(logistics.unpacked_box),
            unpacked_from=str(logistics.unpacked_from),
            error_event_id=str(production.error_event_id),
        )
        return counts, highlights
