"""SVG line charts: well-formed, labelled, escaped, spec lines, out-of-spec marks, reduction."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from threadline.errors import InvalidInput
from threadline.web.charts import Limits, line_chart, line_charts, unit_symbol

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2024, 1, 8, 6, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on anything that is not well-formed XML
    assert root.tag == f"{SVG}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def by_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if name in (e.get("class") or "").split()]


def polyline_points(root: ET.Element) -> list[tuple[float, float]]:
    (line,) = by_class(root, "chart-line")
    return [tuple(map(float, p.split(","))) for p in line.get("points", "").split()]  # type: ignore[misc]


def test_a_chart_is_an_accessible_svg_with_a_viewbox() -> None:
    points = [(at(10 * i), 100.0 + i) for i in range(12)]
    root = parse(line_chart(points, title="Forming force", unit="B47", width=600, height=250))
    assert root.get("class") == "chart" and root.get("role") == "img"
    assert root.get("viewBox") == "0 0 600 250"
    label = root.get("aria-label") or ""
    assert label.startswith("Forming force: 12 readings from 2024-01-08 06:00 to 2024-01-08 07:50")
    assert "values 100 to 111 kN" in label
    assert root.find(f"{SVG}title") is not None
    shown = texts(root)
    assert "Forming force" in shown and "kN" in shown and "UTC" in shown


def test_title_and_unit_are_escaped() -> None:
    svg = line_chart([(at(0), 1.0), (at(5), 2.0)], title='<script>x</script> & "q"', unit="<u>")
    root = parse(svg)
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert '<script>x</script> & "q"' in texts(root)
    assert "<u>" in texts(root)


def test_spec_lines_are_drawn_and_labelled_and_the_axis_reaches_them() -> None:
    points = [(at(i), 50.0 + (i % 3)) for i in range(30)]
    root = parse(line_chart(points, title="T", limits=Limits(lsl=40, usl=60, target=50)))
    lines = {e.get("class"): e for e in by_class(root, "chart-limit")}
    assert set(lines) == {
        "chart-limit limit-lsl",
        "chart-limit limit-usl",
        "chart-limit limit-target",
    }
    y_lsl = float(lines["chart-limit limit-lsl"].get("y1") or 0)
    y_usl = float(lines["chart-limit limit-usl"].get("y1") or 0)
    y_target = float(lines["chart-limit limit-target"].get("y1") or 0)
    assert y_usl < y_target < y_lsl  # higher values are drawn higher up
    labels = [e.text for e in by_class(root, "chart-limit-label")]
    assert labels == ["LSL 40", "USL 60", "Target 50"]
    # Readings at 50..52, limits at 40 and 60: the data sits between the two lines.
    ys = [y for _, y in polyline_points(root)]
    assert all(y_usl < y < y_lsl for y in ys)
    assert "limits LSL 40, USL 60; 0 outside the limits" in (root.get("aria-label") or "")


def test_a_far_limit_is_named_at_the_edge_instead_of_flattening_the_readings() -> None:
    points = [(at(i), 60.0 + (i % 3)) for i in range(30)]  # 60..62 against 55..900
    root = parse(line_chart(points, title="T", limits=Limits(lsl=55, usl=900)))
    assert [e.get("class") for e in by_class(root, "chart-limit")] == ["chart-limit limit-lsl"]
    assert [e.text for e in by_class(root, "chart-limit-beyond")] == ["USL 900 (above)"]
    ys = [y for _, y in polyline_points(root)]
    assert max(ys) - min(ys) > 30  # the readings keep a readable share of the height
    assert "limits LSL 55, USL 900" in (root.get("aria-label") or "")


def test_out_of_spec_readings_are_marked_and_counted() -> None:
    values = [10.0, 11.0, 25.0, 12.0, 3.0, 11.0, 20.0]  # 25 above, 3 below, 20 on the limit
    points = [(at(i * 30), v) for i, v in enumerate(values)]
    root = parse(line_chart(points, title="P", limits=Limits(lsl=5, usl=20)))
    (group,) = by_class(root, "chart-oos")
    rings = list(group.iter(f"{SVG}circle"))
    assert len(rings) == 2  # a value on a limit is inside
    hover = ["".join(r.itertext()) for r in rings]
    assert hover[0].startswith("2024-01-08 07:00 UTC: 25") and "outside" in hover[0]
    assert hover[1].startswith("2024-01-08 08:00 UTC: 3")
    assert "2 outside limits" in texts(root)
    assert "2 outside the limits" in (root.get("aria-label") or "")


def test_points_in_any_order_give_the_same_chart() -> None:
    points = [(at(i * 7), math.sin(i / 3)) for i in range(40)]
    assert line_chart(points[::-1], title="S") == line_chart(points, title="S")


def test_thousands_of_points_are_reduced_to_a_small_svg_keeping_the_extremes() -> None:
    points = [(at(i / 60), 50.0 + math.sin(i / 50.0)) for i in range(100_000)]
    points[60_000] = (points[60_000][0], 90.0)  # one spike
    points[20_000] = (points[20_000][0], 5.0)  # one dip
    svg = line_chart(points, title="Dense", width=640, height=240)
    root = parse(svg)
    assert len(svg) < 40_000
    coords = polyline_points(root)
    assert len(coords) <= 2 * 640
    xs = [x for x, _ in coords]
    assert xs == sorted(xs)  # still in time order
    ys = [y for _, y in coords]
    # The spike and the dip survive the reduction: they are the top and bottom of the line.
    lowest_y, highest_y = min(ys), max(ys)
    assert "100,000 readings" in (root.get("aria-label") or "")
    assert "values 5 to 90" in (root.get("aria-label") or "")
    assert highest_y - lowest_y > 0.8 * (240 - 36 - 34)


def test_no_points_give_a_no_data_chart() -> None:
    root = parse(line_chart([], title="Empty <one>"))
    assert root.get("aria-label") == "Empty <one>: no data"
    assert "No data" in texts(root)
    assert not by_class(root, "chart-line")


def test_values_that_are_not_finite_are_left_out() -> None:
    root = parse(line_chart([(at(0), math.nan), (at(1), math.inf)], title="N"))
    assert "No data" in texts(root)
    root = parse(line_chart([(at(0), math.nan), (at(1), 4.0), (at(2), 5.0)], title="N"))
    assert "2 readings" in (root.get("aria-label") or "")


def test_a_single_point_gives_a_dot_in_a_readable_chart() -> None:
    root = parse(line_chart([("2024-01-08T07:00:00Z", 3.2)], title="One", limits=Limits(3, 4)))
    assert not by_class(root, "chart-line")
    (dot,) = by_class(root, "chart-dot")
    left, right = 36, 640 - 12
    assert abs(float(dot.get("cx") or 0) - (left + right) / 2) < 30  # centred in time
    assert "One: 1 reading at 2024-01-08 07:00 UTC, value 3.2" in (root.get("aria-label") or "")
    assert "07:00" in texts(root)


def test_time_ticks_fall_on_round_hours_with_the_date_under_each_new_day() -> None:
    points = [(at(i * 15), float(i)) for i in range(4 * 24)]  # 24 h from 06:00
    root = parse(line_chart(points, title="Day"))
    ticks = [e.text or "" for e in by_class(root, "tick")]
    clocks = [t for t in ticks if re.fullmatch(r"\d\d:\d\d", t)]
    assert len(clocks) >= 4
    assert all(t.endswith(":00") for t in clocks)
    hours = [int(t[:2]) for t in clocks]
    step = hours[1] - hours[0]
    assert step in (2, 3, 4, 6) and all(h % step == 0 for h in hours)
    assert "9 Jan" in ticks  # the day changes at midnight
    assert "8 Jan" in ticks


def test_long_spans_tick_on_days_or_months() -> None:
    days = [(at(i * 24 * 60), float(i)) for i in range(10)]
    ticks = [e.text for e in by_class(parse(line_chart(days, title="D")), "tick")]
    assert "10 Jan" in ticks and "2024" in ticks
    months = [(at(i * 24 * 60), float(i)) for i in range(400)]
    ticks = [e.text for e in by_class(parse(line_chart(months, title="M")), "tick")]
    assert "Jul" in ticks and "2025" in ticks


def test_value_ticks_are_round_numbers() -> None:
    points = [(at(i), 0.013 + i * 0.0011) for i in range(20)]
    root = parse(line_chart(points, title="V"))
    labels = [t for t in texts(root) if re.fullmatch(r"-?[\d,]+(\.\d+)?", t)]
    values = [float(t.replace(",", "")) for t in labels]
    steps = {round(b - a, 9) for a, b in pairwise(values)}
    assert len(steps) == 1
    step = steps.pop()
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1, 2, 2.5, 5)
    assert values[0] <= 0.013 and values[-1] >= 0.013 + 19 * 0.0011


def test_a_shaded_window_covers_its_span_and_widens_the_axis() -> None:
    points = [(at(60 + i), 1.0 + i) for i in range(60)]  # 07:00 - 07:59
    svg = line_chart(points, title="W", window=(at(0), at(180)))  # 06:00 - 09:00
    root = parse(svg)
    (shade,) = by_class(root, "chart-window")
    x, width = float(shade.get("x") or 0), float(shade.get("width") or 0)
    coords = polyline_points(root)
    # The window spans the whole axis, the readings only its second third.
    assert coords[0][0] == pytest.approx(x + width / 3, abs=1.5)
    assert coords[-1][0] == pytest.approx(x + width * (119 / 180), abs=1.5)
    assert "shaded window 2024-01-08 06:00 to 2024-01-08 09:00 UTC" in (
        root.get("aria-label") or ""
    )


def test_bad_input_is_refused_with_the_place_of_the_fault() -> None:
    with pytest.raises(InvalidInput, match="point 1: 'yesterday' is not an ISO-8601 time"):
        line_chart([(at(0), 1.0), ("yesterday", 2.0)], title="Bad")
    with pytest.raises(InvalidInput, match="point 0 must be a \\(time, number\\) pair"):
        line_chart([(at(0), "many")], title="Bad")  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match="window ends"):
        line_chart([(at(0), 1.0)], title="Bad", window=(at(10), at(5)))
    with pytest.raises(InvalidInput, match="too small"):
        line_chart([(at(0), 1.0)], title="Bad", width=100)


def test_times_with_offsets_and_without_zone_are_placed_in_utc() -> None:
    same = [("2024-01-08T08:00:00+01:00", 1.0), ("2024-01-08T08:30:00", 2.0)]
    root = parse(line_chart(same, title="Z"))
    assert "from 2024-01-08 07:00 to 2024-01-08 08:30 UTC" in (root.get("aria-label") or "")


def test_several_sizes_from_one_reading_of_the_points() -> None:
    points = [(at(i), float(i)) for i in range(50)]
    wide, narrow = line_charts(points, title="Two", sizes=[(640, 240), (360, 220)])
    assert wide == line_chart(points, title="Two")
    assert parse(narrow).get("viewBox") == "0 0 360 220"


def test_unit_symbols() -> None:
    assert unit_symbol("CEL") == "°C" and unit_symbol("B47") == "kN"
    assert unit_symbol("4H") == "µm"  # coating thickness in the demo plant
    assert unit_symbol("furlongs") == "furlongs" and unit_symbol(None) == ""
