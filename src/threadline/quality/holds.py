"""Holds and their propagation downstream; error-proofing of captures against held material.

A hold is placed on one lot or container (``threadline hold ID --reason``) and covers it and
everything downstream of it — what it was transformed into, the containers it was packed in,
and so on down the forward trace — until it is released. Propagation is computed from the
genealogy when asked, not copied at hold time, so material made from a held lot after the hold
was placed is held too.

Error-proofing (:class:`HoldGuard`): before the capture service commits events it checks
those that would move held material on — a TransformationEvent consuming it, an
AggregationEvent ADD packing it, a shipping ObjectEvent of it or of a container holding it.
With enforcement ``refuse`` (the default) such a capture raises :class:`HeldMaterial` (HTTP
409) naming the held object and the hold; with ``flag`` it is stored and an alert of kind
``held_material`` is raised instead. Either way the outcome is written to the audit log.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from threadline.errors import Conflict, InvalidInput, NotFound
from threadline.genealogy.index import GraphIndex
from threadline.genealogy.resolve import resolve
from threadline.genealogy.trace import trace
from threadline.gs1.keys import canonical
from threadline.model.events import (
    Action,
    AggregationEvent,
    AnyEvent,
    ObjectEvent,
    TransformationEvent,
)
from threadline.quality.alerts import AlertChecker
from threadline.store import audit
from threadline.store import quality as rows
from threadline.store.auth import transaction
from threadline.store.base import Reader, Store
from threadline.store.projector import SHIPPING_STEPS, is_shipping

__all__ = [
    "ENFORCEMENT_MODES",
    "HeldMaterial",
    "HoldGuard",
    "Violation",
    "held_map",
    "holds_on",
    "list_holds",
    "place_hold",
    "release_hold",
    "release_object",
    "violations",
]

ENFORCEMENT_MODES = ("refuse", "flag")

# Reaching a party or a destination says where held material went; it does not hold the party.
_NOT_PROPAGATED = frozenset({"shipped_to"})


class HeldMaterial(Conflict):
    """A capture would consume, pack or ship material that is on hold."""

    code = "held_material"

    def __init__(self, message: str, *, obj: str, hold: int, event: str) -> None:
        super().__init__(message)
        self.object = obj
        self.hold = hold
        self.event = event

    def to_dict(self) -> dict[str, object]:
        data = super().to_dict()
        data.update({"object": self.object, "hold": self.hold, "event": self.event})
        return data


@dataclass(frozen=True)
class Violation:
    """One event that would move held ``object`` on, and the hold that covers it."""

    event: str
    action: str  # consume | pack | ship
    object: str
    hold: rows.HoldRow
    via: str  # the held object the hold was placed on (``object`` itself or upstream of it)

    def describe(self) -> str:
        verb = {"consume": "consumes", "pack": "packs", "ship": "ships"}[self.action]
        through = "" if self.via == self.object else f" (downstream of held {self.via})"
        return (
            f"event {self.event} {verb} {self.object}{through}, which is on hold "
            f"#{self.hold.id}: {self.hold.reason}"
        )


# -- holds ---------------------------------------------------------------------------------------
def place_hold(
    store: Store, identifier: str, *, reason: str, user: str | None = None
) -> rows.HoldRow:
    """Put the stored lot or container ``identifier`` on hold (audited)."""
    if not reason or not reason.strip():
        raise InvalidInput("--reason: say why the material is held")
    with store.reader() as reader:
        found = resolve(reader, identifier)
    with transaction(store, write=True) as cursor:
        hold = rows.insert_hold(store, cursor, obj=found.key, reason=reason.strip(), user=user)
        audit.append(
            store, cursor, action="hold", outcome="ok", actor=user, target=found.key,
            detail=f"hold #{hold.id}: {hold.reason}",
        )  # fmt: skip
    return hold


def release_hold(
    store: Store, hold_id: int, *, reason: str, user: str | None = None
) -> rows.HoldRow:
    """Release hold ``hold_id`` (audited); a hold released before is refused (409)."""
    if not reason or not reason.strip():
        raise InvalidInput("--reason: say why the material is released")
    with transaction(store, write=True) as cursor:
        cursor.execute(store.sql("SELECT released_at FROM holds WHERE id = ?"), (hold_id,))
        row = cursor.fetchone()
        if row is None:
            raise NotFound(f"no hold #{hold_id}")
        if row[0] is not None:
            raise Conflict(f"hold #{hold_id} was released at {row[0]}")
        released = rows.release_hold(store, cursor, hold_id, reason=reason.strip(), user=user)
        assert released is not None  # the row was there a moment ago, in this transaction
        audit.append(
            store, cursor, action="release", outcome="ok", actor=user, target=released.object,
            detail=f"hold #{hold_id} released: {released.release_reason}",
        )  # fmt: skip
    return released


def release_object(
    store: Store, identifier: str, *, reason: str, user: str | None = None
) -> list[rows.HoldRow]:
    """Release every active hold placed on ``identifier`` itself (``threadline release``)."""
    key = canonical(identifier).key
    with store.reader() as reader:
        active = rows.active_holds(reader, key)
    if not active:
        raise NotFound(
            f"{identifier!r} has no active hold of its own (a hold upstream of it is released "
            "on the object it was placed on; see `threadline holds --object`)"
        )
    return [release_hold(store, h.id, reason=reason, user=user) for h in active]


class _Cache:
    """The held map of one (graph version, active holds) state of one store."""

    def __init__(self) -> None:
        self.state: tuple[Any, ...] | None = None
        self.value: dict[str, list[tuple[rows.HoldRow, str]]] = {}


# Per store (weakly: a closed store's cache goes with it), shared across requests.
_CACHES: weakref.WeakKeyDictionary[Store, _Cache] = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def held_map(
    reader: Reader, *, index: GraphIndex | None = None
) -> dict[str, list[tuple[rows.HoldRow, str]]]:
    """Every held object key -> the holds covering it, each with the object it was placed on."""
    active = rows.active_holds(reader)
    if not active:
        return {}
    # The holds' ids and release state are the whole hold side of the state: holds are only
    # appended, and a release removes the hold from ``active``.
    state = (reader.graph_version(), tuple(h.id for h in active))
    with _CACHE_LOCK:
        cache = _CACHES.setdefault(reader.store, _Cache())
        if cache.state == state:
            return cache.value
    out: dict[str, list[tuple[rows.HoldRow, str]]] = {}
    for hold in active:
        out.setdefault(hold.object, []).append((hold, hold.object))
        try:
            nodes = trace(reader, hold.object, "forward", index=index).nodes
        except NotFound:
            continue
        for node in nodes:
            if node.relation not in _NOT_PROPAGATED:
                out.setdefault(node.id, []).append((hold, hold.object))
    with _CACHE_LOCK:
        cache.state, cache.value = state, out
    return out


def holds_on(
    reader: Reader, identifier: str, *, index: GraphIndex | None = None
) -> list[dict[str, Any]]:
    """The active holds covering ``identifier`` (its own, and those of anything upstream)."""
    key = canonical(identifier).key
    return [
        {**hold.to_dict(), "via": via, "direct": via == key}
        for hold, via in held_map(reader, index=index).get(key, [])
    ]


# -- error-proofing ------------------------------------------------------------------------------
def _keys(epcs: Sequence[str], quantities: Sequence[Any]) -> list[str]:
    out = [canonical(e).key for e in epcs]
    out += [canonical(q.epc_class).key for q in quantities]
    return out


def _moves(event: AnyEvent) -> tuple[str, list[str]] | None:
    """What ``event`` would move on, and how; None for events a hold does not stop."""
    if isinstance(event, TransformationEvent):
        keys = _keys(event.input_epcs, event.input_quantities)
        return ("consume", keys) if keys else None
    if isinstance(event, AggregationEvent) and event.action == Action.ADD:
        keys = _keys(event.child_epcs, event.child_quantity_list)
        return ("pack", keys) if keys else None
    if isinstance(event, ObjectEvent) and (event.biz_step in SHIPPING_STEPS or is_shipping(event)):
        keys = _keys(event.epc_list, event.quantity_list)
        return ("ship", keys) if keys else None
    return None


def violations(
    reader: Reader, events: Sequence[AnyEvent], *, index: GraphIndex | None = None
) -> list[Violation]:
    """Every (event, held object) pair of ``events`` that a hold forbids."""
    moving = [(e, m) for e in events if e.error_declaration is None and (m := _moves(e))]
    if not moving:
        return []
    held = held_map(reader, index=index)
    if not held:
        return []
    out: list[Violation] = []
    for event, (action, keys) in moving:
        for key in keys:
            for hold, via in held.get(key, []):
                out.append(Violation(event.event_id, action, key, hold, via))
    return out


class HoldGuard:
    """Checks captures against the active holds (``enforcement``: refuse or flag)."""

    def __init__(self, enforcement: str = "refuse", *, alerts: AlertChecker | None = None) -> None:
        if enforcement not in ENFORCEMENT_MODES:
            raise InvalidInput(
                f"THREADLINE_HOLD_ENFORCEMENT must be refuse or flag, got {enforcement!r}"
            )
        self.enforcement = enforcement
        self.alerts = alerts or AlertChecker()

    def check(
        self,
        store: Store,
        events: Sequence[AnyEvent],
        *,
        user: str | None = None,
        index: GraphIndex | None = None,
    ) -> list[Violation]:
        """Refuse (raise :class:`HeldMaterial`) or return the violations to flag after commit."""
        if not any(_moves(e) for e in events):
            return []  # most captures (receiving, observing, sensing) cost no database read
        with store.reader() as reader:
            found = violations(reader, events, index=index)
        if not found:
            return []
        if self.enforcement == "refuse":
            first = found[0]
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            message = f"refused: {first.describe()}{more}"
            audit.record(
                store, action="capture", outcome="refused_hold", actor=user,
                target=first.object, detail=message,
            )  # fmt: skip
            raise HeldMaterial(message, obj=first.object, hold=first.hold.id, event=first.event)
        return found

    def flag(self, store: Store, found: Sequence[Violation], *, user: str | None = None) -> None:
        """Record captured violations (``flag`` mode): one alert each, and an audit entry."""
        if not found:
            return
        self.alerts.raise_alerts(
            store,
            [
                {
                    "kind": "held_material",
                    "object": v.object,
                    "message": f"flagged: {v.describe()}",
                    "dedup": f"hold|{v.hold.id}|{v.event}|{v.object}",
                }
                for v in found
            ],
        )
        audit.record(
            store, action="capture", outcome="flagged_hold", actor=user,
            target=found[0].object, detail="; ".join(v.describe() for v in found)[:2000],
        )  # fmt: skip


def list_holds(store: Store, *, active_only: bool = False, limit: int = 200) -> list[rows.HoldRow]:
    """Holds, newest first."""
    return rows.list_holds(store, active_only=active_only, limit=limit)
