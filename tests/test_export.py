"""Export and query documents: identifier forms, the commands, and round trips that keep meaning.

The corpus test imports every EPCISDocument / EPCISQueryDocument of the official GS1 examples
(JSON-LD, simple-context JSON-LD, XML 2.0 and 1.2) into a fresh store, exports it, and requires
the export to be semantically equal to the input (``threadline.epcis.compare``). Where the
answer differs by design, the test first applies exactly that difference to the input and
checks everything else, so a known difference can never hide a new one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import CONFORMANCE
from threadline.cli import app
from threadline.epcis.compare import differences
from threadline.epcis.forms import render_identifier, render_identifiers
from threadline.epcis.json_reader import read_json_document
from threadline.epcis.xml_reader import is_xml, xml_document_to_json
from threadline.errors import DocumentError, InvalidInput
from threadline.gs1.keys import canonical_key
from threadline.service import events_document, export_document, import_document
from threadline.store import Store, open_store

GS1 = CONFORMANCE / "gs1-epcis"
FOLDERS = ("json-examples", "json-simple-context-examples", "xml-examples", "xml-examples-epcis1.2")
MISSING = f"conformance corpus not found at {CONFORMANCE} (set THREADLINE_CONFORMANCE)"
runner = CliRunner()

# -- identifier forms -------------------------------------------------------------------------

SGTIN = "urn:epc:id:sgtin:4012345.011111.9876"
LGTIN = "urn:epc:class:lgtin:4012345.011111.LOT%2F7"
GTIN_CLASS = "urn:epc:idpat:sgtin:4012345.011111.*"
SSCC = "urn:epc:id:sscc:4012345.0000000001"
SGLN = "urn:epc:id:sgln:4012345.00001.LINE-1"
PGLN = "urn:epc:id:pgln:4012345.00000"
GIAI = "urn:epc:id:giai:4000001.111"
GDTI = "urn:epc:id:gdti:4012345.00001.INV7"


def every_key_event(write: Any) -> dict[str, Any]:
    """An event with a GS1 key in every place one can be; ``write`` spells each key."""
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-03-01T08:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "parentID": write(SSCC),
        "epcList": [write(SGTIN), "urn:example:not-gs1"],
        "childEPCs": [write(SGTIN)],
        "inputEPCList": [write(SGTIN)],
        "outputEPCList": [write(SSCC)],
        "quantityList": [{"epcClass": write(LGTIN), "quantity": 5}],
        "childQuantityList": [{"epcClass": write(GTIN_CLASS), "quantity": 1}],
        "inputQuantityList": [{"epcClass": write(LGTIN), "quantity": 2}],
        "outputQuantityList": [{"epcClass": write(GTIN_CLASS), "quantity": 3}],
        "readPoint": {"id": write(SGLN)},
        "bizLocation": {"id": write(SGLN)},
        "sourceList": [{"type": "owning_party", "source": write(PGLN)}],
        "destinationList": [{"type": "location", "destination": write(SGLN)}],
        "bizTransactionList": [{"type": "inv", "bizTransaction": write(GDTI)}],
        "sensorElementList": [
            {
                "sensorMetadata": {"deviceID": write(GIAI)},
                "sensorReport": [{"type": "Temperature", "deviceID": write(GIAI), "value": 1}],
            }
        ],
        "ilmd": {"ex:origin": SGTIN},  # not an identifier field: never rewritten
    }


def dl(value: str) -> str:
    return canonical_key(value)


def other_host(value: str) -> str:
    return canonical_key(value).replace("https://id.gs1.org", "https://id.example.com/t")


@pytest.mark.parametrize(
    ("written", "form", "expected"),
    [
        (lambda v: v, "dl", dl),
        (other_host, "dl", dl),
        (dl, "urn", lambda v: v),
        (other_host, "urn", lambda v: v),
        (lambda v: v, "urn", lambda v: v),
        (other_host, "as_captured", other_host),
    ],
    ids=["urn-to-dl", "other-host-to-dl", "dl-to-urn", "other-host-to-urn", "urn-stays", "as-is"],
)
def test_render_identifiers_rewrites_every_key(written: Any, form: Any, expected: Any) -> None:
    source = every_key_event(written)
    kept = json.loads(json.dumps(source))
    out = render_identifiers(source, form)
    assert out == every_key_event(expected) | {"ilmd": {"ex:origin": SGTIN}}
    assert source == kept  # the input is not modified
    assert out["epcList"][1] == "urn:example:not-gs1"


def test_urn_needs_a_company_prefix_length() -> None:
    # A Digital Link does not say where the company prefix ends: the caller's lengths win, the
    # GS1 prefix table is the fallback, and a key still unknown is left as written.
    key = dl("urn:epc:id:sgtin:4012345.011111.9876")
    assert render_identifier(key, "urn") == "urn:epc:id:sgtin:4012345.011111.9876"
    assert render_identifier(key, "urn", {key: 9}) == "urn:epc:id:sgtin:401234511.0111.9876"
    assert render_identifier("https://id.gs1.org/00/999999999999999997", "urn") == (
        "https://id.gs1.org/00/999999999999999997"
    )


def test_unknown_form_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown identifier form"):
        render_identifiers({}, "epc")  # type: ignore[arg-type]


# -- service and commands ---------------------------------------------------------------------


def document(events: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "@context": [
            "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
            {"ex": "https://example.com/ex/"},
        ],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-01T00:00:00Z",
        "epcisBody": {"eventList": events},
        **extra,
    }


def shipped(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": f"2026-03-01T08:{n:02d}:00+01:00",
        "eventTimeZoneOffset": "+01:00",
        "action": "OBSERVE",
        "bizStep": "shipping",
        "epcList": [f"urn:epc:id:sgtin:4012345.011111.{n}"],
        "ex:carrier": {"ex:name": f"Carrier {n}"},
        **extra,
    }


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "plant.jsonld"
    header = {
        "epcisHeader": {
            "epcisMasterData": {
                "vocabularyList": [
                    {
                        "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
                        "vocabularyElementList": [
                            {"id": SGLN, "attributes": [{"id": "ex:name", "attribute": "Line 1"}]}
                        ],
                    }
                ]
            }
        }
    }
    events = [shipped(1), shipped(2, eventID="urn:example:two"), shipped(3, bizStep="receiving")]
    path.write_text(json.dumps(document(events, **header)))
    target = str(tmp_path / "export.db")
    with open_store(target) as store:
        import_document(store, path)
    return target


def test_query_document_carries_event_ids_and_record_times(db: str) -> None:
    with open_store(db) as store:
        out = events_document(store, {"EQ_bizStep": "shipping"}, epc_format="dl")
        hashes = {e.event_id for e in read_json_document(document([shipped(1)])).events}
    doc = orjson.loads(out.data)
    assert doc["type"] == "EPCISQueryDocument"
    results = doc["epcisBody"]["queryResults"]
    assert results["queryName"] == "SimpleEventQuery"
    events = results["resultsBody"]["eventList"]
    assert [e["eventID"] for e in events][1] == "urn:example:two"
    assert events[0]["eventID"] in hashes  # the hash ID of an event sent without one
    assert all(e["recordTime"].endswith("Z") for e in events)
    assert events[0]["epcList"] == [dl("urn:epc:id:sgtin:4012345.011111.1")]
    assert doc["@context"][1] == {"ex": "https://example.com/ex/"}  # extension prefix kept


def test_export_is_the_captured_document_with_master_data(db: str) -> None:
    with open_store(db) as store:
        out = export_document(store)
    doc = orjson.loads(out.data)
    assert out.events == 3 and doc["type"] == "EPCISDocument"
    assert not differences(
        document(
            [shipped(1), shipped(2, eventID="urn:example:two"), shipped(3, bizStep="receiving")]
        ),
        doc,
    )
    (vocabulary,) = doc["epcisHeader"]["epcisMasterData"]["vocabularyList"]
    assert vocabulary["vocabularyElementList"] == [
        {"id": dl(SGLN), "attributes": [{"id": "ex:name", "attribute": "Line 1"}]}
    ]


def test_events_command(db: str) -> None:
    result = runner.invoke(
        app,
        [
            "events",
            "--db",
            db,
            "-p",
            "EQ_bizStep=shipping",
            "--param",
            "perPage=1",
            "--epc-format",
            "dl",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    (event,) = doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert event["epcList"] == [dl("urn:epc:id:sgtin:4012345.011111.1")]
    assert "nextPageToken=" in result.stderr
    token = result.stderr.split("nextPageToken=", 1)[1].split()[0]
    second = runner.invoke(
        app,
        [
            "events",
            "--db",
            db,
            "-p",
            "EQ_bizStep=shipping",
            "-p",
            "perPage=1",
            "-p",
            f"nextPageToken={token}",
        ],
    )
    assert second.exit_code == 0, second.output
    (event,) = json.loads(second.stdout)["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert event["eventID"] == "urn:example:two"


def test_events_command_xml(db: str) -> None:
    result = runner.invoke(
        app, ["events", "--db", db, "--format", "xml", "-p", "eventType=ObjectEvent"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.startswith(b"<?xml")
    doc = xml_document_to_json(result.stdout_bytes)
    assert len(doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]) == 3


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["-p", "EQ_bogus=1"], "EQ_bogus: unknown query parameter"),
        (["-p", "GE_eventTime=yesterday"], "GE_eventTime: 'yesterday' is not an ISO-8601"),
        (["-p", "EQ_bizStep"], "write NAME=VALUE"),
        (["--format", "csv"], "--format 'csv'"),
        (["--epc-format", "epc"], "--epc-format 'epc'"),
        (["-p", "maxEventCount=1"], "more than maxEventCount=1"),
    ],
)
def test_events_command_errors(db: str, args: list[str], fragment: str) -> None:
    result = runner.invoke(app, ["events", "--db", db, *args])
    assert result.exit_code == 1
    assert fragment in result.output


def test_export_command_to_file(db: str, tmp_path: Path) -> None:
    target = tmp_path / "out.xml"
    result = runner.invoke(
        app,
        ["export", "--db", db, "--format", "xml", "-o", str(target), "-p", "EQ_bizStep=receiving"],
    )
    assert result.exit_code == 0, result.output
    assert "1 events written" in result.output
    doc = xml_document_to_json(target.read_bytes())
    (event,) = doc["epcisBody"]["eventList"]
    assert event["bizStep"] == "urn:epcglobal:cbv:bizstep:receiving"
    missing = runner.invoke(app, ["export", "--db", db])
    assert missing.exit_code != 0  # --format is required


# -- round trips ------------------------------------------------------------------------------


def fresh(tmp: Path) -> Iterator[Store]:
    store = open_store(str(tmp / "rt.db"))
    try:
        yield store
    finally:
        store.close()


def round_trip(tmp: Path, source: Path, kind: str, fmt: str) -> dict[str, Any]:
    for store in fresh(tmp):
        import_document(store, source)
        out = export_document(store, fmt=fmt, kind=kind)  # type: ignore[arg-type]
    return xml_document_to_json(out.data) if fmt == "xml" else orjson.loads(out.data)


def _corpus() -> list[Any]:
    """(file, export format) cases: JSON inputs export as JSON-LD, XML inputs as both."""
    if not GS1.is_dir():
        return [pytest.param(None, "jsonld", id="missing")]
    out: list[Any] = []
    for folder in FOLDERS:
        for path in sorted((GS1 / folder).rglob("*")):
            if path.suffix not in (".json", ".jsonld", ".xml"):
                continue
            head = path.read_bytes()[:4096]
            kinds = (b"EPCISDocument", b"EPCISQueryDocument")
            if not is_xml(head):
                kinds = tuple(b'"' + k + b'"' for k in kinds)
            if not any(k in head for k in kinds):
                continue  # capture-job responses and master data documents carry no events
            name = str(path.relative_to(GS1))
            for fmt in ("jsonld", "xml") if is_xml(head) else ("jsonld",):
                out.append(pytest.param(path, fmt, id=f"{fmt}:{name}"))
    return out


# Files the readers refuse (the test shows the refusal, so a fixed reader turns it into a pass).
REFUSED = {
    "json-simple-context-examples/Example-TransactionEvents-2020_07_03y.jsonld": (
        "sourceList must be an array",
        "its sourceList/destinationList are single objects, which the EPCIS 2.0 JSON schema "
        "does not allow (the reader refuses the document)",
    ),
    "xml-examples-epcis1.2/AssociationEvent.xml": (
        "unknown element <sensorMetaData>",
        "event 5 spells <sensorMetaData> with a capital D, an element the EPCIS XSD does not "
        "define (the reader refuses the document)",
    ),
}
# Files whose XML form cannot be written back as EPCIS 2.0 XML (their JSON-LD export is tested).
NO_XML = {
    "xml-examples-epcis1.2/ObjectEvent.xml": (
        "'myField' is neither a standard field here nor namespaced",
        "an EPCIS 1.2 unqualified user field (<extension><extension><myField>) has no place in "
        "EPCIS 2.0 XML, so the XML writer refuses it",
    ),
}


def _input(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    return xml_document_to_json(data, source=str(path)) if is_xml(data) else orjson.loads(data)


def _master_data_only(doc: dict[str, Any]) -> dict[str, Any]:
    header = doc.get("epcisHeader", {}).get("epcisMasterData")
    return {
        "@context": doc.get("@context"),
        "type": "EPCISDocument",
        "epcisHeader": {"epcisMasterData": header} if header else {},
        "epcisBody": {"eventList": []},
    }


@pytest.mark.parametrize(("path", "fmt"), _corpus())
def test_corpus_round_trip(path: Path | None, fmt: str, tmp_path: Path) -> None:
    if path is None:
        pytest.skip(MISSING)
    name = str(path.relative_to(GS1))
    if name in REFUSED:
        fragment, reason = REFUSED[name]
        for store in fresh(tmp_path):
            with pytest.raises(DocumentError, match=fragment):
                import_document(store, path)
        pytest.xfail(reason)
    source = _input(path)
    if fmt == "xml" and name in NO_XML:
        fragment, reason = NO_XML[name]
        with pytest.raises(DocumentError, match=fragment):
            round_trip(tmp_path, path, source["type"], fmt)
        pytest.xfail(reason)
    exported = round_trip(tmp_path, path, source["type"], fmt)
    assert differences(source, exported) == []
    if "epcisMasterData" in source.get("epcisHeader", {}):
        assert (
            differences(_master_data_only(source), _master_data_only(exported), compare_header=True)
            == []
        )


# -- hypothesis: JSON-LD -> store -> JSON-LD ------------------------------------------------------

_BIZ_STEPS = ["shipping", "receiving", "https://ref.gs1.org/cbv/BizStep-packing",
              "urn:epcglobal:cbv:bizstep:inspecting", "ex:annealing"]  # fmt: skip
_DISPOSITIONS = ["in_progress", "active", "urn:epcglobal:cbv:disp:in_transit", "ex:on_hold"]
_PLACES = ["urn:epc:id:sgln:4012345.00001.0", "https://id.example.com/414/4012345000016/254/L1",
           "urn:example:site:7"]  # fmt: skip
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)


@st.composite
def _event(draw: st.DrawFn, index: int) -> dict[str, Any]:
    offset = draw(st.sampled_from(["+00:00", "+01:00", "-05:30", "+14:00"]))
    month, day, hour = draw(st.integers(1, 9)), draw(st.integers(0, 9)), draw(st.integers(0, 9))
    minute, second, ms = (
        draw(st.integers(0, 59)),
        draw(st.integers(0, 59)),
        draw(st.integers(0, 999)),
    )
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": f"2026-0{month}-1{day}T1{hour}:{minute:02d}:{second:02d}.{ms:03d}{offset}",
        "eventTimeZoneOffset": offset,
        "action": draw(st.sampled_from(["ADD", "OBSERVE", "DELETE"])),
    }
    serial = f"S{index}-" + draw(st.from_regex(r"[A-Za-z0-9]{0,6}", fullmatch=True))
    epcs = [f"urn:epc:id:sgtin:4012345.011111.{serial}"]
    if draw(st.booleans()):
        epcs.append(canonical_key(f"urn:epc:id:sgtin:4012345.022222.{serial}"))
    event["epcList"] = epcs
    if draw(st.booleans()):
        event["quantityList"] = [
            {
                "epcClass": f"urn:epc:class:lgtin:4012345.011111.L{draw(st.integers(0, 99))}",
                "quantity": draw(
                    st.one_of(st.integers(0, 10_000), st.floats(0, 1e6, allow_nan=False))
                ),
                "uom": draw(st.sampled_from(["KGM", "EA", "MTR"])),
            }
        ]
    if draw(st.booleans()):
        event["bizStep"] = draw(st.sampled_from(_BIZ_STEPS))
    if draw(st.booleans()):
        event["disposition"] = draw(st.sampled_from(_DISPOSITIONS))
    if draw(st.booleans()):
        event["readPoint"] = {"id": draw(st.sampled_from(_PLACES))}
    if draw(st.booleans()):
        event["bizTransactionList"] = [{"type": "po", "bizTransaction": f"urn:example:po:{index}"}]
    if draw(st.booleans()):
        event["sensorElementList"] = [
            {
                "sensorMetadata": {
                    "time": event["eventTime"],
                    "deviceID": "urn:epc:id:giai:4000001.111",
                },
                "sensorReport": [
                    {
                        "type": draw(st.sampled_from(["Temperature", "gs1:Speed", "ex:Torque"])),
                        "value": draw(st.floats(-1e6, 1e6, allow_nan=False)),
                        "uom": draw(st.sampled_from(["CEL", "KMH", "NEW"])),
                    }
                ],
            }
        ]
    if draw(st.booleans()):
        event["ex:note"] = draw(_TEXT)
    if draw(st.booleans()):
        event["ilmd"] = {"ex:heat": draw(_TEXT), "ex:strength": draw(st.integers(0, 2000))}
    if draw(st.booleans()):
        event["eventID"] = f"urn:uuid:00000000-0000-4000-8000-{index:012d}"
    return event


@st.composite
def _documents(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 6))
    return document([draw(_event(i)) for i in range(count)])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=_documents())
def test_json_ld_round_trip_is_semantically_equal(
    doc: dict[str, Any], tmp_path_factory: Any
) -> None:
    tmp = tmp_path_factory.mktemp("hyp")
    source = tmp / "doc.jsonld"
    source.write_bytes(orjson.dumps(doc))
    exported = round_trip(tmp, source, "EPCISDocument", "jsonld")
    assert differences(doc, exported) == []
