"""The EPCIS 2.0 query engine: an :class:`~threadline.epcis.query_params.EventQuery` -> events.

:func:`run_query` turns each query parameter into one parameterised SQL condition over
``events`` (and the projections ``event_objects``/``objects``, ``readings``,
``error_declarations``, ``master_data``), with the same SQL on SQLite and PostgreSQL except the
JSON functions, which :class:`_Json` spells per engine.

Which rows answer a query. Each eventID is answered once: an event declared in error is
returned as its error declaration (the event with its ``errorDeclaration``), never as the
superseded original, so ``EXISTS_errorDeclaration`` selects exactly the declared events (an
export asks for the originals too, ``include_superseded``). The projections hold neither
declarations nor the originals they declare, so conditions that read a projection admit those
rows in SQL and decide them in Python from the event JSON with the same rules
(:func:`roles_of`, :func:`reading_rows`). Conditions on identifiers written
inside the JSON (sources, destinations, business transactions) compare canonical keys: SQL
narrows by every spelling of the key and Python confirms.

Paging is keyset paging on (sort value, row id): a page costs the same at any depth and a page
token stays valid while events are being captured.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from threadline.epcis.cbv import Vocabulary, cbv_uri, cbv_word
from threadline.epcis.json_reader import parse_event, utc_text
from threadline.epcis.query_params import (
    MATCH_ROLES,
    EventQuery,
    IdMatch,
    PageToken,
    SensorCondition,
    encode_page_token,
)
from threadline.epcis.sensors import report_views
from threadline.errors import InvalidInput, QueryParameterError, QueryTooLarge
from threadline.gs1.keys import canonical, to_epc_urn
from threadline.model.identifiers import CANONICAL_BASE, Kind
from threadline.store.base import Reader
from threadline.store.master_data import LOCATION_TYPES, descendants
from threadline.store.projector import roles_of
from threadline.store.readings import Reading, reading_rows

__all__ = ["QueryResult", "run_query"]

_COLUMNS = (
    "id",
    "event_id",
    "type",
    "action",
    "biz_step",
    "disposition",
    "event_time",
    "event_tz",
    "record_time",
    "read_point",
    "biz_location",
    "error_declared",
    "doc",
    "is_declaration",
)
_SELECT = ", ".join(f"e.{c}" for c in _COLUMNS)
_DECLARATIONS = "SELECT declaration FROM error_declarations"
# Rows the projections do not hold: error declarations and the originals they declare.
_UNPROJECTED = (
    "SELECT u.id FROM events u WHERE u.event_id IN (SELECT event_id FROM error_declarations)"
)
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
_SQL_OPS = {"EQ": "=", "GT": ">", "GE": ">=", "LT": "<", "LE": "<="}
_PY_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "EQ": operator.eq,
    "GT": operator.gt,
    "GE": operator.ge,
    "LT": operator.lt,
    "LE": operator.le,
}
_CHUNK = 500


class QueryResult(list[dict[str, Any]]):
    """The events of one page (dicts with the ``events`` columns, ``doc`` as JSON data).

    ``next_page_token`` is set when more events match; pass it back as ``nextPageToken``.
    """

    next_page_token: str | None = None


Row = dict[str, Any]
Residual = Callable[[Row], bool]


@dataclass
class _Plan:
    where: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    residuals: list[Residual] = field(default_factory=list)

    def add(self, sql: str, *params: Any) -> None:
        self.where.append(sql)
        self.params.extend(params)


class _Json:
    """JSON access in the SQL of one engine; ``j`` is the alias of an array element."""

    def __init__(self, dialect: str) -> None:
        self.pg = dialect == "postgresql"

    def field(self, path: Sequence[str], source: str = "e.doc") -> str:
        if self.pg:
            return f"({source} #>> '{{{','.join(path)}}}')"
        return f"json_extract({source}, '$.{'.'.join(path)}')"

    def elements(self, path: Sequence[str]) -> str:
        """A FROM item yielding the elements of the array at ``path`` as ``j``."""
        if self.pg:
            value = f"e.doc #> '{{{','.join(path)}}}'"
            return (
                f"jsonb_array_elements(CASE WHEN jsonb_typeof({value}) = 'array' "
                f"THEN {value} ELSE '[]'::jsonb END) j"
            )
        return f"json_each(e.doc, '$.{'.'.join(path)}') j"

    def element_text(self) -> str:
        return "(j #>> '{}')" if self.pg else "j.value"

    def element_field(self, name: str) -> str:
        return f"(j ->> '{name}')" if self.pg else f"json_extract(j.value, '$.{name}')"

    def element_number(self, name: str) -> str:
        if self.pg:
            return (
                f"(CASE WHEN jsonb_typeof(j -> '{name}') = 'number' "
                f"THEN (j ->> '{name}')::float8 END)"
            )
        return f"json_extract(j.value, '$.{name}')"


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def _cbv_spellings(word: str, vocabulary: Vocabulary) -> list[str]:
    """Every standard spelling of a CBV word (the stored JSON keeps what the sender wrote)."""
    if ":" in word:  # a user-defined URI is only ever itself
        return [word]
    tail = cbv_uri(word, vocabulary).rsplit("/", 1)[-1]  # e.g. BizStep-shipping
    candidates = [
        word,
        f"urn:epcglobal:cbv:{vocabulary}:{word}",
        f"https://ref.gs1.org/cbv/{tail}",
        f"http://ref.gs1.org/cbv/{tail}",
        f"cbv:{tail}",
        f"gs1:{tail}",
    ]
    return [c for c in candidates if cbv_word(c, vocabulary) == word]


def _id_spellings(value: str) -> tuple[list[str], list[str]]:
    """Exact spellings and LIKE patterns under which an identifier may be written."""
    try:
        ident = canonical(value)
    except InvalidInput:
        return [value], []
    exact = {value, ident.key}
    if ident.kind is Kind.URI:
        return sorted(exact), []
    for length in range(6, 13):
        try:
            urn = to_epc_urn(replace(ident, gcp_length=length))
        except (IndexError, ValueError):
            urn = None
        if urn is not None:
            exact.add(urn)
    # A Digital Link on any host (and path prefix) ends with the canonical path.
    return sorted(exact), ["%" + ident.key[len(CANONICAL_BASE) :]]


def _canonical_key(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return canonical(value).key
    except InvalidInput:
        return value


class _Planner:
    def __init__(self, reader: Reader, query: EventQuery, *, superseded: bool) -> None:
        self.reader = reader
        self.query = query
        self.superseded = superseded
        self.json = _Json(reader.store.engine.dialect.name)
        self.plan = _Plan()

    def build(self) -> _Plan:
        q, plan = self.query, self.plan
        # The superseded original of a declared event is answered by its declaration.
        if not self.superseded:
            plan.add("e.error_declared = ?", False)
        self._in("e.type", q.event_types)
        for column, bound, op in (
            ("e.event_time", q.ge_event_time, ">="),
            ("e.event_time", q.lt_event_time, "<"),
            ("e.record_time", q.ge_record_time, ">="),
            ("e.record_time", q.lt_record_time, "<"),
        ):
            if bound is not None:
                plan.add(f"{column} {op} ?", bound)
        self._in("e.action", q.actions)
        self._in("e.biz_step", q.biz_steps)
        self._in("e.disposition", q.dispositions)
        self._in("e.event_id", q.event_ids)
        self._in("e.read_point", q.read_points)
        self._in("e.biz_location", q.biz_locations)
        if q.wd_read_points:
            self._in("e.read_point", self._with_descendants(q.wd_read_points))
        if q.wd_biz_locations:
            self._in("e.biz_location", self._with_descendants(q.wd_biz_locations))
        for name, words in (("set", q.persistent_set), ("unset", q.persistent_unset)):
            if words:
                self._json_strings(("persistentDisposition", name), words, "disp")
        if q.transformation_ids:
            field_sql = self.json.field(("transformationID",))
            plan.add(f"{field_sql} IN ({_marks(q.transformation_ids)})", *q.transformation_ids)
        for name, values in q.matches:
            self._match(name, values)
        for _name, alternatives in q.quantities:
            self._quantity(alternatives)
        self._errors()
        for path, key, vocabulary, entries in (
            ("bizTransactionList", "bizTransaction", "btt", q.biz_transactions),
            ("sourceList", "source", "sdt", q.sources),
            ("destinationList", "destination", "sdt", q.destinations),
        ):
            for word, ids in entries:
                self._typed_ids(path, key, vocabulary, word, ids)  # type: ignore[arg-type]
        if q.exists_sensor:
            plan.add(f"{self.json.field(('sensorElementList',))} IS NOT NULL")
        for condition in q.sensor:
            self._sensor(condition)
        return plan

    # -- helpers -------------------------------------------------------------------------------
    def _in(self, column: str, values: Sequence[Any]) -> None:
        if values:
            self.plan.add(f"{column} IN ({_marks(values)})", *values)

    def _with_descendants(self, keys: Sequence[str]) -> list[str]:
        out = dict.fromkeys(keys)
        for key in keys:
            out.update(dict.fromkeys(sorted(descendants(self.reader, LOCATION_TYPES, key))))
        return list(out)

    def _json_strings(self, path: Sequence[str], words: Sequence[str], vocab: Vocabulary) -> None:
        spelled = [s for w in words for s in _cbv_spellings(w, vocab)]
        self.plan.add(
            f"EXISTS (SELECT 1 FROM {self.json.elements(path)} "
            f"WHERE {self.json.element_text()} IN ({_marks(spelled)}))",
            *spelled,
        )

    # -- what ----------------------------------------------------------------------------------
    def _match(self, name: str, values: Sequence[IdMatch]) -> None:
        roles = MATCH_ROLES[name]
        conditions: list[str] = []
        params: list[Any] = list(roles)
        keys = [m.key for m in values if m.key is not None]
        if keys:
            conditions.append(f"o.key IN ({_marks(keys)})")
            params.extend(keys)
        for m in values:
            if m.key is not None:
                continue
            parts: list[str] = []
            if m.kinds is not None:
                parts.append(f"o.kind IN ({_marks(sorted(m.kinds))})")
                params.extend(sorted(m.kinds))
            if m.product is not None:
                parts.append("o.product = ?")
                params.append(m.product)
            if m.key_like is not None:
                parts.append("o.key LIKE ?")
                params.append(m.key_like)
            conditions.append("(" + " AND ".join(parts) + ")")
        self.plan.add(
            "e.id IN (SELECT eo.event FROM event_objects eo JOIN objects o ON o.id = eo.object "
            f"WHERE eo.role IN ({_marks(roles)}) AND ({' OR '.join(conditions)}) "
            f"UNION ALL {_UNPROJECTED})",
            *params,
        )

        def check(row: Row) -> bool:
            if not (row["is_declaration"] or row["error_declared"]):
                return True
            event = parse_event(row["doc"], event_id=row["event_id"])
            for role in roles_of(event):
                if role.role in roles:
                    ident = canonical(role.raw_id)
                    if any(m.matches(ident) for m in values):
                        return True
            return False

        self.plan.residuals.append(check)

    def _quantity(self, alternatives: Sequence[Any]) -> None:
        j = self.json
        tests: list[str] = []
        params: list[Any] = []
        for c in alternatives:
            test = f"{j.element_number('quantity')} {_SQL_OPS[c.op]} ?"
            params.append(c.value)
            if c.uom is not None:
                test += f" AND {j.element_field('uom')} = ?"
                params.append(c.uom)
            tests.append(f"({test})")
        where = " OR ".join(tests)
        exists = [
            f"EXISTS (SELECT 1 FROM {j.elements((name,))} WHERE {where})"
            for name in _QUANTITY_LISTS
        ]
        self.plan.add("(" + " OR ".join(exists) + ")", *(params * len(_QUANTITY_LISTS)))

    # -- errors --------------------------------------------------------------------------------
    def _errors(self) -> None:
        q, plan = self.query, self.plan
        if q.exists_error_declaration:
            plan.add("e.is_declaration = ?", True)
        conditions: list[str] = []
        params: list[Any] = []
        if q.error_reasons:
            conditions.append(f"reason IN ({_marks(q.error_reasons)})")
            params.extend(q.error_reasons)
        if q.ge_error_declaration_time is not None:
            conditions.append("declared_at >= ?")
            params.append(q.ge_error_declaration_time)
        if q.lt_error_declaration_time is not None:
            conditions.append("declared_at < ?")
            params.append(q.lt_error_declaration_time)
        if conditions:
            plan.add(f"e.id IN ({_DECLARATIONS} WHERE {' AND '.join(conditions)})", *params)
        if q.corrective_event_ids:
            plan.add("e.is_declaration = ?", True)
            ids = q.corrective_event_ids
            elements = self.json.elements(("errorDeclaration", "correctiveEventIDs"))
            plan.add(
                f"EXISTS (SELECT 1 FROM {elements} "
                f"WHERE {self.json.element_text()} IN ({_marks(ids)}))",
                *ids,
            )

    # -- why -----------------------------------------------------------------------------------
    def _typed_ids(
        self, path: str, key: str, vocabulary: Vocabulary, word: str, ids: Sequence[str]
    ) -> None:
        j = self.json
        types = _cbv_spellings(word, vocabulary)
        exact: list[str] = []
        likes: list[str] = []
        for value in ids:
            e, lk = _id_spellings(value)
            exact.extend(e)
            likes.extend(lk)
        value_sql = j.element_field(key)
        tests = [f"{value_sql} IN ({_marks(exact)})"] + [f"{value_sql} LIKE ?" for _ in likes]
        self.plan.add(
            f"EXISTS (SELECT 1 FROM {j.elements((path,))} "
            f"WHERE {j.element_field('type')} IN ({_marks(types)}) AND ({' OR '.join(tests)}))",
            *types,
            *exact,
            *likes,
        )
        wanted = {_canonical_key(v) for v in ids}

        def check(row: Row) -> bool:
            entries = row["doc"].get(path)
            if not isinstance(entries, list):
                return False
            return any(
                isinstance(entry, dict)
                and isinstance(entry.get("type"), str)
                and cbv_word(entry["type"], vocabulary) == word
                and _canonical_key(entry.get(key)) in wanted
                for entry in entries
            )

        self.plan.residuals.append(check)

    # -- sensors -------------------------------------------------------------------------------
    def _sensor(self, c: SensorCondition) -> None:
        if c.attribute:
            self.plan.add(f"e.id IN (SELECT r.event FROM readings r UNION ALL {_UNPROJECTED})")
            self.plan.residuals.append(_attribute_check(c))
            return
        column = f"r.{c.column}"
        if c.op == "EQ":
            test = f"{column} IN ({_marks(c.values)})"
        else:
            test = f"{column} {_SQL_OPS[c.op]} ?"
        params: list[Any] = list(c.values)
        if c.uom is not None:
            test += " AND r.unit = ?"
            params.append(c.uom)
        self.plan.add(
            f"e.id IN (SELECT r.event FROM readings r WHERE {test} UNION ALL {_UNPROJECTED})",
            *params,
        )

        def check(row: Row) -> bool:
            if not (row["is_declaration"] or row["error_declared"]):
                return True
            event = parse_event(row["doc"], event_id=row["event_id"])
            return any(_reading_matches(r, c) for r in reading_rows(event, None))

        self.plan.residuals.append(check)


def _reading_matches(reading: Reading, c: SensorCondition) -> bool:
    if c.uom is not None and reading.unit != c.uom:
        return False
    value = getattr(reading, c.column)
    if value is None:
        return False
    if c.op == "EQ":
        return value in c.values
    return bool(_PY_OPS[c.op](value, c.values[0]))


def _view_time(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return utc_text(moment) if moment.tzinfo is not None else None


def _attribute_check(c: SensorCondition) -> Residual:
    def check(row: Row) -> bool:
        for view in report_views(row["doc"]):
            value = view.get(c.column)
            if c.column in ("startTime", "endTime"):
                value = _view_time(value)
            if value is None:
                continue
            if c.op == "EQ":
                if any(type(value) is type(v) and value == v for v in c.values):
                    return True
            elif _PY_OPS[c.op](value, c.values[0]):
                return True
        return False

    return check


# -- execution --------------------------------------------------------------------------------


def _order(query: EventQuery) -> tuple[str | None, str]:
    column = {"eventTime": "e.event_time", "recordTime": "e.record_time", None: None}[
        query.order_by
    ]
    direction = "DESC" if query.descending and column is not None else "ASC"
    return column, direction


def _scan(
    reader: Reader, plan: _Plan, query: EventQuery, after: PageToken | None, want: int | None
) -> Iterator[Row]:
    """Matching rows in query order, from just after ``after``, fetched a chunk at a time.

    ``want`` (rows the caller needs, if known) sizes the first chunk when SQL decides alone.
    """
    chunk = _CHUNK if plan.residuals or want is None else min(_CHUNK, want + 1)
    column, direction = _order(query)
    cmp = "<" if direction == "DESC" else ">"
    order = (f"{column} {direction}, " if column else "") + f"e.id {direction}"
    sort_value = None if after is None else after.sort_value
    last_id = None if after is None else after.row
    store = reader.store
    while True:
        where = list(plan.where)
        params = list(plan.params)
        if last_id is not None:
            if column is None:
                where.append(f"e.id {cmp} ?")
                params.append(last_id)
            else:
                where.append(f"({column} {cmp} ? OR ({column} = ? AND e.id {cmp} ?))")
                params.extend([sort_value, sort_value, last_id])
        condition = " AND ".join(where) or "1 = 1"
        sql = f"SELECT {_SELECT} FROM events e WHERE {condition} ORDER BY {order} LIMIT ?"
        rows = reader.query(sql, [*params, chunk])
        for raw in rows:
            row = dict(zip(_COLUMNS, raw, strict=True))
            row["doc"] = store.load_json(row["doc"])
            row["error_declared"] = bool(row["error_declared"])
            row["is_declaration"] = bool(row["is_declaration"])
            last_id = row["id"]
            sort_value = None if column is None else row[column[2:]]
            if all(check(row) for check in plan.residuals):
                yield row
        if len(rows) < chunk:
            return
        chunk = _CHUNK


def _take(rows: Iterator[Row], count: int | None) -> list[Row]:
    out: list[Row] = []
    if count is not None and count <= 0:
        return out
    for row in rows:
        out.append(row)
        if count is not None and len(out) >= count:
            break
    return out


def run_query(
    reader: Reader, query: EventQuery, *, include_superseded: bool = False
) -> QueryResult:
    """Run ``query`` against the store ``reader`` reads; returns one page of matching events.

    ``include_superseded`` also returns the originals of events declared in error (next to
    their declarations), as an export that must carry everything captured needs.

    Raises :class:`QueryTooLarge` when more than ``maxEventCount`` events match, and
    :class:`QueryParameterError` for a page token that does not fit the query.
    """
    token = query.page_token
    if token is not None and (token.sort_value is None) != (query.order_by is None):
        raise QueryParameterError("does not belong to this query", parameter="nextPageToken")
    plan = _Planner(reader, query, superseded=include_superseded).build()
    if query.max_event_count is not None and token is None:
        limit = query.max_event_count + 1
        counted = _take(_scan(reader, plan, query, None, limit), limit)
        if len(counted) > query.max_event_count:
            raise QueryTooLarge(
                f"more than maxEventCount={query.max_event_count} events match the query"
            )
        if query.per_page is None:
            return QueryResult(counted)
    returned = 0 if token is None else token.returned
    want = query.per_page
    if query.event_count_limit is not None:
        left = max(query.event_count_limit - returned, 0)
        want = left if want is None else min(want, left)
    scan = _scan(reader, plan, query, token, want)
    rows = _take(scan, want)
    result = QueryResult(rows)
    if want is not None and len(rows) == want and rows:
        limit_left = (
            query.event_count_limit is None or returned + len(rows) < query.event_count_limit
        )
        if limit_left and next(scan, None) is not None:
            last = rows[-1]
            column, _ = _order(query)
            result.next_page_token = encode_page_token(
                PageToken(
                    None if column is None else last[column[2:]],
                    last["id"],
                    returned + len(rows),
                    query.fingerprint,
                )
            )
    return result
