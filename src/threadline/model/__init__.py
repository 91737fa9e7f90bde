"""Pure domain types: events, identifiers. No I/O."""

from threadline.model.events import (
    Action,
    AggregationEvent,
    AnyEvent,
    AssociationEvent,
    BizTransaction,
    ErrorDeclaration,
    Event,
    EventType,
    ObjectEvent,
    QuantityElement,
    SourceDest,
    TransactionEvent,
    TransformationEvent,
)
from threadline.model.identifiers import Identifier, Kind

__all__ = [
    "Action",
    "AggregationEvent",
    "AnyEvent",
    "AssociationEvent",
    "BizTransaction",
    "ErrorDeclaration",
    "Event",
    "EventType",
    "Identifier",
    "Kind",
    "ObjectEvent",
    "QuantityElement",
    "SourceDest",
    "TransactionEvent",
    "TransformationEvent",
]
