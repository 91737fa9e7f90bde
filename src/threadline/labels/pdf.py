"""Printable PDF labels (fpdf2): a 100 x 150 mm label per object and A4 sheets of small labels.

Symbols are drawn as vector rectangles, one per run of dark modules, with the module size
chosen so the symbol and its quiet zone fit the space: a printer at any resolution gets sharp
edges. Every code has its human-readable text under it.

* :func:`shipping_label` — 100 x 150 mm (the common 4 x 6 inch logistics label): the object's
  kind and name, the ship-to block when a shipment names the destination, the key fields, the
  contents of a container, and the barcode across the bottom with its human-readable line.
* :func:`label_sheet` — A4 sheets of 3 x 8 labels of 70 x 37 mm (a common box-label stock),
  or 2 x 8 of 105 x 37 mm for GS1-128, whose bars need the width; each a code with its text
  under it; as many pages as needed.

Bars narrower than 0.25 mm (the GS1 minimum X-dimension for GS1-128) are refused with an error
that names the object, rather than printed unreadable.

The PDF core fonts cover Latin-1; a character outside it prints as ``?``.
"""

from __future__ import annotations

from collections.abc import Sequence

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from threadline.errors import InvalidInput
from threadline.labels.content import KIND_NAMES, LabelContent
from threadline.labels.symbols import Symbol

__all__ = ["LABEL_SIZE", "SHEET_GRID", "SHEET_GRID_BARS", "label_sheet", "shipping_label"]

LABEL_SIZE = (100.0, 150.0)  # mm, portrait
A4 = (210.0, 297.0)
SHEET_GRID = (3, 8)  # columns, rows of 70 x 37.125 mm
SHEET_GRID_BARS = (2, 8)  # GS1-128: 105 x 37.125 mm
_MARGIN = 5.0
_FONT = "helvetica"
# Module sizes (mm) never exceeded: beyond these a larger symbol only wastes label space.
_MAX_MODULE_2D = 1.0
_MAX_MODULE_BARS = 0.6
_MIN_MODULE_BARS = 0.25


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """``text`` cut (with ``...``) to fit ``width`` mm in the current font."""
    text = _latin1(text)
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "...") > width:
        text = text[:-1]
    return text + "..."


def _new_pdf(size: tuple[float, float], title: str) -> FPDF:
    pdf = FPDF(unit="mm", format=size)
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.set_title(_latin1(title))
    pdf.set_creator("Threadline")
    return pdf


def symbol_size(symbol: Symbol, width: float, height: float) -> tuple[float, float, float]:
    """(module size, drawn width, drawn height) in mm of ``symbol`` fitted into a box.

    For 2D symbols the box's smaller side (with the quiet zone) sets the module size; for
    bars the width does, and the bars fill the height. Sizes exclude the quiet zone.
    """
    across = symbol.width + 2 * symbol.quiet
    if symbol.linear:
        module = min(width / across, _MAX_MODULE_BARS)
        return module, symbol.width * module, height
    module = min(min(width, height) / across, _MAX_MODULE_2D)
    return module, symbol.width * module, symbol.height * module


def draw_symbol(
    pdf: FPDF, symbol: Symbol, x: float, y: float, width: float, height: float
) -> tuple[float, float, float, float]:
    """Draw ``symbol`` centred across the box (x, y, width, height) and at its bottom edge
    (less the quiet zone); return the drawn (x, y, w, h) without the quiet zone."""
    module, drawn_w, drawn_h = symbol_size(symbol, width, height)
    if symbol.linear and module < _MIN_MODULE_BARS:
        raise InvalidInput(
            f"{symbol.caption}: GS1-128 bars would be {module:.2f} mm wide on a {width:.0f} mm"
            f" label, below the {_MIN_MODULE_BARS} mm minimum; use datamatrix or qr"
        )
    bar = drawn_h / symbol.height
    left = x + (width - drawn_w) / 2
    below = 0.0 if symbol.linear else symbol.quiet * module
    top = y + height - drawn_h - below
    pdf.set_fill_color(0, 0, 0)
    for row, col, length in symbol.runs():
        pdf.rect(left + col * module, top + row * bar, length * module, bar, style="F")
    return left, top, drawn_w, drawn_h


def _caption(pdf: FPDF, text: str, x: float, y: float, width: float, size: float) -> float:
    """Centred human-readable text under a code, wrapped; returns the y below it."""
    pdf.set_font(_FONT, size=size)
    pdf.set_xy(x, y)
    pdf.multi_cell(
        width, size * 0.42, _latin1(text), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    return pdf.get_y()


def _caption_height(pdf: FPDF, text: str, width: float, size: float) -> float:
    pdf.set_font(_FONT, size=size)
    lines = pdf.multi_cell(width, size * 0.42, _latin1(text), dry_run=True, output="LINES")
    assert isinstance(lines, list)
    return len(lines) * size * 0.42


def _field(pdf: FPDF, name: str, value: str, x: float, y: float, width: float) -> float:
    pdf.set_xy(x, y)
    pdf.set_font(_FONT, size=7)
    pdf.cell(26, 4.2, _latin1(name.upper()))
    pdf.set_font(_FONT, style="B", size=10)
    pdf.cell(width - 26, 4.2, _fit(pdf, value, width - 26))
    return y + 4.6


def _draw_label(pdf: FPDF, content: LabelContent, symbol: Symbol) -> None:
    width, height = LABEL_SIZE
    inner = width - 2 * _MARGIN
    x, y = _MARGIN, _MARGIN
    pdf.set_font(_FONT, size=7)
    pdf.set_xy(x, y)
    pdf.cell(inner, 3.5, _latin1(KIND_NAMES[content.kind].upper()))
    y += 4
    pdf.set_font(_FONT, style="B", size=15)
    pdf.set_xy(x, y)
    pdf.cell(inner, 7, _fit(pdf, content.title, inner))
    y += 9
    if content.ship_to:
        pdf.set_line_width(0.3)
        box_top = y
        pdf.set_font(_FONT, size=7)
        pdf.set_xy(x + 2, y + 1.5)
        pdf.cell(inner - 4, 3.5, "SHIP TO")
        y += 5.5
        for index, line in enumerate(content.ship_to[:5]):
            pdf.set_font(_FONT, style="B" if index == 0 else "", size=11 if index == 0 else 9)
            pdf.set_xy(x + 2, y)
            pdf.cell(inner - 4, 4.6, _fit(pdf, line, inner - 4))
            y += 4.6
        y += 1.5
        pdf.rect(x, box_top, inner, y - box_top)
        y += 3
    pdf.set_line_width(0.2)
    pdf.line(x, y, x + inner, y)
    y += 2
    for name, value in content.lines:
        y = _field(pdf, name, value, x, y, inner)
    if content.contents:
        y += 1.5
        pdf.set_font(_FONT, size=7)
        pdf.set_xy(x, y)
        pdf.cell(inner, 3.5, "CONTENTS")
        y += 4
        pdf.set_font(_FONT, size=8)
        for line in content.contents:
            pdf.set_xy(x, y)
            pdf.cell(inner, 3.6, _fit(pdf, line, inner))
            y += 3.6
    # The code sits at the bottom; what it carries is printed under it.
    text_size = 9 if symbol.linear else 7
    text_h = _caption_height(pdf, symbol.caption, inner, text_size)
    bottom = height - _MARGIN - text_h - 1
    room = 30.0 if symbol.linear else min(45.0, bottom - y - 8)
    if room < 15:
        raise InvalidInput(
            f"{content.key}: the label text leaves no room for the {symbol.symbology} code"
        )
    _left, top, _w, _h = draw_symbol(pdf, symbol, x, bottom - room, inner, room)
    pdf.line(x, top - 4, x + inner, top - 4)
    _caption(pdf, symbol.caption, x, bottom + 1, inner, text_size)


def shipping_label(items: Sequence[tuple[LabelContent, Symbol]]) -> bytes:
    """One 100 x 150 mm page per (content, symbol): the printable label of each object."""
    if not items:
        raise InvalidInput("no labels to print")
    pdf = _new_pdf(LABEL_SIZE, items[0][0].title)
    for content, symbol in items:
        pdf.add_page()
        _draw_label(pdf, content, symbol)
    return bytes(pdf.output())


def _draw_cell(
    pdf: FPDF, content: LabelContent, symbol: Symbol, x: float, y: float, w: float, h: float
) -> None:
    pad = 3.0
    inner_w = w - 2 * pad
    # Under bars: their element string; under a 2D code: the key fields, readable by a person
    # (a QR code's URI means little to someone reading the box).
    text = symbol.caption if symbol.linear else content.human_key
    text_size = 6.0
    text_h = _caption_height(pdf, text, inner_w, text_size)
    pdf.set_font(_FONT, style="B", size=7)
    pdf.set_xy(x + pad, y + pad - 0.5)
    pdf.cell(inner_w, 3, _fit(pdf, content.title, inner_w), align="C")
    code_top = y + pad + 3
    code_h = h - 2 * pad - 3 - text_h - 1
    draw_symbol(pdf, symbol, x + pad, code_top, inner_w, code_h)
    _caption(pdf, text, x + pad, code_top + code_h + 0.5, inner_w, text_size)


def label_sheet(items: Sequence[tuple[LabelContent, Symbol]]) -> bytes:
    """A4 sheets of small labels (3 x 8 per page, 2 x 8 for GS1-128), one per item, in order."""
    if not items:
        raise InvalidInput("no labels to print")
    columns, rows = SHEET_GRID_BARS if items[0][1].linear else SHEET_GRID
    cell_w, cell_h = A4[0] / columns, A4[1] / rows
    pdf = _new_pdf(A4, f"{len(items)} labels")
    for index, (content, symbol) in enumerate(items):
        slot = index % (columns * rows)
        if slot == 0:
            pdf.add_page()
        col, row = slot % columns, slot // columns
        _draw_cell(pdf, content, symbol, col * cell_w, row * cell_h, cell_w, cell_h)
    return bytes(pdf.output())
