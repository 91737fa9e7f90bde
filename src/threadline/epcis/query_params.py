"""EPCIS 2.0 ``SimpleEventQuery`` parameters -> a typed, validated :class:`EventQuery`.

Pure: no SQL and no store. :func:`parse_query` takes a mapping of parameter name to value(s) as
a REST query string or a CLI gives them and returns an :class:`EventQuery` that
:func:`threadline.store.query.run_query` executes. Semantics follow the EPCIS 2.0 query
parameter definitions (``openapi.yaml`` / ``query-schema.json``):

* several values of one parameter are alternatives (OR): repeated, or separated by ``|`` or
  ``,`` (write a comma inside an identifier as ``%2C``); different parameters all apply (AND);
* CBV values are accepted as bare words or in any standard spelling (``shipping``,
  ``https://ref.gs1.org/cbv/BizStep-shipping``, ``urn:epcglobal:cbv:bizstep:shipping``);
* identifiers are accepted in any GS1 form (EPC URN, Digital Link on any host) and compared
  canonically; ``MATCH_`` parameters also take EPC pattern URNs (``urn:epc:idpat:sgtin:
  4012345.012345.*``) and a GTIN-only Digital Link, which stands for every object of that
  product;
* an unknown parameter, a standard one Threadline does not support, or a bad value raises
  :class:`~threadline.errors.QueryParameterError` naming the parameter.

Paging (``perPage`` / ``nextPageToken``) is keyset paging: the token is opaque to clients and
carries the position after the last event returned.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import orjson

from threadline.epcis.cbv import Vocabulary, cbv_word
from threadline.epcis.json_reader import utc_text
from threadline.epcis.sensors import measurement_word
from threadline.errors import InvalidInput, QueryParameterError
from threadline.gs1.keys import canonical, check_digit
from threadline.model.identifiers import CANONICAL_BASE, Identifier, Kind

__all__ = [
    "EVENT_TYPES",
    "MATCH_ROLES",
    "Comparison",
    "EventQuery",
    "IdMatch",
    "PageToken",
    "SensorCondition",
    "encode_page_token",
    "id_match",
    "parse_query",
]

EVENT_TYPES = (
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
)
ACTIONS = ("ADD", "OBSERVE", "DELETE")

# MATCH_ parameter -> the roles (see threadline.store.projector.roles_of) it looks at.
MATCH_ROLES: dict[str, tuple[str, ...]] = {
    "MATCH_epc": ("epc", "child"),
    "MATCH_parentID": ("parent",),
    "MATCH_inputEPC": ("input",),
    "MATCH_outputEPC": ("output",),
    "MATCH_anyEPC": ("epc", "child", "parent", "input", "output"),
    "MATCH_epcClass": ("quantity", "child_quantity"),
    "MATCH_inputEPCClass": ("input_quantity",),
    "MATCH_outputEPCClass": ("output_quantity",),
    "MATCH_anyEPCClass": ("quantity", "child_quantity", "input_quantity", "output_quantity"),
}

Op = Literal["EQ", "GT", "GE", "LT", "LE"]
_OPS: tuple[Op, ...] = ("EQ", "GT", "GE", "LT", "LE")

# Sensor report statistics a GT_/GE_/LT_/LE_<field>_<uom> parameter may compare.
SENSOR_FIELDS = {
    "value": "value",
    "minValue": "min_value",
    "maxValue": "max_value",
    "meanValue": "mean_value",
    "sDev": "s_dev",
    "percValue": "perc_value",
}
# EQ_<attribute> sensor parameters compared as strings against a report (or its metadata).
SENSOR_ATTRIBUTES = (
    "dataProcessingMethod",
    "microorganism",
    "chemicalSubstance",
    "bizRules",
    "stringValue",
    "hexBinaryValue",
    "uriValue",
)

_UOM = re.compile(r"^[A-Z0-9]{2,4}$")
_TYPE_SUFFIX = re.compile(r"^[a-z][a-zA-Z0-9_]+$")
_SPLIT = re.compile(r"[|,]")
_EXTENSION_FIELD = re.compile(r"^(?:EQ|GT|GE|LT|LE|EXISTS|HASATTR)_.*:")

ParamValue = str | Sequence[str]


@dataclass(frozen=True, slots=True)
class IdMatch:
    """One value of a ``MATCH_`` parameter: an exact canonical key, or a pattern.

    A pattern restricts ``kinds`` and either ``product`` (a GTIN-14) or ``key_like`` (an SQL
    ``LIKE`` pattern over canonical keys, ``%`` and ``_`` as wildcards).
    """

    value: str
    key: str | None = None
    kinds: frozenset[str] | None = None
    product: str | None = None
    key_like: str | None = None

    def matches(self, ident: Identifier) -> bool:
        """Whether the canonical identifier ``ident`` is matched (the SQL filter's twin)."""
        if self.key is not None:
            return ident.key == self.key
        if self.kinds is not None and ident.kind.value not in self.kinds:
            return False
        if self.product is not None and ident.product != self.product:
            return False
        return self.key_like is None or _like(self.key_like).match(ident.key) is not None


_LIKE_CACHE: dict[str, re.Pattern[str]] = {}


def _like(pattern: str) -> re.Pattern[str]:
    found = _LIKE_CACHE.get(pattern)
    if found is None:
        body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
        found = _LIKE_CACHE[pattern] = re.compile(f"^{body}$", re.DOTALL)
    return found


@dataclass(frozen=True, slots=True)
class Comparison:
    """``<quantity|value> <op> <number>``, optionally only for one unit of measure."""

    op: Op
    value: float
    uom: str | None = None


@dataclass(frozen=True, slots=True)
class SensorCondition:
    """One sensor parameter: a readings column (or report attribute) compared with values.

    ``column`` is a ``readings`` column (``parameter``, ``device_id``, ``value``, ``time``, ...)
    or, for ``attribute`` conditions, the name of a sensorReport / sensorMetadata field.
    ``values`` are alternatives for ``EQ``; the other operators take exactly one value.
    """

    parameter: str
    column: str
    op: Op
    values: tuple[Any, ...]
    uom: str | None = None
    attribute: bool = False


@dataclass(frozen=True, slots=True)
class PageToken:
    """Where the previous page ended: its sort value and row id, and how many came before."""

    sort_value: str | None
    row: int
    returned: int
    fingerprint: str


@dataclass(frozen=True)
class EventQuery:
    """A validated SimpleEventQuery. Empty tuples / None mean "no restriction"."""

    event_types: tuple[str, ...] = ()
    ge_event_time: str | None = None
    lt_event_time: str | None = None
    ge_record_time: str | None = None
    lt_record_time: str | None = None
    actions: tuple[str, ...] = ()
    biz_steps: tuple[str, ...] = ()
    dispositions: tuple[str, ...] = ()
    persistent_set: tuple[str, ...] = ()
    persistent_unset: tuple[str, ...] = ()
    read_points: tuple[str, ...] = ()  # canonical keys
    wd_read_points: tuple[str, ...] = ()
    biz_locations: tuple[str, ...] = ()
    wd_biz_locations: tuple[str, ...] = ()
    transformation_ids: tuple[str, ...] = ()
    matches: tuple[tuple[str, tuple[IdMatch, ...]], ...] = ()  # (MATCH_ name, values)
    quantities: tuple[tuple[str, tuple[Comparison, ...]], ...] = ()  # (name, alternatives)
    event_ids: tuple[str, ...] = ()
    exists_error_declaration: bool = False
    error_reasons: tuple[str, ...] = ()
    ge_error_declaration_time: str | None = None
    lt_error_declaration_time: str | None = None
    corrective_event_ids: tuple[str, ...] = ()
    biz_transactions: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (type word, ids as given)
    sources: tuple[tuple[str, tuple[str, ...]], ...] = ()
    destinations: tuple[tuple[str, tuple[str, ...]], ...] = ()
    sensor: tuple[SensorCondition, ...] = ()
    exists_sensor: bool = False
    order_by: Literal["eventTime", "recordTime"] | None = None
    descending: bool = True
    event_count_limit: int | None = None
    max_event_count: int | None = None
    per_page: int | None = None
    page_token: PageToken | None = None
    fingerprint: str = field(default="", compare=False)


# -- values -------------------------------------------------------------------------------------


def _values(name: str, raw: ParamValue, *, split: bool = True) -> list[str]:
    items = [raw] if isinstance(raw, str) else list(raw)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise QueryParameterError(f"a value must be a string, got {item!r}", parameter=name)
        parts = _SPLIT.split(item) if split else [item]
        out.extend(p.strip() for p in parts if p.strip())
    if not out:
        raise QueryParameterError("no value given", parameter=name)
    return out


def _single(name: str, raw: ParamValue) -> str:
    values = _values(name, raw, split=False)
    if len(values) != 1:
        raise QueryParameterError(f"takes one value, got {len(values)}", parameter=name)
    return values[0]


def _time(name: str, raw: ParamValue) -> str:
    value = _single(name, raw)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise QueryParameterError(
            f"{value!r} is not an ISO-8601 date-time (e.g. 2024-05-01T08:00:00Z)", parameter=name
        ) from None
    if moment.tzinfo is None:
        raise QueryParameterError(
            f"{value!r} has no time zone (add Z or an offset such as +01:00)", parameter=name
        )
    return utc_text(moment)


def _number(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise QueryParameterError(f"{value!r} is not a number", parameter=name) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise QueryParameterError(f"{value!r} is not a finite number", parameter=name)
    return number


def _integer(name: str, raw: ParamValue, *, minimum: int) -> int:
    value = _single(name, raw)
    try:
        number = int(value)
    except ValueError:
        raise QueryParameterError(f"{value!r} is not an integer", parameter=name) from None
    if number < minimum:
        raise QueryParameterError(f"must be at least {minimum}, got {number}", parameter=name)
    return number


def _boolean(name: str, raw: ParamValue) -> bool:
    items = [raw] if isinstance(raw, str) else list(raw)
    value = items[-1].strip().lower() if items else ""
    if value in ("", "true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise QueryParameterError(f"{value!r} is not true or false", parameter=name)


def _key(name: str, value: str) -> str:
    try:
        return canonical(value).key
    except InvalidInput as exc:
        raise QueryParameterError(exc.message, parameter=name) from None


def _cbv(name: str, raw: ParamValue, vocabulary: Vocabulary) -> tuple[str, ...]:
    return tuple(dict.fromkeys(cbv_word(v, vocabulary) for v in _values(name, raw)))


# -- identifier patterns ----------------------------------------------------------------------

_GTIN_KINDS = frozenset({Kind.SGTIN.value, Kind.LGTIN.value, Kind.GTIN.value})
_IDPAT_FIELDS = {"sgtin": 3, "lgtin": 3, "sscc": 2, "sgln": 3, "grai": 3, "giai": 2, "gdti": 3}


def _pattern(name: str, value: str) -> IdMatch:
    scheme, _, rest = value[len("urn:epc:idpat:") :].partition(":")
    scheme = scheme.lower()
    count = _IDPAT_FIELDS.get(scheme)
    if count is None:
        raise QueryParameterError(
            f"EPC pattern {value!r}: scheme {scheme!r} is not supported "
            f"(use one of {', '.join(sorted(_IDPAT_FIELDS))})",
            parameter=name,
        )
    fields = rest.split(".", count - 1)
    if len(fields) != count:
        raise QueryParameterError(
            f"EPC pattern {value!r} must have {count} fields separated by '.'", parameter=name
        )
    star = next((i for i, f in enumerate(fields) if f == "*"), None)
    if star is None:  # no wildcard: the pattern names exactly one identifier
        urn = "urn:epc:" + ("class" if scheme == "lgtin" else "id") + f":{scheme}:{rest}"
        return IdMatch(value, key=_key(name, urn))
    if any(f != "*" for f in fields[star:]):
        raise QueryParameterError(
            f"EPC pattern {value!r}: a '*' may only be followed by '*'", parameter=name
        )
    fixed = fields[:star]
    for part in fixed:
        if not part.isdigit():
            raise QueryParameterError(
                f"EPC pattern {value!r}: {part!r} must be digits or '*'", parameter=name
            )
    company = fixed[0] if fixed else ""
    if fixed and not 6 <= len(company) <= 12:
        raise QueryParameterError(
            f"EPC pattern {value!r}: a company prefix has 6 to 12 digits", parameter=name
        )
    kinds = frozenset({scheme}) if scheme != "sgtin" else _GTIN_KINDS
    if scheme in ("sgtin", "lgtin"):
        if len(fixed) == 2:  # company and item: one product
            gtin = _key(name, f"urn:epc:idpat:sgtin:{company}.{fixed[1]}.*").rsplit("/", 1)[-1]
            return IdMatch(value, kinds=kinds, product=gtin)
        return IdMatch(value, kinds=kinds, key_like=f"{CANONICAL_BASE}/01/_{company}%")
    if scheme == "sscc":
        return IdMatch(value, kinds=kinds, key_like=f"{CANONICAL_BASE}/00/_{company}%")
    if scheme == "giai":
        return IdMatch(value, kinds=kinds, key_like=f"{CANONICAL_BASE}/8004/{company}%")
    ai = {"sgln": "414", "grai": "8003", "gdti": "253"}[scheme]
    lead = "0" if scheme == "grai" else ""
    if len(fixed) == 2:
        body = company + fixed[1]
        if len(body) != 12:
            raise QueryParameterError(
                f"EPC pattern {value!r}: company prefix and reference must total 12 digits",
                parameter=name,
            )
        return IdMatch(
            value, kinds=kinds, key_like=f"{CANONICAL_BASE}/{ai}/{lead}{body}{check_digit(body)}%"
        )
    return IdMatch(value, kinds=kinds, key_like=f"{CANONICAL_BASE}/{ai}/{lead}{company}%")


def id_match(name: str, value: str) -> IdMatch:
    """Parse one ``MATCH_`` value (identifier in any form, or EPC pattern URN)."""
    if value.lower().startswith("urn:epc:idpat:"):
        return _pattern(name, value)
    try:
        ident = canonical(value)
    except InvalidInput as exc:
        raise QueryParameterError(exc.message, parameter=name) from None
    if ident.kind is Kind.GTIN:  # a product: every instance, lot and the class itself
        return IdMatch(value, kinds=_GTIN_KINDS, product=ident.product)
    return IdMatch(value, key=ident.key)


# -- paging -------------------------------------------------------------------------------------


def encode_page_token(token: PageToken) -> str:
    """The opaque ``nextPageToken`` text for ``token``."""
    data = orjson.dumps([token.sort_value, token.row, token.returned, token.fingerprint])
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _decode_page_token(name: str, text: str) -> PageToken:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        sort_value, row, returned, fingerprint = data
        if not (
            (sort_value is None or isinstance(sort_value, str))
            and isinstance(row, int)
            and isinstance(returned, int)
            and isinstance(fingerprint, str)
        ):
            raise ValueError
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise QueryParameterError(
            "not a page token issued by this server", parameter=name
        ) from None
    return PageToken(sort_value, row, returned, fingerprint)


def _fingerprint(params: Mapping[str, list[str]]) -> str:
    canonical_form = orjson.dumps(sorted(params.items()))
    return hashlib.sha256(canonical_form).hexdigest()[:16]


# -- the parser ---------------------------------------------------------------------------------

# Standard parameter families Threadline does not implement: asking for one is an error rather
# than a silently ignored filter.
_UNSUPPORTED_PREFIXES = ("EQ_INNER_", "EQ_ILMD_", "EQ_ATTR_", "HASATTR_", "EXISTS_INNER_")
_PAGING = ("perPage", "nextPageToken")


def _comparison_name(name: str) -> tuple[Op, str, str | None] | None:
    """``GE_quantity_KGM`` -> ("GE", "quantity", "KGM"); None when not of that shape."""
    op, _, rest = name.partition("_")
    if op not in _OPS or not rest:
        return None
    subject, _, uom = rest.partition("_")
    if uom and not _UOM.match(uom):
        return None
    return op, subject, uom or None


def parse_query(params: Mapping[str, ParamValue] | Iterable[tuple[str, str]]) -> EventQuery:
    """Validate EPCIS query parameters into an :class:`EventQuery`.

    ``params`` is a mapping of name to a value or list of values, or (name, value) pairs where
    a name may repeat (as in a URL query string).
    """
    grouped: dict[str, list[str]] = {}
    items = params.items() if isinstance(params, Mapping) else params
    for name, raw in items:
        if not isinstance(name, str):
            raise QueryParameterError(f"parameter names are strings, got {name!r}")
        grouped.setdefault(name, []).extend([raw] if isinstance(raw, str) else list(raw))
    out: dict[str, Any] = {}
    matches: list[tuple[str, tuple[IdMatch, ...]]] = []
    quantities: list[tuple[str, tuple[Comparison, ...]]] = []
    sensor: list[SensorCondition] = []
    biz: dict[str, list[tuple[str, tuple[str, ...]]]] = {
        "biz_transactions": [],
        "sources": [],
        "destinations": [],
    }
    for name, raw in grouped.items():
        _parse_one(name, raw, out, matches, quantities, sensor, biz)
    if matches:
        out["matches"] = tuple(matches)
    if quantities:
        out["quantities"] = tuple(quantities)
    if sensor:
        out["sensor"] = tuple(sensor)
    for attr, entries in biz.items():
        if entries:
            out[attr] = tuple(entries)
    if out.get("event_count_limit") is not None:
        if out.get("max_event_count") is not None:
            raise QueryParameterError(
                "eventCountLimit and maxEventCount cannot be used together",
                parameter="eventCountLimit",
            )
        if out.get("order_by") is None:
            raise QueryParameterError(
                "needs orderBy (the order decides which events come first)",
                parameter="eventCountLimit",
            )
    filters = {k: v for k, v in grouped.items() if k not in _PAGING}
    fingerprint = _fingerprint(filters)
    token = out.get("page_token")
    if token is not None and token.fingerprint != fingerprint:
        raise QueryParameterError(
            "this page token belongs to a query with other parameters", parameter="nextPageToken"
        )
    return EventQuery(**out, fingerprint=fingerprint)


def _parse_one(
    name: str,
    raw: list[str],
    out: dict[str, Any],
    matches: list[tuple[str, tuple[IdMatch, ...]]],
    quantities: list[tuple[str, tuple[Comparison, ...]]],
    sensor: list[SensorCondition],
    biz: dict[str, list[tuple[str, tuple[str, ...]]]],
) -> None:
    simple = _SIMPLE.get(name)
    if simple is not None:
        attr, parse = simple
        out[attr] = parse(name, raw)
        return
    sensor_parse = _SENSOR_SIMPLE.get(name)
    if sensor_parse is not None:
        sensor.append(sensor_parse(name, raw))
        return
    if name in MATCH_ROLES:
        matches.append((name, tuple(dict.fromkeys(id_match(name, v) for v in _values(name, raw)))))
        return
    for prefix, attr in (
        ("EQ_bizTransaction_", "biz_transactions"),
        ("EQ_source_", "sources"),
        ("EQ_destination_", "destinations"),
    ):
        if name.startswith(prefix):
            kind = name[len(prefix) :]
            if not _TYPE_SUFFIX.match(kind) and ":" not in kind:
                raise QueryParameterError(
                    f"the type after {prefix} must be a CBV word such as "
                    f"{'po' if attr == 'biz_transactions' else 'owning_party'}",
                    parameter=name,
                )
            vocabulary: Vocabulary = "btt" if attr == "biz_transactions" else "sdt"
            ids = tuple(dict.fromkeys(_values(name, raw)))
            for value in ids:
                _key(name, value)  # a malformed GS1 key is a bad value, said now
            biz[attr].append((cbv_word(kind, vocabulary), ids))
            return
    if name.startswith(_UNSUPPORTED_PREFIXES):
        raise QueryParameterError("is not supported by Threadline", parameter=name)
    if _EXTENSION_FIELD.match(name):
        raise QueryParameterError(
            "queries on extension fields are not supported by Threadline", parameter=name
        )
    shape = _comparison_name(name)
    if shape is not None:
        op, subject, uom = shape
        if subject == "quantity":
            if op == "EQ":
                alternatives = tuple(
                    Comparison("EQ", _number(name, v), uom) for v in _values(name, raw)
                )
            else:
                alternatives = (Comparison(op, _number(name, _single(name, raw)), uom),)
            quantities.append((name, alternatives))
            return
        if subject in SENSOR_FIELDS and uom is not None and (op != "EQ" or subject == "value"):
            values = (
                tuple(_number(name, v) for v in _values(name, raw))
                if op == "EQ"
                else (_number(name, _single(name, raw)),)
            )
            sensor.append(SensorCondition(name, SENSOR_FIELDS[subject], op, values, uom))
            return
        if subject == "percRank" and uom is None and op != "EQ":
            rank = _number(name, _single(name, raw))
            sensor.append(SensorCondition(name, "perc_rank", op, (rank,)))
            return
    raise QueryParameterError("unknown query parameter", parameter=name)


# name -> (EventQuery attribute, parser) for parameters with a fixed name.
def _types(name: str, raw: list[str]) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(_values(name, raw)))
    for value in values:
        if value not in EVENT_TYPES:
            raise QueryParameterError(
                f"{value!r} is not an event type (one of {', '.join(EVENT_TYPES)})",
                parameter=name,
            )
    return values


def _actions(name: str, raw: list[str]) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(_values(name, raw)))
    for value in values:
        if value not in ACTIONS:
            raise QueryParameterError(
                f"{value!r} is not an action (ADD, OBSERVE or DELETE)", parameter=name
            )
    return values


def _keys(name: str, raw: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_key(name, v) for v in _values(name, raw)))


def _strings(name: str, raw: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_values(name, raw)))


def _order_by(name: str, raw: list[str]) -> str:
    value = _single(name, raw)
    if value not in ("eventTime", "recordTime"):
        raise QueryParameterError(
            f"{value!r} cannot be ordered by; use eventTime or recordTime", parameter=name
        )
    return value


def _direction(name: str, raw: list[str]) -> bool:
    value = _single(name, raw)
    if value not in ("ASC", "DESC"):
        raise QueryParameterError(f"{value!r} must be ASC or DESC", parameter=name)
    return value == "DESC"


def _time_condition(column: str, op: Op, *, attribute: bool = False) -> Any:
    def parse(name: str, raw: list[str]) -> SensorCondition:
        return SensorCondition(name, column, op, (_time(name, raw),), attribute=attribute)

    return parse


def _measurement_types(name: str, raw: list[str]) -> SensorCondition:
    words = tuple(dict.fromkeys(measurement_word(v) for v in _values(name, raw)))
    return SensorCondition(name, "parameter", "EQ", words)


def _device_ids(name: str, raw: list[str]) -> SensorCondition:
    return SensorCondition(name, "device_id", "EQ", _keys(name, raw))


def _boolean_value(name: str, raw: list[str]) -> SensorCondition:
    return SensorCondition(name, "booleanValue", "EQ", (_boolean(name, raw),), attribute=True)


def _sensor_attribute(attribute: str) -> Any:
    def parse(name: str, raw: list[str]) -> SensorCondition:
        return SensorCondition(name, attribute, "EQ", _strings(name, raw), attribute=True)

    return parse


def _per_page(name: str, raw: list[str]) -> int:
    return _integer(name, raw, minimum=1)


def _count(name: str, raw: list[str]) -> int:
    return _integer(name, raw, minimum=0)


def _token(name: str, raw: list[str]) -> PageToken:
    return _decode_page_token(name, _single(name, raw))


# name -> (EventQuery attribute, parser) for parameters with a fixed name.
_SIMPLE: dict[str, tuple[str, Any]] = {
    "eventType": ("event_types", _types),
    "GE_eventTime": ("ge_event_time", _time),
    "LT_eventTime": ("lt_event_time", _time),
    "GE_recordTime": ("ge_record_time", _time),
    "LT_recordTime": ("lt_record_time", _time),
    "EQ_action": ("actions", _actions),
    "EQ_bizStep": ("biz_steps", lambda n, r: _cbv(n, r, "bizstep")),
    "EQ_disposition": ("dispositions", lambda n, r: _cbv(n, r, "disp")),
    "EQ_persistentDisposition_set": ("persistent_set", lambda n, r: _cbv(n, r, "disp")),
    "EQ_persistentDisposition_unset": ("persistent_unset", lambda n, r: _cbv(n, r, "disp")),
    "EQ_readPoint": ("read_points", _keys),
    "WD_readPoint": ("wd_read_points", _keys),
    "EQ_bizLocation": ("biz_locations", _keys),
    "WD_bizLocation": ("wd_biz_locations", _keys),
    "EQ_transformationID": ("transformation_ids", _strings),
    "EQ_eventID": ("event_ids", _strings),
    "EXISTS_errorDeclaration": ("exists_error_declaration", _boolean),
    "GE_errorDeclarationTime": ("ge_error_declaration_time", _time),
    "LT_errorDeclarationTime": ("lt_error_declaration_time", _time),
    # query-schema.json spells these two with an underscore; accept both spellings.
    "GE_errorDeclaration_Time": ("ge_error_declaration_time", _time),
    "LT_errorDeclaration_Time": ("lt_error_declaration_time", _time),
    "EQ_errorReason": ("error_reasons", lambda n, r: _cbv(n, r, "er")),
    "EQ_correctiveEventID": ("corrective_event_ids", _strings),
    "EXISTS_sensorElementList": ("exists_sensor", _boolean),
    "orderBy": ("order_by", _order_by),
    "orderDirection": ("descending", _direction),
    "eventCountLimit": ("event_count_limit", _count),
    "maxEventCount": ("max_event_count", _count),
    "perPage": ("per_page", _per_page),
    "nextPageToken": ("page_token", _token),
}

# Sensor parameters with a fixed name -> parser of their SensorCondition.
_SENSOR_SIMPLE: dict[str, Any] = {
    "EQ_type": _measurement_types,
    "EQ_deviceID": _device_ids,
    "GE_time": _time_condition("time", "GE"),
    "LT_time": _time_condition("time", "LT"),
    "GE_startTime": _time_condition("startTime", "GE", attribute=True),
    "LT_startTime": _time_condition("startTime", "LT", attribute=True),
    "GE_endTime": _time_condition("endTime", "GE", attribute=True),
    "LT_endTime": _time_condition("endTime", "LT", attribute=True),
    "EQ_booleanValue": _boolean_value,
    **{f"EQ_{a}": _sensor_attribute(a) for a in SENSOR_ATTRIBUTES},
}
