"""Running the app under uvicorn on a socket bound here (so a busy port is a clear error)."""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable

import uvicorn

from threadline.api.app import create_app
from threadline.config import Settings
from threadline.errors import InvalidInput, ThreadlineError


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP explicitly: asyncio turns Nagle off (TCP_NODELAY) only on sockets that
    # say so, and with Nagle on every small answer waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise InvalidInput(
                f"cannot listen on {host}:{port}: the port is in use; choose another with "
                "--port (or THREADLINE_PORT)"
            ) from None
        raise InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def address(sock: socket.socket) -> str:
    """The base URL a client uses to reach ``sock``."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def make_server(
    settings: Settings, *, log_level: str = "info", freeze_gc: bool = False
) -> uvicorn.Server:
    """A uvicorn server for the app of ``settings``; run it with ``server.run(sockets=[...])``."""
    trusted = [p.strip() for p in settings.trusted_proxies.split(",") if p.strip()]
    config = uvicorn.Config(
        create_app(settings, freeze_gc=freeze_gc),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        # X-Forwarded-For is believed only from configured proxies: the client address goes
        # into the audit log and keys the login throttle.
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        server_header=False,
    )
    return uvicorn.Server(config)


def serve(
    settings: Settings,
    *,
    sock: socket.socket | None = None,
    on_listening: Callable[[str], None] | None = None,
) -> None:
    """Serve the API until interrupted (Ctrl-C or SIGTERM stop it gracefully).

    It listens on ``sock`` if given, else binds ``settings.host`` and ``settings.port``.
    """
    if sock is None:
        sock = bind(settings.host, settings.port)
    if on_listening:
        on_listening(address(sock))
    server = make_server(settings, freeze_gc=True)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn has shut down gracefully and re-raised the Ctrl-C it captured; a stop the
        # user asked for is a clean exit. (SIGTERM is re-raised too and ends the process with
        # that signal, as service managers expect.)
        pass
    finally:
        sock.close()
    if not server.started:
        raise ThreadlineError("the server did not start (see its log above)")
