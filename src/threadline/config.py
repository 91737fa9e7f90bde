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
    digits = raw.isascii() and raw.isdigit()  # isdigit() alone admits '³', which int() refuses
    if not digits or int(raw) < low or (high is not None and int(raw) > high):
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


def _env_flag(name: str, default: str = "0") -> bool:
    raw = _env(name, default).lower()
    if raw not in ("0", "1", "true", "false", "yes", "no"):
        raise InvalidInput(f"{name} must be 1 or 0, got {raw!r}")
    return raw in ("1", "true", "yes")


def _env_base(name: str) -> str | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    scheme, sep, rest = raw.partition("://")
    if not sep or scheme not in ("http", "https") or not rest.split("/", 1)[0]:
        raise InvalidInput(f"{name} must be an http:// or https:// address, got {raw!r}")
    if "?" in raw or "#" in raw:
        raise InvalidInput(f"{name} must not contain a query or fragment, got {raw!r}")
    return raw.rstrip("/")


GRAPH_INDEX_MODES = ("auto", "on", "off")
HOLD_MODES = ("refuse", "flag")


def _env_choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = _env(name, default).lower()
    if raw not in allowed:
        raise InvalidInput(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return raw


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
    # Where GS1 Digital Link URIs on labels point (scheme, host, optional path prefix), e.g.
    # https://trace.plant.example; unset: the CLI uses http://HOST:PORT, the API the address
    # the client reached it at.
    resolver_base: str | None = None
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
    # Deliver them from this process. Off: subscriptions are still accepted and stored, and a
    # process with delivery on (another server sharing the store, or this one restarted) sends
    # them; stream subscriptions catch up from where their deliveries stopped.
    webhook_delivery: bool = True
    # The plant's MQTT broker: `threadline ingest mqtt` reads from it by default, and whatever
    # publishes to the threadline/{site}/... topics (alerts) can find it here.
    mqtt_broker: str = "mqtt://127.0.0.1:1883"
    # SQLite: run the service's group commits in a writer process of its own, so that request
    # handling and writing do not take turns on one interpreter lock (store.writer_process).
    writer_process: bool = True
    # Captures that would consume, pack or ship held material: "refuse" them (HTTP 409, audited)
    # or only "flag" them (stored, with an alert and an audit entry).
    hold_enforcement: str = "refuse"

    @classmethod
    def from_env(cls, *, db: str | None = None) -> Settings:
        """Settings from ``THREADLINE_DB`` and friends; an explicit ``db`` wins over the env."""
        raw_batch = _env("THREADLINE_BATCH_SIZE", "5000")
        if not (raw_batch.isascii() and raw_batch.isdigit()) or int(raw_batch) < 1:
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
            resolver_base=_env_base("THREADLINE_RESOLVER_BASE"),
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
            webhook_delivery=_env_flag("THREADLINE_WEBHOOK_DELIVERY", "1"),
            mqtt_broker=_env("THREADLINE_MQTT_BROKER", "mqtt://127.0.0.1:1883"),
            writer_process=_env_flag("THREADLINE_WRITER_PROCESS", "1"),
            hold_enforcement=_env_choice("THREADLINE_HOLD_ENFORCEMENT", "refuse", HOLD_MODES),
        )
