"""A webhook receiver for tests: a small ``http.server`` in a thread that records every POST.

It answers the statuses it is given in turn (a receiver that is down for a while), then 200;
:meth:`Receiver.wait` waits on a condition, with a deadline, for the calls a test expects.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

DEADLINE = 30.0


@dataclass
class Call:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    status: int  # what the receiver answered

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


class Receiver:
    """Records every POST; answers the statuses of ``answers`` in turn, then 200."""

    def __init__(self, answers: tuple[int, ...] = ()) -> None:
        self.calls: list[Call] = []
        self.answers = list(answers)
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.cond:
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.calls.append(Call(self.path, headers, body, status))
                    receiver.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def wait(self, count: int, *, accepted: bool = True) -> list[Call]:
        """The first ``count`` calls (only the accepted ones, unless told), once they came."""

        def calls() -> list[Call]:
            return [c for c in self.calls if c.status == 200 or not accepted]

        with self.cond:
            came = self.cond.wait_for(lambda: len(calls()) >= count, timeout=DEADLINE)
            assert came, f"{len(calls())} of {count} posts within {DEADLINE} s"
            return calls()[:count]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
