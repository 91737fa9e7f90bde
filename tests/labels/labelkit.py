"""A plant for label tests: the hand-built plant of ``plantkit`` plus what labels need.

Added to the small plant: a lot with an expiry date, a production date and a product name in
its ILMD; a lot whose number holds ``/`` and brackets (escaping in element strings, Digital Link
and QR); a serialised item; an object that is not a GS1 key; and master data naming the
customer the pallet P1 was shipped to, with an address (the ship-to block).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image

from threadline.gs1.keys import check_digit
from threadline.service import import_document
from threadline.store import Store

from plantkit import C1, document, receive, small_plant

DATED = "urn:epc:class:lgtin:4012345.033333.L7-2026"
DATED_GTIN = "0" + "4012345" + "33333"
DATED_GTIN += check_digit(DATED_GTIN)
_ODD_GTIN = "0401234544444"
ODD_GTIN = _ODD_GTIN + check_digit(_ODD_GTIN)
ODD_LOT = "A/B(7)"
ODD = f"https://id.example.com/01/{ODD_GTIN}/10/A%2FB(7)"
SERIAL = "urn:epc:id:sgtin:4012345.011111.S-1"
NOT_GS1 = "urn:example:fixture:jig-7"
CUSTOMER = "Kessler Antriebstechnik GmbH"
PARTY_VOCABULARY = "urn:epcglobal:epcis:vtype:Party"


def _observe(minute: int, epcs: list[str]) -> dict[str, Any]:
    event = receive(minute, DATED, 1)
    del event["quantityList"], event["ilmd"]
    event.update(action="ADD", bizStep="commissioning", disposition="active", epcList=epcs)
    return event


def extra_events() -> list[dict[str, Any]]:
    dated = receive(90, DATED, 250)
    dated["ilmd"] = {
        "cbvmda:itemExpirationDate": "2027-06-30",
        "tl:productionDate": "2026-03-01",
        "tl:product": "Hex bolt M8x40 8.8 zinc flake",
    }
    odd = receive(91, ODD, 40)
    odd["ilmd"] = {}
    return [dated, odd, _observe(92, [SERIAL, NOT_GS1])]


def master_data() -> list[dict[str, Any]]:
    def attr(name: str, value: str) -> dict[str, str]:
        return {"id": f"urn:epcglobal:cbv:mda#{name}", "attribute": value}

    return [
        {
            "type": PARTY_VOCABULARY,
            "vocabularyElementList": [
                {
                    "id": C1,
                    "attributes": [
                        attr("name", CUSTOMER),
                        attr("streetAddressOne", "Industriestrasse 12"),
                        attr("postalCode", "70565"),
                        attr("city", "Stuttgart"),
                        attr("countryCode", "DE"),
                    ],
                }
            ],
        }
    ]


def load_label_plant(store: Store, tmp: Path) -> None:
    """The small plant, the extra objects and the customer master data, in one document."""
    events, _ = small_plant()
    doc = document(events + extra_events())
    doc["epcisHeader"] = {"epcisMasterData": {"vocabularyList": master_data()}}
    path = tmp / "label-plant.jsonld"
    path.write_text(json.dumps(doc))
    import_document(store, path)


def rasterise_pdf(body: bytes, *, dpi: int = 300) -> list[Image.Image]:
    """Each page of a PDF as an image, rendered by pdfium (``pypdfium2``)."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(body)
    try:
        return [page.render(scale=dpi / 72).to_pil() for page in document]
    finally:
        document.close()
