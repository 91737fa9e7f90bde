"""CBV 2.0 Event Hash ID (``ni:///sha-256;<hex>?ver=CBV2.0``) of EPCIS 2.0 events.

The hash is the SHA-256 of a canonical *pre-hash string* (GS1 CBV 2.0, "Event Hash ID";
algorithm as implemented by the reference generator RalphTro/epcis-event-hash-generator).
Events are taken as JSON-LD compact dicts (the objects in ``epcisBody.eventList``); keys may
also be Clark names (``{namespace}local``), which is what an XML reader naturally produces.

Canonical form, in short:

* ``eventType=<type>`` then the standard fields in canonical order, each as ``key=value``;
  structured fields as ``key`` followed by their children; list entries sorted lexically.
* Ignored: ``eventID``/``@id``, ``recordTime``, ``errorDeclaration``, ``rdfs:comment`` and
  any caller-supplied ignore fields.  Empty lists / objects / strings are skipped.
* Timestamps -> UTC, millisecond precision (4th decimal rounds half up), ``Z`` suffix.
* Numbers -> no trailing zeros / exponent (``452.0`` -> ``452``).
* CBV bare words and ``urn:epcglobal:cbv:*`` URNs -> ``https://ref.gs1.org/cbv/...`` web URIs;
  measurement / alert types -> ``https://gs1.org/voc/...``; CURIEs expanded.
* EPC URNs and GS1 Digital Link URIs of GS1 keys -> constrained canonical Digital Link
  (``https://id.gs1.org``, no query string, only the finest key + qualifier).
* User extensions -> ``{namespace}local=value`` (nested ones recursively), sorted.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from biip.checksums import gs1_standard_check_digit

__all__ = ["document_context_namespaces", "document_ignore_fields", "event_hash_id",
           "prehash_string"]  # fmt: skip

_CBV = "https://ref.gs1.org/cbv/"
_GS1_VOC = "https://gs1.org/voc/"
_DL_ROOT = "https://id.gs1.org/"

# Prefixes the standard EPCIS 2.0 JSON-LD context defines; a document may override them.
_DEFAULT_NAMESPACES: dict[str, str] = {
    "epcis": "https://ref.gs1.org/epcis/", "cbv": _CBV, "cbvmda": "urn:epcglobal:cbv:mda:",
    "gs1": _GS1_VOC, "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#", "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
}  # fmt: skip

# rdfs:comment is the JSON-LD twin of an XML comment, which never takes part in the hash.
_ALWAYS_IGNORED = frozenset({"{http://www.w3.org/2000/01/rdf-schema#}comment"})
# Event-level fields the algorithm excludes (identity / capture bookkeeping, corrections).
_IGNORED_EVENT_KEYS = frozenset(
    {"eventID", "@id", "id", "recordTime", "errorDeclaration", "@context", "type", "@type"}
)

# EPCIS 1.x CBV URNs and their CBV 2.0 web URI equivalents.
_CBV_URNS = tuple(
    (f"urn:epcglobal:cbv:{urn}:", f"{_CBV}{web}-")
    for urn, web in (("bizstep", "BizStep"), ("disp", "Disp"), ("btt", "BTT"), ("sdt", "SDT"),
                     ("er", "ER"))
)  # fmt: skip


class _Ctx:
    """Per-call state: namespace prefixes and the (raw + expanded) names to drop."""

    __slots__ = ("ignore", "ns")

    def __init__(self, ns: dict[str, str], ignore: Iterable[str]) -> None:
        self.ns = ns
        raw = set(ignore)
        self.ignore = frozenset(raw | {_expand_key(k, ns) for k in raw} | _ALWAYS_IGNORED)

    def skip(self, key: str) -> bool:
        return key.startswith("@") or key in self.ignore or _expand_key(key, self.ns) in self.ignore


# --------------------------------------------------------------------------- values


_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_TIMESTAMP = re.compile(
    r"(\d{4,})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?"
)
_CURIE = re.compile(r"([A-Za-z_][\w.-]*):(.*)", re.DOTALL)


def _format_decimal(d: Decimal) -> str | None:
    # Refuse absurd exponents: int(Decimal("1e999999")) would be a denial of service.
    if not d.is_finite() or abs(d.adjusted()) > 100:
        return None
    if d == d.to_integral_value():
        return str(int(d))
    return format(d.normalize(), "f")


def _is_value_object(obj: Mapping[str, Any]) -> bool:
    """JSON-LD value object or bare node reference: stands for a single scalar."""
    return "@value" in obj or ("@id" in obj and all(str(k).startswith("@") for k in obj))


def _text(value: Any) -> str | None:
    """Plain JSON scalar -> text; numbers already canonical.  None for non-scalars."""
    if isinstance(value, Mapping) and _is_value_object(value):
        value = value.get("@value", value.get("@id"))
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # repr() is the shortest round-tripping form, so 0.1 stays 0.1 rather than 0.1000..02.
        return _format_decimal(Decimal(repr(value))) or repr(value)
    if isinstance(value, str):
        return value.strip()
    return None


@lru_cache(maxsize=65536)
def _canon_text(text: str) -> str:
    """Value canonicalisation applied to every value: numbers, CBV URNs, GS1 identifiers."""
    if _NUMBER.fullmatch(text):
        try:
            return _format_decimal(Decimal(text)) or text
        except InvalidOperation:  # pragma: no cover - the regex only admits valid decimals
            return text
    for urn, web in _CBV_URNS:
        if text.startswith(urn):
            return web + text[len(urn) :]
    if text.startswith("urn:epc:") or text[:8].lower().startswith(("http://", "https://")):
        return _normalise_gs1_uri(text) or text
    return text


def _expand_curie(text: str, ns: Mapping[str, str]) -> str:
    m = _CURIE.fullmatch(text)
    if m and m.group(1) in ns and not m.group(2).startswith("//"):
        return ns[m.group(1)] + m.group(2)
    return text


@lru_cache(maxsize=16384)
def _timestamp(text: str) -> str:
    m = _TIMESTAMP.fullmatch(text)
    if not m:
        return text
    year, month, day, hour, minute, sec, frac, tz = m.groups()
    offset = timedelta(0)
    if tz and tz not in "Zz":
        digits = tz[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        if tz[0] == "-":
            offset = -offset
    frac = frac or ""
    millis = int((frac + "000")[:3])
    if len(frac) > 3 and frac[3] >= "5":  # CBV: round the 3rd decimal up on a 4th digit 5-9
        millis += 1
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(sec or 0),
            tzinfo=timezone(offset),
        )  # fmt: skip
        moment = (moment + timedelta(milliseconds=millis)).astimezone(UTC)
    except (ValueError, OverflowError):
        return text
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
        f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}Z"
    )


# ------------------------------------------------------------------ GS1 identifiers

_SHORT_NAMES = {
    "gtin": "01", "itip": "8006", "gmn": "8013", "cpid": "8010", "gln": "414", "party": "417",
    "gsrnp": "8017", "gsrn": "8018", "gcn": "255", "sscc": "00", "gdti": "253", "ginc": "401",
    "gsin": "402", "grai": "8003", "giai": "8004", "cpv": "22", "lot": "10", "ser": "21",
    "cpsn": "8011", "glnx": "254", "refno": "8020", "srin": "8019",
}  # fmt: skip
# Primary keys the CBV keeps, with the format the (decoded) value must have.
_N13, _N17, _N18 = re.compile(r"\d{13}"), re.compile(r"\d{17}"), re.compile(r"\d{18}")
_X30 = re.compile(r".{1,30}", re.DOTALL)
_PRIMARY_FORMATS = {
    "00": _N18, "01": re.compile(r"\d{8}|\d{12,14}"),
    "253": re.compile(r"\d{13}.{0,17}", re.DOTALL), "255": re.compile(r"\d{13}\d{0,12}"),
    "401": _X30, "402": _N17, "414": _N13, "417": _N13,
    "8003": re.compile(r"\d{14}.{0,16}", re.DOTALL), "8004": _X30, "8006": _N18, "8010": _X30,
    "8017": _N18, "8018": _N18,
}  # fmt: skip
# "Most fine-granular level only": the one qualifier kept per key, best first
# (CBV: 01 21 / 01 235 / 01 10 / 414 254 / 8006 21 / 8006 10 / 8010 8011).
_QUALIFIERS = {"01": ("21", "235", "10"), "414": ("254",), "8006": ("21", "10"), "8010": ("8011",)}
_AI_CODE = re.compile(r"\d{2,4}")


def _enc(value: str) -> str:
    """Canonical percent-encoding of a DL path value (decode first so both forms agree).

    Keeps RFC 3986 unreserved characters plus ``'``, ``;`` and ``=``, which the reference
    leaves literal; ``! ( ) * + , : / " % & ? < > #`` etc. are escaped, upper-case hex.
    """
    return quote(unquote(value), safe="'-._;=")


def _check(digits: str) -> str:
    return str(gs1_standard_check_digit(digits))


def _dl(*pairs: tuple[str, str]) -> str:
    return _DL_ROOT + "/".join(f"{ai}/{value}" for ai, value in pairs)


def _gtin(cp: str, ref: str) -> str | None:
    # EPC item reference = indicator digit + item reference proper; GTIN-14 = indicator,
    # company prefix, item reference, check digit.
    if not 6 <= len(cp) <= 12 or len(cp) + len(ref) != 13:
        return None
    body = ref[:1] + cp + ref[1:]
    return body + _check(body)


def _with_check(cp: str, ref: str, length: int) -> str | None:
    """Company prefix + reference (``length`` digits in total) + check digit."""
    if not 6 <= len(cp) <= 12 or len(cp) + len(ref) != length:
        return None
    return cp + ref + _check(cp + ref)


_CP = r"(\d{6,12})"  # GS1 company prefix
_REF = r"(\d*)"  # numeric reference; empty when the company prefix has 12 digits
_EPC_URN = re.compile(r"urn:epc:(id|class|idpat):([a-z]+):(.+)", re.DOTALL)
_EPC_SYNTAX = {
    ("id", "sgtin"): rf"{_CP}\.{_REF}\.(.+)", ("id", "sscc"): rf"{_CP}\.{_REF}",
    ("id", "sgln"): rf"{_CP}\.{_REF}\.(.+)", ("id", "grai"): rf"{_CP}\.{_REF}\.(.*)",
    ("id", "giai"): rf"{_CP}\.(.+)", ("id", "gsrn"): rf"{_CP}\.{_REF}",
    ("id", "gsrnp"): rf"{_CP}\.{_REF}", ("id", "gdti"): rf"{_CP}\.{_REF}\.(.*)",
    ("id", "cpi"): rf"{_CP}\.(.+)\.(\d+)", ("id", "sgcn"): rf"{_CP}\.{_REF}\.(\d*)",
    ("id", "ginc"): rf"{_CP}\.(.+)", ("id", "gsin"): rf"{_CP}\.{_REF}",
    ("id", "itip"): rf"{_CP}\.{_REF}\.(\d\d)\.(\d\d)\.(.+)", ("id", "pgln"): rf"{_CP}\.{_REF}",
    ("id", "upui"): rf"{_CP}\.{_REF}\.(.+)", ("class", "lgtin"): rf"{_CP}\.{_REF}\.(.+)",
    # Class-level patterns identify the key without its serial part.
    ("idpat", "sgtin"): rf"{_CP}\.{_REF}\.\*", ("idpat", "grai"): rf"{_CP}\.{_REF}\.\*",
    ("idpat", "gdti"): rf"{_CP}\.{_REF}\.\*", ("idpat", "sgcn"): rf"{_CP}\.{_REF}\.\*",
    ("idpat", "cpi"): rf"{_CP}\.(.+)\.\*",
    ("idpat", "itip"): rf"{_CP}\.{_REF}\.(\d\d)\.(\d\d)\.\*",
}  # fmt: skip
_EPC_REGEX = {key: re.compile(pattern, re.DOTALL) for key, pattern in _EPC_SYNTAX.items()}


def _epc_to_digital_link(kind: str, scheme: str, fields: tuple[str, ...]) -> str | None:
    """EPC URN fields (after the company prefix split) -> canonical Digital Link."""
    cp, rest = fields[0], fields[1:]
    if scheme in ("sgtin", "itip", "upui", "lgtin"):
        gtin = _gtin(cp, rest[0])
        if gtin is None:
            return None
        if scheme == "itip":
            itip = ("8006", gtin + rest[1] + rest[2])
            return _dl(itip, ("21", _enc(rest[3]))) if kind == "id" else _dl(itip)
        if kind == "idpat":
            return _dl(("01", gtin))
        qualifier = {"sgtin": "21", "upui": "235", "lgtin": "10"}[scheme]
        return _dl(("01", gtin), (qualifier, _enc(rest[1])))
    if scheme in ("giai", "ginc"):
        return _dl(("8004" if scheme == "giai" else "401", cp + _enc(rest[0])))
    if scheme == "cpi":
        cpi = ("8010", _enc(cp + rest[0]))
        return _dl(cpi, ("8011", rest[1])) if kind == "id" else _dl(cpi)
    if scheme == "sscc":  # the extension digit leads the SSCC
        if len(cp) + len(rest[0]) != 17:
            return None
        body = rest[0][:1] + cp + rest[0][1:]
        return _dl(("00", body + _check(body)))
    if scheme == "grai":  # GRAI = "0" + company prefix + asset type + check + serial
        key = _with_check(cp, rest[0], 12)  # a leading zero does not change the check digit
        if key is None:
            return None
        return _dl(("8003", "0" + key + (_enc(rest[1]) if kind == "id" else "")))
    length = {"gsrn": 17, "gsrnp": 17, "gsin": 16}.get(scheme, 12)
    key = _with_check(cp, rest[0], length)
    if key is None:
        return None
    if scheme == "sgln":  # extension "0" means "the location itself"
        ext = rest[1]
        return _dl(("414", key)) if ext == "0" else _dl(("414", key), ("254", _enc(ext)))
    ai = {"gsrn": "8018", "gsrnp": "8017", "gsin": "402", "pgln": "417"}.get(scheme)
    if ai is not None:
        return _dl((ai, key))
    ai = "253" if scheme == "gdti" else "255"  # gdti / sgcn: key + optional serial
    serial = rest[1] if kind == "id" else ""
    return _dl((ai, key + (_enc(serial) if scheme == "gdti" else serial)))


@lru_cache(maxsize=65536)
def _normalise_gs1_uri(uri: str) -> str | None:
    """EPC URN / GS1 Digital Link URI -> constrained canonical Digital Link, else None."""
    if uri.startswith("urn:epc:"):
        m = _EPC_URN.fullmatch(uri)
        if m is None:
            return None
        kind, scheme, body = m.groups()
        syntax = _EPC_REGEX.get((kind, scheme))
        fields = syntax.fullmatch(body) if syntax else None
        return _epc_to_digital_link(kind, scheme, fields.groups()) if fields else None
    return _normalise_digital_link(uri)


def _normalise_digital_link(uri: str) -> str | None:
    try:
        parts = urlsplit(uri)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https"):
        return None
    segments = [s for s in parts.path.split("/") if s]
    # A Digital Link may carry a path prefix before the primary key; the key/value pairs
    # from the primary key onwards must cover the rest of the path exactly.
    for start, segment in enumerate(segments):
        primary = _SHORT_NAMES.get(segment, segment)
        if primary not in _PRIMARY_FORMATS or (len(segments) - start) % 2:
            continue
        pairs: dict[str, str] = {}
        for i in range(start, len(segments), 2):
            ai = _SHORT_NAMES.get(segments[i], segments[i])
            if not _AI_CODE.fullmatch(ai) or not segments[i + 1]:
                break
            pairs.setdefault(ai, unquote(segments[i + 1]))
        else:
            value = pairs[primary]
            if not _PRIMARY_FORMATS[primary].fullmatch(value):
                return None
            if primary == "01":
                value = value.zfill(14)
            out = [(primary, _enc(value))]
            for qualifier in _QUALIFIERS.get(primary, ()):
                if qualifier in pairs:
                    out.append((qualifier, _enc(pairs[qualifier])))
                    break
            return _dl(*out)
    return None


# --------------------------------------------------------------------- rendering

Renderer = Callable[[str, Any, _Ctx], str]


def _values(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _scalar_renderer(convert: Callable[[str, _Ctx], str]) -> Renderer:
    """``name=value`` for a scalar; one sorted entry per item if given a list."""

    def render(name: str, value: Any, ctx: _Ctx) -> str:
        texts = [t for t in map(_text, _values(value)) if t]
        return "".join(sorted(f"{name}={convert(t, ctx)}" for t in texts))

    return render


_literal = _scalar_renderer(lambda t, ctx: _canon_text(t))
_time = _scalar_renderer(lambda t, ctx: _timestamp(t))
_ident = _scalar_renderer(lambda t, ctx: _canon_text(_expand_curie(t, ctx.ns)))


def _vocab(bare_prefix: str) -> Renderer:
    # JSON-LD carries standard vocabulary as bare words ("shipping"); anything with a colon
    # is a URI, URN or CURIE and is expanded / converted instead.
    return _scalar_renderer(
        lambda t, ctx: bare_prefix + t if ":" not in t else _canon_text(_expand_curie(t, ctx.ns))
    )


def _fields(obj: Any, spec: tuple[tuple[str, Renderer], ...], ctx: _Ctx) -> str:
    """Known children in ``spec`` order, then the object's extension children, sorted."""
    if not isinstance(obj, Mapping):
        return ""
    known = {name for name, _ in spec}
    ordered = "".join(render(name, obj.get(name), ctx) for name, render in spec if name in obj)
    extras = [
        s for key, value in obj.items() if key not in known for s in _extension(key, value, ctx)
    ]
    return ordered + "".join(sorted(extras))


def _structured(spec: tuple[tuple[str, Renderer], ...]) -> Renderer:
    def render(name: str, value: Any, ctx: _Ctx) -> str:
        body = _fields(value, spec, ctx)
        return name + body if body else ""

    return render


def _list_of(element: str | None, spec: tuple[tuple[str, Renderer], ...]) -> Renderer:
    """A list field: its name once, then its elements' strings sorted lexically."""

    def render(name: str, value: Any, ctx: _Ctx) -> str:
        items = []
        for item in _values(value):
            body = _fields(item, spec, ctx)
            if body:
                items.append((element or "") + body)
        return name + "".join(sorted(items)) if items else ""

    return render


def _epc_list(name: str, value: Any, ctx: _Ctx) -> str:
    items = _ident("epc", value, ctx)
    return name + items if items else ""


_QUANTITY = _list_of(
    "quantityElement", (("epcClass", _ident), ("quantity", _literal), ("uom", _literal))
)
_LOCATION = _structured((("id", _ident),))

# fmt: off
_SENSOR_METADATA = _structured((
    ("time", _time), ("startTime", _time), ("endTime", _time), ("deviceID", _ident),
    ("deviceMetadata", _ident), ("rawData", _ident), ("dataProcessingMethod", _ident),
    ("bizRules", _ident),
))
_SENSOR_REPORT = _structured((
    ("type", _vocab(_GS1_VOC)), ("exception", _vocab(_GS1_VOC)), ("deviceID", _ident),
    ("deviceMetadata", _ident), ("rawData", _ident), ("dataProcessingMethod", _ident),
    ("time", _time), ("microorganism", _ident), ("chemicalSubstance", _ident),
    ("value", _literal), ("component", _vocab(_CBV + "Comp-")), ("stringValue", _literal),
    ("booleanValue", _literal), ("hexBinaryValue", _literal), ("uriValue", _ident),
    ("minValue", _literal), ("maxValue", _literal), ("meanValue", _literal), ("sDev", _literal),
    ("percRank", _literal), ("percValue", _literal), ("uom", _literal),
    ("coordinateReferenceSystem", _ident),
))
# fmt: on


def _sensor_reports(name: str, value: Any, ctx: _Ctx) -> str:
    # Reports have no list wrapper in the pre-hash: each repeats "sensorReport", sorted.
    return "".join(sorted(r for r in (_SENSOR_REPORT(name, v, ctx) for v in _values(value)) if r))


_SENSOR_ELEMENT = (("sensorMetadata", _SENSOR_METADATA), ("sensorReport", _sensor_reports))


def _ilmd(name: str, value: Any, ctx: _Ctx) -> str:
    body = _fields(value, (), ctx)  # ILMD content is extension elements only, sorted
    return name + body if body else ""


_DISP = _vocab(_CBV + "Disp-")


def _typed_list(item: str, type_prefix: str) -> Renderer:
    return _list_of(None, (("type", _vocab(type_prefix)), (item, _ident)))


# Canonical order of the event's standard fields (CBV 2.0 / the reference vectors).
# fmt: off
_ORDERED: tuple[tuple[str, Renderer], ...] = (
    ("eventTime", _time), ("eventTimeZoneOffset", _literal), ("certificationInfo", _ident),
    ("epcList", _epc_list), ("parentID", _ident), ("inputEPCList", _epc_list),
    ("childEPCs", _epc_list), ("quantityList", _QUANTITY), ("childQuantityList", _QUANTITY),
    ("inputQuantityList", _QUANTITY), ("outputEPCList", _epc_list),
    ("outputQuantityList", _QUANTITY), ("action", _literal), ("transformationID", _ident),
    ("bizStep", _vocab(_CBV + "BizStep-")), ("disposition", _DISP),
    ("persistentDisposition", _structured((("set", _DISP), ("unset", _DISP)))),
    ("readPoint", _LOCATION), ("bizLocation", _LOCATION),
    ("sensorElementList", _list_of("sensorElement", _SENSOR_ELEMENT)),
)
# fmt: on
# These standard fields are sorted lexically *together with* the user extensions (which,
# starting with "{", always come last).  This is how the reference implementation places
# them and what every published vector encodes: bizTransactionList, destinationList, ilmd,
# sourceList -- note destinationList before sourceList.
_SORTED_TAIL: dict[str, Renderer] = {
    "bizTransactionList": _typed_list("bizTransaction", _CBV + "BTT-"),
    "sourceList": _typed_list("source", _CBV + "SDT-"),
    "destinationList": _typed_list("destination", _CBV + "SDT-"),
    "ilmd": _ilmd,
}


def _expand_key(key: str, ns: Mapping[str, str]) -> str:
    """Extension key -> Clark name ``{namespace}local`` (unchanged if it cannot be resolved)."""
    if key.startswith("{"):
        return key
    m = _CURIE.fullmatch(key)
    if m and m.group(1) in ns and not m.group(2).startswith("//"):
        return "{" + ns[m.group(1)] + "}" + m.group(2)
    if "://" in key or key.startswith("urn:"):
        cut = max(key.rfind("/"), key.rfind("#"), key.rfind(":") if key.startswith("urn:") else -1)
        return "{" + key[: cut + 1] + "}" + key[cut + 1 :]
    if ":" not in key and "@vocab" in ns:
        return "{" + ns["@vocab"] + "}" + key
    return key


def _extension(key: str, value: Any, ctx: _Ctx) -> list[str]:
    """Pre-hash entries of one user-extension member (one entry per list item)."""
    if ctx.skip(key) or value is None:
        return []
    name = _expand_key(key, ctx.ns)
    if isinstance(value, list | tuple):
        return [s for item in value for s in _extension(key, item, ctx)]
    if isinstance(value, Mapping) and not _is_value_object(value):
        children = [s for k, v in value.items() for s in _extension(k, v, ctx)]
        return [name + "".join(sorted(children))]
    text = _text(value)
    if text is None:
        return []
    return [f"{name}={_canon_text(text)}" if text else name]


def _event_type(event: Mapping[str, Any]) -> str:
    raw = _text(event.get("type", event.get("@type"))) or ""
    # Accept expanded forms ("epcis:ObjectEvent", full IRI) as well as the compact term.
    return re.split(r"[:/#]", raw)[-1]


def _namespaces(event: Mapping[str, Any], context: Mapping[str, str] | None) -> dict[str, str]:
    ns = dict(_DEFAULT_NAMESPACES)
    if context:
        ns.update(context)
    if "@context" in event:  # an event may carry its own context (e.g. when sent alone)
        ns.update(document_context_namespaces(event))
    return ns


# ------------------------------------------------------------------------ public API


def prehash_string(
    event: Mapping[str, Any],
    *,
    context: Mapping[str, str] | None = None,
    ignore_fields: Iterable[str] = (),
) -> str:
    """The canonical pre-hash string of one EPCIS event given as a JSON-LD compact dict.

    ``event`` is the event object as it appears in ``epcisBody.eventList`` (default EPCIS 2.0
    context).  ``context`` maps namespace prefixes used by extension fields (e.g.
    ``{"example": "http://ns.example.com/epcis/"}``) taken from the document's ``@context``
    (see :func:`document_context_namespaces`); the standard prefixes (``gs1``, ``cbv``,
    ``cbvmda``, ``rdfs``, ...) are known already.  ``ignore_fields`` names further members
    (CURIEs, Clark names or plain keys) to leave out, as declared by a document's
    ``ignoreFields`` (see :func:`document_ignore_fields`).
    """
    ctx = _Ctx(_namespaces(event, context), ignore_fields)
    parts = [f"eventType={_event_type(event)}"]
    parts += [render(n, event[n], ctx) for n, render in _ORDERED if n in event and not ctx.skip(n)]
    ordered_names = {name for name, _ in _ORDERED}
    tail: list[str] = []
    for key, value in event.items():
        if key in ordered_names or key in _IGNORED_EVENT_KEYS or ctx.skip(key):
            continue
        render = _SORTED_TAIL.get(key)
        if render is not None:
            tail.append(render(key, value, ctx))
        else:
            tail.extend(_extension(key, value, ctx))
    return "".join(parts) + "".join(sorted(t for t in tail if t))


def event_hash_id(
    event: Mapping[str, Any],
    *,
    context: Mapping[str, str] | None = None,
    ignore_fields: Iterable[str] = (),
) -> str:
    """The CBV 2.0 Event Hash ID of ``event``: ``ni:///sha-256;<lowercase hex>?ver=CBV2.0``.

    Arguments as for :func:`prehash_string`; the hash is SHA-256 over its UTF-8 encoding.
    """
    pre = prehash_string(event, context=context, ignore_fields=ignore_fields)
    return f"ni:///sha-256;{hashlib.sha256(pre.encode('utf-8')).hexdigest()}?ver=CBV2.0"


def document_context_namespaces(document: Mapping[str, Any]) -> dict[str, str]:
    """Prefix -> namespace IRI from a document's ``@context``.

    Reads string-valued (and ``{"@id": ...}``) entries of the context objects, whether
    ``@context`` is one object or a list of URLs and objects.  Context URLs (the standard
    EPCIS context) are ignored: their prefixes are built in.  ``@vocab`` is kept, so that
    un-prefixed extension keys resolve against it.
    """
    raw = document.get("@context")
    result: dict[str, str] = {}
    for item in raw if isinstance(raw, list) else [raw]:
        if not isinstance(item, Mapping):
            continue
        for prefix, definition in item.items():
            iri = definition.get("@id") if isinstance(definition, Mapping) else definition
            if not isinstance(prefix, str) or not isinstance(iri, str):
                continue
            if prefix.startswith("@") and prefix != "@vocab":
                continue
            if "://" in iri or iri.startswith("urn:"):
                result[prefix] = iri
    return result


def document_ignore_fields(document: Mapping[str, Any]) -> tuple[str, ...]:
    """Field names a document asks hash generators to ignore (``*:ignoreFields``).

    Not part of CBV 2.0 proper but honoured by the reference implementation and its test
    vectors: a member whose local name is ``ignoreFields`` at document level, in
    ``epcisBody`` or in ``epcisBody.queryResults`` lists CURIEs of event members to skip.
    """
    body = document.get("epcisBody")
    holders: list[Any] = [document, body]
    if isinstance(body, Mapping):
        holders.append(body.get("queryResults"))
    found: list[str] = []
    for holder in holders:
        if not isinstance(holder, Mapping):
            continue
        for key, value in holder.items():
            if isinstance(key, str) and re.split(r"[:}/#]", key)[-1] == "ignoreFields":
                found.extend(v for v in _values(value) if isinstance(v, str))
    return tuple(found)
