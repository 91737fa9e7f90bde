"""Threadline: track-and-trace and quality traceability on GS1 EPCIS 2.0 events."""

__version__ = "0.1.0"
__all__ = ["__version__"]
