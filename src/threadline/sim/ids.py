"""GS1 identifiers for the simulated plant, and deterministic event IDs.

Everything here is plain string building: the simulator calls these once per product, machine or
party and reuses the results (prefix strings) in its inner loops.
"""

from __future__ import annotations

__all__ = [
    "DL_DOMAIN",
    "PLANT_PREFIX",
    "EventIds",
    "digital_link_prefix",
    "giai",
    "gs1_check_digit",
    "gtin14",
    "gtin_from_lgtin",
    "lgtin_class_prefix",
    "pgln",
    "sgln",
    "sscc",
    "sscc18_from_urn",
]

PLANT_PREFIX = "4012345"
"""GS1 company prefix of the simulated plant."""

DL_DOMAIN = "https://id.threadline.example"
"""Domain of the plant's GS1 Digital Link URIs for lot-level classes."""

_M64 = (1 << 64) - 1
_M62 = (1 << 62) - 1


def gs1_check_digit(payload: str) -> int:
    """The GS1 mod-10 check digit for ``payload`` (every digit but the check digit)."""
    total = 0
    weight = 3
    for ch in reversed(payload):
        total += (ord(ch) - 48) * weight
        weight = 4 - weight  # 3, 1, 3, 1, ... from the right
    return (10 - total % 10) % 10


def gtin14(company_prefix: str, item_ref: str, indicator: str = "0") -> str:
    """A GTIN-14 with a correct check digit (prefix + item reference must total 12 digits)."""
    body = indicator + company_prefix + item_ref
    if len(body) != 13 or not body.isdigit():
        raise ValueError(f"GTIN body must be 13 digits, got {body!r}")
    return body + str(gs1_check_digit(body))


def digital_link_prefix(gtin: str) -> str:
    """``https://id.threadline.example/01/<gtin>/10/`` - append a lot number to get a class ID."""
    return f"{DL_DOMAIN}/01/{gtin}/10/"


def lgtin_class_prefix(company_prefix: str, indicator_item: str) -> str:
    """``urn:epc:class:lgtin:<prefix>.<indicator+item>.`` - append a lot number."""
    if len(company_prefix) + len(indicator_item) != 13:
        raise ValueError("company prefix and indicator+item reference must total 13 digits")
    return f"urn:epc:class:lgtin:{company_prefix}.{indicator_item}."


def gtin_from_lgtin(urn: str) -> str:
    """The GTIN-14 (with check digit) of an ``urn:epc:class:lgtin:`` class."""
    company, item, _lot = urn[len("urn:epc:class:lgtin:") :].split(".", 2)
    body = item[0] + company + item[1:]
    return body + str(gs1_check_digit(body))


def sscc(company_prefix: str, serial_ref: str) -> str:
    """An SSCC EPC URN; ``serial_ref`` starts with the extension digit (17 digits in total)."""
    if len(company_prefix) + len(serial_ref) != 17:
        raise ValueError("company prefix and serial reference must total 17 digits")
    return f"urn:epc:id:sscc:{company_prefix}.{serial_ref}"


def sscc18_from_urn(urn: str) -> str:
    """The 18-digit SSCC (extension digit, prefix, serial, check digit) of an SSCC EPC URN."""
    company, serial_ref = urn[len("urn:epc:id:sscc:") :].split(".")
    body = serial_ref[0] + company + serial_ref[1:]
    return body + str(gs1_check_digit(body))


def sgln(company_prefix: str, location_ref: str, extension: str = "0") -> str:
    """An SGLN EPC URN (prefix + location reference = 12 digits)."""
    if len(company_prefix) + len(location_ref) != 12:
        raise ValueError("company prefix and location reference must total 12 digits")
    return f"urn:epc:id:sgln:{company_prefix}.{location_ref}.{extension}"


def pgln(company_prefix: str, party_ref: str = "00000") -> str:
    """A PGLN EPC URN for a party."""
    if len(company_prefix) + len(party_ref) != 12:
        raise ValueError("company prefix and party reference must total 12 digits")
    return f"urn:epc:id:pgln:{company_prefix}.{party_ref}"


def giai(company_prefix: str, asset_ref: str) -> str:
    """A GIAI EPC URN (an individual asset: a sensor, an installed assembly)."""
    return f"urn:epc:id:giai:{company_prefix}.{asset_ref}"


class EventIds:
    """Deterministic, unique, version-4-shaped ``urn:uuid:`` event IDs from (seed, counter).

    The last 64 bits (variant ``10`` + 62 bits) are a bijection of the counter (xor with a seed
    salt, multiply by an odd constant and xor-shift, all modulo 2**62), so IDs never collide
    within a run. The first 64 bits (version nibble 4 + 60 bits) are a splitmix64 hash of the
    seed and the counter's block of 256, recomputed once per block to keep ``next`` cheap.
    """

    __slots__ = ("_n", "_prefix", "_salt", "_salt62")

    def __init__(self, seed: int) -> None:
        self._n = 0
        self._salt = _splitmix64((seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & _M64)
        self._salt62 = _splitmix64(self._salt ^ 0xD1B54A32D192ED03) & _M62
        self._prefix = ""

    @property
    def issued(self) -> int:
        """How many IDs have been issued."""
        return self._n

    def _block(self, block: int) -> str:
        hi = _splitmix64((self._salt + block * 0xBF58476D1CE4E5B9) & _M64)
        h = f"{hi:016x}"
        return f"urn:uuid:{h[:8]}-{h[8:12]}-4{h[13:16]}-"

    def next(self) -> str:
        """The next event ID."""
        n = self._n
        self._n = n + 1
        if not n & 0xFF:
            self._prefix = self._block(n >> 8)
        x = ((n ^ self._salt62) * 0x2545F4914F6CDD1D) & _M62
        h = f"{x ^ (x >> 29) | 0x8000000000000000:016x}"
        return f"{self._prefix}{h[:4]}-{h[4:]}"


def _splitmix64(x: int) -> int:
    z = (x + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)
