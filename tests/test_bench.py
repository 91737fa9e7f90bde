"""`threadline bench` runs end to end on a small plant and reports every budgeted measure."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from threadline.bench import BUDGETS, run_bench


def test_bench_reports_each_budget_with_a_baseline(tmp_path: Path) -> None:
    report = run_bench(
        scale="small",
        seed=7,
        workdir=tmp_path,
        repeat=10,
        console=Console(quiet=True),
        capture_events=600,
    )
    rows = {row["name"]: row for row in report["results"]}
    budgeted = [row for row in rows.values() if "budget" in row]
    assert {row["budget"] for row in budgeted} == set(BUDGETS.values())
    for row in budgeted:
        assert row["value"] > 0
        assert row["baseline"] > 0 and row["ratio"] > 0
        assert isinstance(row["ok"], bool)
    assert report["counts"]["edges"] > 1000
    assert report["import"]["events"] > 1000
    for capture in report["capture"].values():
        assert capture["stored"] == capture["events"] and capture["failed_requests"] == 0
    # A second run reuses the plant it built.
    again = run_bench(
        scale="small",
        seed=7,
        workdir=tmp_path,
        repeat=5,
        console=Console(quiet=True),
        capture_events=100,
    )
    assert again["counts"] == report["counts"]
