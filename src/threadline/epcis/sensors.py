"""Sensor data in EPCIS events: measurement-type spellings and a flat view of each report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["measurement_word", "report_views"]

# Spellings of the GS1 Web Vocabulary namespace that measurement types arrive in.
_GS1_VOC = ("gs1:", "https://gs1.org/voc/", "http://gs1.org/voc/")


def measurement_word(value: str) -> str:
    """A measurement type as Threadline keeps it: the bare GS1 word, else as written.

    ``gs1:Temperature``, ``https://gs1.org/voc/Temperature`` and ``Temperature`` are all
    ``Temperature``; a user-defined type (``example:Abc``, any URI) is kept as written, because
    expanding a CURIE needs the sending document's ``@context``.
    """
    for prefix in _GS1_VOC:
        if value.startswith(prefix) and len(value) > len(prefix):
            return value[len(prefix) :]
    return value


def report_views(event: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One dict per sensorReport of a JSON event: its sensorMetadata overlaid by the report.

    Fields such as ``deviceID``, ``time`` or ``bizRules`` may sit on the metadata or on the
    report; the report's own value wins. Malformed parts are skipped (the reader and the
    readings projection report them).
    """
    out: list[dict[str, Any]] = []
    elements = event.get("sensorElementList")
    if not isinstance(elements, list):
        return out
    for element in elements:
        if not isinstance(element, dict):
            continue
        metadata = element.get("sensorMetadata")
        base = metadata if isinstance(metadata, dict) else {}
        reports = element.get("sensorReport")
        if not isinstance(reports, list):
            continue
        out.extend({**base, **report} for report in reports if isinstance(report, dict))
    return out
