"""Barcode symbols as module grids, and their PNG and SVG renderings.

* QR Code (segno) carries the GS1 Digital Link URI as plain text (scanners report ``]Q1``);
* GS1 DataMatrix and GS1-128 (zxing-cpp in GS1 mode) carry the element string with FNC1
  (scanners report ``]d2`` / ``]C1`` and a group separator for each FNC1 after a variable-length
  value).

A :class:`Symbol` is the grid of dark and light modules without its quiet zone; the renderers
here and in :mod:`threadline.labels.pdf` draw it at any module size, so PNG, SVG and PDF print
the same symbol. After encoding, the data zxing-cpp reports having encoded is compared with
the intended scan data, so an escaping mistake cannot reach a printer.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal
from xml.sax.saxutils import escape

import numpy as np
import segno
import zxingcpp
from PIL import Image, ImageDraw, ImageFont

from threadline.errors import InvalidInput
from threadline.labels.content import LabelContent

__all__ = [
    "FORMATS",
    "SYMBOLOGIES",
    "Format",
    "Symbol",
    "Symbology",
    "encode",
    "to_png",
    "to_svg",
]

Symbology = Literal["qr", "datamatrix", "gs1-128"]
Format = Literal["png", "svg", "pdf"]
SYMBOLOGIES: tuple[Symbology, ...] = ("qr", "datamatrix", "gs1-128")
FORMATS: tuple[Format, ...] = ("png", "svg", "pdf")

# Quiet zones in modules: QR needs 4; DataMatrix 1 (2 here, for scanners at an angle);
# GS1-128 10 on each side.
_QUIET = {"qr": 4, "datamatrix": 2, "gs1-128": 10}
# GS1 General Specifications: at most 48 data characters (FNC1 separators included) per GS1-128.
_GS1_128_MAX = 48
_IDENTIFIERS = {"qr": "]Q1", "datamatrix": "]d2", "gs1-128": "]C1"}


@dataclass(frozen=True)
class Symbol:
    """One encoded barcode: its modules (``True`` = dark), what it carries and its caption.

    ``modules`` has one row for GS1-128 (bars) and a square grid for the 2D symbols. ``data``
    is what a scanner transmits after ``symbology_identifier``; ``caption`` is the
    human-readable interpretation printed under the symbol.
    """

    symbology: Symbology
    modules: np.ndarray
    data: str
    caption: str

    @property
    def linear(self) -> bool:
        return self.symbology == "gs1-128"

    @property
    def quiet(self) -> int:
        return _QUIET[self.symbology]

    @property
    def symbology_identifier(self) -> str:
        return _IDENTIFIERS[self.symbology]

    @property
    def width(self) -> int:
        """Modules across, without the quiet zone."""
        return int(self.modules.shape[1])

    @property
    def height(self) -> int:
        """Module rows (1 for bars), without the quiet zone."""
        return int(self.modules.shape[0])

    def runs(self) -> list[tuple[int, int, int]]:
        """Dark runs as ``(row, first column, length)``: what the vector renderers draw."""
        out = []
        for row_index, row in enumerate(self.modules):
            padded = np.concatenate(([False], row, [False])).astype(np.int8)
            edges = np.flatnonzero(np.diff(padded))
            out += [
                (row_index, int(a), int(b - a))
                for a, b in zip(edges[::2], edges[1::2], strict=True)
            ]
        return out


def _zxing(content: LabelContent, symbology: Symbology) -> Symbol:
    if symbology == "gs1-128" and len(content.scan_data) > _GS1_128_MAX:
        raise InvalidInput(
            f"{content.key}: {content.element_string} has {len(content.scan_data)} data"
            f" characters; GS1-128 holds at most {_GS1_128_MAX} (use datamatrix or qr)"
        )
    fmt = (
        zxingcpp.BarcodeFormat.DataMatrix
        if symbology == "datamatrix"
        else zxingcpp.BarcodeFormat.Code128
    )
    try:
        # Bracketed input in GS1 mode: zxing-cpp inserts the FNC1s. ``force_square`` keeps
        # DataMatrix square (rectangular symbols are GS1-legal but read worse at an angle).
        barcode = zxingcpp.create_barcode(
            content.element_string, fmt, gs1=True, force_square=symbology == "datamatrix"
        )
    except ValueError as exc:
        raise InvalidInput(
            f"{content.key}: cannot encode {content.element_string} as {symbology}: {exc}"
        ) from None
    encoded = barcode.bytes.decode("latin-1")
    if encoded != content.scan_data:  # pragma: no cover - guards the bracket escaping above
        raise InvalidInput(
            f"{content.key}: the {symbology} encoder produced {encoded!r},"
            f" not {content.scan_data!r}"
        )
    pixels = np.asarray(barcode.to_image(scale=1, add_quiet_zones=False))
    dark = pixels < 128
    if symbology == "gs1-128":
        dark = dark[:1]  # every row of a linear symbol is the same
    return Symbol(symbology, dark, content.scan_data, content.printed_string)


def _qr(content: LabelContent) -> Symbol:
    # Error correction M (15 %): the usual choice for labels that get scuffed in a plant.
    qr = segno.make_qr(content.digital_link, error="m")
    dark = np.array([[bool(m) for m in row] for row in qr.matrix], dtype=bool)
    return Symbol("qr", dark, content.digital_link, content.digital_link)


def encode(content: LabelContent, symbology: str) -> Symbol:
    """The symbol of ``content`` in ``symbology`` (``qr``, ``datamatrix`` or ``gs1-128``).

    Raises :class:`InvalidInput` for an unknown symbology or data that does not fit.
    """
    if symbology == "qr":
        return _qr(content)
    if symbology == "datamatrix":
        return _zxing(content, "datamatrix")
    if symbology == "gs1-128":
        return _zxing(content, "gs1-128")
    raise InvalidInput(f"symbology {symbology!r}: use one of {', '.join(SYMBOLOGIES)}")


def _bar_height(symbol: Symbol) -> int:
    # GS1-128 bars at least 15 % of the symbol width, and never shorter than 40 modules.
    return max(40, round(0.15 * (symbol.width + 2 * symbol.quiet)))


@lru_cache(maxsize=16)
def _caption_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def to_png(symbol: Symbol, *, scale: int = 6) -> bytes:
    """The symbol as a PNG, ``scale`` pixels per module, with its quiet zone.

    GS1-128 gets its human-readable interpretation under the bars.
    """
    if scale < 1:
        raise InvalidInput(f"scale must be at least 1 pixel per module, got {scale}")
    grid = symbol.modules
    if symbol.linear:
        grid = np.repeat(grid, _bar_height(symbol), axis=0)
    q = symbol.quiet
    canvas = np.ones((grid.shape[0] + 2 * q, grid.shape[1] + 2 * q), dtype=np.uint8) * 255
    if symbol.linear:  # bars need the quiet zone left and right, little above and below
        canvas = canvas[q - 2 : canvas.shape[0] - q + 2]
        canvas[2 : 2 + grid.shape[0], q : q + grid.shape[1]] = np.where(grid, 0, 255)
    else:
        canvas[q : q + grid.shape[0], q : q + grid.shape[1]] = np.where(grid, 0, 255)
    pixels = np.kron(canvas, np.ones((scale, scale), dtype=np.uint8))
    image = Image.fromarray(pixels, mode="L")
    if symbol.linear:
        size = max(10, 7 * scale)
        font = _caption_font(size)
        text_box = Image.new("L", (image.width, size + 4 * scale), 255)
        draw = ImageDraw.Draw(text_box)
        width = draw.textlength(symbol.caption, font=font)
        draw.text(((image.width - width) / 2, scale), symbol.caption, fill=0, font=font)
        whole = Image.new("L", (image.width, image.height + text_box.height), 255)
        whole.paste(image, (0, 0))
        whole.paste(text_box, (0, image.height))
        image = whole
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def to_svg(symbol: Symbol, *, scale: int = 6) -> str:
    """The symbol as a standalone SVG (one path of dark modules), ``scale`` px per module.

    Coordinates are in modules (the ``viewBox``), so the drawing scales without blurring.
    GS1-128 gets its human-readable interpretation as text under the bars.
    """
    q = symbol.quiet
    bar = _bar_height(symbol) if symbol.linear else 1
    width = symbol.width + 2 * q
    top = 2 if symbol.linear else q
    body = symbol.height * bar
    caption = 9 if symbol.linear else 0
    height = top + body + (2 if symbol.linear else q) + caption
    path = "".join(
        f"M{q + col} {top + row * bar}h{length}v{bar}h-{length}z"
        for row, col, length in symbol.runs()
    )
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width * scale}"'
        f' height="{height * scale}" viewBox="0 0 {width} {height}"'
        ' shape-rendering="crispEdges">',
        f"<title>{escape(symbol.caption)}</title>",
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        f'<path fill="#000" d="{path}"/>',
    ]
    if symbol.linear:
        parts.append(
            f'<text x="{width / 2:g}" y="{top + body + 8}" font-family="monospace"'
            f' font-size="7" text-anchor="middle" fill="#000">{escape(symbol.caption)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
