"""GS1 Digital Link and element strings: GS1 Syntax Engine vectors plus property tests.

Vectors: ``digital-link/gs1-syntax-engine/test-vectors.jsonl`` under ``$THREADLINE_CONFORMANCE``.
These are 495 records extracted from the gs1-syntax-engine C unit tests; see the conformance
``MANIFEST.md``. There is one test per record, with id ``<file>:<line>``. How each kind
(``macro``) is checked:

* ``test_parseDLuri``: :func:`parse_digital_link`. On success, the values must equal the
  expected AI string as read by biip (an independent oracle), and
  ``build_element_string(..., bracketed=False)`` must reproduce that string exactly.
* ``test_testGenerateDLuri``: ``build_digital_link(parse_element_string(data), base=stem)``.
* ``test_parseAIdata``: :func:`parse_element_string` on bracketed data. The expected
  unbracketed string is reproduced, and a bracketed rebuild parses back the same.
* ``test_processAIdata``: :func:`parse_element_string` on ``^``-led (FNC1) data.
* ``test_validateAIs``: :func:`parse_element_string` with the association checks.
* ``test_testProcessScanData``: :func:`parse_element_string` on scan data.
* ``test_testGenerateScanData``: the reverse direction. The scan data the engine generated
  must parse to the AI values of the data it was generated from.
* ``test_URIescape`` / ``test_URIunescape``: :func:`percent_encode` / :func:`percent_decode`,
  for both a path segment and a query value.

The engine runs parseAIdata, processAIdata and processScanData before its association checks
and without them. Those records therefore run with ``check_requisites=False``; Threadline's
other association checks stay on, and no record violates them.

Skipped records depend on an encoder option that Threadline does not offer. The skip reason
names the option:

* ``PermitUnknownAIs(true)``, sometimes with ``UNKNOWN_AI_NOT_DL_ATTR`` off, on a record that
  holds an AI missing from the GS1 table. Threadline rejects unknown AIs;
* ``PermitZeroSuppressedGTINinDLuris(true)`` on a URI with a GTIN-8/12/13. Threadline requires
  the GTIN-14 the Digital Link standard prescribes;
* the engine's ``permitConvenienceAlphas`` flag, on success records that use ``/gtin/``,
  ``/ser/``, ``/sscc/``. dl.c sets the flag directly on the context, so the extractor did not
  record it;
* ``AddCheckDigit(true)``: the engine appends a missing EAN/UPC check digit.

A record where an option is set to its default value runs normally.

Excluded records are not collected:

* kind ``test_existsInAIdata`` (all records) tests an engine-internal lookup helper: AI
  patterns with wildcards (``0n``, ``8nnn``) matched against pre-parsed buffers named by C
  variables (``dataStr1``…). That is not parsing, building or validation behaviour;
* parseAIdata ``inbuf`` and processAIdata ``buf`` records pass a C buffer filled at run time.
  The extractor recorded the variable's name, not its content;
* processScanData records whose expected result is plain text (``]Q1TESTING``, an empty
  ``]d1``, ``]Q1HtTps://…``, which is not a Digital Link because its scheme is mixed case).
  By design, Threadline's parser returns AI data only and rejects non-GS1 payloads;
* generateScanData records with no expected scan data (the engine refuses to encode that
  input for that symbology) or with plain-text input. Nothing GS1 can be parsed back.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from biip.gs1_messages import GS1Message
from hypothesis import given, settings
from hypothesis import strategies as st

from threadline.errors import InvalidInput
from threadline.gs1.digital_link import (
    build_digital_link,
    parse_digital_link,
    percent_decode,
    percent_encode,
    to_dl_from_epc_urn,
    to_epc_urn_from_dl,
)
from threadline.gs1.element_strings import (
    GS,
    AIValue,
    ai_definition,
    build_element_string,
    parse_element_string,
)
from threadline.gs1.keys import canonical, check_digit
from threadline.model.identifiers import Kind

CONFORMANCE = Path(
    os.environ.get(
        "THREADLINE_CONFORMANCE",
        Path(__file__).resolve().parents[2].parent / "shared" / "conformance",
    )
)
VECTORS = CONFORMANCE / "digital-link" / "gs1-syntax-engine" / "test-vectors.jsonl"
MISSING = f"GS1 Syntax Engine vectors not found at {VECTORS} (set THREADLINE_CONFORMANCE)"

Record = dict[str, Any]
RUN, SKIP, EXCLUDE = "run", "skip", "exclude"
DL_SCHEMES = ("https://", "HTTPS://", "http://", "HTTP://")
# Deprecated Digital Link 1.0 convenience alphas (the engine's permitConvenienceAlphas).
ALPHAS = re.compile(
    r"/(cpid|cpsn|cpv|gcn|gdti|giai|ginc|gln|glnx|gmn|grai|gsin|gsrn|gsrnp|gtin|itip|lot|party"
    r"|refno|ser|srin|sscc)/"
)
EAN_UPC = frozenset({"EAN13", "EAN8", "UPCA", "UPCE", "DataBarOmni", "DataBarLimited"})


def _load() -> list[Record]:
    if not VECTORS.is_file():
        return []
    with VECTORS.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


RECORDS = _load()


def _id(record: Record) -> str:
    path, line = str(record["source"]).rsplit("#L", 1)
    return f"{path.rsplit('/', 1)[-1]}:{line}"


def _options(record: Record) -> dict[str, str]:
    """The encoder settings in effect, e.g. ``{"PermitUnknownAIs": "true"}``."""
    found: dict[str, str] = {}
    for call in record["ctx_settings_in_effect"]:
        match = re.fullmatch(r"gs1_encoder_set(\w+)\(ctx, (?:gs1_encoder_v(\w+), )?(\w+)\);", call)
        assert match, f"unrecognised encoder setting {call!r}"
        name, validation, value = match.groups()
        found[f"{name}:{validation}" if validation else name] = value
    return found


def _unknown_ais(record: Record) -> list[str]:
    found: list[str] = []
    for text in (v for v in record["args"].values() if isinstance(v, str)):
        found += re.findall(r"\((\d+)\)", text)  # bracketed AIs
        found += re.findall(r"[?&](\d{2,4})=", text)  # Digital Link query AIs
        if text.startswith("^") and all(ai_definition(text[1 : 1 + n]) is None for n in (2, 3, 4)):
            found.append(text[1:3])
    return [ai for ai in found if ai_definition(ai) is None]


def _short_gtin(record: Record) -> bool:
    uri = str(record["args"].get("dl_uri", ""))
    return any(len(g) in (8, 12, 13) for g in re.findall(r"(?:/01/|[?&]01=)(\d+)", uri))


def _oracle(ai_string: str) -> list[AIValue]:
    """An expected ``^``-notation AI string read by biip, independently of Threadline."""
    assert ai_string.startswith("^"), ai_string
    message = GS1Message.parse(ai_string[1:].replace("^", GS))
    return [AIValue(es.ai.ai, es.value) for es in message.element_strings]


def _scan_expectation(args: Record) -> list[AIValue] | None:
    """The AI values a processScanData record expects, or None for a plain-text payload."""
    data = str(args["expected_data"])
    if data.startswith("^"):
        return _oracle(data)
    if data.startswith(DL_SCHEMES):
        return parse_digital_link(data, check_requisites=False)
    if args["symbology"] in ("EAN13", "EAN8"):
        primary, _, composite = data.partition("|")
        return [AIValue("01", primary.zfill(14)), *(_oracle(composite) if composite else [])]
    return None


def _generated_from(args: Record) -> list[AIValue] | None:
    """The AI values of a generateScanData record's source data, or None if it is plain text."""
    data = str(args["data"])
    parts = data.split("|")
    if data.startswith("^"):
        return [value for part in parts for value in _oracle(part)]
    if args["symbology"] in EAN_UPC and re.fullmatch(r"[0-9]+", parts[0]):
        rest = [value for part in parts[1:] for value in _oracle(part)]
        return [AIValue("01", parts[0].zfill(14)), *rest]
    return None


def plan(record: Record) -> tuple[str, str]:
    """Whether a record runs, is skipped (option-dependent) or is excluded, and why."""
    kind, args, options = record["macro"], record["args"], _options(record)
    if kind == "test_existsInAIdata":
        return EXCLUDE, "engine-internal AI lookup helper over C variables"
    if args.get("bracketed_ai_data") == "inbuf" or args.get("ai_string") == "buf":
        return EXCLUDE, "argument is a C buffer filled at run time"
    scan_ok = kind == "test_testProcessScanData" and args["should_succeed"]
    if scan_ok and _scan_expectation(args) is None:
        return EXCLUDE, "plain-text (non-GS1) payload"
    if kind == "test_testGenerateScanData":
        if args["expected_scan_data"] is None:
            return EXCLUDE, "no expected scan data: the engine refuses to encode"
        if _generated_from(args) is None:
            return EXCLUDE, "plain-text (non-GS1) input"
    unknown = _unknown_ais(record)
    if options.get("PermitUnknownAIs") == "true" and unknown:
        return SKIP, (
            f"depends on PermitUnknownAIs(true): AI {unknown[0]} is not in the GS1 AI table;"
            " Threadline rejects unknown AIs and has no such option"
        )
    if options.get("PermitZeroSuppressedGTINinDLuris") == "true" and _short_gtin(record):
        return SKIP, (
            "depends on PermitZeroSuppressedGTINinDLuris(true): a GTIN-8/12/13 in the URI;"
            " Threadline requires GTIN-14 in Digital Link URIs and has no such option"
        )
    if kind == "test_parseDLuri" and args["should_succeed"] and ALPHAS.search(args["dl_uri"]):
        return SKIP, (
            "depends on the engine's permitConvenienceAlphas flag (set on the context in dl.c,"
            " unrecorded): Threadline does not accept deprecated alpha path names"
        )
    if options.get("AddCheckDigit") == "true":
        return SKIP, (
            "depends on AddCheckDigit(true): the engine completes EAN/UPC input without"
            " its check digit; Threadline has no such option"
        )
    return RUN, ""


def _params(kind: str) -> list[Any]:
    if not RECORDS:
        return [pytest.param(None, marks=pytest.mark.skip(reason=MISSING), id="missing")]
    params = []
    for record in RECORDS:
        if record["macro"] != kind:
            continue
        action, why = plan(record)
        if action == EXCLUDE:
            continue
        marks = [pytest.mark.skip(reason=why)] if action == SKIP else []
        params.append(pytest.param(record, marks=marks, id=_id(record)))
    return params


def _expect(record: Record, run: Callable[[], object]) -> object:
    if record["args"]["should_succeed"]:
        return run()
    with pytest.raises(InvalidInput):
        run()
    return None


# --- vector tests ---------------------------------------------------------------------------


@pytest.mark.parametrize("record", _params("test_parseDLuri"))
def test_parse_dl_uri(record: Record) -> None:
    args = record["args"]
    values = _expect(record, lambda: parse_digital_link(args["dl_uri"]))
    if isinstance(values, list):
        assert values == _oracle(args["expected_ai_string"])
        assert build_element_string(values, bracketed=False) == args["expected_ai_string"]


@pytest.mark.parametrize("record", _params("test_testGenerateDLuri"))
def test_generate_dl_uri(record: Record) -> None:
    args = record["args"]

    def run() -> str:
        values = parse_element_string(args["bracketed_ai_data"])
        if args["stem"] is None:
            return build_digital_link(values)
        return build_digital_link(values, base=args["stem"])

    uri = _expect(record, run)
    if args["should_succeed"]:
        assert uri == args["expected_dl_uri"]


@pytest.mark.parametrize("record", _params("test_parseAIdata"))
def test_parse_ai_data(record: Record) -> None:
    args = record["args"]
    data = args["bracketed_ai_data"]
    values = _expect(record, lambda: parse_element_string(data, check_requisites=False))
    if isinstance(values, list):
        unbracketed = build_element_string(values, bracketed=False, check_requisites=False)
        assert unbracketed == args["expected_ai_string"]
        assert values == _oracle(args["expected_ai_string"])
        rebuilt = build_element_string(values, check_requisites=False)
        assert parse_element_string(rebuilt, check_requisites=False) == values


@pytest.mark.parametrize("record", _params("test_processAIdata"))
def test_process_ai_data(record: Record) -> None:
    data = record["args"]["ai_string"]
    values = _expect(record, lambda: parse_element_string(data, check_requisites=False))
    if isinstance(values, list):
        rebuilt = build_element_string(values, bracketed=False, check_requisites=False)
        assert parse_element_string(rebuilt, check_requisites=False) == values


@pytest.mark.parametrize("record", _params("test_validateAIs"))
def test_validate_ais(record: Record) -> None:
    _expect(record, lambda: parse_element_string(record["args"]["ai_string"]))


@pytest.mark.parametrize("record", _params("test_testProcessScanData"))
def test_process_scan_data(record: Record) -> None:
    args = record["args"]
    values = _expect(
        record, lambda: parse_element_string(args["scan_data"], check_requisites=False)
    )
    if values is not None:
        assert values == _scan_expectation(args)


@pytest.mark.parametrize("record", _params("test_testGenerateScanData"))
def test_generated_scan_data_parses_back(record: Record) -> None:
    args = record["args"]
    scanned = parse_element_string(args["expected_scan_data"], check_requisites=False)
    assert scanned == _generated_from(args)


@pytest.mark.parametrize("record", _params("test_URIescape"))
def test_uri_escape(record: Record) -> None:
    args = record["args"]
    assert percent_encode(args["input"]) == args["expect"]
    assert percent_encode(args["input"], query=True) == args["is_query_component_or_flag"]


@pytest.mark.parametrize("record", _params("test_URIunescape"))
def test_uri_unescape(record: Record) -> None:
    args = record["args"]
    assert percent_decode(args["input"]) == args["expect"]
    assert percent_decode(args["input"], query=True) == args["is_query_component_or_flag"]


def test_every_record_is_planned() -> None:
    """Each record runs, skips with an option named, or is excluded for a documented reason."""
    if not RECORDS:
        pytest.skip(MISSING)
    plans = [plan(record) for record in RECORDS]
    assert all(why.startswith("depends on ") for action, why in plans if action == SKIP)
    excluded = {why for action, why in plans if action == EXCLUDE}
    assert excluded <= {
        "engine-internal AI lookup helper over C variables",
        "argument is a C buffer filled at run time",
        "plain-text (non-GS1) payload",
        "no expected scan data: the engine refuses to encode",
        "plain-text (non-GS1) input",
    }
    running = {
        record["macro"] for record, (action, _) in zip(RECORDS, plans, strict=True) if action == RUN
    }
    assert {record["macro"] for record in RECORDS} - running == {"test_existsInAIdata"}


# --- faults are named -----------------------------------------------------------------------


FAULTS = {
    "gtin-check-digit": (
        lambda: parse_element_string("(01)12345678901234"),
        r"\(01\).*check digit",
    ),
    "requisite": (lambda: parse_element_string("(22)ABC"), r"AI \(22\) requires \(01\)"),
    "cset82": (lambda: parse_element_string("^10AB~C"), r"AI \(10\).*'~'.*character set 82"),
    "gdti-check-digit": (
        lambda: parse_element_string("(253)1234567890127"),
        r"AI \(253\).*check digit",
    ),
    "harvest-date": (
        lambda: parse_element_string("^7007211325", check_requisites=False),
        r"AI \(7007\).*date",
    ),
    "dl-short-gtin": (
        lambda: parse_digital_link("https://id.gs1.org/01/9520123456788"),
        r"AI \(01\).*14 digits",
    ),
    "dl-serial-in-query": (
        lambda: parse_digital_link("https://id.gs1.org/01/09520123456788?21=7"),
        r"AI \(21\)",
    ),
    "dl-no-primary-key": (lambda: build_digital_link([AIValue("99", "X")]), r"primary key"),
    "epc-cpv": (
        lambda: to_epc_urn_from_dl("https://id.gs1.org/01/09520123456788/22/V", 7),
        r"AI \(22\).*EPC",
    ),
}


@pytest.mark.parametrize(("call", "fault"), list(FAULTS.values()), ids=list(FAULTS))
def test_faults_name_the_ai(call: Callable[[], object], fault: str) -> None:
    with pytest.raises(InvalidInput, match=fault):
        call()


def test_rules_where_biip_differs() -> None:
    # HARVEST DATE may be a from-to range of two dates; CPID may be shorter than 5 characters.
    assert parse_element_string("^7007211225240115", check_requisites=False) == [
        AIValue("7007", "211225240115")
    ]
    assert parse_element_string("(8010)0200") == [AIValue("8010", "0200")]


def test_qr_scan_delegates_to_the_digital_link_parser() -> None:
    uri = "https://example.com/01/09520123456788/10/LOT%2F7?17=250101"
    assert parse_element_string(f"]Q1{uri}") == parse_digital_link(uri)
    assert parse_digital_link(uri)[1] == AIValue("10", "LOT/7")


# --- properties -----------------------------------------------------------------------------

CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
texts = st.text(alphabet=CSET82, min_size=1, max_size=20)
bases = st.sampled_from(
    ["https://id.gs1.org", "https://example.com/some/prefix/", "HTTP://EXAMPLE.COM"]
)


def _keyed(digits: int) -> st.SearchStrategy[str]:
    body = st.text(alphabet="0123456789", min_size=digits - 1, max_size=digits - 1)
    return body.map(lambda payload: payload + check_digit(payload))


@st.composite
def keyed_values(draw: st.DrawFn) -> list[AIValue]:
    """GTIN (+ lot, serial), SSCC (+ CONTENT and COUNT), or GLN (+ extension)."""
    kind = draw(st.sampled_from(["gtin", "sscc", "gln"]))
    if kind == "gtin":  # the order a Digital Link path holds them
        values = [AIValue("01", draw(_keyed(14)))]
        if draw(st.booleans()):
            values.append(AIValue("10", draw(texts)))
        if draw(st.booleans()):
            values.append(AIValue("21", draw(texts)))
        return values
    if kind == "sscc":
        values = [AIValue("00", draw(_keyed(18)))]
        if draw(st.booleans()):
            count = str(draw(st.integers(min_value=1, max_value=99_999_999)))
            values += [AIValue("02", draw(_keyed(14))), AIValue("37", count)]
        return values
    values = [AIValue("414", draw(_keyed(13)))]
    if draw(st.booleans()):
        values.append(AIValue("254", draw(texts)))
    return values


@settings(max_examples=300, deadline=None)
@given(values=keyed_values(), base=bases, data=st.data())
def test_digital_link_round_trip(values: list[AIValue], base: str, data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(values))
    uri = build_digital_link(shuffled, base=base)
    assert uri.startswith(base.rstrip("/") + "/")
    assert parse_digital_link(uri) == values
    assert parse_element_string(f"]Q1{uri}") == values


@settings(max_examples=300, deadline=None)
@given(values=keyed_values(), bracketed=st.booleans())
def test_element_string_round_trip(values: list[AIValue], bracketed: bool) -> None:
    text = build_element_string(values, bracketed=bracketed)
    assert parse_element_string(text) == values
    if not bracketed:
        scan = "]d2" + text[1:].replace("^", GS)
        assert parse_element_string(scan) == values


# A "." in the last field of an EPC URN is written literally (as EPC TDS allows) and read back
# (see test_keys_reads_a_dot_in_an_epc_serial).
epc_texts = st.text(alphabet=CSET82, min_size=1, max_size=20)


@settings(max_examples=200, deadline=None)
@given(
    gtin=_keyed(14),
    lot=st.none() | epc_texts,
    serial=st.none() | epc_texts,
    gcp_length=st.integers(min_value=6, max_value=12),
)
def test_epc_urn_round_trip(
    gtin: str, lot: str | None, serial: str | None, gcp_length: int
) -> None:
    values = [AIValue("01", gtin)]
    values += [AIValue("10", lot)] if lot is not None else []
    values += [AIValue("21", serial)] if serial is not None else []
    uri = build_digital_link(values)
    assert canonical(uri).product == gtin
    urn = to_epc_urn_from_dl(uri, gcp_length)
    # An SGTIN carries the serial only, a lot alone makes an LGTIN class, a bare GTIN a pattern.
    expected = Kind.SGTIN if serial is not None else Kind.LGTIN if lot is not None else Kind.GTIN
    assert canonical(urn).kind is expected
    kept = values[:1] + [v for v in values if v.ai == ("21" if serial is not None else "10")]
    assert to_dl_from_epc_urn(urn) == build_digital_link(kept)


def test_keys_reads_a_dot_in_an_epc_serial() -> None:
    urn = to_epc_urn_from_dl("https://id.gs1.org/01/09520123456788/21/A.B", 7)
    assert urn == "urn:epc:id:sgtin:9520123.045678.A.B"
    assert to_dl_from_epc_urn(urn) == "https://id.gs1.org/01/09520123456788/21/A.B"
