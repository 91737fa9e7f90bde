"""CBV 2.0 Event Hash ID: reference vectors and direct unit tests."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from threadline.epcis.hashing import (
    document_context_namespaces,
    document_ignore_fields,
    event_hash_id,
    prehash_string,
)

CONFORMANCE = Path(
    os.environ.get("THREADLINE_CONFORMANCE")
    or Path(__file__).resolve().parents[2].parent / "shared" / "conformance"
)
VECTORS = CONFORMANCE / "event-hash-vectors"
EXAMPLES = VECTORS / "examples"
MISSING = f"conformance vectors not found at {VECTORS} (set THREADLINE_CONFORMANCE)"


def _vector_files() -> list[Path | None]:
    if not EXAMPLES.is_dir():
        return [None]  # one placeholder case that skips with a reason
    return [
        p
        for p in sorted(EXAMPLES.glob("*.jsonld"))
        if p.with_suffix(".prehashes").exists() or p.with_suffix(".hashes").exists()
    ]


def _events(document: dict[str, Any]) -> list[dict[str, Any]]:
    body = document["epcisBody"]
    if "eventList" in body:
        return list(body["eventList"])
    return list(body["queryResults"]["resultsBody"]["eventList"])


def _lines(path: Path) -> list[str] | None:
    if not path.exists():
        return None
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _ni(prehash: str) -> str:
    return f"ni:///sha-256;{hashlib.sha256(prehash.encode('utf-8')).hexdigest()}?ver=CBV2.0"


@pytest.mark.parametrize(
    "path", _vector_files(), ids=lambda p: p.stem if isinstance(p, Path) else "no-vectors"
)
def test_reference_vector(path: Path | None) -> None:
    if path is None:
        pytest.skip(MISSING)
    document = json.loads(path.read_text(encoding="utf-8"))
    context = document_context_namespaces(document)
    ignore = document_ignore_fields(document)
    events = _events(document)
    got_pre = [prehash_string(e, context=context, ignore_fields=ignore) for e in events]
    got_hash = [event_hash_id(e, context=context, ignore_fields=ignore) for e in events]
    expected_pre = _lines(path.with_suffix(".prehashes"))
    expected_hash = _lines(path.with_suffix(".hashes"))

    # Hashes first, so a pre-hash problem below can never mask a hash regression.
    if expected_hash is not None:
        assert [h.strip() for h in expected_hash] == got_hash
    if expected_pre is None:
        return
    assert len(expected_pre) == len(events)
    corrupt = []
    for i, (expected, got) in enumerate(zip(expected_pre, got_pre, strict=True)):
        if expected == got:
            continue
        # Tolerate only a pre-hash line that is provably broken: it is not the SHA-256
        # pre-image of the vector's own hash for that event, while ours is.
        own_hash = expected_hash[i].strip() if expected_hash else None
        if own_hash is not None and _ni(expected) != own_hash and got_hash[i] == own_hash:
            corrupt.append(i)
            continue
        assert got == expected, f"event {i}"
    if corrupt:
        pytest.xfail(
            f"{path.name}: .prehashes line(s) for event(s) {corrupt} are corrupt upstream "
            "(garbled/stale/truncated): they do not hash to the file's own .hashes entry, "
            "whereas the computed pre-hash does"
        )


def test_expected_equal_json_representations() -> None:
    path = VECTORS / "expected_equal" / "ReferenceEventHashAlgorithm.json"
    if not path.exists():
        pytest.skip(MISSING)
    document = json.loads(path.read_text(encoding="utf-8"))
    context = document_context_namespaces(document)
    hashes = {event_hash_id(e, context=context) for e in _events(document)}
    assert len(hashes) == 1
    reference = _lines(EXAMPLES / "ReferenceEventHashAlgorithm.hashes")
    if reference is not None:
        assert hashes == {reference[0].strip()}


# ----------------------------------------------------------------- direct unit tests

EX_NS = {"ex": "https://ns.example.com/epcis/"}
BASE: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2005-04-03T20:33:31.116-06:00",
    "eventTimeZoneOffset": "-06:00",
    "epcList": ["urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2018"],
    "action": "OBSERVE",
    "bizStep": "shipping",
    "disposition": "in_transit",
    "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
    "bizTransactionList": [{"type": "po", "bizTransaction": "http://transaction.acme.com/po/1"}],
    "ex:field": "value",
}


def _variant(**changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(BASE)
    for key, value in changes.items():
        key = key.replace("__", ":")
        if value is None:
            event.pop(key, None)
        else:
            event[key] = value
    return event


def _h(event: dict[str, Any], **kw: Any) -> str:
    return event_hash_id(event, context=EX_NS, **kw)


def test_hash_format() -> None:
    assert re.fullmatch(r"ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0", _h(BASE))


def test_prehash_of_base_event() -> None:
    assert prehash_string(BASE, context=EX_NS) == (
        "eventType=ObjectEventeventTime=2005-04-04T02:33:31.116ZeventTimeZoneOffset=-06:00"
        "epcListepc=https://id.gs1.org/01/10614141073464/21/2017"
        "epc=https://id.gs1.org/01/10614141073464/21/2018action=OBSERVE"
        "bizStep=https://ref.gs1.org/cbv/BizStep-shipping"
        "disposition=https://ref.gs1.org/cbv/Disp-in_transit"
        "readPointid=https://id.gs1.org/414/0614141073467/254/1234"
        "bizTransactionListtype=https://ref.gs1.org/cbv/BTT-po"
        "bizTransaction=http://transaction.acme.com/po/1"
        "{https://ns.example.com/epcis/}field=value"
    )


def test_bookkeeping_fields_do_not_change_the_hash() -> None:
    variant = _variant(
        eventID="urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8",
        recordTime="2024-01-01T00:00:00Z",
        errorDeclaration={"declarationTime": "2024-01-02T00:00:00Z", "reason": "did_not_occur"},
        rdfs__comment="a comment",
    )
    assert _h(variant) == _h(BASE)


def test_changing_business_data_changes_the_hash() -> None:
    assert _h(_variant(bizStep="receiving")) != _h(BASE)
    assert _h(_variant(disposition=None)) != _h(BASE)
    assert _h(_variant(ex__field="other")) != _h(BASE)
    assert _h(_variant(ex__extra="1")) != _h(BASE)


def test_member_and_list_order_do_not_matter() -> None:
    shuffled = dict(reversed(list(copy.deepcopy(BASE).items())))
    shuffled["epcList"].reverse()
    assert _h(shuffled) == _h(BASE)


def test_identifier_representations_hash_equal() -> None:
    forms = [
        ["urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2018"],
        [
            "https://id.gs1.org/01/10614141073464/21/2017",
            "https://example.com/gtin/10614141073464/lot/L1/ser/2018?linkType=all",
        ],
    ]
    assert len({_h(_variant(epcList=f)) for f in forms}) == 1
    custom_domain = {"id": "https://brand.example/414/0614141073467/254/1234"}
    assert _h(_variant(readPoint=custom_domain)) == _h(BASE)


def test_vocabulary_representations_hash_equal() -> None:
    for step in (
        "urn:epcglobal:cbv:bizstep:shipping",
        "https://ref.gs1.org/cbv/BizStep-shipping",
        "cbv:BizStep-shipping",
    ):
        assert _h(_variant(bizStep=step)) == _h(BASE)


def test_timestamps_and_numbers_are_normalised() -> None:
    for t in ("2005-04-04T02:33:31.116Z", "2005-04-04T02:33:31.1160+00:00"):
        assert _h(_variant(eventTime=t)) == _h(BASE)
    assert _h(_variant(eventTime="2005-04-04T02:33:31.1164Z")) == _h(BASE)
    assert _h(_variant(eventTime="2005-04-04T02:33:31.1165Z")) != _h(BASE)
    quantities = [452, 452.0, "452.00"]
    events = [
        _variant(
            quantityList=[{"epcClass": "urn:epc:class:lgtin:4012345.012345.L1", "quantity": q}]
        )
        for q in quantities
    ]
    assert len({_h(e) for e in events}) == 1
    assert "quantityElementepcClass=https://id.gs1.org/01/04012345123456/10/L1quantity=452" in (
        prehash_string(events[0])
    )


def test_empty_values_are_ignored() -> None:
    assert _h(_variant(childEPCs=[], ilmd={}, sourceList=[])) == _h(BASE)


def test_extension_namespace_not_prefix_counts() -> None:
    same_ns = _variant(ex__field=None, other__field="value")
    assert event_hash_id(same_ns, context={"other": EX_NS["ex"]}) == _h(BASE)
    assert event_hash_id(same_ns, context={"other": "https://elsewhere.example/"}) != _h(BASE)


def test_clark_names_and_node_references() -> None:
    # An XML reader yields {namespace}local keys; JSON-LD may wrap IRIs as {"@id": ...}.
    clark = _variant(ex__field=None, **{"{https://ns.example.com/epcis/}field": "value"})
    assert _h(clark) == _h(BASE)
    as_urn = _variant(ex__ref={"@id": "urn:epc:id:sgtin:0614141.107346.2017"})
    as_dl = _variant(ex__ref="https://id.gs1.org/01/10614141073464/21/2017")
    assert _h(as_urn) == _h(as_dl) != _h(BASE)


def test_ignore_fields() -> None:
    extra = _variant(ex__captureID="cc90bbe4")
    assert _h(extra) != _h(BASE)
    assert _h(extra, ignore_fields=["ex:captureID"]) == _h(BASE)
    assert _h(extra, ignore_fields=["{https://ns.example.com/epcis/}captureID"]) == _h(BASE)


def test_document_helpers() -> None:
    document = {
        "@context": [
            "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
            {"ex": "https://ns.example.com/epcis/", "@version": 1.1},
            {"term": {"@id": "urn:example:ns:"}, "n": 1},
        ],
        "repo:ignoreFields": ["repo:hash"],
        "epcisBody": {"eventList": []},
    }
    assert document_context_namespaces(document) == {
        "ex": "https://ns.example.com/epcis/",
        "term": "urn:example:ns:",
    }
    assert document_context_namespaces({"@context": "https://x.example/ctx"}) == {}
    assert document_ignore_fields(document) == ("repo:hash",)
