"""The trace engine: backward and forward trace, recall scope, where-now, process window.

Every function takes a :class:`~threadline.store.base.Reader` (one consistent view of the store)
and identifiers in any GS1 form; results are plain dataclasses with ``to_dict()`` for JSON.
"""

from threadline.genealogy.recall import RecallScope, recall
from threadline.genealogy.resolve import resolve, resolve_equipment
from threadline.genealogy.trace import TraceResult, trace
from threadline.genealogy.where import WhereResult, where
from threadline.genealogy.window import WindowResult, window

__all__ = [
    "RecallScope",
    "TraceResult",
    "WhereResult",
    "WindowResult",
    "recall",
    "resolve",
    "resolve_equipment",
    "trace",
    "where",
    "window",
]
