"""GS1 element strings: AI data written bracketed, unbracketed, or as barcode scan data.

An *element string* is a GS1 Application Identifier (AI) followed by its value; one barcode
carries one or more. Threadline reads them in three forms:

* bracketed, as printed under a barcode: ``(01)09520123456788(10)ABC123``. A ``(`` inside a
  value is written ``\\(``;
* unbracketed, as encoded in the symbol: ``^010952012345678810ABC123``, where ``^`` stands for
  FNC1 (the GS1 Syntax Engine's notation; the ASCII group separator ``\\x1d`` that scanners send
  for FNC1 is accepted too). The leading FNC1 marks the data as GS1 AI data, and an FNC1 follows
  every value of variable length that is not the last;
* scan data as a scanner reports it: a symbology identifier, then the data. ``]C1`` (GS1-128),
  ``]e0`` (GS1 DataBar, composites), ``]d2`` (GS1 DataMatrix), ``]Q3`` (GS1 QR Code) and ``]J1``
  (GS1 DotCode) carry AI data with GS separators. ``]E0`` (EAN-13, UPC-A) and ``]E4`` (EAN-8)
  carry a GTIN, returned as AI (01), optionally followed by a ``|]e0…`` composite component.
  ``]Q1``, ``]d1`` and ``]J0`` carry plain text, which is accepted only if it is a GS1 Digital
  Link URI (handed to :func:`threadline.gs1.digital_link.parse_digital_link`).

Validation builds on biip's AI table. That table decides which AIs exist, their formats and
which ones need an FNC1 separator. biip also checks check digits and dates, and every
``*_error`` it reports is treated as an error here. Rules that biip lacks are implemented below,
each with a comment naming the rule: check digits of the keys biip does not check, repeated
AIs, invalid pairs, mandatory associations, and DigSig's serialised-key rule. The
pair/association tables cover the rules exercised by the GS1 Syntax Engine's conformance
vectors and the rules that tie GS1 key qualifiers to their keys. They are not the complete
GS1 table.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from biip import ParseConfig, ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_element_strings import GS1ElementString

from threadline.errors import InvalidInput

__all__ = [
    "GS",
    "AIValue",
    "ai_definition",
    "build_element_string",
    "needs_separator",
    "parse_element_string",
    "validate_ai_value",
    "validate_associations",
]

GS = "\x1d"
"""ASCII group separator: how scanners transmit FNC1."""

_FNC1 = "^"
_SEPARATORS = _FNC1 + GS
_AI_CODE = re.compile(r"[0-9]{2,4}")
_DIGITS = re.compile(r"[0-9]+")
_CSET82 = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
_STRICT = ParseConfig()
_NO_DATE_CHECK = ParseConfig(gs1_element_strings_verify_date=False)


@dataclass(frozen=True)
class AIValue:
    """One element string: an AI and its value, exactly as the barcode carries it."""

    ai: str
    value: str


# --- the AI table (biip's) ------------------------------------------------------------------


@lru_cache(maxsize=2048)
def ai_definition(code: str) -> GS1ApplicationIdentifier | None:
    """biip's definition of AI ``code`` (``"01"``, ``"3103"``…), or ``None`` if there is none."""
    if not _AI_CODE.fullmatch(code):
        return None
    try:
        entry = GS1ApplicationIdentifier.extract(code)
    except ParseError:
        return None
    return entry if entry.ai == code else None


def needs_separator(code: str) -> bool:
    """Whether an FNC1 must follow AI ``code``'s value when another element string follows.

    These are the AIs that do not have a predefined length. Raises :class:`InvalidInput` for an
    unknown AI.
    """
    return _known(code).separator_required


def _known(code: str) -> GS1ApplicationIdentifier:
    entry = ai_definition(code)
    if entry is None:
        raise InvalidInput(f"AI ({code}): not a GS1 Application Identifier")
    return entry


def _at(data: str, pos: int) -> GS1ApplicationIdentifier | None:
    # AI codes form a prefix-free set, so at most one length matches.
    for size in (2, 3, 4):
        entry = ai_definition(data[pos : pos + size])
        if entry is not None:
            return entry
    return None


def _fixed_length(entry: GS1ApplicationIdentifier) -> int | None:
    # Predefined-length AIs (no FNC1 needed) all have the simple format "N<k>+N<length>".
    if entry.separator_required:
        return None
    match = re.fullmatch(r"N\d\+N(\d+)", entry.format)
    return int(match.group(1)) if match else None


# --- validating one value -------------------------------------------------------------------

# CPID, AI (8010): the GS1 General Specifications define the format N4+Y..30, so 1 to 30
# characters. biip 5 requires at least 5.
_OWN_FORMATS = {"8010": re.compile(r"[0-9A-Z#/-]{1,30}")}

# Check digits of GS1 keys that biip leaves unchecked (biip checks GTIN, GLN and SSCC). The
# digits at [start:end) of the value end in a standard GS1 mod-10 check digit: GDTI, GCN,
# GSIN, GRAI (after its leading 0), ITIP (its GTIN), and GSRN.
_CHECKED_SPANS = {
    "253": (0, 13),
    "255": (0, 13),
    "402": (0, 17),
    "8003": (1, 14),
    "8006": (0, 14),
    "8017": (0, 18),
    "8018": (0, 18),
    "8026": (0, 14),
}


def validate_ai_value(ai: str, value: str) -> None:
    """Check one AI's value against the AI's format, check digit and dates.

    Raises :class:`InvalidInput` with a message naming the AI and the fault.
    """
    entry = _known(ai)
    if not value:
        raise InvalidInput(f"AI ({ai}) {entry.data_title}: the value is empty")
    own = _OWN_FORMATS.get(ai)
    if own is not None:
        if not own.fullmatch(value):
            raise _format_fault(entry, value)
        return
    # HARVEST DATE, AI (7007): one date or a from-to range of two YYMMDD dates. biip reads the
    # second date as a time of day, so a valid range such as 211225240115 fails. Those dates
    # are checked here instead.
    config = _NO_DATE_CHECK if ai == "7007" else _STRICT
    try:
        element = GS1ElementString.parse(ai + value, config=config)
    except ParseError as exc:
        if re.fullmatch(entry.pattern, ai + value):  # the format holds, so biip's date check failed
            raise InvalidInput(
                f"AI ({ai}) {entry.data_title}: {value!r} is not a valid date or time ({exc})"
            ) from None
        raise _format_fault(entry, value) from None
    for error in (element.gtin_error, element.gln_error, element.sscc_error):
        if error:
            raise InvalidInput(f"AI ({ai}) {entry.data_title}: {error}")
    if ai in _CHECKED_SPANS:
        start, end = _CHECKED_SPANS[ai]
        digits = value[start:end]
        expected = str(gs1_standard_check_digit(digits[:-1]))
        if digits[-1] != expected:
            raise InvalidInput(
                f"AI ({ai}) {entry.data_title}: wrong check digit in {digits!r}"
                f" (expected {expected}, got {digits[-1]})"
            )
    if ai == "7007":
        for start in range(0, len(value), 6):
            _check_yymmdd(entry, value[start : start + 6])


def _check_yymmdd(entry: GS1ApplicationIdentifier, text: str) -> None:
    try:
        dt.date(2000 + int(text[:2]), int(text[2:4]), int(text[4:6]))
    except ValueError:
        raise InvalidInput(
            f"AI ({entry.ai}) {entry.data_title}: {text!r} is not a valid YYMMDD date"
        ) from None


def _format_fault(entry: GS1ApplicationIdentifier, value: str) -> InvalidInput:
    title = f"AI ({entry.ai}) {entry.data_title}"
    outside = [ch for ch in value if ch not in _CSET82]
    if outside:
        return InvalidInput(
            f"{title}: the value {value!r} contains {outside[0]!r},"
            " which is outside GS1 character set 82"
        )
    spec = entry.format.split("+", 1)[1]
    size = f"{len(value)} character{'' if len(value) == 1 else 's'}"
    return InvalidInput(f"{title}: the value {value!r} ({size}) does not match the format {spec}")


# --- rules over a whole message -------------------------------------------------------------

# Invalid pairs of element strings (GS1 General Specifications, "Invalid pairs of element
# strings"). Pairs are symmetric, "n" matches any digit, and an AI never conflicts with itself.
_INVALID_PAIRS = (
    ("01", "02"),  # an item is identified once: GTIN, CONTENT or MTO GTIN
    ("01", "03"),
    ("02", "03"),
    ("01", "255"),
    ("01", "37"),
    ("03", "37"),
    ("03", "235"),
    ("21", "235"),  # TPX (third-party controlled serial) replaces SERIAL
    ("255", "02"),
    ("255", "415"),
    ("255", "8006"),
    ("255", "8020"),
    ("255", "8026"),
    ("8006", "01"),
    ("8006", "03"),
    ("8006", "37"),
    ("8026", "02"),
    ("8026", "03"),
    ("8026", "8006"),
    ("8017", "8018"),
    ("390n", "391n"),
    ("390n", "394n"),
    ("390n", "8111"),
    ("392n", "393n"),
    ("394n", "8111"),
    ("395n", "392n"),
    ("395n", "393n"),
    ("395n", "8005"),
)

# Mandatory associations (GS1 General Specifications, "Mandatory association of element
# strings"). An AI matching a key needs every AI of at least one of the listed groups.
_REQUISITES: dict[str, tuple[tuple[str, ...], ...]] = {
    "02": (("37",),),
    "21": (("01",), ("03",), ("8006",)),
    "22": (("01",),),
    "235": (("01",),),
    "250": (("01", "21"), ("03", "21"), ("8006", "21")),
    "254": (("414",),),
    "37": (("00", "02"), ("00", "8026")),
    "392n": (("01", "30"), ("01", "31nn"), ("01", "32nn"), ("01", "35nn"), ("01", "36nn")),
    "8011": (("8010",),),
    "8019": (("8017",), ("8018",)),
    "8020": (("415",),),
    "8030": (
        ("00",),
        ("01", "21"),
        ("03", "21"),
        ("253",),
        ("255",),
        ("8003",),
        ("8004",),
        ("8006", "21"),
        ("8010", "8011"),
        ("8017",),
        ("8018",),
    ),
}

# DigSig, AI (8030), signs a serialised key. GDTI, GCN and GRAI have an optional serial
# component, and with a DigSig that component must be present: the value must be longer than
# the length given here.
_SERIAL_AFTER = {"253": 13, "255": 13, "8003": 14}


def _matches(pattern: str, ai: str) -> bool:
    return len(pattern) == len(ai) and all(p in ("n", a) for p, a in zip(pattern, ai, strict=True))


def _invalid_pair(a: str, b: str) -> bool:
    if a == b:
        return False
    # Measures and amounts (31nn-36nn, 39nn): one decimal-point position per quantity, so two
    # AIs that share their first three digits exclude each other.
    if (
        a[:3] == b[:3]
        and len(a) == len(b) == 4
        and a[:2] in ("31", "32", "33", "34", "35", "36", "39")
    ):
        return True
    return any(
        (_matches(x, a) and _matches(y, b)) or (_matches(x, b) and _matches(y, a))
        for x, y in _INVALID_PAIRS
    )


def _describe_groups(groups: tuple[tuple[str, ...], ...]) -> str:
    return " or ".join(" with ".join(f"({ai})" for ai in group) for group in groups)


def validate_associations(values: Sequence[AIValue], *, check_requisites: bool = True) -> None:
    """Check the rules that span element strings; raise :class:`InvalidInput` on the first fault.

    The checks: a repeated AI must repeat its value; invalid pairs must not occur together;
    DigSig (8030) needs a serialised key; and, when ``check_requisites`` is true, each AI's
    mandatory associations must be present. Turn the last check off when the values come
    from one of several carriers on the same item. GS1 says associations are judged over all
    the data on an item.
    """
    seen: dict[str, str] = {}
    for item in values:
        first = seen.setdefault(item.ai, item.value)
        if first != item.value:
            raise InvalidInput(
                f"AI ({item.ai}) is repeated with different values: {first!r} and {item.value!r}"
            )
    present = list(seen)
    for index, a in enumerate(present):
        for b in present[index + 1 :]:
            if _invalid_pair(a, b):
                raise InvalidInput(f"AI ({a}) and AI ({b}) must not appear together")
    if "8030" in seen:
        for ai, length in _SERIAL_AFTER.items():
            if ai in seen and len(seen[ai]) <= length:
                raise InvalidInput(
                    f"AI (8030) DIGSIG needs a serialised key, but AI ({ai}) {seen[ai]!r}"
                    " has no serial component"
                )
    if not check_requisites:
        return
    for ai in present:
        for pattern, groups in _REQUISITES.items():
            if _matches(pattern, ai) and not any(
                all(any(_matches(want, other) for other in present) for want in group)
                for group in groups
            ):
                raise InvalidInput(f"AI ({ai}) requires {_describe_groups(groups)}")


# --- parsing --------------------------------------------------------------------------------

_GS1_SCAN = frozenset({"]C1", "]e0", "]d2", "]Q3", "]J1"})
_TEXT_SCAN = frozenset({"]Q1", "]d1", "]J0"})
_EAN_SCAN = {"]E0": 13, "]E4": 8}


def parse_element_string(text: str, *, check_requisites: bool = True) -> list[AIValue]:
    """Parse GS1 AI data written in any form this module describes, validating it.

    ``text`` may be bracketed (``(01)…(10)…``), or unbracketed starting with FNC1 (``^01…^10…``
    or ``\\x1d01…``). It may also be scan data that starts with a symbology identifier
    (``]d2…``, ``]C1…``, ``]Q3…``, ``]e0…``, ``]E0…``, or ``]Q1https://…`` for a Digital Link).
    Values are returned in the order written.
    Every value is checked (:func:`validate_ai_value`), and so is the set of values
    (:func:`validate_associations`, honouring ``check_requisites``). Raises
    :class:`InvalidInput` naming the AI and the fault.
    """
    if not text:
        raise InvalidInput("empty element string")
    head = text[0]
    if head == "(":
        values = _parse_bracketed(text)
    elif head in _SEPARATORS:
        values = _parse_unbracketed(text[1:], _SEPARATORS)
    elif head == "]":
        values = _parse_scan_data(text, check_requisites)
    else:
        hint = " (use parse_digital_link for a URI)" if text.lower().startswith("http") else ""
        raise InvalidInput(
            f"not a GS1 element string: {text[:40]!r}; expected '(AI)value…', FNC1-led"
            f" '^AIvalue…', or scan data with a symbology identifier such as ']d2'{hint}"
        )
    validate_associations(values, check_requisites=check_requisites)
    return values


def _parse_bracketed(text: str) -> list[AIValue]:
    values: list[AIValue] = []
    pos = 0
    while pos < len(text):
        if text[pos] != "(":
            raise InvalidInput(f"bracketed element string {text!r}: expected '(' at offset {pos}")
        close = text.find(")", pos + 1)
        if close < 0:
            raise InvalidInput(f"bracketed element string {text!r}: unclosed '(' at offset {pos}")
        ai = text[pos + 1 : close]
        _known(ai)
        value, pos = _bracketed_value(text, close + 1)
        validate_ai_value(ai, value)
        values.append(AIValue(ai, value))
    return values


def _bracketed_value(text: str, start: int) -> tuple[str, int]:
    chars: list[str] = []
    pos = start
    while pos < len(text):
        ch = text[pos]
        if ch == "\\" and text.startswith("(", pos + 1):  # "\(" is a literal "(" in a value
            chars.append("(")
            pos += 2
            continue
        if ch == "(":
            break
        chars.append(ch)
        pos += 1
    return "".join(chars), pos


def _parse_unbracketed(data: str, separators: str) -> list[AIValue]:
    values: list[AIValue] = []
    pos = 0
    while pos < len(data):
        entry = _at(data, pos)
        if entry is None:
            if data[pos] in separators:
                raise InvalidInput(f"empty element string between separators at offset {pos}")
            raise InvalidInput(
                f"no GS1 Application Identifier starts at {data[pos : pos + 4]!r} (offset {pos})"
            )
        start = pos + len(entry.ai)
        length = _fixed_length(entry)
        if length is None:
            ends = [i for i in (data.find(sep, start) for sep in separators) if i >= 0]
            end = min(ends, default=len(data))
        else:
            end = start + length
            if end > len(data):
                raise InvalidInput(
                    f"AI ({entry.ai}) {entry.data_title}: the value {data[start:]!r} is shorter"
                    f" than its fixed length {length}"
                )
        value = data[start:end]
        validate_ai_value(entry.ai, value)
        values.append(AIValue(entry.ai, value))
        pos = end + 1 if end < len(data) and data[end] in separators else end
    if not values:
        raise InvalidInput("no element strings after the FNC1")
    return values


def _parse_scan_data(text: str, check_requisites: bool) -> list[AIValue]:
    symbology, data = text[:3], text[3:]
    if symbology in _GS1_SCAN:
        if not data:
            raise InvalidInput(f"scan data {symbology}: no GS1 data after the symbology identifier")
        return _parse_unbracketed(data, GS)
    if symbology in _EAN_SCAN:
        primary, bar, composite = data.partition("|")
        digits = _EAN_SCAN[symbology]
        if len(primary) != digits or not _DIGITS.fullmatch(primary):
            raise InvalidInput(
                f"scan data {symbology}: expected the {digits} digits of an EAN/UPC symbol,"
                f" got {primary!r}"
            )
        gtin = primary.zfill(14)
        validate_ai_value("01", gtin)
        values = [AIValue("01", gtin)]
        if bar:
            if not composite.startswith("]e0") or len(composite) == 3:
                raise InvalidInput(
                    f"scan data {symbology}: the composite component after '|' must be ]e0 GS1 data"
                )
            values += _parse_unbracketed(composite[3:], GS)
        return values
    if symbology in _TEXT_SCAN:
        if data.lower().startswith(("http://", "https://")):
            from threadline.gs1.digital_link import parse_digital_link

            return parse_digital_link(data, check_requisites=check_requisites)
        raise InvalidInput(f"scan data {symbology}: the symbol carries plain text, not GS1 data")
    raise InvalidInput(f"scan data: unknown or unsupported symbology identifier {symbology!r}")


# --- building -------------------------------------------------------------------------------


def build_element_string(
    values: Sequence[AIValue], *, bracketed: bool = True, check_requisites: bool = True
) -> str:
    """Write AI values as one element string, in the order given, after validating them.

    Bracketed: ``(01)09520123456788(10)ABC123``, with any ``(`` in a value written ``\\(``.
    Unbracketed: ``^010952012345678810ABC123^99X``. Here ``^`` is FNC1: the leading FNC1 marks
    GS1 data, and a separator follows each variable-length value that is not last. For the
    bytes a scanner would send, drop the leading ``^`` and replace the rest with :data:`GS`.
    :func:`parse_element_string` reads both forms back unchanged.
    """
    if not values:
        raise InvalidInput("no AI values to build an element string from")
    for item in values:
        validate_ai_value(item.ai, item.value)
    validate_associations(values, check_requisites=check_requisites)
    if bracketed:
        return "".join(f"({item.ai}){_escape_brackets(item.value)}" for item in values)
    parts = [_FNC1]
    for index, item in enumerate(values):
        parts.append(item.ai + item.value)
        if index < len(values) - 1 and needs_separator(item.ai):
            parts.append(_FNC1)
    return "".join(parts)


def _escape_brackets(value: str) -> str:
    return value.replace("(", "\\(")
