"""Settings read from the environment (``THREADLINE_*``).

Nothing here opens a connection; callers turn settings into a store with
:func:`threadline.store.open_store`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from threadline.errors import InvalidInput

DEFAULT_DB = "threadline.db"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value else default


def _env_int(name: str, default: int, *, low: int = 0, high: int | None = None) -> int:
    raw = _env(name, str(default))
    if not raw.isdigit() or int(raw) < low or (high is not None and int(raw) > high):
        bounds = f"from {low}" + (f" to {high}" if high is not None else "")
        raise InvalidInput(f"{name} must be an integer {bounds}, got {raw!r}")
    return int(raw)


def _env_float(name: str, default: float) -> float:
    raw = _env(name, str(default))
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise InvalidInput(f"{name} must be a positive number, got {raw!r}")
    return value


def _env_flag(name: str) -> bool:
    raw = _env(name, "0").lower()
    if raw not in ("0", "1", "true", "false", "yes", "no"):
        raise InvalidInput(f"{name} must be 1 or 0, got {raw!r}")
    return raw in ("1", "true", "yes")


GRAPH_INDEX_MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class Settings:
    """Runtime settings; build with :meth:`from_env` so tests can pass their own."""

    db: str = DEFAULT_DB
    batch_size: int = 5000
    # -- the service (``threadline serve``) --
    host: str = "127.0.0.1"
    port: int = 8000
    # Hold the genealogy in memory (GraphIndex): "auto" = when the store has > 100k edges.
    graph_index: str = "auto"
    # Open the routes marked public (the label resolver) to callers without credentials.
    public_resolver: bool = False
    session_hours: float = 12.0
    # Mark the session cookie Secure (only sent over HTTPS); off for plain-HTTP plant networks.
    cookie_secure: bool = False
    # Failed logins for one name from one address before the lockout starts, and its first
    # length; each further failure doubles it (capped at 15 minutes).
    login_max_failures: int = 5
    login_lockout_seconds: float = 30.0
    # Proxies whose X-Forwarded-For is believed (comma-separated addresses); none by default.
    trusted_proxies: str = ""
    # Capture limits, advertised in GS1-EPCIS-Capture-Limit / -File-Size-Limit (413 beyond).
    capture_max_events: int = 10_000
    capture_max_bytes: int = 16 * 1024 * 1024
    # Webhook deliveries of query subscriptions: seconds to wait for a receiver, attempts per
    # notification, and the first retry delay (doubling after each failure).
    webhook_timeout: float = 10.0
    webhook_attempts: int = 5
    webhook_backoff: float = 1.0

    @classmethod
    def from_env(cls, *, db: str | None = None) -> Settings:
        """Settings from ``THREADLINE_DB`` and friends; an explicit ``db`` wins over the env."""
        raw_batch = _env("THREADLINE_BATCH_SIZE", "5000")
        if not raw_batch.isdigit() or int(raw_batch) < 1:
            raise InvalidInput(
                f"THREADLINE_BATCH_SIZE must be a positive integer, got {raw_batch!r}"
            )
        graph_index = _env("THREADLINE_GRAPH_INDEX", "auto").lower()
        if graph_index not in GRAPH_INDEX_MODES:
            raise InvalidInput(
                f"THREADLINE_GRAPH_INDEX must be one of {', '.join(GRAPH_INDEX_MODES)}, "
                f"got {graph_index!r}"
            )
        return cls(
            db=db or _env("THREADLINE_DB", DEFAULT_DB),
            batch_size=int(raw_batch),
            host=_env("THREADLINE_HOST", "127.0.0.1"),
            port=_env_int("THREADLINE_PORT", 8000, high=65535),
            graph_index=graph_index,
            public_resolver=_env_flag("THREADLINE_PUBLIC_RESOLVER"),
            session_hours=_env_float("THREADLINE_SESSION_HOURS", 12.0),
            cookie_secure=_env_flag("THREADLINE_COOKIE_SECURE"),
            login_max_failures=_env_int("THREADLINE_LOGIN_MAX_FAILURES", 5, low=1),
            login_lockout_seconds=_env_float("THREADLINE_LOGIN_LOCKOUT_SECONDS", 30.0),
            trusted_proxies=_env("THREADLINE_TRUSTED_PROXIES", ""),
            capture_max_events=_env_int("THREADLINE_CAPTURE_MAX_EVENTS", 10_000, low=1),
            capture_max_bytes=_env_int("THREADLINE_CAPTURE_MAX_BYTES", 16 * 1024 * 1024, low=1),
            webhook_timeout=_env_float("THREADLINE_WEBHOOK_TIMEOUT", 10.0),
            webhook_attempts=_env_int("THREADLINE_WEBHOOK_ATTEMPTS", 5, low=1),
            webhook_backoff=_env_float("THREADLINE_WEBHOOK_BACKOFF", 1.0),
        )
