"""One entry point for the CLI and the API: object ids in, a label file out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from threadline.errors import InvalidInput
from threadline.labels.content import LabelContent, label_content
from threadline.labels.pdf import label_sheet, shipping_label
from threadline.labels.symbols import FORMATS, SYMBOLOGIES, encode, to_png, to_svg
from threadline.store.base import Reader

__all__ = ["MEDIA_TYPES", "Rendered", "check_choice", "render_labels"]

MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}


@dataclass(frozen=True)
class Rendered:
    """A rendered label file: its bytes, media type and a suggested file name."""

    body: bytes
    media_type: str
    filename: str
    labels: tuple[LabelContent, ...]


def check_choice(symbology: str, fmt: str) -> None:
    """Refuse an unknown symbology or format with the list of the known ones."""
    if symbology not in SYMBOLOGIES:
        raise InvalidInput(f"symbology {symbology!r}: use one of {', '.join(SYMBOLOGIES)}")
    if fmt not in FORMATS:
        raise InvalidInput(f"format {fmt!r}: use one of {', '.join(FORMATS)}")


def _filename(content: LabelContent, symbology: str, fmt: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in content.title)
    return f"label-{safe.strip('-').lower() or 'object'}-{symbology}.{fmt}"


def render_labels(
    reader: Reader,
    ids: Sequence[str],
    *,
    symbology: str,
    fmt: str,
    base: str,
    sheet: bool = False,
    scale: int = 6,
) -> Rendered:
    """Labels of the stored objects ``ids`` with QR codes pointing at ``base``.

    One id gives a PNG, an SVG or a 100 x 150 mm PDF label; several ids give a PDF with one
    100 x 150 mm page each, or, with ``sheet``, A4 sheets of small box labels. Raises
    :class:`InvalidInput` for a bad choice, an id that is not a GS1 key or data that fails GS1
    validation, and :class:`~threadline.errors.NotFound` for an id the store does not know.
    """
    check_choice(symbology, fmt)
    if not ids:
        raise InvalidInput("no object ids: name at least one lot, box or pallet")
    if sheet and fmt != "pdf":
        raise InvalidInput(f"a sheet of labels is a PDF; format {fmt!r} holds a single label")
    if len(ids) > 1 and fmt != "pdf":
        raise InvalidInput(
            f"{len(ids)} ids: a {fmt} file holds one label; use format pdf for several"
        )
    contents = [label_content(reader, identifier, base=base) for identifier in ids]
    items = [(content, encode(content, symbology)) for content in contents]
    first = contents[0]
    if fmt == "png":
        body = to_png(items[0][1], scale=scale)
    elif fmt == "svg":
        body = to_svg(items[0][1], scale=scale).encode()
    elif sheet:
        body = label_sheet(items)
    else:
        body = shipping_label(items)
    name = (
        f"labels-{len(ids)}-{symbology}.pdf" if len(ids) > 1 else _filename(first, symbology, fmt)
    )
    return Rendered(body, MEDIA_TYPES[fmt], name, tuple(contents))
