"""Static plant data: product families, suppliers, customers, locations and per-scale sizes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from threadline.sim.ids import (
    PLANT_PREFIX,
    digital_link_prefix,
    giai,
    gtin14,
    lgtin_class_prefix,
    pgln,
    sgln,
)

__all__ = [
    "FAMILIES",
    "PLANT_PARTY",
    "SCALES",
    "SCALE_CONFIGS",
    "SUPPLIERS",
    "Customer",
    "Family",
    "ScaleConfig",
    "Supplier",
    "make_customers",
]

SCALES = ("small", "medium", "large")

PLANT_PARTY = pgln(PLANT_PREFIX)
HALL = sgln(PLANT_PREFIX, "00001")  # production hall (headers, rollers, furnaces, plating, QA)
WAREHOUSE = sgln(PLANT_PREFIX, "00002")  # finished-goods warehouse, docks are extensions
WIRE_STORE = sgln(PLANT_PREFIX, "00003")  # goods-in and wire store
PACKING = sgln(PLANT_PREFIX, "00004")  # packing area
GOODS_IN = sgln(PLANT_PREFIX, "00003", "GI-01")
QA_LAB = sgln(PLANT_PREFIX, "00001", "QA-01")
QUARANTINE = sgln(PLANT_PREFIX, "00001", "QUAR-01")
PALLETISER = sgln(PLANT_PREFIX, "00004", "PAL-01")


def machine(code: str) -> str:
    """Read point of a machine in the production hall, e.g. ``CH-01``."""
    return sgln(PLANT_PREFIX, "00001", code)


def sensor_device(code: str) -> str:
    """GIAI of a machine's sensor, e.g. ``FF-CH-01`` for a header's forming-force sensor."""
    return giai(PLANT_PREFIX, code)


@dataclass(frozen=True)
class Family:
    """One product family: a bolt and the plant GTINs of its four in-house stages."""

    code: str
    description: str
    grade: str
    steel: str
    wire_mm: float
    piece_kg: float  # wire consumed per piece, before scrap allowance
    batch_pcs: int
    head_rate: int  # pieces per minute on a header
    roll_rate: int  # pieces per minute on a thread roller
    box_qty: int
    force_kn: float  # nominal peak forming force
    hardness: tuple[float, float]  # HV10 spec limits
    pitch_d2: tuple[float, float]  # 6g pitch diameter limits, mm
    temper_c: float
    chem: tuple[tuple[str, float, float], ...]  # element, low, high (mass %)
    gtins: tuple[str, str, str, str]  # headed, rolled, heat-treated, finished
    dl: tuple[str, str, str, str]  # Digital Link prefixes of the above, ready for a lot number
    wire_item: str  # indicator + item reference of the wire at the supplier (6 digits)


def _family(index: int, **kw: Any) -> Family:
    h, r, t, f = (
        gtin14(PLANT_PREFIX, f"{(index + 1) * 100 + stage:05d}") for stage in (1, 2, 3, 4)
    )
    dl = (
        digital_link_prefix(h),
        digital_link_prefix(r),
        digital_link_prefix(t),
        digital_link_prefix(f),
    )
    return Family(gtins=(h, r, t, f), dl=dl, wire_item=f"0{12340 + index:05d}", **kw)


_CHEM_8_8 = (
    ("C", 0.20, 0.25),
    ("Mn", 0.90, 1.20),
    ("Si", 0.10, 0.30),
    ("P", 0.005, 0.020),
    ("S", 0.004, 0.015),
    ("B", 0.0010, 0.0040),
)
_CHEM_10_9 = (
    ("C", 0.30, 0.34),
    ("Mn", 0.60, 0.90),
    ("Si", 0.10, 0.30),
    ("P", 0.005, 0.020),
    ("S", 0.004, 0.015),
    ("Cr", 0.90, 1.20),
    ("B", 0.0010, 0.0040),
)

FAMILIES: tuple[Family, ...] = (
    _family(
        0,
        code="M8x30-8.8",
        description="Hex bolt ISO 4017 M8x30 8.8 zinc flake",
        grade="8.8",
        steel="23MnB4",
        wire_mm=7.1,
        piece_kg=0.0160,
        batch_pcs=16000,
        head_rate=220,
        roll_rate=420,
        box_qty=1500,
        force_kn=120.0,
        hardness=(250.0, 320.0),
        pitch_d2=(7.042, 7.160),
        temper_c=450.0,
        chem=_CHEM_8_8,
    ),
    _family(
        1,
        code="M10x40-8.8",
        description="Hex bolt ISO 4017 M10x40 8.8 zinc flake",
        grade="8.8",
        steel="23MnB4",
        wire_mm=8.9,
        piece_kg=0.0335,
        batch_pcs=10000,
        head_rate=160,
        roll_rate=300,
        box_qty=750,
        force_kn=190.0,
        hardness=(250.0, 320.0),
        pitch_d2=(8.862, 8.994),
        temper_c=450.0,
        chem=_CHEM_8_8,
    ),
    _family(
        2,
        code="M12x50-10.9",
        description="Hex bolt ISO 4017 M12x50 10.9 zinc flake",
        grade="10.9",
        steel="32CrB4",
        wire_mm=10.7,
        piece_kg=0.0580,
        batch_pcs=6000,
        head_rate=110,
        roll_rate=220,
        box_qty=400,
        force_kn=280.0,
        hardness=(320.0, 380.0),
        pitch_d2=(10.679, 10.829),
        temper_c=425.0,
        chem=_CHEM_10_9,
    ),
    _family(
        3,
        code="M16x60-10.9",
        description="Hex bolt ISO 4017 M16x60 10.9 zinc flake",
        grade="10.9",
        steel="32CrB4",
        wire_mm=14.5,
        piece_kg=0.1350,
        batch_pcs=3000,
        head_rate=60,
        roll_rate=120,
        box_qty=200,
        force_kn=480.0,
        hardness=(320.0, 380.0),
        pitch_d2=(14.503, 14.663),
        temper_c=425.0,
        chem=_CHEM_10_9,
    ),
)


@dataclass(frozen=True)
class Supplier:
    """A wire mill."""

    name: str
    prefix: str
    party: str
    heat_format: str  # str.format pattern taking n
    heat_start: int
    weight: float

    def class_prefix(self, family: Family) -> str:
        """LGTIN class prefix of this mill's wire for ``family``."""
        return lgtin_class_prefix(self.prefix, family.wire_item)


SUPPLIERS: tuple[Supplier, ...] = (
    Supplier("Rheinwire Steel", "4098765", pgln("4098765"), "H-{n}", 55000, 0.5),
    Supplier("Saar Draht", "4023456", pgln("4023456"), "C{n:06d}", 310000, 0.3),
    Supplier("Nordic Wire Rod", "4031122", pgln("4031122"), "SW-{n:05d}", 20000, 0.2),
)


@dataclass(frozen=True)
class Customer:
    """A customer: owning party, one receiving site, and whether it sends receiving events."""

    index: int
    name: str
    prefix: str
    party: str
    site: str
    edi: bool  # sends receiving events back
    transit_h: int  # typical truck transit time
    weight: float


_CUSTOMER_NAMES = (
    "Windkraft Nord Assembly",
    "Baumaschinen Süd",
    "Agrartechnik West",
    "Railcar Components",
    "Stahlbau Ost",
    "Fastener Distribution Central",
    "Pumpen & Motoren",
    "Cranes Europe",
)


def make_customers(n: int) -> tuple[Customer, ...]:
    """``n`` customers; customer 0 (prefix 4055555) installs bolts into wind-turbine assemblies."""
    out = []
    for i in range(n):
        prefix = f"{4055555 + 1111 * i}"
        base = _CUSTOMER_NAMES[i % len(_CUSTOMER_NAMES)]
        name = base if i < len(_CUSTOMER_NAMES) else f"{base} {i // len(_CUSTOMER_NAMES) + 1}"
        out.append(
            Customer(
                index=i,
                name=name,
                prefix=prefix,
                party=pgln(prefix),
                site=sgln(prefix, "00001"),
                edi=i % 2 == 0,
                transit_h=18 + (i * 7) % 40,
                weight=3.0 if i == 0 else 1.0 + (i % 3) * 0.5,
            )
        )
    return tuple(out)


INSTALLER_PREFIX = "4055555"
INSTALLED_FAMILY = 3  # M16x60 10.9: made by the drifting header, the installer's main size
ASSEMBLY_STATION = sgln(INSTALLER_PREFIX, "00001", "ASM-01")
NUTRUNNER = giai(INSTALLER_PREFIX, "NR-ASM-01")


@dataclass(frozen=True)
class ScaleConfig:
    """Size of one simulated plant."""

    name: str
    heat_lots: int
    headers: int
    customers: int
    repack_every: int  # every n-th pallet loaded onto a truck gives up one box first
    heat_kg: tuple[int, int]  # heat-lot mass range
    assembly_minutes: int  # cadence of the installer's assembly station

    @property
    def rollers(self) -> int:
        return (self.headers * 3 + 4) // 5 + 1

    @property
    def furnaces(self) -> int:
        return self.headers // 3 + 1

    @property
    def platers(self) -> int:
        return self.headers // 3 + 1

    @property
    def pack_stations(self) -> int:
        return self.headers // 3 + 1


SCALE_CONFIGS: dict[str, ScaleConfig] = {
    "small": ScaleConfig(
        "small",
        heat_lots=6,
        headers=4,
        customers=6,
        repack_every=11,
        heat_kg=(9000, 13000),
        assembly_minutes=30,
    ),
    "medium": ScaleConfig(
        "medium",
        heat_lots=175,
        headers=8,
        customers=8,
        repack_every=29,
        heat_kg=(8000, 14000),
        assembly_minutes=15,
    ),
    "large": ScaleConfig(
        "large",
        heat_lots=2400,
        headers=16,
        customers=24,
        repack_every=53,
        heat_kg=(8000, 14000),
        assembly_minutes=10,
    ),
}
