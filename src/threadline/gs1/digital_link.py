"""GS1 Digital Link URIs: parse, build, and convert to and from EPC URNs.

A GS1 Digital Link URI carries GS1 element strings in a web address::

    https://<host>[/<path prefix>]/<primary key AI>/<key>[/<qualifier AI>/<value>…][?<AI>=<value>&…]

Parsing follows the GS1 Digital Link URI syntax as the GS1 Syntax Engine checks it:

* only URI characters may appear. The scheme is ``http`` or ``https`` in all lower or all upper
  case. The host is not empty and contains none of ``_~?#@!$&'()*+,;=%``, so an IPv6 zone
  such as ``%25lo`` is rejected;
* the path is read from its end in ``/AI/value`` pairs until a primary key AI appears.
  Everything before that is a free path prefix. The primary key and its qualifiers must
  follow one of the key's qualifier sequences in order, e.g. ``/01/…/22/…/10/…/21/…`` or
  ``/01/…/235/…``;
* in the query string, parameters whose names are not all digits are ignored, and so are
  parameters without ``=``. A numeric name must be a known AI with a non-empty value. The AI
  must be allowed as a data attribute, must not repeat an AI already present, and must not be
  a qualifier that belongs in the path;
* values are percent-decoded (``+`` is a space in the query string only). A GTIN is written as
  14 digits. The deprecated alpha names (``/gtin/``) are not accepted; use the numeric AIs.

Every value then goes through :func:`threadline.gs1.element_strings.validate_ai_value`, and the
set of values through ``validate_associations``. Errors are :class:`InvalidInput` naming the
AI and the fault.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import replace

from threadline.errors import InvalidInput
from threadline.gs1.element_strings import (
    AIValue,
    ai_definition,
    needs_separator,
    validate_ai_value,
    validate_associations,
)
from threadline.gs1.keys import canonical, to_epc_urn
from threadline.model.identifiers import CANONICAL_BASE, Kind

__all__ = [
    "build_digital_link",
    "parse_digital_link",
    "percent_decode",
    "percent_encode",
    "to_dl_from_epc_urn",
    "to_epc_urn_from_dl",
]

_URI_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%")
_BAD_HOST_CHARACTERS = frozenset("_~?#@!$&'()*+,;=%")
_SCHEMES = ("https://", "HTTPS://", "http://", "HTTP://")
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_NUMERIC = re.compile(r"[0-9]+")

# GS1 Digital Link primary keys and, for each, its alternative qualifier sequences. A path
# holds the key and then any of one sequence's qualifiers, in the sequence's order.
_KEY_QUALIFIERS: dict[str, tuple[tuple[str, ...], ...]] = {
    "00": ((),),  # SSCC
    "01": (("22", "10", "21"), ("235",)),  # GTIN: CPV, lot, serial; or TPX
    "253": ((),),  # GDTI
    "255": ((),),  # GCN
    "401": ((),),  # GINC
    "402": ((),),  # GSIN
    "414": (("254",), ("7040",)),  # GLN of a location: extension; or UIC with extension
    "415": (("8020",),),  # GLN of the invoicing party: payment slip reference
    "417": (("7040",),),  # party GLN
    "8003": ((),),  # GRAI
    "8004": (("7040",),),  # GIAI
    "8006": (("22", "10", "21"),),  # ITIP
    "8010": (("8011",),),  # CPID: CPID serial
    "8013": ((),),  # GMN
    "8017": (("8019",),),  # GSRN of a provider: service relation instance
    "8018": (("8019",),),  # GSRN of a recipient: service relation instance
}

# AIs that the GS1 Digital Link standard does not allow as query-string data attributes. Most
# are key qualifiers that only make sense in the path: SERIAL, CPV, TPX, GLN extension, UIC
# with extension, CPID serial, SRIN and payment slip reference. (Lot (10) is a qualifier too,
# but it may also appear as a data attribute.) The rest are MTO GTIN, freight unit type, MUDI,
# the IMEI, eSIM and pSIM identifiers, and the product URL.
_NOT_DATA_ATTRIBUTES = frozenset(
    {"21", "22", "235", "254", "7040", "8011", "8019", "8020"}
    | {"03", "7041", "8014", "8040", "8041", "8042", "8043", "8200"}
)

# Path qualifiers an EPC URN can express for each key that threadline.gs1.keys renders.
_EPC_QUALIFIERS: dict[str, frozenset[str]] = {
    "00": frozenset(),
    "01": frozenset({"10", "21"}),
    "253": frozenset(),
    "414": frozenset({"254"}),
    "417": frozenset(),
    "8003": frozenset(),
    "8004": frozenset(),
}


# --- percent-encoding -----------------------------------------------------------------------


def percent_encode(text: str, *, query: bool = False) -> str:
    """Percent-encode ``text`` for a Digital Link path segment, or a query value if ``query``.

    Only the unreserved characters ``A-Z a-z 0-9 - . _ ~`` stay literal. In a query value a
    space becomes ``+``. Escapes use upper-case hex, and non-ASCII text is encoded as UTF-8.
    """
    out: list[str] = []
    for ch in text:
        if ch in _UNRESERVED:
            out.append(ch)
        elif ch == " " and query:
            out.append("+")
        else:
            out.extend(f"%{byte:02X}" for byte in ch.encode("utf-8"))
    return "".join(out)


def percent_decode(text: str, *, query: bool = False) -> str:
    """Undo percent-encoding in a path segment, or in a query value if ``query``.

    ``%XX`` becomes the character with code point XX, the same byte-for-character mapping the
    GS1 Syntax Engine uses. GS1 AI values are ASCII, so wider characters are rejected later
    anyway. A malformed escape such as ``%4g`` stays literal, and in a query value ``+`` is a
    space. A decoded NUL raises :class:`InvalidInput`.
    """
    if query:
        text = text.replace("+", " ")

    def one(match: re.Match[str]) -> str:
        ch = chr(int(match.group(1), 16))
        if ch == "\0":
            raise InvalidInput(f"percent-encoded NUL in {text!r}")
        return ch

    return _ESCAPE.sub(one, text)


# --- parsing --------------------------------------------------------------------------------


def _split(uri: str, what: str = "GS1 Digital Link URI") -> tuple[str, str]:
    """The path and the query of ``uri``, after checking its characters, scheme and host."""
    if not uri:
        raise InvalidInput(f"empty {what}")
    bad = next((ch for ch in uri if ch not in _URI_CHARACTERS), None)
    if bad is not None:
        raise InvalidInput(f"{what} {uri!r}: the character {bad!r} is not allowed in a URI")
    scheme = next((s for s in _SCHEMES if uri.startswith(s)), None)
    if scheme is None:
        raise InvalidInput(
            f"{what} {uri!r}: the scheme must be http:// or https:// (all lower or upper case)"
        )
    rest = uri[len(scheme) :]
    slash = rest.find("/")
    if slash <= 0:
        raise InvalidInput(f"{what} {uri!r}: expected a host name followed by a path")
    host = rest[:slash]
    bad = next((ch for ch in host if ch in _BAD_HOST_CHARACTERS), None)
    if bad is not None:
        raise InvalidInput(f"{what} {uri!r}: the character {bad!r} is not allowed in the host")
    path, _, query = rest[slash:].partition("#")[0].partition("?")
    return path, query


def _primary_key_at(uri: str, segments: list[str]) -> int:
    # Walk back from the end over /AI/value pairs until the AI is a primary key.
    index = len(segments) - 2
    while index >= 1:
        code = segments[index]
        if ai_definition(code) is None:
            break
        if code in _KEY_QUALIFIERS:
            return index
        index -= 2
    raise InvalidInput(
        f"GS1 Digital Link URI {uri!r}: no primary key found at the end of the path"
        " (expected /AI/value pairs such as /01/<GTIN>/10/<lot>)"
    )


def _in_order(qualifiers: Sequence[str], sequence: tuple[str, ...]) -> bool:
    remaining = iter(sequence)
    return all(q in remaining for q in qualifiers)


def _is_key_path(ais: Sequence[str]) -> bool:
    alternatives = _KEY_QUALIFIERS.get(ais[0], ())
    return any(_in_order(ais[1:], alt) for alt in alternatives)


def _belongs_in_path(path_ais: list[str], ai: str) -> bool:
    return any(
        _is_key_path([*path_ais[:j], ai, *path_ais[j:]]) for j in range(1, len(path_ais) + 1)
    )


def _describe_qualifiers(key: str) -> str:
    alternatives = [alt for alt in _KEY_QUALIFIERS[key] if alt]
    if not alternatives:
        return f"({key}) takes no qualifiers"
    options = " or ".join(", ".join(f"({q})" for q in alt) for alt in alternatives)
    return f"({key}) may be followed by {options}, in that order"


def _decoded(ai: str, raw: str, *, query: bool) -> str:
    where = "query string" if query else "path"
    if not raw:
        raise InvalidInput(f"AI ({ai}): empty value in the {where}")
    try:
        value = percent_decode(raw, query=query)
    except InvalidInput:
        raise InvalidInput(f"AI ({ai}): percent-encoded NUL in the {where}") from None
    if ai == "01" and _NUMERIC.fullmatch(value) and len(value) in (8, 12, 13):
        raise InvalidInput(
            f"AI (01) GTIN: {value!r} has {len(value)} digits; a GS1 Digital Link URI carries"
            " the GTIN as 14 digits (pad with leading zeros)"
        )
    validate_ai_value(ai, value)
    return value


def _parse(uri: str, check_requisites: bool) -> tuple[list[AIValue], int]:
    path, query = _split(uri)
    segments = path.split("/")
    values = [
        AIValue(segments[i], _decoded(segments[i], segments[i + 1], query=False))
        for i in range(_primary_key_at(uri, segments), len(segments), 2)
    ]
    path_ais = [item.ai for item in values]
    if not _is_key_path(path_ais):
        raise InvalidInput(
            f"GS1 Digital Link URI {uri!r}: /{'/'.join(path_ais)} is not a valid key and"
            f" qualifier sequence; {_describe_qualifiers(path_ais[0])}"
        )
    in_path = len(values)
    for parameter in query.split("&"):
        name, equals, raw = parameter.partition("=")
        if not equals or not _NUMERIC.fullmatch(name):
            continue  # not an AI: other query parameters are the resolver's business
        if ai_definition(name) is None:
            raise InvalidInput(f"query parameter {name!r} is numeric but not a GS1 AI")
        values.append(AIValue(name, _decoded(name, raw, query=True)))
    for index in range(in_path, len(values)):
        ai = values[index].ai
        if any(earlier.ai == ai for earlier in values[:index]):
            raise InvalidInput(f"AI ({ai}) appears more than once in {uri!r}")
        if ai in _NOT_DATA_ATTRIBUTES:
            raise InvalidInput(f"AI ({ai}) is not allowed as a Digital Link data attribute")
        if _belongs_in_path(path_ais, ai):
            raise InvalidInput(
                f"AI ({ai}) qualifies ({path_ais[0]}) and belongs in the path, not the query"
            )
    validate_associations(values, check_requisites=check_requisites)
    return values, in_path


def parse_digital_link(uri: str, *, check_requisites: bool = True) -> list[AIValue]:
    """The AI values of a GS1 Digital Link URI on any host, with any path prefix.

    The result lists the primary key, then the path qualifiers, then the query string's AIs,
    each in the order written. Non-AI query parameters and the fragment are dropped. Raises
    :class:`InvalidInput` naming the fault (see the module docstring for the rules), and skips
    the mandatory-association check when ``check_requisites`` is false.
    """
    return _parse(uri, check_requisites)[0]


# --- building -------------------------------------------------------------------------------


def _stem(base: str) -> str:
    stem = base[:-1] if base.endswith("/") else base
    if "?" in stem or "#" in stem:
        raise InvalidInput(f"Digital Link base {base!r} must not contain a query or fragment")
    _split(stem + "/", "Digital Link base")
    return stem


def build_digital_link(
    values: Sequence[AIValue], *, base: str = CANONICAL_BASE, check_requisites: bool = True
) -> str:
    """The GS1 Digital Link URI for ``values``, on ``base`` (host plus optional path prefix).

    The first AI that is a Digital Link primary key goes in the path. Its qualifiers follow in
    the order the standard defines. Where a key has alternative qualifier sequences (GTIN: CPV,
    lot, serial; or TPX), the one matching most of the given AIs is used, and the first on a
    tie. All other AIs become query parameters: predefined-length AIs first, then the rest,
    each in the order given. Repeats are written once, and values are percent-encoded. Raises
    :class:`InvalidInput` if there is no primary key, if a value is invalid, or if an AI may not
    appear as a data attribute.
    """
    stem = _stem(base)
    if not values:
        raise InvalidInput("no AI values to build a Digital Link URI from")
    for item in values:
        validate_ai_value(item.ai, item.value)
    validate_associations(values, check_requisites=check_requisites)
    key = next((item for item in values if item.ai in _KEY_QUALIFIERS), None)
    if key is None:
        given = ", ".join(f"({item.ai})" for item in values)
        raise InvalidInput(
            "a GS1 Digital Link URI needs a primary key AI such as (01), (00) or (414);"
            f" got {given}"
        )
    first: dict[str, AIValue] = {}
    for item in values:
        first.setdefault(item.ai, item)
    best = max(_KEY_QUALIFIERS[key.ai], key=lambda alt: sum(q in first for q in alt))
    path_ais = [key.ai, *(q for q in best if q in first)]
    rest = [item for ai, item in first.items() if ai not in path_ais]
    attributes = [item for item in rest if not needs_separator(item.ai)]
    attributes += [item for item in rest if needs_separator(item.ai)]
    for item in attributes:
        if item.ai in _NOT_DATA_ATTRIBUTES:
            why = ""
            if any(item.ai in alt for alt in _KEY_QUALIFIERS[key.ai]):
                why = f"; {_describe_qualifiers(key.ai)}"
            raise InvalidInput(
                f"AI ({item.ai}) cannot be written in this Digital Link: it is not allowed as a"
                f" data attribute{why}"
            )
    path = "".join(f"/{ai}/{percent_encode(first[ai].value)}" for ai in path_ais)
    query = "&".join(f"{i.ai}={percent_encode(i.value, query=True)}" for i in attributes)
    return f"{stem}{path}?{query}" if query else f"{stem}{path}"


# --- EPC URNs -------------------------------------------------------------------------------


def to_epc_urn_from_dl(uri: str, gcp_length: int) -> str:
    """The EPC URN for the key in Digital Link ``uri``, given the GS1 company prefix length.

    Supported keys: SGTIN, LGTIN, or a GTIN class pattern from (01) with optional (10) and
    (21); SSCC (00); SGLN (414) with optional (254); PGLN (417); GRAI (8003) and GDTI (253),
    both with a serial component; and GIAI (8004). Query-string attributes are ignored. Raises
    :class:`InvalidInput` for a key or qualifier that has no EPC form, or for a prefix length
    outside 6-12.
    """
    values, in_path = _parse(uri, check_requisites=True)
    key, qualifiers = values[0], values[1:in_path]
    allowed = _EPC_QUALIFIERS.get(key.ai)
    if allowed is None:
        raise InvalidInput(f"AI ({key.ai}): Threadline has no EPC URN form for this GS1 key")
    for item in qualifiers:
        if item.ai not in allowed:
            raise InvalidInput(f"AI ({item.ai}) has no place in an EPC URN for AI ({key.ai})")
    if not 6 <= gcp_length <= 12:
        raise InvalidInput(f"a GS1 company prefix has 6 to 12 digits, not {gcp_length}")
    serial_after = {"253": 13, "8003": 14}.get(key.ai)
    if serial_after is not None and len(key.value) <= serial_after:
        raise InvalidInput(f"AI ({key.ai}): an EPC URN needs the serial component, absent here")
    if key.ai == "8004" and not (
        len(key.value) > gcp_length and _NUMERIC.fullmatch(key.value[:gcp_length])
    ):
        raise InvalidInput(
            f"AI (8004) GIAI {key.value!r} does not start with a {gcp_length}-digit company"
            " prefix followed by an asset reference"
        )
    ident = replace(canonical(build_digital_link(values[:in_path])), gcp_length=gcp_length)
    urn = to_epc_urn(ident)
    if urn is None:  # pragma: no cover - every key admitted above has an EPC rendering
        raise InvalidInput(f"AI ({key.ai}): no EPC URN form")
    return urn


def to_dl_from_epc_urn(urn: str, *, base: str = CANONICAL_BASE) -> str:
    """The GS1 Digital Link URI, on ``base``, for an EPC pure-identity or class URN.

    Accepts the EPC URN forms that :func:`threadline.gs1.keys.canonical` reads: sgtin, lgtin
    class, sgtin pattern, sscc, sgln, pgln, grai, giai and gdti. Raises :class:`InvalidInput`
    for anything else or a malformed URN.
    """
    ident = canonical(urn)
    if ident.kind is Kind.URI or not urn.strip().lower().startswith("urn:epc:"):
        raise InvalidInput(f"{urn!r} is not an EPC URN for a GS1 key")
    values = parse_digital_link(ident.key, check_requisites=False)
    return build_digital_link(values, base=base, check_requisites=False)
