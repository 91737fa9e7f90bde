"""A deterministic fastener-plant simulator that speaks EPCIS 2.0.

:class:`Plant` simulates a cold-forming plant (GS1 company prefix 4012345) making hex bolts in four
families (M8x30 8.8 ... M16x60 10.9, all zinc-flake coated) and yields plain EPCIS 2.0 JSON-LD
event dicts (compact form, default context plus ``tl:`` extension fields) in time order::

    wire heat lots received (ObjectEvent ADD receiving, mill certificate in ilmd)
    -> cold heading on CH-xx (TransformationEvent heat lot(s) KGM -> headed batch EA,
       forming force in sensorElementList; standalone sensor_reporting events in between)
    -> thread rolling on TR-xx (headed -> rolled batch)
    -> heat treatment on FURN-xx (2-4 rolled batches merged into one load; temperatures, times)
    -> zinc-flake plating on PLT-xx (heat-treated -> finished lot)
    -> inspection (conformant / non_conformant; sorting scraps part, or the lot is held)
    -> boxes (AggregationEvent, SSCC parent, lot quantities as children; a few mixed boxes;
       lot remainders stay loose in stock)
    -> pallets of 20-60 boxes (a few boxes moved to another pallet before shipping)
    -> shipping to customers (pallets and occasionally loose boxes) -> customer receiving
    -> installation of M16 bolts into wind-turbine assemblies (GIAI) at customer 0.

One header's forming force drifts upward over a window of its batches (lots made late in the
window often fail inspection), and one furnace-load event is later declared in error
(``incorrect_data``: a traveller from the previous load was scanned) with a corrective event.

How the counts scale
--------------------
Everything is driven by the number of supplier heat lots (8-14 t of wire each) and the number of
cold headers. Per heat lot, on average: ~34 headed and ~34 rolled batches, ~11 furnace loads
(each then plated and inspected), ~420 boxes, ~10.5 pallets, ~1.6 shipments, ~17 standalone
sensor reports and, at the installer, some assemblies. So events, identifiers and edges all grow
linearly with the heat lots (seed 7; other seeds differ by a few percent):

========  =========  =======  ===========  ============  ===========
scale     heat lots  headers  events       identifiers   edges
========  =========  =======  ===========  ============  ===========
small            6        4       3,673          3,500        6,421
medium         175        8     100,071         94,487      176,841
large         2400       16   1,368,385      1,292,572    2,436,375
========  =========  =======  ===========  ============  ===========

(:class:`PlantCounts` gives the exact numbers of a run.) Boxes dominate: about 75 % of events and
80 % of identifiers. A heat lot's downstream - its batches, the furnace loads they were merged into
(which also carry other heat lots' batches), finished lots, boxes, pallets, customers and
assemblies - is roughly 600-2,700 identifiers: median ~1,000 at medium and ~1,700 at large,
where more headers per family spread each heat lot over more furnace loads.

Genealogy edges (``PlantCounts.edges_estimate``) are counted with these rules: a
TransformationEvent gives (#inputs x #outputs) edges; an AggregationEvent ADD gives one edge per
child (childEPCs + childQuantityList); a shipping or receiving ObjectEvent gives one edge per
(object in epcList/quantityList) x (entry in destinationList). The record that repeats an event
with its ``errorDeclaration`` adds none; all other events count as emitted.
"""

from threadline.sim.config import SCALES
from threadline.sim.plant import EPCIS_CONTEXT, TL_NAMESPACE, Highlights, Plant, PlantCounts

__all__ = ["EPCIS_CONTEXT", "SCALES", "TL_NAMESPACE", "Highlights", "Plant", "PlantCounts"]
