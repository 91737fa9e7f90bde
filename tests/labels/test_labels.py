"""Every symbology in every format, for a lot, a box (SSCC) and a pallet, decodes (zxing-cpp) to
exactly the data encoded.

PNG is decoded directly. SVG is rasterised with resvg (the ``resvg-py`` wheel, which needs no
system cairo) and then decoded. PDF is rasterised with pdfium (``pypdfium2``) at 300 dpi and
then decoded. The expected data is written out by hand for each object, so a mistake shared by
the label content and the encoder would still fail here.
"""

from __future__ import annotations

import io
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from threadline.gs1.digital_link import build_digital_link, parse_digital_link
from threadline.gs1.element_strings import GS, AIValue, parse_element_string
from threadline.labels import LabelContent, decode_image, encode, render_labels, to_png, to_svg
from threadline.labels.decode import Decoded
from threadline.model.identifiers import Kind
from threadline.store import Store, open_store

from labelkit import DATED, DATED_GTIN, ODD, ODD_GTIN, load_label_plant, rasterise_pdf
from plantkit import P1, X1

BASE = "https://trace.plant.example"
pytest.importorskip("pypdfium2", reason="pypdfium2 rasterises the PDF labels")


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    tmp = tmp_path_factory.mktemp("labels")
    store = open_store(str(tmp / "labels.db"))
    load_label_plant(store, tmp)
    yield store
    store.close()


# What each label must carry, written out by hand: (Digital Link URI, GS1 scan data).
EXPECTED = {
    "lot": (
        DATED,
        f"{BASE}/01/{DATED_GTIN}/10/L7-2026?11=260301&17=270630",
        f"01{DATED_GTIN}1126030117270630" + "10L7-2026",
    ),
    "box": (X1, f"{BASE}/00/040123450000000016", "00040123450000000016"),
    "pallet": (P1, f"{BASE}/00/140123450000000013", "00140123450000000013"),
    "odd lot": (ODD, f"{BASE}/01/{ODD_GTIN}/10/A%2FB%287%29", f"01{ODD_GTIN}10A/B(7)"),
}


def rasterise_svg(svg: str) -> Image.Image:
    resvg = pytest.importorskip("resvg_py", reason="resvg-py rasterises the SVG labels")
    png = resvg.svg_to_bytes(svg_string=svg, background="#ffffff")
    return Image.open(io.BytesIO(png))


def decode(body: bytes, fmt: str) -> list[Decoded]:
    if fmt == "png":
        return decode_image(body)
    if fmt == "svg":
        return decode_image(rasterise_svg(body.decode()))
    return [found for page in rasterise_pdf(body) for found in decode_image(page)]


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
@pytest.mark.parametrize("symbology", ["qr", "datamatrix", "gs1-128"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_symbology_and_format_decodes_to_exactly_the_data(
    plant: Store, name: str, symbology: str, fmt: str
) -> None:
    identifier, uri, data = EXPECTED[name]
    with plant.reader() as reader:
        rendered = render_labels(reader, [identifier], symbology=symbology, fmt=fmt, base=BASE)
    found = decode(rendered.body, fmt)
    assert len(found) == 1, found
    if symbology == "qr":
        assert found[0].scan_data == "]Q1" + uri
        assert sorted(parse_digital_link(found[0].text), key=lambda v: v.ai) == sorted(
            rendered.labels[0].values, key=lambda v: v.ai
        )
    else:
        prefix = "]d2" if symbology == "datamatrix" else "]C1"
        # An FNC1 (sent as GS) follows each variable-length value that is not last.
        assert found[0].scan_data == prefix + data
        assert parse_element_string(found[0].scan_data) == list(rendered.labels[0].values)
    assert rendered.media_type == {"png": "image/png", "svg": "image/svg+xml"}.get(
        fmt, "application/pdf"
    )


def test_the_lot_carries_expiry_and_production_date_from_its_ilmd(plant: Store) -> None:
    with plant.reader() as reader:
        rendered = render_labels(reader, [DATED], symbology="datamatrix", fmt="png", base=BASE)
    values = {v.ai: v.value for v in rendered.labels[0].values}
    assert values == {"01": DATED_GTIN, "11": "260301", "17": "270630", "10": "L7-2026"}
    # Fixed-length dates come before the variable-length lot: no FNC1 is needed at all.
    assert GS not in rendered.labels[0].scan_data


def test_a_variable_length_value_before_another_gets_a_group_separator() -> None:
    content = _content(
        [AIValue("01", "09520123456788"), AIValue("10", "LOT7"), AIValue("21", "S9")]
    )
    symbol = encode(content, "gs1-128")
    (found,) = decode_image(to_png(symbol, scale=3))
    assert found.scan_data == f"]C1010952012345678810LOT7{GS}21S9"


def _content(values: list[AIValue]) -> LabelContent:
    return LabelContent(
        key="test",
        kind=Kind.LGTIN,
        values=tuple(values),
        digital_link=build_digital_link(values, base=BASE),
        title="test",
    )


# GS1 character set 82 minus nothing: lots may hold any of it, including ( ) / % & and quotes.
_CSET82 = string.ascii_letters + string.digits + "!\"%&'()*+,-./:;<=>?_"


@settings(max_examples=25, deadline=None)
@given(lot=st.text(alphabet=_CSET82, min_size=1, max_size=20))
def test_any_lot_number_survives_every_symbology(lot: str) -> None:
    values = [AIValue("01", "09520123456788"), AIValue("17", "271231"), AIValue("10", lot)]
    content = _content(values)
    for symbology in ("qr", "datamatrix", "gs1-128"):
        symbol = encode(content, symbology)
        found = decode_image(to_png(symbol, scale=3))
        assert len(found) == 1, (symbology, found)
        if symbology == "qr":
            assert parse_digital_link(found[0].text) == [values[0], values[2], values[1]]
        else:
            assert parse_element_string(found[0].scan_data) == values


def test_svg_is_one_path_of_modules_with_the_caption(plant: Store) -> None:
    with plant.reader() as reader:
        rendered = render_labels(reader, [P1], symbology="gs1-128", fmt="svg", base=BASE)
    svg = rendered.body.decode()
    assert svg.count("<path ") == 1
    assert "(00)140123450000000013</text>" in svg
    assert 'shape-rendering="crispEdges"' in svg


def test_png_scale_sets_the_pixels_per_module(plant: Store) -> None:
    with plant.reader() as reader:
        content = render_labels(reader, [X1], symbology="datamatrix", fmt="png", base=BASE)
    symbol = encode(content.labels[0], "datamatrix")
    for scale in (2, 5):
        with Image.open(io.BytesIO(to_png(symbol, scale=scale))) as image:
            assert image.size == ((symbol.width + 4) * scale, (symbol.height + 4) * scale)
    assert to_svg(symbol, scale=2).count('width="') >= 1


def test_the_cli_writes_each_format(plant: Store, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from threadline.cli import app

    runner = CliRunner()
    for fmt in ("png", "svg", "pdf"):
        out = tmp_path / f"pallet.{fmt}"
        result = runner.invoke(
            app,
            ["label", P1, "--symbology", "gs1-128", "-o", str(out), "--db", plant.url],
            env={"THREADLINE_RESOLVER_BASE": BASE},
        )
        assert result.exit_code == 0, result.output
        found = decode(out.read_bytes(), fmt)
        assert [f.scan_data for f in found] == ["]C100140123450000000013"]
    qr = tmp_path / "lot.png"
    result = runner.invoke(
        app, ["label", DATED, "-o", str(qr), "--db", plant.url, "--base", "http://10.1.2.3:8000/"]
    )
    assert result.exit_code == 0, result.output
    assert [f.text for f in decode_image(qr.read_bytes())] == [
        f"http://10.1.2.3:8000/01/{DATED_GTIN}/10/L7-2026?11=260301&17=270630"
    ]
