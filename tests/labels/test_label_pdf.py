"""Printed labels: the 100 x 150 mm shipping label and the A4 sheet, rasterised and decoded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from threadline.labels import render_labels
from threadline.store import Store, open_store

from labelkit import CUSTOMER, DATED, DATED_GTIN, ODD, SERIAL, load_label_plant, rasterise_pdf
from plantkit import F1, P1, P2, X1, X2, X3

pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 rasterises the PDF labels")
BASE = "https://trace.plant.example"
MM = 72 / 25.4  # PDF points per millimetre


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    tmp = tmp_path_factory.mktemp("pdf")
    store = open_store(str(tmp / "pdf.db"))
    load_label_plant(store, tmp)
    yield store
    store.close()


def pages(body: bytes) -> list[tuple[float, float, str]]:
    """(width mm, height mm, text) of each page."""
    document = pdfium.PdfDocument(body)
    try:
        out = []
        for page in document:
            width, height = page.get_size()
            out.append((width / MM, height / MM, page.get_textpage().get_text_range()))
        return out
    finally:
        document.close()


def test_the_shipping_label_prints_sscc_barcode_text_and_ship_to(plant: Store) -> None:
    from threadline.labels import decode_image

    with plant.reader() as reader:
        rendered = render_labels(reader, [P1], symbology="gs1-128", fmt="pdf", base=BASE)
    ((width, height, text),) = pages(rendered.body)
    assert (round(width), round(height)) == (100, 150)
    for printed in ("SSCC 140123450000000013", "SHIP TO", CUSTOMER, "70565 Stuttgart"):
        assert printed in text
    assert "(00)140123450000000013" in text  # the human-readable line under the bars
    (image,) = rasterise_pdf(rendered.body, dpi=300)
    assert [d.scan_data for d in decode_image(image)] == ["]C100140123450000000013"]
    # A coarse office printer (150 dpi) still gives a readable code.
    (coarse,) = rasterise_pdf(rendered.body, dpi=150)
    assert [d.scan_data for d in decode_image(coarse)] == ["]C100140123450000000013"]


def test_several_ids_give_one_label_page_each(plant: Store) -> None:
    from threadline.labels import decode_image

    with plant.reader() as reader:
        rendered = render_labels(reader, [X1, DATED], symbology="datamatrix", fmt="pdf", base=BASE)
    assert [(round(w), round(h)) for w, h, _ in pages(rendered.body)] == [(100, 150)] * 2
    found = [decode_image(image) for image in rasterise_pdf(rendered.body)]
    assert [[d.scan_data for d in page] for page in found] == [
        ["]d200040123450000000016"],
        [f"]d201{DATED_GTIN}1126030117270630" + "10L7-2026"],
    ]


@pytest.mark.parametrize("symbology", ["qr", "datamatrix", "gs1-128"])
def test_an_a4_sheet_of_box_labels_decodes_label_by_label(plant: Store, symbology: str) -> None:
    from threadline.labels import decode_image

    ids = [X1, X2, X3, P1, P2, F1, DATED, ODD, SERIAL]
    with plant.reader() as reader:
        rendered = render_labels(reader, ids, symbology=symbology, fmt="pdf", base=BASE, sheet=True)
    ((width, height, text),) = pages(rendered.body)
    assert (round(width), round(height)) == (210, 297)
    expected = sorted(
        ("]Q1" + c.digital_link)
        if symbology == "qr"
        else ("]d2" if symbology == "datamatrix" else "]C1") + c.scan_data
        for c in rendered.labels
    )
    (image,) = rasterise_pdf(rendered.body, dpi=200)
    assert sorted(d.scan_data for d in decode_image(image)) == expected
    for label in rendered.labels:  # the human-readable text under each code
        under = label.printed_string if symbology == "gs1-128" else label.human_key
        assert under in text.replace("\r\n", " ").replace("\n", " ")


def test_a_sheet_continues_on_a_second_page(plant: Store) -> None:
    with plant.reader() as reader:
        rendered = render_labels(
            reader, [X1] * 25, symbology="datamatrix", fmt="pdf", base=BASE, sheet=True
        )
    assert len(pages(rendered.body)) == 2
