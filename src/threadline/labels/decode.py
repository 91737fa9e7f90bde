"""Reading barcodes back from images (zxing-cpp): the check that a label says what it should.

Answers come as a scanner would transmit them: the symbology identifier (``]Q1`` for a QR code
with plain text, ``]d2`` for GS1 DataMatrix, ``]C1`` for GS1-128) followed by the data, GS1
data with a group separator for each FNC1 after a variable-length value. That is the form
:func:`threadline.gs1.element_strings.parse_element_string` reads.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import zxingcpp
from PIL import Image

__all__ = ["Decoded", "decode_image"]


@dataclass(frozen=True)
class Decoded:
    """One symbol found in an image."""

    symbology_identifier: str
    text: str
    format: str

    @property
    def scan_data(self) -> str:
        """Symbology identifier and data, as a scanner in AIM mode sends them."""
        return self.symbology_identifier + self.text


def decode_image(image: bytes | np.ndarray[Any, Any] | Image.Image) -> list[Decoded]:
    """Every barcode zxing-cpp finds in ``image`` (PNG/JPEG bytes, a pixel array or an image)."""
    if isinstance(image, bytes | bytearray):
        with Image.open(io.BytesIO(image)) as opened:
            pixels = np.asarray(opened.convert("L"))
    elif isinstance(image, Image.Image):
        pixels = np.asarray(image.convert("L"))
    else:
        pixels = np.asarray(image)
    found = zxingcpp.read_barcodes(pixels, text_mode=zxingcpp.TextMode.Plain)
    return [Decoded(b.symbology_identifier, b.text, str(b.format)) for b in found if b.valid]
