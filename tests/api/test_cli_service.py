"""The service's commands: users, tokens, audit, and ``threadline serve`` as a real process."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from threadline.cli import app

runner = CliRunner()
PASSWORD = "correct horse battery"


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "service.db")


def test_users_add_list_disable(db: str) -> None:
    added = runner.invoke(
        app,
        ["users", "add", "ann", "--role", "quality", "--password-stdin", "--db", db],
        input=PASSWORD + "\n",
    )
    assert added.exit_code == 0, added.output
    assert "added ann (quality)" in added.output
    prompted = runner.invoke(
        app,
        ["users", "add", "bob", "--role", "viewer", "--db", db],
        input=f"{PASSWORD}\n{PASSWORD}\n",  # the prompt asks twice
    )
    assert prompted.exit_code == 0, prompted.output
    listed = runner.invoke(app, ["users", "list", "--json", "--db", db])
    users = {u["name"]: u for u in json.loads(listed.stdout)}
    assert {n: (u["role"], u["disabled"]) for n, u in users.items()} == {
        "ann": ("quality", False),
        "bob": ("viewer", False),
    }
    assert PASSWORD not in listed.stdout
    assert runner.invoke(app, ["users", "disable", "bob", "--db", db]).exit_code == 0
    listed = json.loads(runner.invoke(app, ["users", "list", "--json", "--db", db]).stdout)
    assert [u["disabled"] for u in listed] == [False, True]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["users", "add", "ann", "--role", "boss"], PASSWORD, "unknown role 'boss'; choose one of"),
        (["users", "add", "ann", "--role", "admin"], "short", "at least 8 characters"),
        (["users", "add", "a b", "--role", "admin"], PASSWORD, "user name 'a b'"),
        (["users", "disable", "nobody"], "", "no user 'nobody'"),
        (["tokens", "create", "nobody"], "", "no user 'nobody'"),
        (["tokens", "revoke", "99"], "", "no token 99"),
        (["audit", "--since", "last week"], "", "since: 'last week' is not an ISO-8601 time"),
    ],
)
def test_bad_service_commands_exit_1_with_the_reason(
    db: str, args: list[str], stdin: str, message: str
) -> None:
    if args[:2] == ["users", "add"]:
        args = [*args, "--password-stdin"]
    result = runner.invoke(app, [*args, "--db", db], input=stdin + "\n")
    assert result.exit_code == 1, result.output
    assert message in result.output


def test_adding_a_user_twice_is_a_conflict(db: str) -> None:
    args = ["users", "add", "ann", "--role", "admin", "--password-stdin", "--db", db]
    assert runner.invoke(app, args, input=PASSWORD + "\n").exit_code == 0
    again = runner.invoke(app, args, input=PASSWORD + "\n")
    assert again.exit_code == 1 and "user 'ann' already exists" in again.output


def test_token_is_printed_once_alone_on_stdout_and_can_be_revoked(db: str) -> None:
    runner.invoke(
        app,
        ["users", "add", "bot", "--role", "operator", "--password-stdin", "--db", db],
        input=PASSWORD + "\n",
    )
    made = runner.invoke(app, ["tokens", "create", "bot", "--label", "line 3", "--db", db])
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert re.fullmatch(r"tl_[A-Za-z0-9_-]{43}", secret)
    assert "shown once" in made.stderr
    listed = runner.invoke(app, ["tokens", "list", "--json", "--db", db]).stdout
    assert secret not in listed
    [token] = json.loads(listed)
    assert token["label"] == "line 3" and token["revoked"] is None
    assert secret.startswith(token["prefix"])
    revoked = runner.invoke(app, ["tokens", "revoke", str(token["id"]), "--db", db])
    assert revoked.exit_code == 0
    [token] = json.loads(runner.invoke(app, ["tokens", "list", "--json", "--db", db]).stdout)
    assert token["revoked"] is not None


def test_audit_lists_what_the_commands_changed(db: str) -> None:
    runner.invoke(
        app,
        ["users", "add", "ann", "--role", "admin", "--password-stdin", "--db", db],
        input=PASSWORD + "\n",
    )
    runner.invoke(app, ["tokens", "create", "ann", "--db", db])
    runner.invoke(app, ["users", "disable", "ann", "--db", db])
    rows = json.loads(runner.invoke(app, ["audit", "--json", "--db", db]).stdout)
    assert [(r["action"], r["target"], r["outcome"]) for r in rows] == [
        ("users add", "ann", "ok"),
        ("tokens create", "token 1 of ann", "ok"),
        ("users disable", "ann", "ok"),
    ]
    assert all(r["actor"].startswith("cli") and r["address"] == "local" for r in rows)
    later = json.loads(
        runner.invoke(app, ["audit", "--json", "--since", "2999-01-01", "--db", db]).stdout
    )
    assert later == []
    table = runner.invoke(app, ["audit", "--db", db])
    assert table.exit_code == 0 and table.output.rstrip().endswith("3 entries")


def test_serve_refuses_a_busy_port_clearly(db: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["serve", "--port", str(port), "--db", db])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in result.output


def _lines(stream: object, into: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)


def test_serve_runs_until_interrupted_and_answers_over_http(db: str) -> None:
    runner.invoke(
        app,
        ["users", "add", "ann", "--role", "viewer", "--password-stdin", "--db", db],
        input=PASSWORD + "\n",
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "threadline", "serve", "--port", "0", "--db", db],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        url = None
        seen = []
        while url is None:
            seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
            found = re.search(r"on (http://127\.0\.0\.1:\d+)", seen[-1])
            url = found.group(1) if found else None
        while True:
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "".join(seen)
                time.sleep(0.02)
        with httpx.Client(base_url=url) as client:
            assert client.get("/auth/me").status_code == 401
            login = client.post("/auth/login", json={"name": "ann", "password": PASSWORD})
            assert login.status_code == 200
            assert client.get("/auth/me").json()["name"] == "ann"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
