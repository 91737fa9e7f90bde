"""Identifiers as Threadline keeps them: one canonical key per object, whatever form it arrived in.

GS1 keys are canonicalised to the GS1 Digital Link form on ``https://id.gs1.org`` (the only form
that needs no company-prefix length), e.g. ``https://id.gs1.org/01/04012345123456/10/LOT7``. Any
other URI is its own key. Parsing lives in :mod:`threadline.gs1.keys`; this module holds only the
types.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

CANONICAL_BASE = "https://id.gs1.org"


class Kind(StrEnum):
    """What an identifier names; drives how the trace engine presents it."""

    SGTIN = "sgtin"  # one serialised trade item
    LGTIN = "lgtin"  # a lot (batch) of a trade item
    GTIN = "gtin"  # a trade item class, no lot
    SSCC = "sscc"  # a logistic unit: box, pallet
    SGLN = "sgln"  # a location (site, hall, machine as extension)
    PGLN = "pgln"  # a party
    GRAI = "grai"  # a returnable asset
    GIAI = "giai"  # an individual asset (machine, installed assembly)
    GDTI = "gdti"  # a document
    URI = "uri"  # anything else, kept verbatim

    @classmethod
    def of(cls, stored: str) -> Kind:
        """The kind a stored kind name names; :attr:`URI` for any other name."""
        try:
            return cls(stored)
        except ValueError:
            return cls.URI


@dataclass(frozen=True, slots=True)
class Identifier:
    """A canonical identifier.

    ``key`` is the canonical form stored and compared; ``product`` the GTIN-14 for GTIN-based keys;
    ``gcp_length`` the GS1 company prefix length when the input told us (EPC URNs do), which is what
    rendering back to an EPC URN needs.
    """

    key: str
    kind: Kind
    product: str | None = None
    gcp_length: int | None = None
