"""Streaming readers (``epcis.json_stream``, ``epcis.xml_stream``) against the whole-document ones.

Groups: (1) every conformance document streams to the same document, event count and events -
or the same fault - as the whole-document reader, with tiny chunks that split every token and
with the default chunk; (2) located faults in broken documents: truncated files, a bad event in
the middle, malformed JSON inside an event, ``@context`` after the body, XML faults; (3) random
documents and single-byte damage (hypothesis); (4) all or nothing through the store when the
fault arrives after several batches were written; (5) bounded memory: a 100k-event plant
document imported in a subprocess stays under a peak RSS that the whole-document reader breaks.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CONFORMANCE
from threadline.epcis import json_stream
from threadline.epcis.json_reader import EPCISDocument, iter_json_document
from threadline.epcis.json_stream import CHUNK_SIZE, open_json_stream
from threadline.epcis.xml_reader import iter_xml_document
from threadline.epcis.xml_stream import file_is_xml, open_xml_stream
from threadline.epcis.xml_writer import document_to_xml
from threadline.errors import DocumentError
from threadline.model.events import AnyEvent
from threadline.service import import_document, open_document
from threadline.sim import Plant
from threadline.store import Store

from plantkit import document, small_plant

MISSING = f"conformance corpus not found at {CONFORMANCE} (set THREADLINE_CONFORMANCE)"
OPENEPCIS = CONFORMANCE / "openepcis-converter"
JSON_FOLDERS = [
    CONFORMANCE / "gs1-epcis" / "json-examples",
    OPENEPCIS / "test-resources" / "2.0" / "EPCIS",
    OPENEPCIS / "converter-extension-pairs",
]
XML_FOLDERS = [
    CONFORMANCE / "gs1-epcis" / "xml-examples",
    CONFORMANCE / "gs1-epcis" / "xml-examples-epcis1.2",
    OPENEPCIS / "test-resources" / "2.0" / "EPCIS",
    OPENEPCIS / "converter-extension-pairs",
]
TINY = 7  # bytes per chunk: splits every token, escape and tag across chunk boundaries

Opened = tuple[EPCISDocument, int, Iterator[AnyEvent]]


def _files(folders: list[Path], suffixes: tuple[str, ...]) -> list[Path | None]:
    found = [
        path
        for folder in folders
        if folder.is_dir()
        for path in sorted(folder.rglob("*"))
        if path.suffix in suffixes
    ]
    return found or [None]  # one placeholder case that skips with the reason


def _name(path: Path | None) -> str:
    return "missing" if path is None else path.relative_to(CONFORMANCE).as_posix()


def _outcome(opened: Callable[[], Opened]) -> tuple[Any, ...]:
    """Everything a reader gives, or the fault it raises (with its location)."""
    try:
        parsed, count, events = opened()
        return (
            "ok",
            parsed.kind,
            parsed.context,
            parsed.header,
            parsed.namespaces,
            count,
            [*events],
        )
    except DocumentError as exc:
        return ("fault", str(exc), exc.source, exc.index, exc.pointer)


def _json_pair(path: Path, chunk_size: int = CHUNK_SIZE) -> tuple[tuple[Any, ...], ...]:
    old = _outcome(lambda: iter_json_document(path.read_bytes(), source="doc.json"))
    new = _outcome(lambda: open_json_stream(path, source="doc.json", chunk_size=chunk_size))
    return old, new


def _xml_pair(path: Path, chunk_size: int = CHUNK_SIZE) -> tuple[tuple[Any, ...], ...]:
    old = _outcome(lambda: iter_xml_document(path.read_bytes(), source="doc.xml"))
    new = _outcome(lambda: open_xml_stream(path, source="doc.xml", chunk_size=chunk_size))
    return old, new


# -- 1. the conformance corpus ------------------------------------------------------------------


@pytest.mark.parametrize("path", _files(JSON_FOLDERS, (".json", ".jsonld")), ids=_name)
def test_json_conformance_document_streams_as_read_whole(path: Path | None) -> None:
    if path is None:
        pytest.skip(MISSING)
    for chunk_size in (TINY, CHUNK_SIZE):
        old, new = _json_pair(path, chunk_size)
        assert new == old, f"chunk size {chunk_size}"


@pytest.mark.parametrize("path", _files(XML_FOLDERS, (".xml",)), ids=_name)
def test_xml_conformance_document_streams_as_read_whole(path: Path | None) -> None:
    if path is None:
        pytest.skip(MISSING)
    for chunk_size in (TINY, CHUNK_SIZE):
        old, new = _xml_pair(path, chunk_size)
        assert new == old, f"chunk size {chunk_size}"


def test_the_corpus_holds_events_and_faults_for_both_formats() -> None:
    # Guards the two tests above against comparing nothing but empty documents.
    json_files = [p for p in _files(JSON_FOLDERS, (".json", ".jsonld")) if p is not None]
    xml_files = [p for p in _files(XML_FOLDERS, (".xml",)) if p is not None]
    if not json_files or not xml_files:
        pytest.skip(MISSING)
    json_outcomes = [_json_pair(p)[1] for p in json_files]
    xml_outcomes = [_xml_pair(p)[1] for p in xml_files]
    for outcomes in (json_outcomes, xml_outcomes):
        assert sum(o[5] for o in outcomes if o[0] == "ok") > 100
        assert any(o[0] == "fault" for o in outcomes)


# -- 2. located faults --------------------------------------------------------------------------


def _plant_json(tmp_path: Path, events: list[dict[str, Any]] | None = None) -> bytes:
    data = orjson.dumps(document(events or small_plant()[0]), option=orjson.OPT_INDENT_2)
    (tmp_path / "doc.json").write_bytes(data)
    return data


@pytest.mark.parametrize("where", ["@context", "mid-event string", "after a comma", "last byte"])
def test_truncated_json_is_refused_like_the_whole_document_reader(
    tmp_path: Path, where: str
) -> None:
    data = _plant_json(tmp_path)
    cut = {
        "@context": data.index(b"epcis-context"),
        "mid-event string": data.index(b"urn:epc:", len(data) // 2) + 5,
        "after a comma": data.index(b"},", len(data) // 2) + 2,
        "last byte": len(data) - 1,
    }[where]
    (tmp_path / "doc.json").write_bytes(data[:cut])
    old, new = _json_pair(tmp_path / "doc.json")
    assert new == old
    assert new[0] == "fault" and "unexpected end of data" in new[1]
    assert new[2] == "doc.json" and new[3] is None


def test_bad_event_in_the_middle_names_its_index_and_pointer(tmp_path: Path) -> None:
    events = small_plant()[0]
    events[10]["action"] = "CREATE"
    _plant_json(tmp_path, events)
    old, new = _json_pair(tmp_path / "doc.json", TINY)
    assert new == old
    assert new[2:] == ("doc.json", 10, "/epcisBody/eventList/10/action")
    # Streaming: the events before the fault were handed over first.
    _parsed, _count, stream = open_json_stream(tmp_path / "doc.json")
    assert len([next(stream) for _ in range(10)]) == 10
    with pytest.raises(DocumentError, match="action must be ADD, OBSERVE or DELETE"):
        next(stream)


def test_malformed_json_inside_an_event_is_located_in_the_whole_file(tmp_path: Path) -> None:
    data = _plant_json(tmp_path)
    at = data.index(b'"action": "ADD"', len(data) // 2)
    broken = data[:at] + b'"action": ADD' + data[at + len(b'"action": "ADD"') :]
    (tmp_path / "doc.json").write_bytes(broken)
    old, new = _json_pair(tmp_path / "doc.json", TINY)
    assert new == old
    line = broken[:at].count(b"\n") + 1
    assert new[0] == "fault" and f"line {line} column " in new[1] and new[3:] == (None, None)


def test_context_after_the_body_gives_the_same_namespaces_and_event_hashes(
    tmp_path: Path,
) -> None:
    events = small_plant()[0]
    for event in events:
        del event["eventID"]  # the hash then depends on the tl: prefix of the extensions
    doc = document(events)
    late = {key: doc[key] for key in ("type", "epcisBody", "schemaVersion", "@context")}
    data = orjson.dumps(late)
    assert data.index(b'"@context"') > data.index(b'"eventList"')
    (tmp_path / "doc.json").write_bytes(data)
    old, new = _json_pair(tmp_path / "doc.json", TINY)
    assert new == old
    assert new[0] == "ok" and new[4] == {"tl": "https://threadline.example/ns/"}
    assert new[5] == len(events) == len(new[6])


_EVENT = (
    '{"type": "ObjectEvent", "action": "OBSERVE", "eventTime": "2026-01-01T00:00:00Z",'
    ' "epcList": ["urn:epc:id:sgtin:4012345.011111.1"]}'
)


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "EPCISDocument", "epcisBody": {"eventList": [E, 5]}}',
        '{"type": "EPCISDocument", "epcisBody": {"eventList": [1, "x", null]}}',
        '{"type": "EPCISDocument", "epcisBody": {"eventList": [E]}} trailing',
        '{"type": "EPCISDocument", "epcisBody": {"eventList": [E,]}}',
        '{"type": "EPCISDocument", "epcisBody": {"eventList": [E E]}}',
        '{"type": "EPCISDocument", "epcisBody": {"eventList": [E}}}',
        '{"type": "EPCISDocument", "epcisBody": {"eventList": [E, [E]]}}',
        '{"type": "EPCISDocument", "epcisBody": {"eventList": {}}}',
        '{"type": "EPCISDocument", "epcisBody": {}}',
        '{"type": "EPCISDocument", "epcisBody": {"eventList": []}}',
        '{"type": "EPCISDocument", "epcisBody": {"eventList": [ ]}, "epcisHeader": {"x": [[1]]}}',
        '{"type": "EPCISMasterDataDocument", "epcisBody": {"eventList": [E]}}',
        '[{"type": "EPCISDocument"}]',
        '{"type": "EPCISQueryDocument", "epcisBody": {"queryResults": {"resultsBody":'
        ' {"eventList": [E, {"type": "ObjectEvent", "tl:n": "\\"[{\\\\"}]}}}}',
        '\ufeff{"type": "EPCISDocument", "epcisBody": {"eventList": []}}',
    ],
)
def test_odd_and_broken_json_documents_fail_or_pass_alike(tmp_path: Path, text: str) -> None:
    (tmp_path / "doc.json").write_text(text.replace("E", _EVENT), encoding="utf-8")
    for chunk_size in (1, 3, CHUNK_SIZE):
        old, new = _json_pair(tmp_path / "doc.json", chunk_size)
        assert new == old


def test_with_two_faults_the_stream_reports_the_event_it_reaches_first(tmp_path: Path) -> None:
    # The one intended difference: the whole-document reader finds malformed JSON anywhere
    # before it parses any event; streaming parses event 0 before it reaches the bad bytes.
    text = '{"type": "EPCISDocument", "epcisBody": {"eventList": [{"type": "?"}, {"x": tru}]}}'
    (tmp_path / "doc.json").write_text(text)
    old, new = _json_pair(tmp_path / "doc.json")
    assert old[0] == new[0] == "fault"
    assert "not valid JSON" in old[1] and old[3] is None
    assert "unknown event type" in new[1] and new[3] == 0


def test_an_event_beyond_the_size_limit_is_refused_with_its_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The limit keeps a lost quote from turning the rest of the file into one buffered "event".
    events = small_plant()[0]
    events[3]["tl:note"] = "x" * 5000
    _plant_json(tmp_path, events)
    monkeypatch.setattr(json_stream, "MAX_EVENT_SIZE", 4000)
    _parsed, count, stream = open_json_stream(
        tmp_path / "doc.json", source="doc.json", chunk_size=64
    )
    assert count == len(events)
    assert len([next(stream) for _ in range(3)]) == 3
    with pytest.raises(DocumentError, match="larger than 4,000 bytes") as caught:
        next(stream)
    assert (caught.value.index, caught.value.pointer) == (3, "/epcisBody/eventList/3")


def _plant_xml(tmp_path: Path) -> bytes:
    data = document_to_xml(document(small_plant()[0]))
    (tmp_path / "doc.xml").write_bytes(data)
    return data


def _nth(data: bytes, tag: bytes, n: int) -> int:
    at = -1
    for _ in range(n + 1):
        at = data.index(tag, at + 1)
    return at


@pytest.mark.parametrize(
    "damage",
    [
        "truncated in a tag",
        "truncated in text",
        "unknown element in event 9",
        "bad quantity after event 9",
        "undefined entity",
        "entity declaration",
        "wrong root element",
        "not well-formed after a bad event",
    ],
)
def test_broken_xml_is_refused_like_the_whole_document_reader(tmp_path: Path, damage: str) -> None:
    data = _plant_xml(tmp_path)
    ninth = _nth(data, b"<eventTime>", 9)
    index = 9
    if damage == "truncated in a tag":
        data = data[: ninth + 5]
    elif damage == "truncated in text":
        data = data[: ninth + 15]
    elif damage == "unknown element in event 9":
        data = data[:ninth] + b"<colour>red</colour>" + data[ninth:]
    elif damage == "bad quantity after event 9":
        at = data.index(b"<quantity>", ninth) + len(b"<quantity>")
        data = data[:at] + b"-" + data[at:]  # converts, then parse_event refuses it
        index = data[:at].count(b"<eventTime>") - 1
    elif damage == "undefined entity":
        data = data[:ninth] + b"<tl:x>&nbsp;</tl:x>" + data[ninth:]
    elif damage == "entity declaration":
        data = b'<!DOCTYPE d [<!ENTITY e "x">]>' + data[data.index(b"?>") + 2 :]
    elif damage == "wrong root element":
        data = data.replace(b"epcis:EPCISDocument", b"epcis:EPCISEvents")
    else:  # a conversion fault early, malformed XML late: the malformed XML is reported
        data = data[:ninth] + b"<colour/>" + data[ninth:].replace(b"</EventList>", b"</Events>")
    (tmp_path / "doc.xml").write_bytes(data)
    for chunk_size in (TINY, CHUNK_SIZE):
        old, new = _xml_pair(tmp_path / "doc.xml", chunk_size)
        assert new == old, f"chunk size {chunk_size}"
    assert new[0] == "fault" and new[2] == "doc.xml"
    if damage == "unknown element in event 9":
        assert new[3] == 9 and new[4].startswith("line ")
    if damage == "bad quantity after event 9":
        assert new[3] == index > 9 and "(XML line " in new[1]


def test_an_xml_integer_beyond_64_bits_survives_the_spill(tmp_path: Path) -> None:
    # Converted events wait as JSON, which orjson cannot write for such an integer.
    huge = 123456789012345678901234567890
    (tmp_path / "doc.xml").write_text(
        '<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0"'
        ' creationDate="2026-01-01T00:00:00Z"><EPCISBody><EventList><ObjectEvent>'
        "<eventTime>2026-01-01T00:00:00Z</eventTime><action>OBSERVE</action><quantityList>"
        "<quantityElement><epcClass>urn:epc:class:lgtin:4012345.012345.L1</epcClass>"
        f"<quantity>{huge}</quantity></quantityElement></quantityList></ObjectEvent>"
        "</EventList></EPCISBody></epcis:EPCISDocument>"
    )
    old, new = _xml_pair(tmp_path / "doc.xml")
    assert new == old and new[0] == "ok"
    assert new[6][0].raw["quantityList"][0]["quantity"] == huge


def test_file_is_xml_reads_past_leading_blanks_only_as_far_as_needed(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"\xef\xbb\xbf" + b" \n" * 40000 + b"<x/>")
    (tmp_path / "b").write_bytes(b" \n" * 40000 + b"{}")
    (tmp_path / "c").write_bytes("<x/>".encode("utf-16"))
    (tmp_path / "d").write_bytes(b"")
    assert [file_is_xml(tmp_path / n) for n in "abcd"] == [True, False, True, False]


# -- 3. random documents and damage -------------------------------------------------------------

_NOTE = st.text(
    alphabet=st.sampled_from('ab \\"[]{},:\n\té€😀') | st.characters(codec="utf-8"), max_size=12
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    notes=st.lists(st.one_of(st.none(), _NOTE), min_size=16, max_size=16),
    hashed=st.lists(st.booleans(), min_size=16, max_size=16),
    indent=st.booleans(),
    context_last=st.booleans(),
    damage=st.sampled_from(["none", "cut", "drop", "insert"]),
    where=st.floats(0, 1),
    byte=st.sampled_from(b'"\\{}[],: x'),
    chunk_size=st.integers(1, 97),
)
def test_random_json_documents_stream_as_read_whole(
    tmp_path: Path,
    notes: list[str | None],
    hashed: list[bool],
    indent: bool,
    context_last: bool,
    damage: str,
    where: float,
    byte: int,
    chunk_size: int,
) -> None:
    events = small_plant()[0]
    for event, note, drop_id in zip(events, notes, hashed, strict=True):
        if note is not None:
            event["tl:note"] = note  # strings full of quotes, backslashes and brackets
        if drop_id:
            del event["eventID"]
    doc = document(events)
    if context_last:
        doc["@context"] = doc.pop("@context")
    data = orjson.dumps(doc, option=orjson.OPT_INDENT_2 if indent else 0)
    at = int(where * (len(data) - 1))
    if damage == "cut":
        data = data[:at]
    elif damage == "drop":
        data = data[:at] + data[at + 1 :]
    elif damage == "insert":
        data = data[:at] + bytes([byte]) + data[at:]
    path = tmp_path / "doc.json"
    path.write_bytes(data)
    old, new = _json_pair(path, chunk_size)
    if old[0] == "fault" and "not valid UTF-8" in str(old[1]):
        # A cut through a multi-byte character: the whole-document parser checks the encoding
        # before parsing and reports position 0; the stream reports where the bad byte is.
        assert new[0] == "fault" and "not valid UTF-8" in str(new[1])
        return
    assert new == old


# -- 4. all or nothing --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_fault_after_several_batches_stores_nothing(
    store: Store, tmp_path: Path, fmt: str
) -> None:
    events = small_plant()[0]
    assert store.batch_size < 10  # batches holding events 0-9 are written before the fault
    events[13]["eventTime"] = "yesterday"
    path = tmp_path / f"doc.{fmt}"
    doc = document(events)
    path.write_bytes(document_to_xml(doc) if fmt == "xml" else orjson.dumps(doc))
    count, _events = open_document(path)
    assert count == len(events)
    with pytest.raises(DocumentError) as caught:
        import_document(store, path)
    assert (caught.value.source, caught.value.index) == (str(path), 13)
    assert caught.value.pointer == "/epcisBody/eventList/13/eventTime"
    assert store.counts()["events"] == 0


# -- 5. bounded memory --------------------------------------------------------------------------

# Peak RSS (VmHWM) of a process importing the 100k-event medium plant (60 MB of JSON) into a
# fresh SQLite store, measured on the 2-core development machine: 340 MiB streaming (about
# 120 MiB of it the reading; SQLite's 128 MiB page cache and the write batches are most of the
# rest), 557 MiB with the whole-file reader (read_bytes + orjson.loads; 1.5 GiB for 200 MB).
IMPORT_PEAK_MIB = 450
# Reading (no store) 40k plant events as XML (43 MB): 101 MiB streaming, 541 MiB whole.
XML_READ_PEAK_MIB = 300

_MEASURE = """
import json, sys
from pathlib import Path
from threadline.service import import_document, open_document
from threadline.store import open_store

path = Path(sys.argv[1])
if sys.argv[2] == "read":
    count, events = open_document(path)
    stored = sum(1 for _ in events)
else:
    with open_store(sys.argv[2]) as store:
        report = import_document(store, path)
    count, stored = report.events, report.result.inserted
# VmHWM, not getrusage: ru_maxrss carries the forking parent's peak across exec.
with open("/proc/self/status") as status:
    peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"count": count, "stored": stored, "peak_mib": peak_kib / 1024}))
"""


def _measure(path: Path, target: str) -> dict[str, Any]:
    if sys.platform != "linux":
        pytest.skip("the peak RSS is read from /proc/self/status (VmHWM), which Linux has")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path), target],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def medium_plant(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The medium plant (~100k events) as one compact JSON document, written event by event."""
    plant = Plant(scale="medium", seed=7)
    path = tmp_path_factory.mktemp("plant") / "medium.jsonld"
    head = orjson.dumps({"@context": plant.document_context(), "type": "EPCISDocument"})
    count = 0
    with path.open("wb") as file:
        file.write(head[:-1] + b',"epcisBody":{"eventList":[')
        for event in plant.events():
            file.write(b"," if count else b"")
            file.write(orjson.dumps(event))
            count += 1
        file.write(b"]}}")
    return path, count


def test_a_100k_event_document_imports_in_bounded_memory(
    medium_plant: tuple[Path, int], tmp_path: Path
) -> None:
    path, count = medium_plant
    assert count > 90_000
    result = _measure(path, str(tmp_path / "bounded.db"))
    assert result["count"] == result["stored"] == count
    assert result["peak_mib"] < IMPORT_PEAK_MIB, result


def test_a_large_xml_document_streams_in_bounded_memory(tmp_path: Path) -> None:
    plant = Plant(scale="medium", seed=7)
    events = list(itertools.islice(plant.events(), 40_000))
    doc = {"@context": plant.document_context(), "type": "EPCISDocument"}
    xml = tmp_path / "plant.xml"
    xml.write_bytes(document_to_xml({**doc, "epcisBody": {"eventList": events}}))
    del events
    result = _measure(xml, "read")
    assert result["count"] == result["stored"] == 40_000
    assert result["peak_mib"] < XML_READ_PEAK_MIB, result
