"""GS1 keys in any written form -> one canonical :class:`~threadline.model.identifiers.Identifier`.

Accepted forms: EPC pure-identity URNs (``urn:epc:id:sgtin:...``), EPC class URNs
(``urn:epc:class:lgtin:...``, ``urn:epc:idpat:sgtin:...:*``) and GS1 Digital Link URIs on any domain
(with or without a path prefix before the primary key). Anything that is not a GS1 key passes
through unchanged as a :attr:`Kind.URI`. A string that *claims* to be a GS1 key but is malformed
(wrong length, bad check digit) is an :class:`~threadline.errors.InvalidInput` naming the fault,
because a silently mistyped SSCC would split one pallet's history in two.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote, unquote, urlsplit

from biip.checksums import gs1_standard_check_digit

from threadline.errors import InvalidInput
from threadline.model.identifiers import CANONICAL_BASE, Identifier, Kind

__all__ = ["canonical", "canonical_key", "check_digit", "to_epc_urn"]

_DIGITS = re.compile(r"^[0-9]+$")
_PLAIN = re.compile(r"^[A-Za-z0-9\-._~]*$")
# Characters kept literal in canonical keys; everything else is percent-encoded so that the same
# value written in a URN (%2F) and in a Digital Link (%2F or a literal) ends up identical.
_SAFE = "-._~!'()*+,;:=@$"

# Digital Link path-segment aliases accepted from older (1.0) URIs.
_AI_ALIASES = {"gtin": "01", "sscc": "00", "gln": "414", "lot": "10", "ser": "21", "cpv": "22"}


@lru_cache(maxsize=65536)
def check_digit(payload: str) -> str:
    """The GS1 mod-10 check digit of ``payload`` (all digits but the last).

    This runs for every GS1 key on the import path, where biip's general-purpose routine costs
    about 20 µs a call; this table-driven form gives the same digit (a property test compares the
    two on random payloads) in about a tenth of that.
    """
    # Weights alternate 3, 1, 3, ... from the rightmost payload digit.
    digits = payload.encode("ascii")
    tripled, single = digits[::-2], digits[-2::-2]
    # Bytes sum in C; subtract the ASCII offset of "0" (48) once per digit.
    total = 3 * (sum(tripled) - 48 * len(tripled)) + sum(single) - 48 * len(single)
    return str(-total % 10)


def reference_check_digit(payload: str) -> str:
    """biip's check digit, the reference :func:`check_digit` is tested against."""
    return str(gs1_standard_check_digit(payload))


def _enc(value: str) -> str:
    # Most lots and serials need no escaping; skip the (slow) general quoting for them.
    return value if _PLAIN.match(value) else quote(value, safe=_SAFE)


def _fail(raw: str, why: str) -> InvalidInput:
    return InvalidInput(f"invalid GS1 identifier {raw!r}: {why}")


def _digits(raw: str, value: str, what: str, lengths: tuple[int, ...]) -> None:
    if not _DIGITS.match(value) or len(value) not in lengths:
        want = " or ".join(str(n) for n in lengths)
        raise _fail(raw, f"{what} must be {want} digits, got {value!r}")


def _checked(raw: str, value: str, what: str) -> None:
    if check_digit(value[:-1]) != value[-1]:
        raise _fail(
            raw, f"{what} {value} has a wrong check digit (expected {check_digit(value[:-1])})"
        )


def _gtin_from_epc(raw: str, company: str, item: str) -> str:
    _digits(raw, company, "company prefix", tuple(range(6, 13)))
    if not _DIGITS.match(item) or len(company) + len(item) != 13:
        raise _fail(raw, "company prefix and item reference must total 13 digits")
    body = item[0] + company + item[1:]
    return body + check_digit(body)


def _gln_from_epc(raw: str, company: str, ref: str) -> str:
    _digits(raw, company, "company prefix", tuple(range(6, 13)))
    if (ref and not _DIGITS.match(ref)) or len(company) + len(ref) != 12:
        raise _fail(raw, "company prefix and location reference must total 12 digits")
    body = company + ref
    return body + check_digit(body)


def _epc_value(part: str) -> str:
    # EPC URNs percent-escape a handful of characters in serials and lots.
    return unquote(part)


def _from_urn(raw: str) -> Identifier | None:
    parts = raw.split(":")
    if len(parts) < 5 or parts[0].lower() != "urn" or parts[1].lower() != "epc":
        return None
    space, scheme = parts[2].lower(), parts[3].lower()
    # The last field (serial, lot, extension, asset reference) may itself contain ".", so
    # split only as many times as the scheme has separators.
    separators = 1 if scheme in ("sscc", "pgln", "giai") else 2
    fields = ":".join(parts[4:]).split(".", separators)
    company = fields[0]
    gcp = len(company)
    if space == "id" and scheme == "sgtin" and len(fields) == 3:
        gtin = _gtin_from_epc(raw, company, fields[1])
        key = f"{CANONICAL_BASE}/01/{gtin}/21/{_enc(_epc_value(fields[2]))}"
        return Identifier(key, Kind.SGTIN, gtin, gcp)
    if space == "class" and scheme == "lgtin" and len(fields) == 3:
        gtin = _gtin_from_epc(raw, company, fields[1])
        key = f"{CANONICAL_BASE}/01/{gtin}/10/{_enc(_epc_value(fields[2]))}"
        return Identifier(key, Kind.LGTIN, gtin, gcp)
    if space == "idpat" and scheme == "sgtin" and len(fields) == 3 and fields[2] == "*":
        gtin = _gtin_from_epc(raw, company, fields[1])
        return Identifier(f"{CANONICAL_BASE}/01/{gtin}", Kind.GTIN, gtin, gcp)
    if space == "id" and scheme == "sscc" and len(fields) == 2:
        _digits(raw, company, "company prefix", tuple(range(6, 13)))
        serial = fields[1]
        if not _DIGITS.match(serial) or gcp + len(serial) != 17:
            raise _fail(raw, "company prefix and serial reference must total 17 digits")
        body = serial[0] + company + serial[1:]
        return Identifier(f"{CANONICAL_BASE}/00/{body}{check_digit(body)}", Kind.SSCC, None, gcp)
    if space == "id" and scheme == "sgln" and len(fields) == 3:
        gln = _gln_from_epc(raw, company, fields[1])
        ext = _epc_value(fields[2])
        key = f"{CANONICAL_BASE}/414/{gln}"
        if ext != "0":
            key += f"/254/{_enc(ext)}"
        return Identifier(key, Kind.SGLN, None, gcp)
    if space == "id" and scheme == "pgln" and len(fields) == 2:
        gln = _gln_from_epc(raw, company, fields[1])
        return Identifier(f"{CANONICAL_BASE}/417/{gln}", Kind.PGLN, None, gcp)
    if space == "id" and scheme == "grai" and len(fields) == 3:
        _digits(raw, company, "company prefix", tuple(range(6, 13)))
        if not _DIGITS.match(fields[1]) or gcp + len(fields[1]) != 12:
            raise _fail(raw, "company prefix and asset type must total 12 digits")
        body = "0" + company + fields[1]
        # The leading 0 of AI 8003 is not part of the check-digit payload.
        grai = body + check_digit(body[1:])
        key = f"{CANONICAL_BASE}/8003/{grai}{_enc(_epc_value(fields[2]))}"
        return Identifier(key, Kind.GRAI, None, gcp)
    if space == "id" and scheme == "giai" and len(fields) == 2:
        _digits(raw, company, "company prefix", tuple(range(6, 13)))
        key = f"{CANONICAL_BASE}/8004/{company}{_enc(_epc_value(fields[1]))}"
        return Identifier(key, Kind.GIAI, None, gcp)
    if space == "id" and scheme == "gdti" and len(fields) == 3:
        _digits(raw, company, "company prefix", tuple(range(6, 13)))
        if not _DIGITS.match(fields[1]) or gcp + len(fields[1]) != 12:
            raise _fail(raw, "company prefix and document type must total 12 digits")
        body = company + fields[1]
        key = f"{CANONICAL_BASE}/253/{body}{check_digit(body)}{_enc(_epc_value(fields[2]))}"
        return Identifier(key, Kind.GDTI, None, gcp)
    if space in ("id", "class", "idpat") and scheme in (
        "sgtin",
        "lgtin",
        "sscc",
        "sgln",
        "pgln",
        "grai",
        "giai",
        "gdti",
    ):
        raise _fail(raw, f"wrong number of fields for an EPC {scheme} URN")
    return None


_PRIMARY_AIS = ("01", "00", "414", "417", "8003", "8004", "253")


def _from_digital_link(raw: str) -> Identifier | None:
    if not raw.startswith(("http://", "https://", "HTTP://", "HTTPS://")):
        return None
    try:
        path = urlsplit(raw).path
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket: not a Digital Link, not a URI
        raise _fail(raw, f"not a valid URI ({exc})") from None
    segments = [s for s in path.split("/") if s]
    segments = [_AI_ALIASES.get(s, s) for s in segments]
    for start, seg in enumerate(segments):
        if seg in _PRIMARY_AIS and start + 1 < len(segments):
            rest = segments[start:]
            if len(rest) % 2 == 0:
                pairs = {rest[i]: unquote(rest[i + 1]) for i in range(0, len(rest), 2)}
                return _from_ai_pairs(raw, seg, pairs)
    return None


def _from_ai_pairs(raw: str, primary: str, ai: dict[str, str]) -> Identifier:
    value = ai[primary]
    if primary == "01":
        _digits(raw, value, "GTIN", (8, 12, 13, 14))
        gtin = value.zfill(14)
        _checked(raw, gtin, "GTIN")
        if "21" in ai:
            key = f"{CANONICAL_BASE}/01/{gtin}/21/{_enc(ai['21'])}"
            return Identifier(key, Kind.SGTIN, gtin)
        if "10" in ai:
            return Identifier(f"{CANONICAL_BASE}/01/{gtin}/10/{_enc(ai['10'])}", Kind.LGTIN, gtin)
        return Identifier(f"{CANONICAL_BASE}/01/{gtin}", Kind.GTIN, gtin)
    if primary == "00":
        _digits(raw, value, "SSCC", (18,))
        _checked(raw, value, "SSCC")
        return Identifier(f"{CANONICAL_BASE}/00/{value}", Kind.SSCC)
    if primary in ("414", "417"):
        _digits(raw, value, "GLN", (13,))
        _checked(raw, value, "GLN")
        if primary == "417":
            return Identifier(f"{CANONICAL_BASE}/417/{value}", Kind.PGLN)
        key = f"{CANONICAL_BASE}/414/{value}"
        ext = ai.get("254")
        if ext and ext != "0":
            key += f"/254/{_enc(ext)}"
        return Identifier(key, Kind.SGLN)
    if primary == "8003":
        head = value[:14]
        _digits(raw, head, "GRAI", (14,))
        _checked(raw, head[1:], "GRAI")
        return Identifier(f"{CANONICAL_BASE}/8003/{head}{_enc(value[14:])}", Kind.GRAI)
    if primary == "8004":
        return Identifier(f"{CANONICAL_BASE}/8004/{_enc(value)}", Kind.GIAI)
    # 253: GDTI
    head = value[:13]
    _digits(raw, head, "GDTI", (13,))
    _checked(raw, head, "GDTI")
    return Identifier(f"{CANONICAL_BASE}/253/{head}{_enc(value[13:])}", Kind.GDTI)


@lru_cache(maxsize=131072)
def canonical(raw: str) -> Identifier:
    """The canonical identifier for ``raw`` in any accepted form.

    Raises :class:`InvalidInput` when ``raw`` is empty or is a malformed GS1 key.
    """
    text = raw.strip()
    if not text:
        raise InvalidInput("empty identifier")
    found = _from_urn(text) or _from_digital_link(text)
    return found if found is not None else Identifier(text, Kind.URI)


def canonical_key(raw: str) -> str:
    """Shorthand for ``canonical(raw).key``."""
    return canonical(raw).key


def to_epc_urn(ident: Identifier) -> str | None:
    """Render a canonical identifier as an EPC URN, if its company-prefix length is known."""
    gcp = ident.gcp_length
    if gcp is None or ident.kind == Kind.URI:
        return None
    segments = ident.key[len(CANONICAL_BASE) + 1 :].split("/")

    def esc(value: str) -> str:
        return quote(unquote(value), safe="-._~!'()*+,;:=@$")

    if ident.kind in (Kind.SGTIN, Kind.LGTIN, Kind.GTIN):
        gtin = segments[1]
        company, item = gtin[1 : 1 + gcp], gtin[0] + gtin[1 + gcp : 13]
        if ident.kind == Kind.SGTIN:
            return f"urn:epc:id:sgtin:{company}.{item}.{esc(segments[3])}"
        if ident.kind == Kind.LGTIN:
            return f"urn:epc:class:lgtin:{company}.{item}.{esc(segments[3])}"
        return f"urn:epc:idpat:sgtin:{company}.{item}.*"
    if ident.kind == Kind.SSCC:
        sscc = segments[1]
        return f"urn:epc:id:sscc:{sscc[1 : 1 + gcp]}.{sscc[0]}{sscc[1 + gcp : 17]}"
    if ident.kind in (Kind.SGLN, Kind.PGLN):
        gln = segments[1]
        if ident.kind == Kind.PGLN:
            return f"urn:epc:id:pgln:{gln[:gcp]}.{gln[gcp:12]}"
        ext = esc(segments[3]) if len(segments) > 3 else "0"
        return f"urn:epc:id:sgln:{gln[:gcp]}.{gln[gcp:12]}.{ext}"
    if ident.kind == Kind.GRAI:
        grai = segments[1]
        return f"urn:epc:id:grai:{grai[1 : 1 + gcp]}.{grai[1 + gcp : 13]}.{esc(grai[14:])}"
    if ident.kind == Kind.GIAI:
        giai = unquote(segments[1])
        return f"urn:epc:id:giai:{giai[:gcp]}.{esc(giai[gcp:])}"
    gdti = unquote(segments[1])
    return f"urn:epc:id:gdti:{gdti[:gcp]}.{gdti[gcp:12]}.{esc(gdti[13:])}"
