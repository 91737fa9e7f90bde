"""What the alerts and holds pages show: rows of the quality records, made readable.

:func:`alerts_page` lists alerts newest first (the open ones, or all of them);
:func:`holds_page` lists the active holds first and, on request, the released ones after them,
each with how many objects downstream of the held one the hold covers when that is cheap to
know. Both read through :mod:`threadline.quality`, so the pages show what the API returns.

Addresses of passports are made by the caller (``link``): this layer knows nothing of routes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote

from threadline.errors import InvalidInput
from threadline.genealogy.index import GraphIndex
from threadline.labels.content import KIND_NAMES, display_key
from threadline.model.identifiers import Kind
from threadline.quality import alerts as alerts_mod
from threadline.quality import holds as holds_mod
from threadline.quality.specs import breach
from threadline.store.base import Store
from threadline.store.quality import AlertRow, HoldRow
from threadline.web.charts import unit_symbol
from threadline.web.passport import readable_time

__all__ = [
    "ALERTS_SHOWN",
    "HOLDS_SHOWN",
    "TRACED_HOLDS_MAX",
    "AlertItem",
    "AlertsPage",
    "HoldItem",
    "HoldsPage",
    "Link",
    "Shown",
    "alert_item",
    "alerts_page",
    "equipment_name",
    "hold_item",
    "holds_page",
    "row_id",
]

Link = Callable[[str], str]
"""Makes the in-app address of an object's passport from its canonical key."""

Shown = Literal["open", "all"]

ALERTS_SHOWN = 100
HOLDS_SHOWN = 200
# Downstream counts come from one forward trace per active hold (cached per genealogy version);
# beyond this many active holds the page leaves them out rather than trace them all.
TRACED_HOLDS_MAX = 25

_ROW_ID_MAX = 2**63 - 1
_KIND_LABELS = {"out_of_spec": "Out of spec", "held_material": "Held material"}


def equipment_name(key: str | None) -> str:
    """A machine as people on the floor name it: ``CH-07`` for the SGLN whose extension it is."""
    if not key:
        return ""
    if "/254/" in key:  # Digital Link form of an SGLN with an extension
        return unquote(key.rsplit("/254/", 1)[1])
    if key.startswith("urn:epc:id:sgln:"):
        extension = key.rsplit(".", 1)[-1]
        if extension and extension != "0":
            return extension
    return display_key(key)


def row_id(raw: str | None, what: str) -> int | None:
    """``raw`` (a form or address field) as a stored row id: None when absent, a clear
    :class:`InvalidInput` for anything but a whole number a 64-bit id can hold."""
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= _ROW_ID_MAX:
        raise InvalidInput(f"{what} must be a positive whole number, got {raw[:40]!r}")
    return int(raw)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


@dataclass(frozen=True)
class AlertItem:
    """One alert as a row of the alerts page."""

    id: int
    kind: str
    open: bool
    equipment: str  # short name (CH-07); empty for alerts not about a machine
    equipment_key: str
    parameter: str
    value: str  # "291.2 kN"
    limits: str  # "LSL 250, USL 290"
    breach: str  # "above USL", "below LSL" or ""
    stamp: str  # when it happened (reading time, else when raised), UTC text
    time: str  # the same, readable
    message: str
    object_text: str
    object_href: str | None
    acked_by: str
    acked_at: str


def alert_item(row: AlertRow, link: Link) -> AlertItem:
    """The readable form of one stored alert."""
    symbol = unit_symbol(row.unit)
    unit = f" {symbol}" if symbol else ""
    limits = []
    if row.lsl is not None:
        limits.append(f"LSL {_number(row.lsl)}")
    if row.usl is not None:
        limits.append(f"USL {_number(row.usl)}")
    why = breach(row.value, row.lsl, row.usl) if row.value is not None else None
    stamp = row.reading_time or row.time
    return AlertItem(
        id=row.id,
        kind=_KIND_LABELS.get(row.kind, row.kind.replace("_", " ")),
        open=row.acked_at is None,
        equipment=equipment_name(row.equipment),
        equipment_key=row.equipment or "",
        parameter=(row.parameter or "").removeprefix("gs1:"),
        value=f"{_number(row.value)}{unit}" if row.value is not None else "",
        limits=", ".join(limits) + (unit if limits else ""),
        breach=why or "",
        stamp=stamp,
        time=readable_time(stamp),
        message=row.message,
        object_text=display_key(row.object) if row.object else "",
        object_href=link(row.object) if row.object else None,
        acked_by=row.acked_by or "",
        acked_at=readable_time(row.acked_at) if row.acked_at else "",
    )


@dataclass
class AlertsPage:
    """The alerts page: ``show`` open or all, newest first, at most ``limit``."""

    show: Shown
    alerts: list[AlertItem]
    limit: int
    more: bool  # older alerts of this filter exist beyond the ones shown


def alerts_page(
    store: Store, *, show: Shown = "open", link: Link, limit: int = ALERTS_SHOWN
) -> AlertsPage:
    """The newest ``limit`` alerts (only those nobody acknowledged when ``show`` is open)."""
    rows = alerts_mod.list_alerts(store, limit=limit + 1, unacked=show == "open")
    return AlertsPage(
        show=show,
        alerts=[alert_item(r, link) for r in rows[:limit]],
        limit=limit,
        more=len(rows) > limit,
    )


@dataclass(frozen=True)
class HoldItem:
    """One hold as a row of the holds page."""

    id: int
    active: bool
    object_key: str
    object_text: str
    object_kind: str  # "Lot", "Logistic unit (SSCC)"...
    object_href: str
    reason: str
    placed_by: str
    placed_stamp: str
    placed_at: str
    released_by: str
    released_at: str
    release_reason: str
    downstream: int | None  # objects downstream covered by the hold (None: not counted)


def hold_item(
    row: HoldRow, link: Link, *, kind: str | None = None, downstream: int | None = None
) -> HoldItem:
    """The readable form of one stored hold (``kind``: the stored object's kind, if known)."""
    try:
        kind_name = KIND_NAMES[Kind(kind)] if kind else ""
    except ValueError:
        kind_name = ""
    return HoldItem(
        id=row.id,
        active=row.active,
        object_key=row.object,
        object_text=display_key(row.object),
        object_kind=kind_name,
        object_href=link(row.object),
        reason=row.reason,
        placed_by=row.placed_by or "",
        placed_stamp=row.placed_at,
        placed_at=readable_time(row.placed_at),
        released_by=row.released_by or "",
        released_at=readable_time(row.released_at) if row.released_at else "",
        release_reason=row.release_reason or "",
        downstream=downstream,
    )


@dataclass
class HoldsPage:
    """The holds page: active holds (newest first), then released ones when asked for."""

    active: list[HoldItem]
    released: list[HoldItem] = field(default_factory=list)
    show_released: bool = False
    counted: bool = False  # the downstream counts are known
    more: bool = False  # more holds exist than the page shows


def downstream_counts(
    store: Store, holds: Sequence[HoldRow], *, index: GraphIndex | None = None
) -> dict[int, int] | None:
    """Hold id -> how many objects downstream of its object it covers (None: too many holds).

    Uses :func:`threadline.quality.holds.held_map`, the same map error-proofing checks captures
    against, so the figure is exactly what a capture would be refused for.
    """
    if len(holds) > TRACED_HOLDS_MAX:
        return None
    if not holds:
        return {}
    with store.reader() as reader:
        held = holds_mod.held_map(reader, index=index)
    counts: Counter[int] = Counter()
    for key, covering in held.items():
        for hold, via in covering:
            if key != via:
                counts[hold.id] += 1
    return {h.id: counts.get(h.id, 0) for h in holds}


def _kinds(store: Store, keys: Sequence[str]) -> dict[str, str]:
    if not keys:
        return {}
    with store.reader() as reader:
        return {key: row.kind for key, row in reader.objects_by_key(keys).items()}


def holds_page(
    store: Store,
    *,
    link: Link,
    show_released: bool = False,
    index: GraphIndex | None = None,
    limit: int = HOLDS_SHOWN,
) -> HoldsPage:
    """Active holds first, then (``show_released``) the released ones, each newest first."""
    active = holds_mod.list_holds(store, active_only=True, limit=limit + 1)
    more = len(active) > limit
    active = active[:limit]
    released: list[HoldRow] = []
    if show_released:
        everything = holds_mod.list_holds(store, limit=limit + 1)
        more = more or len(everything) > limit
        released = [h for h in everything[:limit] if not h.active]
    counts = None if more else downstream_counts(store, active, index=index)
    kinds = _kinds(store, sorted({h.object for h in (*active, *released)}))
    return HoldsPage(
        active=[
            hold_item(
                h,
                link,
                kind=kinds.get(h.object),
                downstream=None if counts is None else counts.get(h.id),
            )
            for h in active
        ],
        released=[hold_item(h, link, kind=kinds.get(h.object)) for h in released],
        show_released=show_released,
        counted=counts is not None,
        more=more,
    )
