"""Production stages: wire receiving, cold heading, thread rolling, heat treatment, plating and
inspection, plus the one furnace-load event that is later declared in error.

Finished lots that pass inspection are handed to :class:`threadline.sim.logistics.Logistics`.
"""

from __future__ import annotations

import copy
import random
from typing import TYPE_CHECKING, Any

from threadline.sim.clock import DAY, HOUR, MINUTE, SECOND, in_hours, work_end, work_start
from threadline.sim.config import (
    FAMILIES,
    GOODS_IN,
    HALL,
    INSTALLED_FAMILY,
    PLANT_PARTY,
    QA_LAB,
    QUARANTINE,
    SUPPLIERS,
    WIRE_STORE,
    Family,
    ScaleConfig,
    machine,
    sensor_device,
)
from threadline.sim.engine import Engine, Lot
from threadline.sim.ids import PLANT_PREFIX

if TYPE_CHECKING:
    from threadline.sim.logistics import Logistics

__all__ = ["FORCE", "HeatLot", "Production"]

# Measurement types: GS1 Web Vocabulary terms where one exists, our namespace otherwise.
FORCE = "gs1:Force"
TEMPERATURE = "gs1:Temperature"
TIME = "gs1:Time"
LENGTH = "gs1:Length"
HARDNESS = "tl:Hardness"

_SCRAP_ALLOWANCE = 1.02  # wire consumed per piece includes shearing and heading losses
_DRIFT_GAIN = 0.18  # forming force at the end of the drift window is +18 %
_DRIFT_NC = 1.10  # lots with headed batches past this drift factor often fail inspection
_QA_DEVICE = sensor_device("HRD-QA-01")


class HeatLot:
    """A supplier heat lot of wire rod: the raw material of everything downstream."""

    __slots__ = (
        "chem",
        "epc",
        "family",
        "heat",
        "index",
        "kg",
        "po",
        "received",
        "supplier",
        "tensile",
    )

    def __init__(
        self,
        index: int,
        epc: str,
        heat: str,
        supplier: int,
        family: int,
        kg: float,
        chem: dict[str, float],
        tensile: int,
        po: str,
    ) -> None:
        self.index = index
        self.epc = epc
        self.heat = heat
        self.supplier = supplier
        self.family = family
        self.kg = kg
        self.chem = chem
        self.tensile = tensile
        self.po = po
        self.received = False


class _Header:
    """A cold-heading machine working through its queue of heat lots."""

    __slots__ = (
        "batches",
        "code",
        "device",
        "drift",
        "family",
        "index",
        "lots",
        "pos",
        "remaining",
        "rp",
    )

    def __init__(self, index: int, family: int) -> None:
        self.index = index
        self.code = f"CH-{index + 1:02d}"
        self.rp = machine(self.code)
        self.device = sensor_device(f"FF-{self.code}")
        self.family = family
        self.lots: list[int] = []
        self.pos = 0
        self.remaining = 0.0
        self.batches = 0
        self.drift: tuple[int, int] | None = None  # batch numbers [from, to) while drifting


class Production:
    """Everything from the goods-in dock to the inspection lab."""

    def __init__(
        self, eng: Engine, cfg: ScaleConfig, seed: int, logistics: Logistics | None
    ) -> None:
        self.eng = eng
        self.cfg = cfg
        self.logistics = logistics
        rng = eng.rng
        self.rng = rng
        self.headers = [_Header(i, i % len(FAMILIES)) for i in range(cfg.headers)]
        self.heats: list[HeatLot] = []
        self._plan_heats(seed)
        self.rollers = [0] * cfg.rollers
        self.roller_rp = [machine(f"TR-{i + 1:02d}") for i in range(cfg.rollers)]
        self.furnaces = [0] * cfg.furnaces
        self.furnace_rp = [machine(f"FURN-{i + 1:02d}") for i in range(cfg.furnaces)]
        self.furnace_dev = [
            (sensor_device(f"TC-FURN-{i + 1:02d}-H"), sensor_device(f"TC-FURN-{i + 1:02d}-T"))
            for i in range(cfg.furnaces)
        ]
        self.platers = [0] * cfg.platers
        self.plater_rp = [machine(f"PLT-{i + 1:02d}") for i in range(cfg.platers)]
        self.furnace_queue: list[list[Lot]] = [[] for _ in FAMILIES]
        self.furnace_target = [2 + rng.randrange(3) for _ in FAMILIES]
        self.last_load: list[list[Lot] | None] = [None for _ in FAMILIES]
        self.n_headed = 0
        self.n_rolled = 0
        self.n_loads = 0
        self.n_finished = 0
        self.n_inspected = 0
        # Drift: one header's forming force climbs over a window of its batches. It is a header
        # making M16 bolts (the installer's main size), so the drift reaches installed assemblies.
        candidates = [hd for hd in self.headers if hd.family == INSTALLED_FAMILY and hd.lots]
        self.drift_header = candidates[rng.randrange(len(candidates))]
        expected = self._expected_batches(self.drift_header)
        length = max(8, min(72, expected // 10))
        start = max(2, int(expected * 0.45) - length // 2)
        self.drift_header.drift = (start, start + length)
        self.drift_times: list[int] = []
        self.highlight_heat: int | None = None
        # Error declaration: the first furnace load from this number on, once its family has a
        # previous load to mistake a batch from.
        self.error_target = max(3, self.expected_loads() // 2)
        self.error_event: dict[str, Any] | None = None
        self.error_event_id: str | None = None

    # ------------------------------------------------------------------ planning
    def _plan_heats(self, seed: int) -> None:
        rng = random.Random(seed * 104729 + 3)
        cfg = self.cfg
        next_heat = [s.heat_start + rng.randrange(900) for s in SUPPLIERS]
        weights = [s.weight for s in SUPPLIERS]
        for j in range(cfg.heat_lots):
            hd = self.headers[j % cfg.headers]
            fam = FAMILIES[hd.family]
            si = rng.choices(range(len(SUPPLIERS)), weights)[0]
            sup = SUPPLIERS[si]
            n = next_heat[si]
            next_heat[si] = n + 1 + rng.randrange(40)
            heat = sup.heat_format.format(n=n)
            kg = float(rng.randrange(cfg.heat_kg[0], cfg.heat_kg[1] + 1, 10))
            chem = {el: round(lo + (hi - lo) * rng.random(), 4) for el, lo, hi in fam.chem}
            tensile = 480 + rng.randrange(140)
            po = f"urn:epc:id:gdti:{PLANT_PREFIX}.00010.PO-{24 + j // 400}-{j:05d}"
            self.heats.append(
                HeatLot(j, sup.class_prefix(fam) + heat, heat, si, hd.family, kg, chem, tensile, po)
            )
            hd.lots.append(j)

    def _batch_kg(self, fam: Family) -> float:
        return fam.batch_pcs * fam.piece_kg * _SCRAP_ALLOWANCE

    def _expected_batches(self, hd: _Header) -> int:
        fam = FAMILIES[hd.family]
        total = sum(self.heats[j].kg for j in hd.lots)
        return int(total / (self._batch_kg(fam) * 0.98))

    def expected_batches(self) -> int:
        """Expected number of headed batches over the whole run."""
        return sum(self._expected_batches(hd) for hd in self.headers)

    def expected_loads(self) -> int:
        """Expected number of furnace loads (three batches per load on average)."""
        return self.expected_batches() // 3

    # ------------------------------------------------------------------ receiving
    def start(self) -> None:
        """Schedule the first deliveries and the first batch on every header."""
        eng = self.eng
        t = 0
        for hd in self.headers:
            for j in hd.lots[:2]:
                eng.at(t, self._receive, j)
                t += 4 * MINUTE + self.rng.randrange(60) * SECOND
        for hd in self.headers:
            if hd.lots:
                hd.remaining = self.heats[hd.lots[0]].kg
                self._start_batch(HOUR + hd.index * 7 * MINUTE, hd)

    def _receive(self, t: int, j: int) -> None:
        eng = self.eng
        heat = self.heats[j]
        heat.received = True
        sup = SUPPLIERS[heat.supplier]
        ts, off = eng.stamp(t)
        fam = FAMILIES[heat.family]
        eng.out.append(
            {
                "type": "ObjectEvent",
                "eventTime": ts,
                "eventTimeZoneOffset": off,
                "eventID": eng.ids.next(),
                "quantityList": [{"epcClass": heat.epc, "quantity": heat.kg, "uom": "KGM"}],
                "action": "ADD",
                "bizStep": "receiving",
                "disposition": "in_progress",
                "readPoint": {"id": GOODS_IN},
                "bizLocation": {"id": WIRE_STORE},
                "bizTransactionList": [{"type": "po", "bizTransaction": heat.po}],
                "sourceList": [{"type": "owning_party", "source": sup.party}],
                "destinationList": [{"type": "owning_party", "destination": PLANT_PARTY}],
                "ilmd": {
                    "tl:heatNumber": heat.heat,
                    "tl:certificate": f"https://threadline.example/cert/{sup.prefix}/{heat.heat}",
                    "tl:chemistry": dict(heat.chem),
                    "tl:tensileStrengthMPa": heat.tensile,
                    "tl:steelGrade": fam.steel,
                    "tl:wireDiameterMM": fam.wire_mm,
                    "tl:supplier": sup.party,
                },
            }
        )
        st = eng.stats
        st.heat_lots += 1
        st.edges += 1
        st.parties.add(sup.party)
        st.parties.add(PLANT_PARTY)
        st.locations.add(GOODS_IN)
        st.locations.add(WIRE_STORE)

    def _order_next(self, t: int, hd: _Header) -> None:
        """Call off the heat lot after the one just started, so one is always in stock."""
        k = hd.pos + 2
        if k < len(hd.lots):
            when = in_hours(t + 2 * HOUR + self.rng.randrange(240) * MINUTE, 5, 21)
            self.eng.at(when, self._receive, hd.lots[k])

    # ------------------------------------------------------------------ cold heading
    def _start_batch(self, t: int, hd: _Header) -> None:
        fam = FAMILIES[hd.family]
        rng = self.rng
        pcs = fam.batch_pcs - 10 * int(rng.random() * fam.batch_pcs * 0.004)
        per_piece = fam.piece_kg * _SCRAP_ALLOWANCE
        need = round(pcs * per_piece, 1)
        heats = self.heats
        cur = hd.lots[hd.pos]
        if hd.remaining >= need:
            inputs = [(cur, need)]
            hd.remaining = round(hd.remaining - need, 1)
        elif hd.pos + 1 < len(hd.lots):
            # Coil change mid-batch: the tail of this heat lot and the start of the next.
            nxt = hd.lots[hd.pos + 1]
            if not heats[nxt].received:  # pragma: no cover - deliveries are always ahead
                raise RuntimeError(f"heat lot {nxt} needed before it was received")
            tail = hd.remaining
            inputs = [(cur, tail), (nxt, round(need - tail, 1))] if tail > 0 else [(nxt, need)]
            hd.pos += 1
            hd.remaining = round(heats[nxt].kg - (need - tail), 1)
            self._order_next(t, hd)
        elif hd.remaining >= need * 0.3:
            pcs = int(hd.remaining / per_piece) // 10 * 10
            need = round(pcs * per_piece, 1)
            inputs = [(cur, need)]
            hd.remaining = round(hd.remaining - need, 1)
        else:
            return  # this header has run out of wire
        start = work_start(t)
        dur = pcs * MINUTE // fam.head_rate
        end = work_end(start, dur)
        n = hd.batches
        hd.batches = n + 1
        if hd.pos == 0 and n == 0:
            self._order_next(t, hd)
        self.eng.at(end, self._head_done, (hd, n, pcs, inputs, start))
        if n % 2 == 1:
            self.eng.at(work_end(start, dur // 2), self._sensor_report, (hd, n))

    def _drift(self, hd: _Header, n: int) -> float:
        window = hd.drift
        if window is None or not window[0] <= n < window[1]:
            return 1.0
        return 1.0 + _DRIFT_GAIN * (n - window[0] + 1) / (window[1] - window[0])

    def _head_done(self, t: int, p: tuple[_Header, int, int, list[tuple[int, float]], int]) -> None:
        hd, n, pcs, inputs, start = p
        eng = self.eng
        rng = self.rng
        fam = FAMILIES[hd.family]
        drift = self._drift(hd, n)
        if drift > 1.0:
            self.drift_times.append(t)
            if self.highlight_heat is None:
                self.highlight_heat = inputs[0][0]
                if self.logistics is not None:
                    self.logistics.highlight_heat = self.highlight_heat
        mean = fam.force_kn * drift * (1.0 + rng.gauss(0.0, 0.006))
        sd = mean * (0.010 + 0.004 * rng.random())
        ts, off = eng.stamp(t)
        st = eng.stats
        yy = eng.stamper.year2(t)
        self.n_headed += 1
        epc = f"{fam.dl[0]}HB{yy}-{self.n_headed:06d}"
        heats = self.heats
        eng.out.append(
            {
                "type": "TransformationEvent",
                "eventTime": ts,
                "eventTimeZoneOffset": off,
                "eventID": eng.ids.next(),
                "inputQuantityList": [
                    {"epcClass": heats[j].epc, "quantity": kg, "uom": "KGM"} for j, kg in inputs
                ],
                "outputQuantityList": [{"epcClass": epc, "quantity": pcs, "uom": "EA"}],
                "bizStep": "creating_class_instance",
                "disposition": "active",
                "readPoint": {"id": hd.rp},
                "bizLocation": {"id": HALL},
                "sensorElementList": [
                    {
                        "sensorMetadata": {
                            "time": ts,
                            "startTime": eng.stamp(start)[0],
                            "endTime": ts,
                            "deviceID": hd.device,
                        },
                        "sensorReport": [
                            {
                                "type": FORCE,
                                "minValue": round(mean - 2.8 * sd, 1),
                                "maxValue": round(mean + 3.1 * sd, 1),
                                "meanValue": round(mean, 1),
                                "sDev": round(sd, 2),
                                "uom": "B47",
                            }
                        ],
                    }
                ],
            }
        )
        st.headed_batches += 1
        st.edges += len(inputs)
        if len(inputs) > 1:
            st.merged_batches += 1
        st.locations.add(hd.rp)
        st.locations.add(HALL)
        lot = Lot(epc, hd.family, pcs, tuple(j for j, _ in inputs), drift)
        self._start_batch(t + (2 + rng.randrange(4)) * MINUTE, hd)
        # Thread rolling: the first free roller takes the batch.
        rollers = self.rollers
        r = min(range(len(rollers)), key=rollers.__getitem__)
        rstart = work_start(max(t + 10 * MINUTE, rollers[r]))
        rend = work_end(rstart, pcs * MINUTE // fam.roll_rate)
        rollers[r] = rend
        eng.at(rend, self._roll_done, (lot, r))

    def _sensor_report(self, t: int, p: tuple[_Header, int]) -> None:
        """A standalone forming-force summary from a header, between batch events."""
        hd, n = p
        eng = self.eng
        rng = self.rng
        fam = FAMILIES[hd.family]
        mean = fam.force_kn * self._drift(hd, n) * (1.0 + rng.gauss(0.0, 0.006))
        sd = mean * (0.010 + 0.004 * rng.random())
        ts, off = eng.stamp(t)
        eng.out.append(
            {
                "type": "ObjectEvent",
                "eventTime": ts,
                "eventTimeZoneOffset": off,
                "eventID": eng.ids.next(),
                "action": "OBSERVE",
                "bizStep": "sensor_reporting",
                "readPoint": {"id": hd.rp},
                "bizLocation": {"id": HALL},
                "sensorElementList": [
                    {
                        "sensorMetadata": {"time": ts, "deviceID": hd.device},
                        "sensorReport": [
                            {
                                "type": FORCE,
                                "minValue": round(mean - 2.5 * sd, 1),
                                "maxValue": round(mean + 2.7 * sd, 1),
                                "meanValue": round(mean, 1),
                                "sDev": round(sd, 2),
                                "uom": "B47",
                            }
                        ],
                    }
                ],
            }
        )
        eng.stats.sensor_reports += 1

    def _one_to_one(
        self,
        t: int,
        src: Lot,
        epc: str,
        out_pcs: int,
        rp: str,
        *,
        ilmd: dict[str, Any] | None = None,
    ) -> None:
        """Emit a one-lot-in, one-lot-out TransformationEvent (rolling, plating) at ``rp``."""
        eng = self.eng
        ts, off = eng.stamp(t)
        event: dict[str, Any] = {
            "type": "TransformationEvent",
            "eventTime": ts,
            "eventTimeZoneOffset": off,
            "eventID": eng.ids.next(),
            "inputQuantityList": [{"epcClass": src.epc, "quantity": src.qty, "uom": "EA"}],
            "outputQuantityList": [{"epcClass": epc, "quantity": out_pcs, "uom": "EA"}],
            "bizStep": "creating_class_instance",
            "disposition": "active",
            "readPoint": {"id": rp},
            "bizLocation": {"id": HALL},
        }
        if ilmd is not None:
            event["ilmd"] = ilmd
        eng.out.append(event)
        eng.stats.edges += 1
        eng.stats.locations.add(rp)

    # ------------------------------------------------------------------ thread rolling
    def _roll_done(self, t: int, p: tuple[Lot, int]) -> None:
        src, r = p
        eng = self.eng
        fam = FAMILIES[src.family]
        out_pcs = src.qty - int(self.rng.random() * src.qty * 0.003)
        self.n_rolled += 1
        epc = f"{fam.dl[1]}TR{eng.stamper.year2(t)}-{self.n_rolled:06d}"
        self._one_to_one(t, src, epc, out_pcs, self.roller_rp[r])
        eng.stats.rolled_batches += 1
        queue = self.furnace_queue[src.family]
        queue.append(Lot(epc, src.family, out_pcs, src.heats, src.drift))
        if len(queue) >= self.furnace_target[src.family]:
            self._load_furnace(t, src.family)

    # ------------------------------------------------------------------ heat treatment
    def _load_furnace(self, t: int, family: int) -> None:
        queue = self.furnace_queue[family]
        k = min(len(queue), self.furnace_target[family])
        inputs = queue[:k]
        del queue[:k]
        self.furnace_target[family] = 2 + self.rng.randrange(3)
        furnaces = self.furnaces
        f = min(range(len(furnaces)), key=furnaces.__getitem__)
        start = work_start(max(t + 20 * MINUTE, furnaces[f]))
        furnaces[f] = start + 20 * MINUTE * k
        end = work_end(start, 4 * HOUR + self.rng.randrange(40) * MINUTE)
        self.eng.at(end, self._furnace_done, (inputs, f, start))

    def flush(self) -> bool:
        """At the end of the run, heat-treat what waits in the furnace queues (2+ batches)."""
        did = False
        for family, queue in enumerate(self.furnace_queue):
            if len(queue) >= 2:
                self.furnace_target[family] = min(4, len(queue))
                self._load_furnace(self.eng.now, family)
                did = True
        return did

    def _furnace_done(self, t: int, p: tuple[list[Lot], int, int]) -> None:
        inputs, f, start = p
        eng = self.eng
        rng = self.rng
        family = inputs[0].family
        fam = FAMILIES[family]
        total = sum(lot.qty for lot in inputs)
        self.n_loads += 1
        epc = f"{fam.dl[2]}HT{eng.stamper.year2(t)}-{self.n_loads:06d}"
        ts, off = eng.stamp(t)
        rp = self.furnace_rp[f]
        dev_h, dev_t = self.furnace_dev[f]
        harden = 860.0 + rng.random() * 15.0
        temper = fam.temper_c + rng.gauss(0.0, 3.0)
        mid = eng.stamp(start + 2 * HOUR)[0]
        listed = inputs
        previous = self.last_load[family]
        wrong = (
            self.error_event is None
            and self.n_loads >= self.error_target
            and previous is not None
            and len(inputs) >= 2
        )
        if wrong and previous is not None:
            # The operator scanned a traveller from the previous load instead of the last batch.
            listed = [*inputs[:-1], previous[0]]
        event_id = eng.ids.next()
        event: dict[str, Any] = {
            "type": "TransformationEvent",
            "eventTime": ts,
            "eventTimeZoneOffset": off,
            "eventID": event_id,
            "inputQuantityList": [
                {"epcClass": lot.epc, "quantity": lot.qty, "uom": "EA"} for lot in listed
            ],
            "outputQuantityList": [{"epcClass": epc, "quantity": total, "uom": "EA"}],
            "bizStep": "creating_class_instance",
            "disposition": "active",
            "readPoint": {"id": rp},
            "bizLocation": {"id": HALL},
            "sensorElementList": [
                {
                    "sensorMetadata": {"time": mid, "deviceID": dev_h},
                    "sensorReport": [
                        {
                            "type": TEMPERATURE,
                            "minValue": round(harden - 4.0 - rng.random() * 2, 1),
                            "maxValue": round(harden + 3.0 + rng.random() * 2, 1),
                            "meanValue": round(harden, 1),
                            "uom": "CEL",
                            "tl:zone": "hardening",
                        },
                        {"type": TIME, "value": 50 + rng.randrange(12), "uom": "MIN"},
                    ],
                },
                {
                    "sensorMetadata": {"time": ts, "deviceID": dev_t},
                    "sensorReport": [
                        {
                            "type": TEMPERATURE,
                            "minValue": round(temper - 3.0 - rng.random() * 2, 1),
                            "maxValue": round(temper + 3.0 + rng.random() * 2, 1),
                            "meanValue": round(temper, 1),
                            "uom": "CEL",
                            "tl:zone": "tempering",
                        },
                        {"type": TIME, "value": 90 + rng.randrange(25), "uom": "MIN"},
                    ],
                },
            ],
        }
        eng.out.append(event)
        st = eng.stats
        st.heat_treated_lots += 1
        st.edges += len(listed)
        st.locations.add(rp)
        if wrong:
            self.error_event = copy.deepcopy(event)
            self.error_event_id = event_id
            fixed = copy.deepcopy(event)
            fixed["inputQuantityList"] = [
                {"epcClass": lot.epc, "quantity": lot.qty, "uom": "EA"} for lot in inputs
            ]
            eng.at(in_hours(t + DAY + rng.randrange(180) * MINUTE, 6, 16), self._declare, fixed)
        self.last_load[family] = inputs
        heats = tuple(sorted({h for lot in inputs for h in lot.heats}))
        ht = Lot(epc, family, total, heats, max(lot.drift for lot in inputs))
        # Zinc-flake plating: first free line.
        platers = self.platers
        k = min(range(len(platers)), key=platers.__getitem__)
        pstart = work_start(max(t + 30 * MINUTE, platers[k]))
        platers[k] = pstart + 50 * MINUTE
        eng.at(work_end(pstart, 2 * HOUR + rng.randrange(30) * MINUTE), self._plate_done, (ht, k))

    def _declare(self, t: int, fixed: dict[str, Any]) -> None:
        """Declare the mis-scanned furnace event in error and record the corrected one."""
        eng = self.eng
        original = self.error_event
        assert original is not None
        ts, off = eng.stamp(t)
        fixed["eventTime"] = ts
        fixed["eventTimeZoneOffset"] = off
        fixed["eventID"] = eng.ids.next()
        declared = copy.deepcopy(original)
        declared["errorDeclaration"] = {
            "declarationTime": ts,
            "reason": "incorrect_data",
            "correctiveEventIDs": [fixed["eventID"]],
        }
        eng.out.append(fixed)
        eng.out.append(declared)
        eng.stats.edges += len(fixed["inputQuantityList"])
        eng.stats.error_declarations += 1

    # ------------------------------------------------------------------ plating and inspection
    def _plate_done(self, t: int, p: tuple[Lot, int]) -> None:
        src, k = p
        eng = self.eng
        fam = FAMILIES[src.family]
        out_pcs = src.qty - int(self.rng.random() * src.qty * 0.002)
        self.n_finished += 1
        epc = f"{fam.dl[3]}FL{eng.stamper.year2(t)}-{self.n_finished:06d}"
        self._one_to_one(
            t,
            src,
            epc,
            out_pcs,
            self.plater_rp[k],
            ilmd={"tl:product": fam.description, "tl:coating": "zinc flake ISO 10683"},
        )
        eng.stats.finished_lots += 1
        lot = Lot(epc, src.family, out_pcs, src.heats, src.drift)
        eng.at(t + (20 + self.rng.randrange(40)) * MINUTE, self._inspect, (lot, out_pcs, False))

    def _inspect(self, t: int, p: tuple[Lot, int, bool]) -> None:
        lot, qty, recheck = p
        eng = self.eng
        rng = self.rng
        self.n_inspected += 1
        fam = FAMILIES[lot.family]
        if recheck:
            defect = None
        elif lot.drift >= _DRIFT_NC and rng.random() < 0.45:
            defect = "head_height"
        elif rng.random() < 0.03 or self.n_inspected in (7, 15):  # (both flows at any scale)
            defect = ("hardness", "pitch_diameter", "coating_thickness")[rng.randrange(3)]
        else:
            defect = None
        h_lo, h_hi = fam.hardness
        hard = h_lo + (h_hi - h_lo) * (0.3 + 0.4 * rng.random())
        if defect == "hardness":
            hard = h_lo - 4.0 - 6.0 * rng.random()
        d_lo, d_hi = fam.pitch_d2
        d2 = d_lo + (d_hi - d_lo) * (0.35 + 0.3 * rng.random())
        if defect == "pitch_diameter":
            d2 = d_hi + 0.004 + 0.01 * rng.random()
        coat = 8.0 + 4.0 * rng.random() if defect != "coating_thickness" else 4.0 + rng.random()
        ts, off = eng.stamp(t)
        event: dict[str, Any] = {
            "type": "ObjectEvent",
            "eventTime": ts,
            "eventTimeZoneOffset": off,
            "eventID": eng.ids.next(),
            "quantityList": [{"epcClass": lot.epc, "quantity": qty, "uom": "EA"}],
            "action": "OBSERVE",
            "bizStep": "inspecting",
            "disposition": "non_conformant" if defect else "conformant",
            "readPoint": {"id": QA_LAB},
            "bizLocation": {"id": HALL},
            "sensorElementList": [
                {
                    "sensorMetadata": {"time": ts, "deviceID": _QA_DEVICE},
                    "sensorReport": [
                        {
                            "type": HARDNESS,
                            "minValue": round(hard - 6.0, 1),
                            "maxValue": round(hard + 7.0, 1),
                            "meanValue": round(hard, 1),
                            "tl:scale": "HV10",
                        },
                        {
                            "type": LENGTH,
                            "minValue": round(d2 - 0.006, 3),
                            "maxValue": round(d2 + 0.007, 3),
                            "meanValue": round(d2, 3),
                            "uom": "MMT",
                            "tl:characteristic": "pitch_diameter",
                        },
                        {
                            "type": LENGTH,
                            "meanValue": round(coat, 1),
                            "uom": "4H",
                            "tl:characteristic": "coating_thickness",
                        },
                    ],
                }
            ],
        }
        if defect:
            event["tl:defect"] = defect
        eng.out.append(event)
        eng.stats.locations.add(QA_LAB)
        if defect is None:
            assert self.logistics is not None
            self.logistics.lot_ready(t + (10 + rng.randrange(20)) * MINUTE, lot, qty)
            return
        eng.stats.nonconforming_lots += 1
        # Non-conformant lots alternate between 100 % sorting (scrap the rejects, release the
        # rest) and quarantine hold, so even a small plant shows both.
        if eng.stats.nonconforming_lots % 2 == 1:
            when = in_hours(t + DAY + rng.randrange(300) * MINUTE, 6, 20)
            eng.at(when, self._sort, (lot, qty))
        else:
            eng.at(t + HOUR + rng.randrange(120) * MINUTE, self._hold, (lot, qty))

    def _sort(self, t: int, p: tuple[Lot, int]) -> None:
        """100 % sorting of a non-conformant lot: scrap the rejects, re-inspect the rest."""
        lot, qty = p
        eng = self.eng
        scrap = int(qty * (0.08 + 0.17 * self.rng.random()))
        ts, off = eng.stamp(t)
        eng.out.append(
            {
                "type": "ObjectEvent",
                "eventTime": ts,
                "eventTimeZoneOffset": off,
                "eventID": eng.ids.next(),
                "quantityList": [{"epcClass": lot.epc, "quantity": scrap, "uom": "EA"}],
                "action": "DELETE",
                "bizStep": "destroying",
                "disposition": "destroyed",
                "readPoint": {"id": QUARANTINE},
            }
        )
        eng.stats.scrap_events += 1
        eng.stats.locations.add(QUARANTINE)
        eng.at(t + 3 * HOUR, self._inspect, (lot, qty - scrap, True))

    def _hold(self, t: int, p: tuple[Lot, int]) -> None:
        lot, qty = p
        eng = self.eng
        ts, off = eng.stamp(t)
        eng.out.append(
            {
                "type": "ObjectEvent",
                "eventTime": ts,
                "eventTimeZoneOffset": off,
                "eventID": eng.ids.next(),
                "quantityList": [{"epcClass": lot.epc, "quantity": qty, "uom": "EA"}],
                "action": "OBSERVE",
                "bizStep": "holding",
                "disposition": "non_conformant",
                "readPoint": {"id": QUARANTINE},
                "bizLocation": {"id": QUARANTINE},
            }
        )
        eng.stats.held_lots += 1
        eng.stats.locations.add(QUARANTINE)
