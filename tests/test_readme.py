"""The README's two commands: CI runs the test command verbatim; the demo command works fresh."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_command(marker: str) -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- {marker} -->\s*```sh\n(.+?)\n```", text)
    assert match, f"README has no {marker} block"
    return match.group(1)


def test_readme_first_screen_has_exactly_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    first_screen = "\n".join(text.splitlines()[:30])
    assert readme_command("demo-command") in first_screen
    assert readme_command("test-command") in first_screen
    assert readme_command("demo-command").endswith("threadline demo")
    assert readme_command("test-command").endswith("pytest")


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "THREADLINE_REQUIRE_SERVICES=1" in ci
    assert "<!-- test-command -->" in ci and "eval" in ci


def _descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (read from Linux's /proc)."""
    parent_of = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parent_of[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [c for c, p in parent_of.items() if p == parent]
        found += children
        frontier += children
    return found


def _demo_pid(shell: int) -> int | None:
    for pid in _descendants(shell):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"threadline") for a in argv) and b"demo" in argv:
            return pid
    return None


@pytest.mark.slow
def test_demo_command_works_in_a_fresh_virtual_environment(tmp_path: Path) -> None:
    """The README's demo command, verbatim: it builds the plant, prints the tour, then serves
    the API with a demo login until Ctrl-C, which ends it cleanly."""
    work = tmp_path / "checkout"
    work.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, work / name)
    shutil.copytree(ROOT / "src", work / "src", ignore=shutil.ignore_patterns("__pycache__"))
    # Port 0: any free port, so the test never collides with a server already on 8000.
    env = {**os.environ, "THREADLINE_PORT": "0", "PYTHONUNBUFFERED": "1"}
    env.pop("THREADLINE_DB", None)
    shell = subprocess.Popen(
        readme_command("demo-command"),
        shell=True,
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in shell.stdout or ()], daemon=True).start()
    output: list[str] = []
    deadline = time.monotonic() + 900
    try:
        url = password = None
        while url is None or password is None:
            remaining = deadline - time.monotonic()
            assert remaining > 0 and shell.poll() is None, "".join(output)[-4000:]
            try:
                output.append(lines.get(timeout=min(remaining, 5)))
            except queue.Empty:
                continue
            if found := re.search(r"serving the demo plant on (http://[\w.:\[\]]+)", output[-1]):
                url = found.group(1)
            if found := re.search(r"log in as name 'demo', password '([^']+)'", output[-1]):
                password = found.group(1)
        text = "".join(output)
        assert "Demo plant ready" in text and "threadline recall" in text
        assert (work / "threadline.db").exists()
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, text[-4000:]
            time.sleep(0.05)  # polling the server's start-up, with a deadline
        with httpx.Client(base_url=url, timeout=30) as client:
            assert client.get("/auth/me").status_code == 401
            login = client.post("/auth/login", data={"name": "demo", "password": password})
            assert login.status_code == 200, login.text
            assert login.json()["role"] == "admin"
            box = re.search(r"threadline trace backward '([^']+)'", text)
            assert box, text[-4000:]
            answer = client.get("/trace/backward", params={"id": box.group(1)})
            assert answer.status_code == 200 and answer.json()["nodes"]
            # The pages and their assets come with the installed package.
            dashboard = client.get("/")
            assert dashboard.status_code == 200 and "Dashboard" in dashboard.text
            css = client.get("/static/threadline.css")
            assert css.status_code == 200 and "text/css" in css.headers["content-type"]
            passport = client.get("/ui/passport", params={"id": box.group(1)})
            assert passport.status_code == 200 and "Where it is now" in passport.text
        demo = _demo_pid(shell.pid)
        assert demo is not None, "the demo process was not found under the shell"
        os.kill(demo, signal.SIGINT)
        assert shell.wait(timeout=60) == 0, "".join(output)[-4000:]
    finally:
        for pid in [*_descendants(shell.pid), shell.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shell.wait()
