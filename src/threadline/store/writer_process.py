"""The service's group commits written by a process of its own (SQLite).

Why a process: a SQLite write is a long run of short C calls, and Python's ``sqlite3`` lets go
of the interpreter lock around each of them. In a busy server the request threads take the
lock every time, and the writer thread waits up to a switch interval to get it back: under 32
concurrent captures the writer spent about two thirds of each group commit waiting, not
writing. A writer in another interpreter never waits for the server's requests, and uses the
machine's second core.

:class:`ProcessGroupCommitter` is a :class:`~threadline.store.group_commit.GroupCommitter` (the
same :meth:`submit`, groups, retries and commit listeners) whose transactions run in a child
process (``python -m threadline.store.writer_process``) that owns one write connection. One
group takes two round trips over a socket pair, each message a pickle:

1. ``("append", parts, listening)``: each part a submission's events, pickled by the thread
   that submitted them; the child opens the transaction and appends every part;
   it answers ``("appended", results)``, each part's :class:`AppendResult`.
2. The parent runs each submission's ``also(cursor, result)`` against a cursor that records
   statements (they may only ``execute`` or ``executemany``: nothing can be read back), then
   sends ``("commit", statements)``; the child runs them, commits and answers
   ``("committed", first, end)``. If an ``also`` fails, ``("abort",)`` rolls the group back.

Either step may answer ``("failed", error)`` instead: the transaction was rolled back.

Durability is unchanged: a submitter hears of its events only after the child's commit. If
the parent dies, the child sees its socket close and rolls back what it holds; if the child
dies, the group fails (the submitters get :class:`StoreUnavailable`) and the next group starts
a new child. The child ignores SIGINT and SIGTERM: a signal sent to the whole process group
(Ctrl-C, a service manager) lets the parent finish what is queued through it, then close it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from threadline.errors import StoreError, StoreUnavailable
from threadline.model.events import AnyEvent
from threadline.store.base import AppendResult, Store
from threadline.store.group_commit import AlsoWrite, GroupCommitter, _Submission

__all__ = ["ProcessGroupCommitter", "StatementRecorder"]

log = logging.getLogger("threadline.store")

# How long the child may take to start (import, open the store) before the service gives up.
START_TIMEOUT_S = 60.0


class StatementRecorder:
    """A stand-in cursor that keeps the statements written through it, to run them later.

    Writes that join a group's transaction (capture jobs, audit entries, webhook watermarks)
    only execute statements; one that tried to read would get nothing back, so reading is
    refused outright.
    """

    def __init__(self) -> None:
        self.statements: list[tuple[str, Any, bool]] = []

    def execute(self, sql: str, params: Any = ()) -> None:
        self.statements.append((sql, params, False))

    def executemany(self, sql: str, rows: Any) -> None:
        self.statements.append((sql, list(rows), True))

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(
            f"a write joining a group commit can only execute statements, not use cursor.{name}"
        )


class _Child:
    """The parent's handle on one writer process."""

    def __init__(self, path: str, batch_size: int) -> None:
        ours, theirs = socket.socketpair()
        with ours, theirs:
            self.process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(theirs.fileno()), path, str(batch_size)],
                pass_fds=[theirs.fileno()],
            )
            self.connection = Connection(os.dup(ours.fileno()))
        try:
            if not self.connection.poll(START_TIMEOUT_S):
                raise StoreUnavailable(
                    f"the writer process for {path} did not start within {START_TIMEOUT_S:g} s"
                )
            ready = self.connection.recv()
        except (EOFError, OSError) as exc:
            self.stop()
            raise StoreUnavailable(
                f"the writer process for {path} could not start "
                f"(exit code {self.process.poll()}): see its error above"
            ) from exc
        except BaseException:
            self.stop()
            raise
        if ready[0] == "failed":
            self.stop()
            raise ready[1]

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def ask(self, message: Any) -> Any:
        """Send ``message`` and return the answer, raising what the child reports as failed."""
        try:
            self.connection.send(message)
            answer = self.connection.recv()
        except (EOFError, OSError) as exc:
            self.process.wait(timeout=10)
            raise StoreUnavailable(
                f"the writer process ended unexpectedly (exit code {self.process.returncode})"
            ) from exc
        if answer[0] == "failed":
            raise answer[1]
        return answer

    def stop(self) -> None:
        """Tell the child to finish and wait for it (it only ever stops between groups)."""
        with contextlib.suppress(OSError):  # already gone
            self.connection.send(None)
        self.connection.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class ProcessGroupCommitter(GroupCommitter):
    """A group committer whose transactions run in a child process; see the module docstring.

    ``store`` must be a SQLite store with a file: the child opens the same file.
    """

    @staticmethod
    def fits(store: Store) -> bool:
        """Whether ``store`` can be written by a writer process: a SQLite file, on a system
        where the child can inherit its socket by descriptor (POSIX)."""
        path = getattr(store, "path", None)
        in_file = isinstance(path, str) and path not in ("", ":memory:")
        return in_file and os.name == "posix"

    def __init__(self, store: Store, *, max_group_events: int = 20_000) -> None:
        if not self.fits(store):
            raise StoreError("a writer process needs a SQLite store in a file, on POSIX")
        self._path: str = store.path  # type: ignore[attr-defined]  # checked by fits()
        self._child: _Child | None = _Child(self._path, store.batch_size)
        super().__init__(store, max_group_events=max_group_events)

    def _submission(self, events: list[AnyEvent], also: AlsoWrite | None) -> _Submission:
        # Pickled here, by the thread that submits, so that the writer thread (the one all
        # captures wait for) only forwards bytes.
        return _Submission(events, also, payload=pickle.dumps(events, pickle.HIGHEST_PROTOCOL))

    def _write(self, group: Sequence[_Submission]) -> tuple[list[AppendResult], int, int]:
        if self._child is None or not self._child.alive:
            log.warning("starting a new writer process for %s", self._path)
            self._child = None
            self._child = _Child(self._path, self.store.batch_size)
        child = self._child
        parts = [s.payload for s in group]
        _, results = child.ask(("append", parts, bool(self._listeners)))
        recorder = StatementRecorder()
        try:
            for submission, result in zip(group, results, strict=True):
                if submission.also is not None:
                    submission.also(recorder, result)
        except BaseException:
            child.ask(("abort",))
            raise
        _, first, end = child.ask(("commit", recorder.statements))
        return results, first, end

    def close(self) -> None:
        super().close()  # finishes what is queued (through the child) first
        if self._child is not None:
            self._child.stop()
            self._child = None


# -- the child ----------------------------------------------------------------------------------


class _Aborted(Exception):
    """The parent asked to roll the open group back."""


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a :class:`StoreError` that says what it was."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return StoreError(f"{type(exc).__name__}: {exc}")
    return exc


def _write_group(store: Store, connection: Connection, parts: list[bytes],
                 listening: bool) -> tuple[int, int]:  # fmt: skip
    events: list[list[AnyEvent]] = [pickle.loads(part) for part in parts]
    with store.writer() as writer:
        first = store.first_free_id(writer.cursor, "events") if listening else 0
        results = writer.append_parts(events)
        connection.send(("appended", results))
        answer = connection.recv()  # EOFError (the parent is gone) rolls back
        if answer[0] == "abort":
            raise _Aborted
        cursor = writer.cursor
        for sql, params, many in answer[1]:
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, params)
        end = store.first_free_id(writer.cursor, "events") if listening else 0
    return first, end


def serve(connection: Connection, store: Store) -> None:
    """Write groups sent on ``connection`` until it closes or sends ``None``."""
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        try:
            first, end = _write_group(store, connection, message[1], message[2])
        except _Aborted:
            connection.send(("aborted",))
        except (EOFError, OSError):
            return  # the parent is gone; the transaction was rolled back
        except BaseException as exc:
            connection.send(("failed", _portable(exc)))
        else:
            connection.send(("committed", first, end))


def main(argv: Sequence[str]) -> int:
    """``python -m threadline.store.writer_process FD PATH BATCH_SIZE`` (started by the parent)."""
    from threadline.store import open_store

    # Stop only when the parent says so, after it has written what is queued through us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    fd, path, batch_size = int(argv[0]), argv[1], int(argv[2])
    connection = Connection(fd)
    try:
        store = open_store(path, migrate=False, batch_size=batch_size)
        # Imported before "ready" (it loads the GS1 tables): not by the first group's captures.
        import threadline.store.writer  # noqa: F401
    except BaseException as exc:
        connection.send(("failed", _portable(exc)))
        return 1
    try:
        connection.send(("ready",))
        serve(connection, store)
    finally:
        store.close()
        connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
