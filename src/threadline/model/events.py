"""The five EPCIS 2.0 event types as typed, immutable-by-convention objects.

These are pure data: no I/O, no parsing (see :mod:`threadline.epcis.json_reader`). Identifiers in
the "what" dimension are kept as written (``*_raw`` lists are what the sender wrote); the store
canonicalises them. Anything the model does not name — user extensions, ``@context`` typing,
unknown standard fields of later versions — stays in ``extensions`` verbatim, and ``raw`` keeps the
whole event exactly as received so that export can reproduce it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    OBJECT = "ObjectEvent"
    AGGREGATION = "AggregationEvent"
    TRANSACTION = "TransactionEvent"
    TRANSFORMATION = "TransformationEvent"
    ASSOCIATION = "AssociationEvent"


class Action(StrEnum):
    ADD = "ADD"
    OBSERVE = "OBSERVE"
    DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class QuantityElement:
    """A quantity of a class-level identifier (a lot, or a product without lot)."""

    epc_class: str
    quantity: float | None = None
    uom: str | None = None


@dataclass(frozen=True, slots=True)
class BizTransaction:
    id: str
    type: str | None = None


@dataclass(frozen=True, slots=True)
class SourceDest:
    """One entry of a sourceList or destinationList (type is a CBV word or a URI)."""

    type: str
    id: str


@dataclass(frozen=True, slots=True)
class ErrorDeclaration:
    declaration_time: datetime
    reason: str | None = None
    corrective_event_ids: tuple[str, ...] = ()
    extensions: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class Event:
    """Fields common to every EPCIS event."""

    event_id: str
    event_time: datetime  # timezone-aware
    event_time_zone_offset: str
    record_time: datetime | None = None
    action: Action | None = None
    biz_step: str | None = None
    disposition: str | None = None
    read_point: str | None = None
    biz_location: str | None = None
    biz_transactions: tuple[BizTransaction, ...] = ()
    sources: tuple[SourceDest, ...] = ()
    destinations: tuple[SourceDest, ...] = ()
    sensor_elements: tuple[dict[str, Any], ...] = ()
    persistent_disposition: dict[str, Any] | None = None
    error_declaration: ErrorDeclaration | None = None
    certification_info: Any = None
    ilmd: dict[str, Any] | None = None
    extensions: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    event_id_given: bool = True

    @property
    def type(self) -> EventType:
        raise NotImplementedError

    @property
    def is_error_declaration(self) -> bool:
        return self.error_declaration is not None


@dataclass(slots=True, kw_only=True)
class ObjectEvent(Event):
    epc_list: tuple[str, ...] = ()
    quantity_list: tuple[QuantityElement, ...] = ()

    @property
    def type(self) -> EventType:
        return EventType.OBJECT


@dataclass(slots=True, kw_only=True)
class AggregationEvent(Event):
    parent_id: str | None = None
    child_epcs: tuple[str, ...] = ()
    child_quantity_list: tuple[QuantityElement, ...] = ()

    @property
    def type(self) -> EventType:
        return EventType.AGGREGATION


@dataclass(slots=True, kw_only=True)
class AssociationEvent(Event):
    parent_id: str | None = None
    child_epcs: tuple[str, ...] = ()
    child_quantity_list: tuple[QuantityElement, ...] = ()

    @property
    def type(self) -> EventType:
        return EventType.ASSOCIATION


@dataclass(slots=True, kw_only=True)
class TransactionEvent(Event):
    parent_id: str | None = None
    epc_list: tuple[str, ...] = ()
    quantity_list: tuple[QuantityElement, ...] = ()

    @property
    def type(self) -> EventType:
        return EventType.TRANSACTION


@dataclass(slots=True, kw_only=True)
class TransformationEvent(Event):
    input_epcs: tuple[str, ...] = ()
    input_quantities: tuple[QuantityElement, ...] = ()
    output_epcs: tuple[str, ...] = ()
    output_quantities: tuple[QuantityElement, ...] = ()
    transformation_id: str | None = None

    @property
    def type(self) -> EventType:
        return EventType.TRANSFORMATION


AnyEvent = (
    ObjectEvent | AggregationEvent | AssociationEvent | TransactionEvent | TransformationEvent
)
