"""How one event changes the projections: the pure part, shared by live writes and `rebuild`.

Each event touches objects in *roles* (an epcList member, a transformation input, an aggregation
child, ...). :func:`roles_of` lists them; :func:`apply_status` folds one (event, role) into an
object's :class:`Status`. Both are pure so that the same fold serves bulk import, single captures,
error-declaration repair (re-folding one object's history) and full rebuilds.

Persistent dispositions (EPCIS 2.0 ``persistentDisposition``) differ from ``disposition``, which
each event replaces: an event sets or unsets values on its objects, each independently of the
others, and a value that is set stays in force until an event explicitly unsets it. The status
keeps, per value, the (event time, event row) of the last event that set or unset it, so the
result does not depend on the order in which events arrive (see :func:`fold_persistent`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from threadline.epcis.cbv import cbv_word
from threadline.model.events import (
    Action,
    AggregationEvent,
    AnyEvent,
    AssociationEvent,
    ObjectEvent,
    TransactionEvent,
    TransformationEvent,
)

# Business steps after which material has left our hands.
SHIPPING_STEPS = frozenset({"shipping", "departing"})

# Object states; "on hand" means active and not inside a shipped container.
ACTIVE = "active"
SHIPPED = "shipped"
CONSUMED = "consumed"
DESTROYED = "destroyed"
DECOMMISSIONED = "decommissioned"
INSTALLED = "installed"
GONE_STATES = frozenset({SHIPPED, CONSUMED, DESTROYED, DECOMMISSIONED, INSTALLED})


class Role(NamedTuple):
    """One object's part in one event: the identifier as written, the role, and its quantity."""

    raw_id: str
    role: str
    quantity: float | None = None
    uom: str | None = None


def is_shipping(event: AnyEvent) -> bool:
    """True when the event moves its objects out to the parties in its destination list."""
    return bool(event.destinations) and (
        event.biz_step in SHIPPING_STEPS or event.disposition == "in_transit"
    )


def roles_of(event: AnyEvent) -> list[Role]:
    """Every object the event names in its "what" dimension, with its role."""
    out: list[Role] = []
    if isinstance(event, ObjectEvent | TransactionEvent):
        if isinstance(event, TransactionEvent) and event.parent_id:
            out.append(Role(event.parent_id, "parent"))
        out.extend(Role(e, "epc") for e in event.epc_list)
        out.extend(Role(q.epc_class, "quantity", q.quantity, q.uom) for q in event.quantity_list)
    elif isinstance(event, AggregationEvent | AssociationEvent):
        if event.parent_id:
            out.append(Role(event.parent_id, "parent"))
        out.extend(Role(e, "child") for e in event.child_epcs)
        out.extend(
            Role(q.epc_class, "child_quantity", q.quantity, q.uom)
            for q in event.child_quantity_list
        )
    elif isinstance(event, TransformationEvent):
        out.extend(Role(e, "input") for e in event.input_epcs)
        out.extend(
            Role(q.epc_class, "input_quantity", q.quantity, q.uom) for q in event.input_quantities
        )
        out.extend(Role(e, "output") for e in event.output_epcs)
        out.extend(
            Role(q.epc_class, "output_quantity", q.quantity, q.uom) for q in event.output_quantities
        )
    return out


@dataclass(slots=True)
class Status:
    """The current state of one object, as the status table holds it."""

    object: int
    state: str | None = None
    disposition: str | None = None
    location: str | None = None
    read_point: str | None = None
    container: int | None = None
    quantity: float | None = None  # loose quantity on hand (lots); 1/0 is not tracked for instances
    total: float | None = None  # everything ever commissioned or produced under this identifier
    uom: str | None = None
    last_event: int | None = None
    last_time: str | None = None
    # Persistent dispositions as JSON text {word: [time, row, 1 set / 0 unset]}; see the module.
    persistent: str | None = None

    def as_row(self) -> tuple[Any, ...]:
        return (
            self.object,
            self.state,
            self.disposition,
            self.location,
            self.read_point,
            self.container,
            self.quantity,
            self.total,
            self.uom,
            self.last_event,
            self.last_time,
            self.persistent,
        )

    def persistent_dispositions(self) -> list[str]:
        """The persistent dispositions in force on the object, sorted."""
        return persistent_in_force(self.persistent)


def persistent_in_force(text: str | None) -> list[str]:
    """The values set (and not unset since) in a stored persistent-disposition state, sorted."""
    if not text:
        return []
    state: dict[str, list[Any]] = orjson.loads(text)
    return sorted(word for word, (_time, _row, flag) in state.items() if flag)


def fold_persistent(current: str | None, change: Any, time: str, row: int) -> str | None:
    """Apply one event's ``persistentDisposition`` (``{"set": [...], "unset": [...]}``).

    ``current`` and the result are the stored JSON text. A value changes only when this event
    (event time, then row id) is not older than the last event that set or unset it, so unsets
    are remembered too: a late-arriving older "set" cannot revive a value a newer event unset.
    Values are CBV disposition words (``completeness_verified``) or, when not standard, URIs as
    written. Should one event both unset and set the same value, the set wins.
    """
    if not isinstance(change, Mapping):
        return current
    state: dict[str, list[Any]] = orjson.loads(current) if current else {}
    changed = False
    for name, flag in (("unset", 0), ("set", 1)):
        values = change.get(name)
        if isinstance(values, str):  # a single value, as JSON-LD compaction may write it
            values = [values]
        elif not isinstance(values, list):
            continue
        for value in values:
            if not isinstance(value, str) or not value:
                continue
            word = cbv_word(value, "disp")
            seen = state.get(word)
            if seen is None or (time, row) >= (seen[0], seen[1]):
                state[word] = [time, row, flag]
                changed = True
    if not changed:
        return current
    return orjson.dumps(state, option=orjson.OPT_SORT_KEYS).decode()


def _add(st: Status, qty: float | None, uom: str | None, *, total: bool = False) -> None:
    if qty is None:
        return
    st.quantity = (st.quantity or 0.0) + qty
    if total:
        st.total = (st.total or 0.0) + qty
    if st.uom is None:
        st.uom = uom


def apply_status(
    st: Status,
    event: AnyEvent,
    role: Role,
    *,
    row: int,
    time: str,
    parent: int | None,
    location: str | None,
    read_point: str | None,
) -> None:
    """Fold one (event, role) into ``st``.

    ``time`` is the event time in storage form; fields that describe "now" (disposition, location,
    state) change only when the event is not older than what the status already reflects, while
    quantities always add up, so out-of-order arrival gives the same totals. Persistent
    dispositions apply to every object the event names and follow :func:`fold_persistent`.
    """
    newer = st.last_time is None or time >= st.last_time
    if event.persistent_disposition:  # rare: most events carry none
        st.persistent = fold_persistent(st.persistent, event.persistent_disposition, time, row)
    name, qty = role.role, role.quantity
    # Shipping part of a lot loose says nothing about where the remainder is.
    partial = (
        name == "quantity"
        and qty is not None
        and is_shipping(event)
        and (st.quantity or 0.0) - qty > 0
    )
    if newer and not partial:
        st.last_event, st.last_time = row, time
        if event.disposition:
            st.disposition = event.disposition
        if location:
            st.location = location
        if read_point:
            st.read_point = read_point
    action = event.action
    if name == "epc":
        if action == Action.DELETE:
            if newer:
                st.state = DESTROYED if event.biz_step == "destroying" else DECOMMISSIONED
        elif is_shipping(event):
            if newer:
                st.state = SHIPPED
        elif newer and (st.state is None or (action == Action.ADD and st.state != SHIPPED)):
            st.state = ACTIVE
    elif name == "quantity":
        if action == Action.ADD:
            _add(st, qty, role.uom, total=True)
            if newer or st.state is None:
                st.state = ACTIVE
        elif action == Action.DELETE or is_shipping(event):
            _add(st, None if qty is None else -qty, role.uom)
            if st.state is None:
                st.state = ACTIVE
        elif st.state is None:
            st.state = ACTIVE
    elif name == "parent":
        if st.state is None:
            st.state = ACTIVE
    elif name == "child":
        if action == Action.ADD:
            st.container = parent
            if event.biz_step == "installing":
                st.state = INSTALLED
            elif st.state is None:
                st.state = ACTIVE
        elif action == Action.DELETE and st.container == parent:
            st.container = None
    elif name == "child_quantity":
        if action == Action.ADD:
            _add(st, None if qty is None else -qty, role.uom)
        elif action == Action.DELETE:
            _add(st, qty, role.uom)
        if st.state is None:
            st.state = ACTIVE
    elif name == "input":
        if newer:
            st.state = CONSUMED
    elif name == "input_quantity":
        _add(st, None if qty is None else -qty, role.uom)
        if st.state is None:
            st.state = ACTIVE
    elif name == "output":
        if newer or st.state is None:
            st.state = ACTIVE
    elif name == "output_quantity":
        _add(st, qty, role.uom, total=True)
        if newer or st.state is None:
            st.state = ACTIVE
