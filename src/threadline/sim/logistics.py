"""Logistics: packing lots into boxes, boxes onto pallets, warehouse repacks, shipping, customer
receiving, and installation of bolts into assemblies at the installer customer.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Protocol

from threadline.sim.clock import DAY, HOUR, MINUTE, SECOND, in_hours, work_end, work_start
from threadline.sim.config import (
    ASSEMBLY_STATION,
    FAMILIES,
    INSTALLER_PREFIX,
    NUTRUNNER,
    PACKING,
    PALLETISER,
    PLANT_PARTY,
    WAREHOUSE,
    Customer,
    ScaleConfig,
)
from threadline.sim.engine import Engine, Lot
from threadline.sim.ids import PLANT_PREFIX, sgln

__all__ = ["Logistics", "Pallet"]

TORQUE = "gs1:Torque"
ANGLE = "gs1:Angle"

_BOX_PREFIX = f"urn:epc:id:sscc:{PLANT_PREFIX}.0"  # extension digit 0: boxes
_PALLET_PREFIX = f"urn:epc:id:sscc:{PLANT_PREFIX}.1"  # extension digit 1: pallets
_GIAI_PREFIX = f"urn:epc:id:giai:{INSTALLER_PREFIX}.WT-"
_LOOSE_SHARE = 0.004  # boxes kept off pallets for small orders
_MIN_PALLET, _MAX_PALLET = 20, 60
_BOLTS_PER_ASSEMBLY = 24
# Tightening torque (N·m) and final angle (degrees) per product family, M8 ... M16.
_TORQUE = ((25.0, 40.0), (49.0, 45.0), (120.0, 55.0), (300.0, 62.0))

Children = tuple[tuple[Lot, int], ...]
Box = tuple[str, Children]


class _Flusher(Protocol):
    def flush(self) -> bool: ...


class Pallet:
    """A closed pallet in the warehouse."""

    __slots__ = ("boxes", "ready", "sscc")

    def __init__(self, sscc: str, boxes: list[Box], ready: int) -> None:
        self.sscc = sscc
        self.boxes = boxes
        self.ready = ready  # earliest time it may ship (after staging)


class Logistics:
    """Packing stations, palletiser, warehouse, docks and the customers' side."""

    def __init__(self, eng: Engine, cfg: ScaleConfig, customers: tuple[Customer, ...]) -> None:
        self.eng = eng
        self.cfg = cfg
        self.rng = eng.rng
        self.customers = customers
        # Smooth weighted round robin: every customer gets trucks in proportion to its weight,
        # the installer (customer 0) about a quarter of them.
        others = sum(c.weight for c in customers[1:])
        self.weights = [others / 3 if c.index == 0 else c.weight for c in customers]
        self.credit = [0.0] * len(customers)
        self.production: _Flusher | None = None
        n = cfg.pack_stations
        self.station_free = [0] * n
        self.station_rp = [sgln(PLANT_PREFIX, "00004", f"PACK-{i + 1:02d}") for i in range(n)]
        self.pending_mix: list[tuple[Lot, int] | None] = [None] * n
        self.open_pallet: list[list[Box]] = [[] for _ in range(n)]
        self.pallet_target = [_MIN_PALLET + self.rng.randrange(41) for _ in range(n)]
        self.docks = [sgln(PLANT_PREFIX, "00002", f"DOCK-{i + 1:02d}") for i in range(4)]
        self.n_box = 0
        self.n_pallet = 0
        self.n_loaded = 0
        self.repack_due = False
        self.n_desadv = 0
        self.po_counter = [0] * len(customers)
        self.stock: deque[Pallet] = deque()
        self.loose: list[Box] = []
        self.closed = False
        # Installer (customer 0): bolts on hand, FIFO by lot.
        self.asm_stock: deque[list[Any]] = deque()
        self.asm_qty = 0
        self.asm_running = False
        self.asm_deadline: int | None = None
        self.n_asm = 0
        # Highlights found along the way.
        self.highlight_heat: int | None = None
        self.shipped_box: str | None = None
        self.shipped_to: str | None = None
        self.unpacked_box: str | None = None
        self.unpacked_from: str | None = None

    def start(self) -> None:
        """Open the shipping docks (a truck slot every two hours on weekdays)."""
        self.eng.recurring(in_hours(DAY, 6, 19), self._slot)

    # ------------------------------------------------------------------ packing
    def lot_ready(self, t: int, lot: Lot, qty: int) -> None:
        """A conformant finished lot arrives at packing; its boxes are scheduled now."""
        eng = self.eng
        rng = self.rng
        free = self.station_free
        s = min(range(len(free)), key=free.__getitem__)
        start = work_start(max(t, free[s]))
        box_qty = FAMILIES[lot.family].box_qty
        boxes: list[Children] = []
        remaining = qty
        pending = self.pending_mix[s]
        self.pending_mix[s] = None
        if pending is not None and pending[0].family == lot.family:
            take = box_qty - pending[1]
            if remaining >= take:
                boxes.append((pending, (lot, take)))
                remaining -= take
        full = remaining // box_qty
        rest = remaining - full * box_qty
        whole: Children = ((lot, box_qty),)
        boxes.extend([whole] * full)
        if rest >= box_qty // 4 and rng.random() < 0.3:
            self.pending_mix[s] = (lot, rest)  # may top up a mixed box with the next lot
        interval = (38 + rng.randrange(15)) * SECOND
        box = self._box
        at = eng.at
        for i, children in enumerate(boxes):
            at(work_end(start, i * interval + (i * 379) % 1000), box, (s, children))
        free[s] = work_end(start, len(boxes) * interval)
        eng.stats.locations.add(self.station_rp[s])
        eng.stats.locations.add(PACKING)

    def _box(self, t: int, p: tuple[int, Children]) -> None:
        s, children = p
        eng = self.eng
        n = self.n_box + 1
        self.n_box = n
        sscc = f"{_BOX_PREFIX}{n:09d}"
        ts, off = eng.stamp(t)
        st = eng.stats
        if len(children) == 1:
            lot, q = children[0]
            cql = [{"epcClass": lot.epc, "quantity": q, "uom": "EA"}]
        else:
            cql = [{"epcClass": lot.epc, "quantity": q, "uom": "EA"} for lot, q in children]
            st.mixed_boxes += 1
        eng.out.append(
            {
                "type": "AggregationEvent",
                "eventTime": ts,
                "eventTimeZoneOffset": off,
                "eventID": eng.ids.next(),
                "parentID": sscc,
                "childQuantityList": cql,
                "action": "ADD",
                "bizStep": "packing",
                "disposition": "in_progress",
                "readPoint": {"id": self.station_rp[s]},
                "bizLocation": {"id": PACKING},
            }
        )
        st.boxes += 1
        st.edges += len(children)
        rng = self.rng
        if rng.random() < _LOOSE_SHARE:
            self.loose.append((sscc, children))
            return
        pallet = self.open_pallet[s]
        pallet.append((sscc, children))
        if len(pallet) >= self.pallet_target[s]:
            self.open_pallet[s] = []
            self.pallet_target[s] = _MIN_PALLET + rng.randrange(_MAX_PALLET - _MIN_PALLET + 1)
            eng.at(t + 60 * SECOND + rng.randrange(120_000), self._palletise, pallet)

    def _palletise(self, t: int, boxes: list[Box]) -> None:
        eng = self.eng
        self.n_pallet += 1
        sscc = f"{_PALLET_PREFIX}{self.n_pallet:09d}"
        ts, off = eng.stamp(t)
        eng.out.append(
            {
                "type": "AggregationEvent",
                "eventTime": ts,
                "eventTimeZoneOffset": off,
                "eventID": eng.ids.next(),
                "parentID": sscc,
                "childEPCs": [b[0] for b in boxes],
                "action": "ADD",
                "bizStep": "packing",
                "disposition": "in_progress",
                "readPoint": {"id": PALLETISER},
                "bizLocation": {"id": PACKING},
            }
        )
        st = eng.stats
        st.pallets += 1
        st.edges += len(boxes)
        st.locations.add(PALLETISER)
        self.stock.append(Pallet(sscc, boxes, t + 12 * HOUR))

    def _flush_pallets(self) -> bool:
        """End of production: close part pallets (20+ boxes) or keep the boxes loose."""
        did = False
        for s, boxes in enumerate(self.open_pallet):
            if not boxes:
                continue
            self.open_pallet[s] = []
            if len(boxes) >= _MIN_PALLET:
                self.eng.at(self.eng.now + 5 * MINUTE, self._palletise, boxes)
            else:
                self.loose.extend(boxes)
            did = True
        return did

    # ------------------------------------------------------------------ warehouse and shipping
    def _slot(self, t: int, _: Any) -> None:
        eng = self.eng
        final = False
        if eng.active == 0:
            # Nothing in flight: production is over. Drain the furnace queues and part
            # pallets, then ship whatever is left without waiting for full trucks.
            assert self.production is not None
            if self.production.flush() or self._flush_pallets():
                eng.recurring(in_hours(t + 2 * HOUR, 6, 19), self._slot)
                return
            final = True
            if not self.stock and not self.loose:
                self.closed = True
                self.asm_deadline = t + 2 * DAY
                return
        stock = self.stock
        rng = self.rng
        eligible = 0
        for pallet in stock:
            if pallet.ready > t:
                break
            eligible += 1
        k = 0
        while eligible and (final or eligible >= 3 or t - stock[0].ready > DAY):
            n = eligible if final else min(eligible, 3 + rng.randrange(10))
            eligible -= n
            truck = [stock.popleft() for _ in range(n)]
            loose: list[Box] = []
            if self.loose and (final or rng.random() < 0.25):
                take = len(self.loose) if final else min(len(self.loose), 1 + rng.randrange(3))
                loose = self.loose[:take]
                del self.loose[:take]
            base = t + k * 20 * MINUTE
            self._plan_repacks(base, truck)
            cust = self._next_customer()
            eng.at(base + 30 * MINUTE, self._ship, (cust, truck, loose, k % len(self.docks)))
            k += 1
        if final and self.loose and not eligible:
            loose = self.loose[:]
            self.loose.clear()
            cust = self._next_customer()
            eng.at(t + k * 20 * MINUTE + 30 * MINUTE, self._ship, (cust, [], loose, 0))
        eng.recurring(in_hours(t + 2 * HOUR, 6, 19), self._slot)

    def _next_customer(self) -> Customer:
        credit = self.credit
        weights = self.weights
        for i, w in enumerate(weights):
            credit[i] += w
        best = max(range(len(credit)), key=credit.__getitem__)
        credit[best] -= sum(weights)
        return self.customers[best]

    def _plan_repacks(self, base: int, truck: list[Pallet]) -> None:
        """Every n-th pallet loaded gives one box to a pallet that stays in the warehouse."""
        every = self.cfg.repack_every
        for pallet in truck:
            self.n_loaded += 1
            if self.n_loaded % every == 0:
                self.repack_due = True
            if not self.repack_due or len(pallet.boxes) < 2 or not self.stock:
                continue
            self.repack_due = False
            target = self.stock[-1]
            box = pallet.boxes.pop()
            target.boxes.append(box)
            self.eng.at(base + 2 * MINUTE, self._unpack, (pallet, box))
            self.eng.at(base + 7 * MINUTE, self._repack, (target, box))
            if self.unpacked_box is None:
                self.unpacked_box = box[0]
                self.unpacked_from = pallet.sscc

    def _unpack(self, t: int, p: tuple[Pallet, Box]) -> None:
        pallet, box = p
        eng = self.eng
        ts, off = eng.stamp(t)
        eng.out.append(
            {
                "type": "AggregationEvent",
                "eventTime": ts,
                "eventTimeZoneOffset": off,
                "eventID": eng.ids.next(),
                "parentID": pallet.sscc,
                "childEPCs": [box[0]],
                "action": "DELETE",
                "bizStep": "unpacking",
                "disposition": "in_progress",
                "readPoint": {"id": WAREHOUSE},
                "bizLocation": {"id": WAREHOUSE},
            }
        )
        eng.stats.locations.add(WAREHOUSE)

    def _repack(self, t: int, p: tuple[Pallet, Box]) -> None:
        pallet, box = p
        eng = self.eng
        ts, off = eng.stamp(t)
        eng.out.append(
            {
                "type": "AggregationEvent",
                "eventTime": ts,
                "eventTimeZoneOffset": off,
                "eventID": eng.ids.next(),
                "parentID": pallet.sscc,
                "childEPCs": [box[0]],
                "action": "ADD",
                "bizStep": "packing",
                "disposition": "in_progress",
                "readPoint": {"id": WAREHOUSE},
                "bizLocation": {"id": WAREHOUSE},
            }
        )
        eng.stats.repacks += 1
        eng.stats.edges += 1

    def _ship(self, t: int, p: tuple[Customer, list[Pallet], list[Box], int]) -> None:
        cust, pallets, loose, dock = p
        eng = self.eng
        self.n_desadv += 1
        self.po_counter[cust.index] += 1
        desadv = f"https://threadline.example/desadv/DA-{self.n_desadv:07d}"
        po = f"https://threadline.example/po/{cust.prefix}-PO-{self.po_counter[cust.index]:05d}"
        epcs = [pallet.sscc for pallet in pallets]
        epcs.extend(box[0] for box in loose)
        ts, off = eng.stamp(t)
        rp = self.docks[dock]
        eng.out.append(
            {
                "type": "ObjectEvent",
                "eventTime": ts,
                "eventTimeZoneOffset": off,
                "eventID": eng.ids.next(),
                "epcList": epcs,
                "action": "OBSERVE",
                "bizStep": "shipping",
                "disposition": "in_transit",
                "readPoint": {"id": rp},
                "bizTransactionList": [
                    {"type": "desadv", "bizTransaction": desadv},
                    {"type": "po", "bizTransaction": po},
                ],
                "sourceList": [
                    {"type": "owning_party", "source": PLANT_PARTY},
                    {"type": "location", "source": WAREHOUSE},
                ],
                "destinationList": [
                    {"type": "owning_party", "destination": cust.party},
                    {"type": "location", "destination": cust.site},
                ],
            }
        )
        st = eng.stats
        st.shipments += 1
        st.loose_boxes += len(loose)
        st.edges += 2 * len(epcs)
        st.customers.add(cust.party)
        st.parties.add(cust.party)
        st.parties.add(PLANT_PARTY)
        st.locations.add(rp)
        st.locations.add(WAREHOUSE)
        st.locations.add(cust.site)
        if self.highlight_heat is not None and self.shipped_to != self.customers[0].party:
            self._look_for_highlight(cust, pallets, loose)
        if cust.edi:
            when = in_hours(t + cust.transit_h * HOUR + self.rng.randrange(180) * MINUTE, 6, 16)
            eng.at(when, self._receipt, (cust, pallets, loose, desadv))

    def _look_for_highlight(self, cust: Customer, pallets: list[Pallet], loose: list[Box]) -> None:
        heat = self.highlight_heat
        for boxes in [*(pallet.boxes for pallet in pallets), loose]:
            for sscc, children in boxes:
                if any(heat in lot.heats for lot, _ in children):
                    if self.shipped_box is None or cust.index == 0:
                        self.shipped_box = sscc
                        self.shipped_to = cust.party
                    return

    # ------------------------------------------------------------------ customers
    def _receipt(self, t: int, p: tuple[Customer, list[Pallet], list[Box], str]) -> None:
        cust, pallets, loose, desadv = p
        eng = self.eng
        epcs = [pallet.sscc for pallet in pallets]
        epcs.extend(box[0] for box in loose)
        ts, off = eng.stamp(t)
        eng.out.append(
            {
                "type": "ObjectEvent",
                "eventTime": ts,
                "eventTimeZoneOffset": off,
                "eventID": eng.ids.next(),
                "epcList": epcs,
                "action": "OBSERVE",
                "bizStep": "receiving",
                "disposition": "in_progress",
                "readPoint": {"id": cust.site},
                "bizLocation": {"id": cust.site},
                "bizTransactionList": [{"type": "desadv", "bizTransaction": desadv}],
                "sourceList": [{"type": "owning_party", "source": PLANT_PARTY}],
                "destinationList": [
                    {"type": "owning_party", "destination": cust.party},
                    {"type": "location", "destination": cust.site},
                ],
            }
        )
        st = eng.stats
        st.customer_receipts += 1
        st.edges += 2 * len(epcs)
        if cust.index != 0:
            return
        for boxes in [*(pallet.boxes for pallet in pallets), loose]:
            for _, children in boxes:
                for lot, q in children:
                    self.asm_stock.append([lot, q])
                    self.asm_qty += q
        if not self.asm_running and self.asm_qty >= _BOLTS_PER_ASSEMBLY:
            self.asm_running = True
            eng.recurring(in_hours(t + 2 * HOUR, 5, 21), self._assemble)

    def _assemble(self, t: int, _: Any) -> None:
        """One wind-turbine assembly: 24 bolts, torque and angle from the nutrunner."""
        if self.asm_deadline is not None and t > self.asm_deadline:
            self.asm_running = False
            return
        if self.asm_qty < _BOLTS_PER_ASSEMBLY:
            self.asm_running = False
            return
        eng = self.eng
        rng = self.rng
        need = _BOLTS_PER_ASSEMBLY
        children: list[dict[str, Any]] = []
        stock = self.asm_stock
        family = stock[0][0].family
        while need:
            if not stock or stock[0][0].family != family:
                # Too few bolts of this size left for an assembly: they go to the spares bin
                # (no event) and the station starts over with the next size.
                self.asm_qty -= _BOLTS_PER_ASSEMBLY - need
                eng.recurring(t + MINUTE, self._assemble)
                return
            entry = stock[0]
            take = min(need, entry[1])
            children.append({"epcClass": entry[0].epc, "quantity": take, "uom": "EA"})
            entry[1] -= take
            need -= take
            if not entry[1]:
                stock.popleft()
        self.asm_qty -= _BOLTS_PER_ASSEMBLY
        nominal_torque, nominal_angle = _TORQUE[family]
        self.n_asm += 1
        ts, off = eng.stamp(t)
        torque = nominal_torque * (1.0 + rng.gauss(0.0, 0.007))
        angle = nominal_angle + rng.gauss(0.0, 3.0)
        eng.out.append(
            {
                "type": "AggregationEvent",
                "eventTime": ts,
                "eventTimeZoneOffset": off,
                "eventID": eng.ids.next(),
                "parentID": f"{_GIAI_PREFIX}{self.n_asm:06d}",
                "childQuantityList": children,
                "action": "ADD",
                "bizStep": "installing",
                "disposition": "active",
                "readPoint": {"id": ASSEMBLY_STATION},
                "bizLocation": {"id": self.customers[0].site},
                "sensorElementList": [
                    {
                        "sensorMetadata": {"time": ts, "deviceID": NUTRUNNER},
                        "sensorReport": [
                            {
                                "type": TORQUE,
                                "minValue": round(torque - 4.0 - rng.random() * 3, 1),
                                "maxValue": round(torque + 4.0 + rng.random() * 3, 1),
                                "meanValue": round(torque, 1),
                                "uom": "NU",
                            },
                            {
                                "type": ANGLE,
                                "minValue": round(angle - 5.0 - rng.random() * 3, 1),
                                "maxValue": round(angle + 5.0 + rng.random() * 3, 1),
                                "meanValue": round(angle, 1),
                                "uom": "DD",
                            },
                        ],
                    }
                ],
            }
        )
        st = eng.stats
        st.assemblies += 1
        st.edges += len(children)
        st.locations.add(ASSEMBLY_STATION)
        st.locations.add(self.customers[0].site)
        step = (self.cfg.assembly_minutes - 2 + rng.randrange(5)) * MINUTE
        eng.recurring(in_hours(t + step, 5, 21), self._assemble)
