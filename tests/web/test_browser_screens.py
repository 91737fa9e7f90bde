"""Every page on a phone and a desk, and the accessibility basics of every page.

The screenshots land in ``docs/screenshots/`` (``<page>-390.png``, ``<page>-1440.png``); the
page list and the overflow check are those of ``scripts/screenshots.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from browserkit import Site, open_page, screenshots, site_fixture  # noqa: F401 (fixture)


def _shots(site: Site) -> list[Any]:
    return list(screenshots.page_list(site.samples))


def test_every_page_fits_a_phone_and_a_desk(site: Site) -> None:
    @contextmanager
    def new_page(width: int, logged_in: bool) -> Iterator[Any]:
        height = screenshots.HEIGHTS.get(width, 900)
        with site.page("quality" if logged_in else None, width=width, height=height) as page:
            yield page

    faults = screenshots.shoot(new_page, site.url, _shots(site), screenshots.DEFAULT_OUT)
    for shot in _shots(site):
        for width in screenshots.WIDTHS:
            assert (screenshots.DEFAULT_OUT / f"{shot.name}-{width}.png").stat().st_size > 1000
    report = "\n".join(f"{name}: " + "; ".join(problems) for name, problems in faults.items())
    assert not faults, report


# Accessible names, landmarks and headings of one page: a list of faults, empty when none.
STRUCTURE_JS = """
() => {
  const faults = [];
  const text = (el) => (el ? el.textContent : '').replace(/\\s+/g, ' ').trim();
  const describe = (el) => {
    let d = el.localName;
    if (el.id) d += '#' + el.id;
    if (el.getAttribute('name')) d += `[name=${el.getAttribute('name')}]`;
    return d;
  };
  const accessibleName = (el) => {
    const label = el.getAttribute('aria-label');
    if (label && label.trim()) return label.trim();
    const by = el.getAttribute('aria-labelledby');
    if (by) {
      const parts = by.split(/\\s+/).map((id) => text(document.getElementById(id)));
      const named = parts.join(' ').trim();
      if (named) return named;
    }
    if (el.labels && el.labels.length) {
      const named = [...el.labels].map(text).join(' ').trim();
      if (named) return named;
    }
    if (['button', 'a', 'summary'].includes(el.localName)) {
      const own = text(el) || [...el.querySelectorAll('img[alt]')].map((i) => i.alt).join(' ');
      if (own.trim()) return own.trim();
      const title = el.querySelector('title');
      if (title && text(title)) return text(title);
    }
    if (el.localName === 'input' && ['submit', 'button', 'reset'].includes(el.type) && el.value) {
      return el.value;
    }
    return (el.getAttribute('title') || '').trim();
  };
  const controls = document.querySelectorAll('input, select, textarea, button, a[href], summary');
  for (const el of controls) {
    if (el.type === 'hidden') continue;
    if (!accessibleName(el)) faults.push(`${describe(el)} has no accessible name`);
  }
  const h1 = document.querySelectorAll('h1');
  if (h1.length !== 1) faults.push(`${h1.length} h1 headings (one expected)`);
  const main = document.querySelectorAll('main, [role=main]');
  if (main.length !== 1) faults.push(`${main.length} main landmarks (one expected)`);
  let level = 0;
  for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
    const next = Number(h.tagName[1]);
    if (next > level + 1) {
      faults.push(`heading ${h.tagName} "${text(h).slice(0, 40)}" skips a level`);
    }
    level = next;
  }
  for (const svg of document.querySelectorAll('main svg')) {
    const named = svg.getAttribute('aria-label') || svg.getAttribute('aria-labelledby')
      || svg.querySelector(':scope > title') || svg.getAttribute('aria-hidden') === 'true';
    if (!named) faults.push('an svg without role="img" and a name');
  }
  return faults;
}
"""

# Controls in document order that keyboard users must reach (not inside a closed <details>).
CONTROLS_JS = """
() => {
  const faults = [];
  const shown = (el) => {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') return false;
    return el.getClientRects().length > 0;
  };
  const all = document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]'
  );
  let index = 0;
  const wanted = [];
  for (const el of all) {
    if (el.disabled || !shown(el)) continue;
    const native = el.matches('a[href], button, input, select, textarea, summary');
    if (!native && el.tabIndex < 0) continue;  // a target for focus() (main, a heading)
    const closed = el.closest('details:not([open])');
    if (closed && el.tagName !== 'SUMMARY') continue;
    if (el.type === 'radio' && !el.checked && el.form &&
        [...el.form.elements].some((r) => r.type === 'radio' && r.name === el.name && r.checked)) {
      continue;  // a radio group is one Tab stop: its checked button
    }
    const label = (el.getAttribute('aria-label') || el.textContent || el.name || el.id || '')
      .replace(/\\s+/g, ' ').trim().slice(0, 40);
    const what = `${el.localName} "${label}"`;
    if (el.tabIndex < 0) faults.push(`${what} has tabindex -1`);
    if (el.tabIndex > 0) faults.push(`${what} has a positive tabindex`);
    el.dataset.tabCheck = String(index);
    wanted.push(label || el.tagName.toLowerCase());
    index += 1;
  }
  window.__reached = new Set();
  document.addEventListener('focusin', (e) => {
    if (e.target.dataset && e.target.dataset.tabCheck !== undefined) {
      window.__reached.add(Number(e.target.dataset.tabCheck));
    }
  });
  return {faults, wanted};
}
"""

# Text against its background: WCAG contrast of every element with its own text (up to 400).
CONTRAST_JS = """
() => {
  const rgba = (value) => {
    const parts = (value.match(/[\\d.]+/g) || []).map(Number);
    return parts.length >= 3 ? [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1]
      : [0, 0, 0, 0];
  };
  const over = (top, bottom) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat([1]);
  };
  const background = (el) => {
    const layers = [];
    for (let up = el; up; up = up.parentElement) {
      const color = rgba(getComputedStyle(up).backgroundColor);
      if (color[3] > 0) layers.push(color);
      if (color[3] >= 1) break;
    }
    let result = [255, 255, 255, 1];
    for (const layer of layers.reverse()) result = over(layer, result);
    return result;
  };
  const luminance = (c) => {
    const channel = (v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2]);
  };
  const faults = [];
  let checked = 0;
  for (const el of document.body.querySelectorAll('*')) {
    if (checked >= 400) break;
    if (el.closest('svg') || el.closest('.visually-hidden')) continue;
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (style.visibility === 'hidden' || box.width < 2 || box.height < 2 || el.disabled) continue;
    if (box.right < 0 || box.bottom < 0) continue;  // off screen until focused (skip link)
    checked += 1;
    const back = background(el);
    const fore = over(rgba(style.color), back);
    const [hi, lo] = [luminance(fore), luminance(back)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      const words = el.textContent.replace(/\\s+/g, ' ').trim().slice(0, 40);
      const colours = `${style.color} on rgb(${back.slice(0, 3).map(Math.round)})`;
      faults.push(`${el.localName} "${words}": ${ratio.toFixed(2)}:1 (${colours})`);
    }
  }
  return {checked, faults};
}
"""

# A real walk over the first controls is enough: the rest follow in document order (no control
# has a positive tabindex, which the check above refuses).
TAB_WALK = 120


def _tab_through(page: Any) -> tuple[list[str], list[str]]:
    found = page.evaluate(CONTROLS_JS)
    wanted = found["wanted"][:TAB_WALK]
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.evaluate("window.scrollTo(0, 0)")
    # Some controls take several stops (the fields of a date and time input, a scrolling box),
    # so keep going, in batches, until every control was reached or far more stops were made.
    reached: set[int] = set()
    presses = 0
    while presses < 3 * len(wanted) + 30:
        for _ in range(10):
            page.keyboard.press("Tab")
        presses += 10
        reached = set(page.evaluate("[...window.__reached]"))
        if reached >= set(range(len(wanted))):
            break
    missed = [f"{name!r} (control {i})" for i, name in enumerate(wanted) if i not in reached]
    return found["faults"], missed


@pytest.mark.parametrize("name", [p.name for p in screenshots.PAGES])
def test_page_is_usable_by_keyboard_and_screen_reader(site: Site, name: str) -> None:
    shot = next(s for s in _shots(site) if s.name == name)
    with site.page("quality" if shot.logged_in else None) as page:
        open_page(page, shot.path, status=shot.status)
        faults = list(page.evaluate(STRUCTURE_JS))
        contrast = page.evaluate(CONTRAST_JS)
        assert contrast["checked"] > 0
        faults += contrast["faults"]
        tab_faults, missed = _tab_through(page)
        faults += tab_faults
        faults += [f"not reached by Tab: {m}" for m in missed]
    assert not faults, f"{shot.path}:\n" + "\n".join(faults)


FAULTY_PAGE = """<!doctype html><html lang="en"><head><meta name="viewport"
content="width=device-width, initial-scale=1"></head><body style="margin:0">
<h1>One</h1><h1>Two</h1>
<input id="nameless"><button tabindex="-1">Hidden from the keyboard</button>
<p style="color:#aaa;background:#fff">Pale text</p>
<div style="width:600px">A box too wide for a phone</div>
<p style="width:200px">https://id.gs1.org/01/04012345004045/10/AVERYLONGLOTNUMBERTHATNEVERWRAPS</p>
<div style="overflow-x:auto"><table style="width:900px"><tr><td>wide, but it scrolls</td></tr>
</table></div>
</body></html>"""


def test_the_checks_find_the_faults_they_look_for(site: Site) -> None:
    with site.page(None, width=390, height=844) as page:
        page.set_content(FAULTY_PAGE)
        wide = screenshots.overflow(page)
        structure = page.evaluate(STRUCTURE_JS)
        contrast = page.evaluate(CONTRAST_JS)
        tab_faults, _ = _tab_through(page)
    assert any("600px" in f or "A box too wide" in f for f in wide), wide
    assert any("04012345004045/10/AVERY" in f and "content ends" in f for f in wide), wide
    assert not any("it scrolls" in f for f in wide), wide
    assert "input#nameless has no accessible name" in structure
    assert "2 h1 headings (one expected)" in structure
    assert "0 main landmarks (one expected)" in structure
    assert any(f.startswith('p "Pale text"') for f in contrast["faults"]), contrast
    assert any("Hidden from the keyboard" in f and "tabindex -1" in f for f in tab_faults)
