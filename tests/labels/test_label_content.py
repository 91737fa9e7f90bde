"""What a label carries, read from the store (on SQLite and PostgreSQL), and the clear errors for
what cannot be labelled."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadline.errors import InvalidInput, NotFound
from threadline.gs1.element_strings import AIValue
from threadline.labels import LabelContent, encode, label_content, render_labels
from threadline.labels.content import dates_from_attributes
from threadline.model.identifiers import Kind
from threadline.store import Store

from labelkit import CUSTOMER, DATED, DATED_GTIN, NOT_GS1, ODD, ODD_LOT, SERIAL, load_label_plant
from plantkit import F1, P1, P2, X1, X2

BASE = "http://127.0.0.1:8000"


@pytest.fixture
def plant(store: Store, tmp_path: Path) -> Store:
    load_label_plant(store, tmp_path)
    return store


def content(store: Store, identifier: str) -> LabelContent:
    with store.reader() as reader:
        return label_content(reader, identifier, base=BASE)


def test_a_shipped_pallet_has_its_customer_address_and_contents(plant: Store) -> None:
    pallet = content(plant, P1)
    assert pallet.kind is Kind.SSCC
    assert pallet.values == (AIValue("00", "140123450000000013"),)
    assert pallet.ship_to == (CUSTOMER, "Industriestrasse 12", "70565 Stuttgart", "DE")
    # X2 was moved to P2 and X3 was put on P1 only by an event declared in error.
    assert pallet.contents == ("(00) 040123450000000016",)
    assert ("Status", "in_transit") in pallet.lines
    assert pallet.title == "SSCC 140123450000000013"


def test_a_box_inherits_the_ship_to_of_the_pallet_carrying_it(plant: Store) -> None:
    assert content(plant, X1).ship_to == (CUSTOMER, "Industriestrasse 12", "70565 Stuttgart", "DE")
    assert content(plant, X2).ship_to == ()  # on P2, which has not shipped
    assert content(plant, P2).contents == (
        "(00) 040123450000000023",
        "(00) 040123450000000030",
    )


def test_a_lot_shipped_in_part_gets_no_ship_to(plant: Store) -> None:
    lot = content(plant, F1)
    assert lot.ship_to == ()
    assert ("Quantity", "2000 EA") in lot.lines


def test_a_lot_label_has_dates_product_and_digital_link(plant: Store) -> None:
    lot = content(plant, DATED)
    assert lot.element_string == f"(01){DATED_GTIN}(11)260301(17)270630(10)L7-2026"
    assert lot.digital_link == f"{BASE}/01/{DATED_GTIN}/10/L7-2026?11=260301&17=270630"
    assert lot.lines[0] == ("Product", "Hex bolt M8x40 8.8 zinc flake")
    assert lot.title == "Lot L7-2026"


def test_brackets_in_a_lot_are_escaped_for_the_encoder(plant: Store) -> None:
    lot = content(plant, ODD)
    assert [v.value for v in lot.values][-1] == ODD_LOT
    assert lot.element_string.endswith("(10)A/B\\(7)")
    assert lot.scan_data.endswith("10A/B(7)")
    assert lot.printed_string.endswith("(10)A/B(7)")  # what a person reads: no escape


def test_a_serialised_item_carries_gtin_and_serial(plant: Store) -> None:
    item = content(plant, SERIAL)
    assert [(v.ai, v.value) for v in item.values] == [("01", "04012345111118"), ("21", "S-1")]
    assert item.title == "Serial S-1"


def test_an_identifier_that_is_not_a_gs1_key_is_refused(plant: Store) -> None:
    with pytest.raises(InvalidInput, match="is not a GS1 key"):
        content(plant, NOT_GS1)


def test_an_unknown_object_is_not_found(plant: Store) -> None:
    with pytest.raises(NotFound, match="no object"):
        content(plant, "urn:epc:id:sscc:4012345.9999999999")


def test_a_bad_check_digit_is_named(plant: Store) -> None:
    with pytest.raises(InvalidInput, match="wrong check digit"):
        content(plant, "https://id.gs1.org/00/140123450000000014")


def test_a_date_attribute_that_is_not_a_date_is_named() -> None:
    with pytest.raises(InvalidInput, match="cbvmda:itemExpirationDate = 'soon'"):
        dates_from_attributes("k", {"cbvmda:itemExpirationDate": "soon"})
    dates = dates_from_attributes(
        "k",
        {
            "urn:epcglobal:cbv:mda#itemExpirationDate": "2027-01-31T00:00:00Z",
            "tl:manufacturingDate": "2026-12-01",
            "tl:colour": "blue",
        },
    )
    assert dates == [AIValue("11", "261201"), AIValue("17", "270131")]


def test_an_impossible_date_fails_gs1_validation_before_encoding() -> None:
    # 31 February, handed straight to the encoder: biip's date rule stops it.
    values = (AIValue("01", "09520123456788"), AIValue("17", "270231"))
    bad = LabelContent("k", Kind.LGTIN, values, "http://x/01/09520123456788", "t")
    with pytest.raises(InvalidInput, match=r"AI \(17\)"):
        encode(bad, "datamatrix")


def test_gs1_128_refuses_data_longer_than_48_characters() -> None:
    values = (
        AIValue("01", "09520123456788"),
        AIValue("11", "260101"),
        AIValue("17", "270101"),
        AIValue("10", "L" * 20),
    )
    long = LabelContent("k", Kind.LGTIN, values, "http://x/01/09520123456788", "t")
    with pytest.raises(InvalidInput, match="at most 48"):
        encode(long, "gs1-128")
    assert encode(long, "datamatrix").width > 0


@pytest.mark.parametrize(
    ("ids", "symbology", "fmt", "sheet", "message"),
    [
        ([P1], "code39", "png", False, "symbology 'code39': use one of qr, datamatrix, gs1-128"),
        ([P1], "qr", "gif", False, "format 'gif': use one of png, svg, pdf"),
        ([P1], "qr", "png", True, "a sheet of labels is a PDF"),
        ([P1, P2], "qr", "svg", False, "a svg file holds one label"),
        ([], "qr", "pdf", False, "no object ids"),
    ],
)
def test_bad_choices_are_named(
    plant: Store, ids: list[str], symbology: str, fmt: str, sheet: bool, message: str
) -> None:
    with plant.reader() as reader, pytest.raises(InvalidInput, match=message):
        render_labels(reader, ids, symbology=symbology, fmt=fmt, base=BASE, sheet=sheet)
