"""Labels: QR (GS1 Digital Link), GS1 DataMatrix and GS1-128 as PNG, SVG and PDF.

:func:`render_labels` is the entry point the CLI (``threadline label``) and the API
(``GET /labels/{id}``) share; :mod:`.content` decides what a label carries, :mod:`.symbols`
encodes it, :mod:`.pdf` lays out printable labels and :mod:`.decode` reads symbols back.
"""

from threadline.labels.content import LabelContent, label_content
from threadline.labels.decode import Decoded, decode_image
from threadline.labels.render import MEDIA_TYPES, Rendered, render_labels
from threadline.labels.symbols import FORMATS, SYMBOLOGIES, Symbol, encode, to_png, to_svg

__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "SYMBOLOGIES",
    "Decoded",
    "LabelContent",
    "Rendered",
    "Symbol",
    "decode_image",
    "encode",
    "label_content",
    "render_labels",
    "to_png",
    "to_svg",
]
