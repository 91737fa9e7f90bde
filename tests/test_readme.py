"""The README's two commands: CI runs the test command verbatim; the demo command works fresh."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

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


@pytest.mark.slow
def test_demo_command_works_in_a_fresh_virtual_environment(tmp_path: Path) -> None:
    work = tmp_path / "checkout"
    work.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, work / name)
    shutil.copytree(ROOT / "src", work / "src", ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run(
        readme_command("demo-command"),
        shell=True,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "Demo plant ready" in result.stdout
    assert "threadline recall" in result.stdout
    assert (work / "threadline.db").exists()
