"""The HTTP API: :func:`create_app` builds it, :func:`threadline.api.server.serve` runs it."""

from threadline.api.app import create_app

__all__ = ["create_app"]
