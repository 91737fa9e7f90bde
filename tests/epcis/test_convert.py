"""Conversion as a user meets it: ``service.convert_file``, ``threadline convert``, and the
JSON-LD assembly helpers (``build_document``, ``dump_jsonld``) the exporters share."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from lxml import etree
from typer.testing import CliRunner

from conftest import CONFORMANCE
from threadline.cli import app
from threadline.epcis.compare import differences
from threadline.epcis.jsonld_writer import EPCIS_CONTEXT_URL, build_document, dump_jsonld
from threadline.epcis.validate import SCHEMA_ENV
from threadline.epcis.xml_reader import xml_document_to_json
from threadline.errors import DocumentError, InvalidInput
from threadline.service import convert_file

from plantkit import document, small_plant

runner = CliRunner()
TWINS = CONFORMANCE / "openepcis-converter" / "test-resources" / "2.0" / "EPCIS"
SCHEMA = CONFORMANCE / "gs1-epcis" / "schema" / "json" / "EPCIS-JSON-Schema.json"
MISSING = f"conformance corpus not found at {CONFORMANCE} (set THREADLINE_CONFORMANCE)"
TL = "https://threadline.example/ns/"


@pytest.fixture(autouse=True)
def _no_schema_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SCHEMA_ENV, raising=False)


def _plant_file(tmp_path: Path, mutate: Any = None) -> tuple[Path, dict[str, Any]]:
    events, _ = small_plant()
    events[0]["tl:shift"] = "B"  # an extension, so namespaces travel too
    doc = document(events)
    if mutate is not None:
        mutate(doc)
    path = tmp_path / "plant.jsonld"
    path.write_bytes(orjson.dumps(doc))
    return path, doc


# ------------------------------------------------------------------ convert_file


def test_json_to_xml_and_back(tmp_path: Path) -> None:
    path, doc = _plant_file(tmp_path)
    xml = convert_file(path, "xml")
    assert xml.startswith(b"<?xml") and etree.fromstring(xml).nsmap["tl"] == TL
    xml_path = tmp_path / "plant.xml"
    xml_path.write_bytes(xml)
    back = json.loads(convert_file(xml_path, "jsonld"))
    assert differences(doc, back, compare_header=True) == []
    # JSON-LD to JSON-LD re-serialises the document as it is
    assert json.loads(convert_file(path, "jsonld")) == doc


def test_content_decides_the_format_not_the_name(tmp_path: Path) -> None:
    path, doc = _plant_file(tmp_path)
    disguised = tmp_path / "events.json"
    disguised.write_bytes(convert_file(path, "xml"))
    assert differences(doc, json.loads(convert_file(disguised, "jsonld"))) == []


def test_a_bad_event_names_file_index_and_pointer(tmp_path: Path) -> None:
    def break_it(doc: dict[str, Any]) -> None:
        doc["epcisBody"]["eventList"][3]["eventTime"] = "yesterday"

    path, _ = _plant_file(tmp_path, break_it)
    for target in ("xml", "jsonld"):
        with pytest.raises(DocumentError) as caught:
            convert_file(path, target)  # type: ignore[arg-type]
        error = caught.value
        assert (error.source, error.index) == (str(path), 3)
        assert error.pointer == "/epcisBody/eventList/3/eventTime"


def test_faults_of_the_standard_and_of_the_xml_binding_are_refused(tmp_path: Path) -> None:
    def non_standard(doc: dict[str, Any]) -> None:
        doc["epcisBody"]["eventList"][1]["bizStep"] = "transforming"

    path, _ = _plant_file(tmp_path, non_standard)
    with pytest.raises(DocumentError, match="neither a standard CBV word") as caught:
        convert_file(path, "jsonld")
    assert caught.value.pointer == "/epcisBody/eventList/1/bizStep"

    def bare_key(doc: dict[str, Any]) -> None:
        doc["epcisBody"]["eventList"][2]["shift"] = "B"

    path, _ = _plant_file(tmp_path, bare_key)
    with pytest.raises(DocumentError, match="neither a standard field") as caught:
        convert_file(path, "xml")
    assert (caught.value.source, caught.value.pointer) == (
        str(path),
        "/epcisBody/eventList/2/shift",
    )

    path, _ = _plant_file(tmp_path, lambda doc: doc.pop("@context"))
    with pytest.raises(DocumentError, match="needs an @context"):
        convert_file(path, "xml")


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="cannot read"):
        convert_file(tmp_path / "nowhere.jsonld", "xml")
    broken = tmp_path / "broken.xml"
    broken.write_text("<epcis:EPCISDocument xmlns:epcis='urn:epcglobal:epcis:xsd:2'>\n<oops>")
    with pytest.raises(DocumentError) as caught:
        convert_file(broken, "jsonld")
    assert caught.value.source == str(broken) and caught.value.pointer == "line 2"
    text = tmp_path / "broken.json"
    text.write_text('{"type": "EPCISDocument", ')
    with pytest.raises(DocumentError, match="not valid JSON"):
        convert_file(text, "xml")
    with pytest.raises(InvalidInput, match="jsonld or xml"):
        convert_file(text, "yaml")  # type: ignore[arg-type]


# --------------------------------------------------------- the Invalid corpus

# A fragment each refusal must contain, so that every file fails for its own fault.
REFUSAL = {
    "Combination_of_events_with_missing_mandatory_fields": "eventList/0/action",
    "Combination_of_multiple_invalid_fields": "eventList/4/eventTime",
    "Combination_of_non_standard_bizStep_and_disposition": "eventList/0/bizStep",
    "EPCISDocument_without_context": "@context",
    "ObjectEvent_with_ilmd_field_without_namespace": "eventList/0/ilmd",
    "ObjectEvent_with_invalid_action": "eventList/0/action",
    "ObjectEvent_with_invalid_certificationInfo": "eventList/0/certificationInfo",
    "ObjectEvent_with_invalid_eventTime_format": "eventList/0/eventTime",
    "ObjectEvent_with_non_standard_bizStep": "eventList/0/bizStep",
    "ObjectEvent_with_non_standard_bizStep_in_second_event": "eventList/1/bizStep",
    "ObjectEvent_with_non_standard_disposition": "eventList/0/disposition",
    "ObjectEvent_with_quantity_as_text": "eventList/0/quantityList/0/quantity",
    "ObjectEvent_with_unknown_field_in_quantityList": "eventList/0/quantityList/0",
    "ObjectEvent_without_action_and_eventTime": "eventList/0/eventTime",
    "ObjectEvent_without_identifier_list": "event 0, at /epcisBody/eventList/0: event cannot",
    "QueryDocument_with_invalid_action": "eventList/0/action",
    "QueryDocument_with_invalid_eventType": "ObjectEventInvalid",
    "Query_with_invalid_values": "/type",
    "Query_with_unknown_parameter": "/type",
    # XML
    "ObjectEvent_bare_event_without_action": "root element",
    "ObjectEvent_with_near_miss_action": "OBSERV",
    "ObjectEvent_with_unknown_element": "madeUpField",
    "ObjectEvent_without_eventTime": "eventList/0/eventTime",
    "QueryDocument_with_missing_value": "Poll",
    "Query_without_queryName": "Poll",
}
WRONG_ORDER = (
    "the file's only fault is XSD element order (<action> before <eventTime>), which the XML "
    "reader deliberately accepts (see test_xml_reader.py: the event-hash vectors and OpenEPCIS's "
    "own valid JumbledFieldsOrder.xml put fields out of order); the writer puts them in order"
)
# What only the official JSON Schema catches (no rule of the standard's prose, no XML limit).
NEEDS_SCHEMA = {
    "ObjectEvent_with_ilmd_field_without_namespace",  # an ##local ILMD member is valid XML
    "ObjectEvent_without_identifier_list",
}


def _invalid_files() -> list[Any]:
    if not TWINS.is_dir():
        return [None]
    out = []
    for path in sorted(TWINS.rglob("*")):
        if "Invalid" not in path.parts or not path.is_file():
            continue
        marks = []
        if path.stem == "ObjectEvent_with_wrong_element_order":
            marks.append(pytest.mark.xfail(strict=True, reason=WRONG_ORDER))
        out.append(pytest.param(path, marks=marks, id=path.relative_to(TWINS).as_posix()))
    return out


@pytest.mark.parametrize("path", _invalid_files())
@pytest.mark.parametrize("target", ["xml", "jsonld"])
def test_every_invalid_file_is_refused(path: Path | None, target: str) -> None:
    if path is None:
        pytest.skip(MISSING)
    with pytest.raises(DocumentError) as caught:
        convert_file(path, target, schema_path=SCHEMA)  # type: ignore[arg-type]
    message = str(caught.value)
    assert caught.value.source == str(path) and message.startswith(str(path))
    assert caught.value.pointer is not None  # a JSON pointer or an XML line
    assert REFUSAL[path.stem] in message, message


@pytest.mark.parametrize("path", _invalid_files())
def test_without_the_schema_only_schema_faults_pass(path: Path | None) -> None:
    if path is None:
        pytest.skip(MISSING)
    if path.stem in NEEDS_SCHEMA:
        assert convert_file(path, "xml").startswith(b"<?xml")
        return
    with pytest.raises(DocumentError):
        convert_file(path, "xml")


# -------------------------------------------------------------------------- CLI


def test_cli_writes_xml_to_stdout_and_jsonld_to_a_file(tmp_path: Path) -> None:
    path, doc = _plant_file(tmp_path)
    result = runner.invoke(app, ["convert", str(path), "--to", "xml"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("<?xml")
    xml_path = tmp_path / "out.xml"
    xml_path.write_text(result.stdout)
    assert differences(doc, xml_document_to_json(xml_path.read_bytes())) == []

    out = tmp_path / "again.jsonld"
    result = runner.invoke(app, ["convert", str(xml_path), "--to", "jsonld", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert differences(doc, json.loads(out.read_bytes()), compare_header=True) == []


def test_cli_refuses_a_broken_document_naming_file_and_index(tmp_path: Path) -> None:
    def break_it(doc: dict[str, Any]) -> None:
        doc["epcisBody"]["eventList"][5]["childQuantityList"][0]["quantity"] = -3

    path, _ = _plant_file(tmp_path, break_it)
    out = tmp_path / "never.xml"
    result = runner.invoke(app, ["convert", str(path), "--to", "xml", "-o", str(out)])
    assert result.exit_code == 1
    assert str(path) in result.output and "event 5" in result.output
    assert "/epcisBody/eventList/5/childQuantityList/0/quantity" in result.output
    assert not out.exists()


def test_cli_takes_the_schema_option(tmp_path: Path) -> None:
    if not SCHEMA.exists():
        pytest.skip(MISSING)
    path = TWINS / "JSON" / "Capture" / "Invalid" / "ObjectEvent_without_identifier_list.json"
    result = runner.invoke(app, ["convert", str(path), "--to", "xml"])
    assert result.exit_code == 0, result.output  # only the JSON Schema knows this rule
    result = runner.invoke(app, ["convert", str(path), "--to", "xml", "--schema", str(SCHEMA)])
    assert result.exit_code == 1
    assert "event 0" in result.output and "JSON Schema" in result.output


# ------------------------------------------------------ build_document / dump_jsonld


def test_build_document_shapes() -> None:
    events, _ = small_plant()
    before = copy.deepcopy(events)
    doc = build_document(events[:2], creation_date="2026-01-01T00:00:00Z")
    assert doc == {
        "@context": [EPCIS_CONTEXT_URL],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-01-01T00:00:00Z",
        "epcisBody": {"eventList": events[:2]},
    }
    assert events == before  # the caller's events are not touched
    query = build_document(
        events[:1],
        kind="EPCISQueryDocument",
        subscription_id="s-1",
        header={"epcisMasterData": {"vocabularyList": []}},
    )
    assert query["epcisBody"] == {
        "queryResults": {
            "queryName": "SimpleEventQuery",
            "subscriptionID": "s-1",
            "resultsBody": {"eventList": events[:1]},
        }
    }
    assert query["epcisHeader"] == {"epcisMasterData": {"vocabularyList": []}}
    assert query["creationDate"].endswith("Z")
    simple = "https://gs1.github.io/EPCIS/epcis-context-simple.jsonld"
    assert build_document([], context=simple)["@context"] == [simple]
    assert build_document([], context={"tl": TL})["@context"] == [EPCIS_CONTEXT_URL, {"tl": TL}]
    with pytest.raises(InvalidInput, match="EPCISQueryDocument"):
        build_document([], query_name="SimpleEventQuery")
    with pytest.raises(InvalidInput, match="kind"):
        build_document([], kind="EPCISMasterDataDocument")  # type: ignore[arg-type]
    with pytest.raises(DocumentError) as caught:
        build_document([events[0], "not an event"])  # type: ignore[list-item]
    assert (caught.value.index, caught.value.pointer) == (1, "/epcisBody/eventList/1")


def test_build_document_hoists_the_namespaces_events_carry() -> None:
    events, _ = small_plant()
    stored = []
    for i, event in enumerate(events[:3]):
        # as events are stored: each keeps the prefixes of the document it came in
        stored.append({**event, "tl:n": str(i), "@context": {"tl": TL}})
    clash = {**events[3], "tl:n": "3", "@context": {"tl": "urn:other:"}}
    doc = build_document([*stored, clash])
    assert doc["@context"] == [EPCIS_CONTEXT_URL, {"tl": TL}]
    out = doc["epcisBody"]["eventList"]
    assert all("@context" not in e for e in out[:3])
    assert out[3]["@context"] == {"tl": "urn:other:"}  # a clash stays on its event
    # the same meaning as the events with their own contexts
    unhoisted = {**doc, "@context": [EPCIS_CONTEXT_URL]}
    unhoisted["epcisBody"] = {"eventList": [*stored, clash]}
    assert differences(unhoisted, doc) == []
    # (while another namespace for the same prefix would change it)
    stripped = [{k: v for k, v in e.items() if k != "@context"} for e in stored]
    other = build_document(stripped, context={"tl": "urn:x:"})
    assert differences(other, build_document(stored))
    # and the assembled document survives the XML binding
    from threadline.epcis.xml_writer import document_to_xml

    back = xml_document_to_json(document_to_xml(doc))
    assert differences(doc, back) == []
    assert back["@context"][1]["tl_2"] == "urn:other:"
    assert back["epcisBody"]["eventList"][3]["tl_2:n"] == "3"


def test_dump_jsonld() -> None:
    doc = build_document([], creation_date="2026-01-01T00:00:00Z")
    data = dump_jsonld(doc)
    assert data.endswith(b"\n") and b'\n  "type": "EPCISDocument"' in data
    assert orjson.loads(data) == doc
    with pytest.raises(InvalidInput, match="cannot be written as JSON"):
        dump_jsonld({"bad": {1, 2}})
