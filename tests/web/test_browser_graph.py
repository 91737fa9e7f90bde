"""The genealogy graph in a browser: from a heat lot forward, node to passport, groups expanded,
and how fast the page is ready on the small plant."""

from __future__ import annotations

import re
import statistics
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from threadline.gs1.keys import canonical

from browserkit import Site, open_page, site_fixture  # noqa: F401 (fixture)

GROUP = re.compile(r"select to show them one by one")


def _graph(key: str, direction: str = "forward") -> str:
    return f"/ui/graph?id={quote(key, safe='')}&direction={direction}"


def _figure(page: Any) -> Any:
    return page.get_by_role("region", name=re.compile("^Genealogy graph"))


def _nodes(page: Any) -> Any:
    return _figure(page).get_by_role("link")


def test_heat_lot_graph_leads_to_a_passport(site: Site) -> None:
    heat_lot = canonical(site.highlights.heat_lot).key
    with site.page("viewer") as page:
        open_page(page, _graph(heat_lot))
        assert re.search(r"H-\d+", page.get_by_role("heading", level=1).inner_text())
        summary = page.get_by_test_id("graph-summary").inner_text()
        assert re.search(r"[\d,]+ objects downstream", summary), summary
        figure = _figure(page)
        assert figure.get_by_role("img").count() + figure.locator("svg").count() >= 1
        root = figure.get_by_role("link", name=re.compile("the traced object"))
        assert root.count() == 1
        node = figure.get_by_role("link", name=re.compile(r"^Lot .*consumed into")).first
        href = node.get_attribute("href") or ""
        key = parse_qs(urlsplit(href).query)["id"][0]
        node.click()
        page.wait_for_url("**/ui/passport?**")
        assert page.get_by_test_id("object-id").inner_text() == key
        upstream = page.get_by_role("region", name=re.compile("Made from"))
        assert upstream.count() == 1


@pytest.mark.parametrize("script", [True, False], ids=["with-script", "without-script"])
def test_a_collapsed_group_expands_and_collapses(site: Site, script: bool) -> None:
    heat_lot = canonical(site.highlights.heat_lot).key
    with site.context("viewer", java_script_enabled=script) as context:
        page = context.new_page()
        open_page(page, _graph(heat_lot))
        before = _nodes(page).count()
        group = _figure(page).get_by_role("link", name=GROUP).first
        name = group.get_attribute("id")
        size = int(re.findall(r"^\d+", group.locator("title").text_content() or "")[0])
        assert size > 1
        group.click()
        page.wait_for_url(re.compile(rf"expand={name}"))
        expanded = page.get_by_role("list", name="Expanded groups")
        expanded.wait_for()
        assert expanded.get_by_role("listitem").count() == 1
        assert page.locator(f"#{name}").count() == 0  # the group is drawn as its objects now
        after = _nodes(page).count()
        assert after >= before + min(size, 10) - 1, (before, after, size)
        expanded.get_by_role("link", name="collapse").click()
        page.wait_for_url(lambda url: "expand=" not in url)
        page.locator(f"#{name}").wait_for()
        assert _nodes(page).count() == before


def test_graph_of_a_heat_lot_is_ready_within_a_second(site: Site) -> None:
    heat_lot = canonical(site.highlights.heat_lot).key
    timings: list[dict[str, float]] = []
    with site.page("viewer") as page:
        for _ in range(3):
            open_page(page, _graph(heat_lot))
            page.wait_for_load_state("load")
            timings.append(
                page.evaluate(
                    """() => {
                      const n = performance.getEntriesByType('navigation')[0];
                      return {response: n.responseEnd, interactive: n.domInteractive,
                              dom: n.domContentLoadedEventEnd, load: n.loadEventEnd};
                    }"""
                )
            )
    for t in timings:
        print(
            "graph page of a heat lot: response {response:.0f} ms, interactive {interactive:.0f}"
            " ms, DOMContentLoaded {dom:.0f} ms, load {load:.0f} ms".format(**t)
        )
    load = statistics.median(t["load"] for t in timings)
    assert 0 < load < 1000, f"the graph page took {load:.0f} ms to load (median of 3)"
