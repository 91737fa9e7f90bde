"""CBV 2.0 vocabulary: the many spellings of one standard word reduced to the bare word.

A standard CBV value may arrive as a bare word (``shipping``), a GS1 web URI
(``https://ref.gs1.org/cbv/BizStep-shipping``), a CURIE (``cbv:BizStep-shipping``) or an EPCIS 1.x
URN (``urn:epcglobal:cbv:bizstep:shipping``). Inside Threadline it is always the bare word; a
user-defined value (any other URI) is kept as written.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

Vocabulary = Literal["bizstep", "disp", "btt", "sdt", "er"]

_WEB_PREFIX = {
    "bizstep": "BizStep-",
    "disp": "Disp-",
    "btt": "BTT-",
    "sdt": "SDT-",
    "er": "ER-",
}
_WEB_BASES = ("https://ref.gs1.org/cbv/", "http://ref.gs1.org/cbv/", "cbv:", "gs1:")


@lru_cache(maxsize=4096)
def cbv_word(value: str, vocabulary: Vocabulary) -> str:
    """The bare CBV word for ``value`` if it is a spelling of a standard word, else ``value``."""
    web = _WEB_PREFIX[vocabulary]
    for base in _WEB_BASES:
        if value.startswith(base) and value[len(base) :].startswith(web):
            return value[len(base) + len(web) :]
    urn = f"urn:epcglobal:cbv:{vocabulary}:"
    if value.startswith(urn):
        return value[len(urn) :]
    return value


def cbv_uri(word: str, vocabulary: Vocabulary) -> str:
    """The GS1 web URI of a bare CBV word; URIs pass through."""
    if ":" in word:
        return word
    return f"https://ref.gs1.org/cbv/{_WEB_PREFIX[vocabulary]}{word}"
