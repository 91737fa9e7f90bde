"""EPCIS 2.0 query parameters -> EventQuery: names, value forms, and every kind of bad input."""

from __future__ import annotations

from typing import Any

import pytest

from threadline.epcis.query_params import (
    Comparison,
    IdMatch,
    PageToken,
    SensorCondition,
    encode_page_token,
    id_match,
    parse_query,
)
from threadline.errors import InvalidInput, QueryParameterError, QueryTooLarge
from threadline.gs1.keys import canonical, canonical_key

SGTIN = "urn:epc:id:sgtin:4012345.011111.9876"
SGTIN_DL = "https://id.example.com/01/04012345111118/21/9876"


def raises(params: Any, name: str) -> QueryParameterError:
    with pytest.raises(QueryParameterError) as info:
        parse_query(params)
    assert info.value.parameter == name
    assert info.value.message.startswith(f"{name}: ")
    return info.value


# -- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["EQ_bizstep", "MATCH_epcs", "bogus", "GE_eventtime", "EQ_quantity_kgm", "orderby", "LT_"],
)
def test_unknown_parameter_names_the_parameter(name: str) -> None:
    error = raises({name: "x"}, name)
    assert "unknown query parameter" in error.message


@pytest.mark.parametrize(
    "name", ["EQ_ex:colour", "GE_INNER_ex:size", "EQ_ILMD_ex:heat", "HASATTR_ex:x", "EQ_ATTR_a_b"]
)
def test_extension_field_parameters_are_refused_not_ignored(name: str) -> None:
    error = raises({name: "x"}, name)
    assert "not supported" in error.message


def test_error_is_a_400_query_parameter_exception() -> None:
    error = raises({"nope": "1"}, "nope")
    assert isinstance(error, InvalidInput)
    assert (error.status, error.code) == (400, "QueryParameterException")
    assert error.to_dict()["parameter"] == "nope"
    assert (QueryTooLarge.status, QueryTooLarge.code) == (413, "QueryTooLargeException")


# -- bad values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("GE_eventTime", "yesterday", "not an ISO-8601"),
        ("LT_eventTime", "2024-05-01T08:00:00", "no time zone"),
        ("GE_recordTime", "2024-13-01T00:00:00Z", "not an ISO-8601"),
        ("GE_errorDeclarationTime", "soon", "not an ISO-8601"),
        ("GE_time", "noon", "not an ISO-8601"),
        ("EQ_quantity", "five", "not a number"),
        ("GT_quantity", "1e999", "not a finite number"),
        ("LE_quantity_KGM", "x", "not a number"),
        ("GE_value_CEL", "warm", "not a number"),
        ("orderDirection", "UP", "must be ASC or DESC"),
        ("orderBy", "quantity", "cannot be ordered by"),
        ("EQ_action", "ADD|MOVE", "not an action"),
        ("eventType", "QuantityEvent", "not an event type"),
        ("eventCountLimit", "-1", "at least 0"),
        ("maxEventCount", "many", "not an integer"),
        ("perPage", "0", "at least 1"),
        ("nextPageToken", "not-a-token", "not a page token"),
        ("EXISTS_errorDeclaration", "maybe", "not true or false"),
        ("EQ_readPoint", "urn:epc:id:sgln:4012345.00001", "wrong number of fields"),
        ("MATCH_epc", "https://id.gs1.org/01/04012345111119/21/1", "check digit"),
        ("MATCH_epc", "urn:epc:idpat:sgtin:4012345.*.9", "may only be followed by '*'"),
        ("MATCH_epcClass", "urn:epc:idpat:cpi:4012345.*.*", "not supported"),
        ("MATCH_anyEPC", "urn:epc:idpat:sscc:40x.*", "digits or '*'"),
        ("EQ_deviceID", "urn:epc:id:giai:40.1", "company prefix"),
        ("EQ_source_owning_party", "urn:epc:id:pgln:4012345.0000", "total 12 digits"),
        ("EQ_bizStep", "", "no value given"),
    ],
)
def test_bad_value_names_the_parameter(name: str, value: str, fragment: str) -> None:
    error = raises({name: value}, name)
    assert fragment in error.message


def test_single_valued_parameters_refuse_several_values() -> None:
    error = raises(
        {"GE_eventTime": ["2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"]}, "GE_eventTime"
    )
    assert "one value" in error.message
    raises({"GE_quantity": ["1", "2"]}, "GE_quantity")


def test_event_count_limit_rules() -> None:
    error = raises({"eventCountLimit": "3"}, "eventCountLimit")
    assert "orderBy" in error.message
    error = raises(
        {"eventCountLimit": "3", "maxEventCount": "4", "orderBy": "eventTime"}, "eventCountLimit"
    )
    assert "maxEventCount" in error.message
    ok = parse_query({"eventCountLimit": "3", "orderBy": "eventTime"})
    assert (ok.event_count_limit, ok.order_by, ok.descending) == (3, "eventTime", True)


# -- value forms ------------------------------------------------------------------------------


def test_alternatives_pipe_comma_and_repeated_are_the_same() -> None:
    a = parse_query({"EQ_bizStep": "shipping|receiving"})
    b = parse_query({"EQ_bizStep": "shipping,receiving"})
    c = parse_query({"EQ_bizStep": ["shipping", "receiving"]})
    d = parse_query([("EQ_bizStep", "shipping"), ("EQ_bizStep", "receiving")])
    assert a.biz_steps == b.biz_steps == c.biz_steps == d.biz_steps == ("shipping", "receiving")


def test_cbv_words_in_any_spelling() -> None:
    q = parse_query(
        {
            "EQ_bizStep": "urn:epcglobal:cbv:bizstep:shipping|"
            "https://ref.gs1.org/cbv/BizStep-receiving",
            "EQ_disposition": "cbv:Disp-in_transit",
            "EQ_errorReason": "urn:epcglobal:cbv:er:incorrect_data",
            "EQ_persistentDisposition_set": "https://ref.gs1.org/cbv/Disp-completeness_verified",
            "EQ_bizTransaction_po": "urn:example:po:1",
            "EQ_source_owning_party": SGTIN,
        }
    )
    assert q.biz_steps == ("shipping", "receiving")
    assert q.dispositions == ("in_transit",)
    assert q.error_reasons == ("incorrect_data",)
    assert q.persistent_set == ("completeness_verified",)
    assert q.biz_transactions == (("po", ("urn:example:po:1",)),)
    assert q.sources == (("owning_party", (SGTIN,)),)


def test_locations_are_canonical_keys() -> None:
    q = parse_query(
        {
            "EQ_readPoint": "urn:epc:id:sgln:4012345.00001.0",
            "WD_bizLocation": "https://example.com/x/414/4012345000016",
        }
    )
    assert q.read_points == ("https://id.gs1.org/414/4012345000016",)
    assert q.wd_biz_locations == ("https://id.gs1.org/414/4012345000016",)


def test_times_become_utc_storage_text() -> None:
    q = parse_query(
        {"GE_eventTime": "2024-05-01T09:30:00+01:00", "LT_recordTime": "2024-05-01T00:00Z"}
    )
    assert q.ge_event_time == "2024-05-01T08:30:00.000000Z"
    assert q.lt_record_time == "2024-05-01T00:00:00.000000Z"


def test_quantity_and_sensor_comparisons() -> None:
    q = parse_query(
        {
            "EQ_quantity": "5|7.5",
            "GE_quantity_KGM": "100",
            "GT_value_CEL": "25",
            "EQ_value_CEL": "26.5",
            "LT_maxValue_CEL": "30",
            "GE_percRank": "50",
            "EQ_type": "gs1:Temperature|https://gs1.org/voc/AbsoluteHumidity|example:Abc",
            "EQ_deviceID": "urn:epc:id:giai:4000001.111",
            "EQ_booleanValue": "false",
            "EQ_stringValue": "blue",
            "GE_startTime": "2024-01-01T00:00:00Z",
        }
    )
    assert dict(q.quantities) == {
        "EQ_quantity": (Comparison("EQ", 5.0), Comparison("EQ", 7.5)),
        "GE_quantity_KGM": (Comparison("GE", 100.0, "KGM"),),
    }
    sensor = {c.parameter: c for c in q.sensor}
    assert sensor["GT_value_CEL"] == SensorCondition("GT_value_CEL", "value", "GT", (25.0,), "CEL")
    assert sensor["EQ_value_CEL"].values == (26.5,)
    assert sensor["LT_maxValue_CEL"].column == "max_value"
    assert sensor["GE_percRank"] == SensorCondition("GE_percRank", "perc_rank", "GE", (50.0,))
    assert sensor["EQ_type"].values == ("Temperature", "AbsoluteHumidity", "example:Abc")
    assert sensor["EQ_deviceID"].values == ("https://id.gs1.org/8004/4000001111",)
    assert sensor["EQ_booleanValue"].values == (False,) and sensor["EQ_booleanValue"].attribute
    assert sensor["EQ_stringValue"].attribute
    assert sensor["GE_startTime"].values == ("2024-01-01T00:00:00.000000Z",)


def test_exists_flags_accept_an_empty_value() -> None:
    assert parse_query({"EXISTS_errorDeclaration": ""}).exists_error_declaration is True
    assert parse_query({"EXISTS_errorDeclaration": "false"}).exists_error_declaration is False
    assert parse_query({"EXISTS_sensorElementList": "true"}).exists_sensor is True


def test_query_schema_spelling_of_error_declaration_time_is_accepted() -> None:
    a = parse_query({"GE_errorDeclaration_Time": "2024-01-01T00:00:00Z"})
    b = parse_query({"GE_errorDeclarationTime": "2024-01-01T00:00:00Z"})
    assert a.ge_error_declaration_time == b.ge_error_declaration_time is not None


# -- identifier patterns ----------------------------------------------------------------------


def test_exact_identifiers_match_in_any_form() -> None:
    m = id_match("MATCH_epc", SGTIN_DL)
    assert m == IdMatch(SGTIN_DL, key=canonical_key(SGTIN))
    assert m.matches(canonical(SGTIN))
    assert not m.matches(canonical("urn:epc:id:sgtin:4012345.011111.9877"))


@pytest.mark.parametrize(
    ("pattern", "matching", "other"),
    [
        (
            "urn:epc:idpat:sgtin:4012345.011111.*",
            ["urn:epc:id:sgtin:4012345.011111.1", "urn:epc:class:lgtin:4012345.011111.L1"],
            ["urn:epc:id:sgtin:4012345.022222.1", "urn:epc:id:sscc:4012345.0000000001"],
        ),
        (
            "https://id.gs1.org/01/04012345111118",  # a product: every serial and lot
            ["urn:epc:id:sgtin:4012345.011111.1", "urn:epc:class:lgtin:4012345.011111.L1"],
            ["urn:epc:id:sgtin:4012345.022222.1"],
        ),
        (
            "urn:epc:idpat:lgtin:4012345.011111.*",
            ["urn:epc:class:lgtin:4012345.011111.L1"],
            ["urn:epc:id:sgtin:4012345.011111.1", "urn:epc:class:lgtin:4012345.022222.L1"],
        ),
        (
            "urn:epc:idpat:sgtin:4012345.*.*",
            ["urn:epc:id:sgtin:4012345.011111.1", "urn:epc:id:sgtin:4012345.122222.1"],
            ["urn:epc:id:sgtin:4098765.011111.1", "urn:epc:id:sscc:4012345.0000000001"],
        ),
        (
            "urn:epc:idpat:sscc:4012345.*",
            ["urn:epc:id:sscc:4012345.0000000001", "urn:epc:id:sscc:4012345.1000000001"],
            ["urn:epc:id:sscc:4098765.0000000001"],
        ),
        (
            "urn:epc:idpat:sgln:4012345.00001.*",
            ["urn:epc:id:sgln:4012345.00001.0", "urn:epc:id:sgln:4012345.00001.LINE-1"],
            ["urn:epc:id:sgln:4012345.00002.0"],
        ),
        (
            "urn:epc:idpat:grai:4012345.00001.*",
            ["urn:epc:id:grai:4012345.00001.7"],
            ["urn:epc:id:grai:4012345.00002.7"],
        ),
        (
            "urn:epc:idpat:giai:4000001.*",
            ["urn:epc:id:giai:4000001.111"],
            ["urn:epc:id:giai:4000002.111"],
        ),
        (
            "urn:epc:idpat:sgtin:4012345.011111.9876",  # no wildcard: exactly one
            ["urn:epc:id:sgtin:4012345.011111.9876"],
            ["urn:epc:id:sgtin:4012345.011111.9877"],
        ),
    ],
)
def test_patterns(pattern: str, matching: list[str], other: list[str]) -> None:
    m = id_match("MATCH_anyEPC", pattern)
    for value in matching:
        assert m.matches(canonical(value)), value
    for value in other:
        assert not m.matches(canonical(value)), value


# -- paging -----------------------------------------------------------------------------------


def test_page_token_round_trip_and_binding_to_its_query() -> None:
    first = parse_query({"EQ_bizStep": "shipping", "perPage": "2"})
    token = encode_page_token(PageToken("2024-01-01T00:00:00.000000Z", 42, 2, first.fingerprint))
    again = parse_query({"EQ_bizStep": "shipping", "perPage": "5", "nextPageToken": token})
    assert again.page_token == PageToken("2024-01-01T00:00:00.000000Z", 42, 2, first.fingerprint)
    assert again.per_page == 5  # the page size may change between pages
    error = raises({"EQ_bizStep": "receiving", "nextPageToken": token}, "nextPageToken")
    assert "other parameters" in error.message
