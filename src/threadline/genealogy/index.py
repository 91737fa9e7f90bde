"""An in-memory genealogy index: the edges as sorted arrays, walked a whole level at a time.

The SQL walk (:mod:`.walk`) asks the database once per level and handles edges one by one in
Python; on a plant of millions of edges a heat lot's forward trace then costs tens of
milliseconds. This index keeps every edge in NumPy arrays sorted by source and by target, plus
each object's key and kind and each event's eventID as packed text, and performs the same
interval-respecting breadth-first walk with vectorised steps (see :meth:`GraphIndex.walk`).

It follows the store: before each use, :meth:`GraphIndex.refresh` reads the store's graph version
(one small query) and loads only what was added since — new edges, objects and events, and edges
closed since — or everything again after edges were removed (error declarations, rebuild).
A long-running process (the API server, the benchmark) holds one; one-shot commands use SQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from threadline.store.base import EdgeRow, ObjectRow, Reader

# Kinds that name material (as opposed to containers, places and parties).
MATERIAL_KINDS = frozenset({"lgtin", "sgtin", "gtin"})

# Integer arrays: int64 for times and edge ids, int32 where ids and positions fit.
I64 = npt.NDArray[np.signedinteger[Any]]

RELATIONS = ("consumed_into", "packed_in", "installed_in", "associated_with", "shipped_to")
_REL_CODE = {name: code for code, name in enumerate(RELATIONS)}
_CONTAINMENT = np.array([False, True, True, True, False])
TIME_WIDTH = len("2024-01-08T16:59:32.727000Z")
LO = np.int64(-(2**62))
HI = np.int64(2**62)
_UNSEEN = np.int64(2**62 + 1)  # "no open interval reached yet": greater than any start
_NAT = np.iinfo(np.int64).min
_CHUNK = 200_000  # rows fetched per round trip while loading
_ID = np.int32  # object and event row ids of one store: well below 2**31
_CSR_MIN = 50_000  # segments at least this big get per-object offsets


def _micros(texts: Sequence[str | None]) -> I64:
    """Storage timestamps ('...Z' UTC text) as int64 microseconds; None (open end) as HI."""
    out = np.array([t[:-1] if t else "NaT" for t in texts], dtype="datetime64[us]").astype(np.int64)
    out[out == _NAT] = HI
    return out


def times_text(micros: I64) -> list[str | None]:
    """Int64 microseconds back to storage text; HI (open end) to None."""
    out: list[str | None] = [None] * micros.shape[0]
    bounded = np.flatnonzero(micros < HI)
    if bounded.shape[0]:
        text = np.datetime_as_string(micros[bounded].astype("datetime64[us]"), unit="us")
        for i, t in zip(bounded.tolist(), text.tolist(), strict=True):
            out[i] = t + "Z"
    return out


@dataclass
class _Texts:
    """Strings keyed by integer id, packed into chunks of one string each (cheap in memory)."""

    ids: list[I64] = field(default_factory=list)
    ends: list[I64] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    tags: list[npt.NDArray[np.int8]] = field(default_factory=list)  # a small code per id
    tag_names: list[str] = field(default_factory=list)

    def add(self, ids: Sequence[int], values: Sequence[str], tags: Sequence[str] = ()) -> None:
        if not ids:
            return
        self.ids.append(np.array(ids, dtype=np.int64))
        self.ends.append(np.cumsum([len(v) for v in values], dtype=np.int64))
        self.text.append("".join(values))
        codes = {name: i for i, name in enumerate(self.tag_names)}
        for tag in set(tags) - set(codes):
            codes[tag] = len(self.tag_names)
            self.tag_names.append(tag)
        self.tags.append(np.array([codes[t] for t in tags] or [0] * len(ids), dtype=np.int8))

    def tags_of(self, ids: I64) -> list[str]:
        """The tag (object kind) of each id ("" where unknown)."""
        names = self.tag_names
        if len(self.ids) == 1 and ids.shape[0]:
            at = np.minimum(np.searchsorted(self.ids[0], ids), self.ids[0].shape[0] - 1)
            if bool((self.ids[0][at] == ids).all()):
                return [names[c] for c in self.tags[0][at].tolist()]
        out = [""] * ids.shape[0]
        for chunk_ids, tags in zip(self.ids, self.tags, strict=True):
            at = np.minimum(np.searchsorted(chunk_ids, ids), chunk_ids.shape[0] - 1)
            for i in np.flatnonzero(chunk_ids[at] == ids).tolist():
                out[i] = names[int(tags[at[i]])]
        return out

    def compact(self) -> None:
        """Join all chunks into one (fewer searches per lookup)."""
        if len(self.text) <= 1:
            return
        offsets = [0]
        for text in self.text[:-1]:
            offsets.append(offsets[-1] + len(text))
        self.ends = [np.concatenate([e + o for e, o in zip(self.ends, offsets, strict=True)])]
        self.ids = [np.concatenate(self.ids)]
        self.text = ["".join(self.text)]
        self.tags = [np.concatenate(self.tags)]

    def lookup(self, ids: Sequence[int]) -> list[str]:
        """The strings of ``ids`` ("" where unknown), in order."""
        wanted = np.asarray(ids, dtype=np.int64)
        if len(self.text) == 1 and wanted.shape[0]:
            # One packed chunk (the usual case after loading): slice straight through.
            chunk_ids, ends, text = self.ids[0], self.ends[0], self.text[0]
            at = np.searchsorted(chunk_ids, wanted)
            at = np.minimum(at, chunk_ids.shape[0] - 1)
            if bool((chunk_ids[at] == wanted).all()):
                stops = ends[at]
                starts = np.where(at > 0, ends[np.maximum(at - 1, 0)], 0)
                return [text[a:b] for a, b in zip(starts.tolist(), stops.tolist(), strict=True)]
        out = [""] * len(ids)
        for chunk_ids, ends, text in zip(self.ids, self.ends, self.text, strict=True):
            at = np.searchsorted(chunk_ids, wanted)
            at_clipped = np.minimum(at, chunk_ids.shape[0] - 1)
            hit = np.flatnonzero(chunk_ids[at_clipped] == wanted)
            if hit.shape[0] == 0:
                continue
            rows = at_clipped[hit]
            stops = ends[rows].tolist()
            starts = np.where(rows > 0, ends[np.maximum(rows - 1, 0)], 0).tolist()
            for i, a, b in zip(hit.tolist(), starts, stops, strict=True):
                out[i] = text[a:b]
        return out


@dataclass
class _Segment:
    """A block of edges with its own sort orders (the first load, then each increment)."""

    ids: I64
    src: I64
    dst: I64
    rel: npt.NDArray[np.int8]
    qty: npt.NDArray[np.float64]
    uom: npt.NDArray[np.int16]
    event: I64
    vf: I64
    vt: I64
    by_src: I64 = field(init=False)
    by_dst: I64 = field(init=False)
    src_sorted: I64 = field(init=False)
    dst_sorted: I64 = field(init=False)
    # For big segments, CSR offsets per object id: edges of object n are at [off[n], off[n+1])
    # of the sort order. A binary search over millions of edges costs more than the walk.
    src_off: I64 | None = field(init=False, default=None)
    dst_off: I64 | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        # Positions fit in 32 bits (2 billion edges per segment), and halve the memory.
        self.by_src = np.argsort(self.src, kind="stable").astype(np.int32)
        self.by_dst = np.argsort(self.dst, kind="stable").astype(np.int32)
        self.src_sorted = self.src[self.by_src]
        self.dst_sorted = self.dst[self.by_dst]
        if len(self) >= _CSR_MIN and len(self):
            top = int(max(self.src.max(), self.dst.max())) + 2
            self.src_off = np.searchsorted(self.src_sorted, np.arange(top)).astype(np.int32)
            self.dst_off = np.searchsorted(self.dst_sorted, np.arange(top)).astype(np.int32)

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def gather(self, nodes: I64, forward: bool) -> tuple[I64, I64]:
        """(frontier entry, edge position) for every edge leaving (entering) ``nodes``."""
        keys, order = (self.src_sorted, self.by_src) if forward else (self.dst_sorted, self.by_dst)
        offsets = self.src_off if forward else self.dst_off
        if offsets is not None:
            inside = np.minimum(nodes, offsets.shape[0] - 2)
            starts = offsets[inside]
            counts = np.where(nodes == inside, offsets[inside + 1] - starts, 0)
        else:
            starts = np.searchsorted(keys, nodes, "left")
            counts = np.searchsorted(keys, nodes, "right") - starts
        total = int(counts.sum())
        if total == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        entry = np.repeat(np.arange(nodes.shape[0], dtype=np.int64), counts)
        first = np.cumsum(counts) - counts
        pos = starts[entry] + (np.arange(total, dtype=np.int64) - first[entry])
        return entry, order[pos]


@dataclass
class IndexWalk:
    """What a walk reached: objects with depth and first link, and (if asked) every link."""

    nodes: I64
    depth: I64
    first_seg: I64
    first_pos: I64
    links: list[tuple[int, int, int]]  # (segment, position, depth)


class GraphIndex:
    """The genealogy of one store, in memory. Build with :meth:`load`; keep fresh with
    :meth:`refresh` (one small query when nothing changed). Thread-safe."""

    def __init__(self) -> None:
        self.segments: list[_Segment] = []
        self.version: tuple[int, int] = (-1, -1)
        self.max_edge = 0
        self.max_event = 0
        self.max_object = 0
        self.keys = _Texts()
        # Per event row: its eventID followed by its event time (storage text, always 27
        # characters), which is also the valid_from of every edge the event made.
        self.events = _Texts()
        self._uoms: list[str | None] = [None]
        self._uom_code: dict[str | None, int] = {None: 0}
        self._depth_of = np.empty(0, dtype=np.int32)
        self._best_of = np.empty(0, dtype=np.int64)
        self._lock = threading.RLock()

    # -- loading ---------------------------------------------------------------------------------
    @classmethod
    def load(cls, reader: Reader) -> GraphIndex:
        """Read every edge, object key and eventID the store holds."""
        index = cls()
        index._load(reader, full=True)
        return index

    def _load(self, reader: Reader, *, full: bool) -> None:
        if full:
            self.__init__()  # type: ignore[misc]
        self.version = reader.graph_version()
        after_edge, after_object, after_event = self.max_edge, self.max_object, self.max_event
        # Top of the events table first: anything committed later is picked up next time.
        top_event = int(reader.query("SELECT coalesce(max(id), 0) FROM events")[0][0])
        last = after_edge
        chunks: list[dict[str, Any]] = []
        while True:
            rows = reader.query(
                "SELECT id, src, dst, relation, quantity, uom, event, valid_from, valid_to "
                "FROM edges WHERE id > ? ORDER BY id LIMIT ?",
                (last, _CHUNK),
            )
            if not rows:
                break
            chunks.append(self._columns(rows))
            last = int(rows[-1][0])
        if chunks:
            # One segment per load: sort orders and offsets are built once, over everything.
            self.segments.append(
                _Segment(**{name: np.concatenate([c[name] for c in chunks]) for name in chunks[0]})
            )
        self.max_edge = last
        last = after_object
        while True:
            objects = reader.query(
                "SELECT id, key, kind FROM objects WHERE id > ? ORDER BY id LIMIT ?",
                (last, _CHUNK),
            )
            if not objects:
                break
            ids = [r[0] for r in objects]
            self.keys.add(ids, [r[1] for r in objects], [r[2] for r in objects])
            last = int(objects[-1][0])
        self.max_object = last
        last = after_event
        while last < top_event:
            events = reader.query(
                "SELECT id, event_id, event_time FROM events WHERE id > ? AND id <= ? "
                "AND is_declaration = ? ORDER BY id LIMIT ?",
                (last, top_event, False, _CHUNK),
            )
            if not events:
                break
            self.events.add([r[0] for r in events], [r[1] + r[2] for r in events])
            last = int(events[-1][0])
        self.max_event = top_event
        # Lookups want one packed chunk; increments are merged in right away (cheap next to
        # a walk, and a refresh only happens after a write).
        for texts in (self.keys, self.events):
            texts.compact()

    def _columns(self, rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
        codes = []
        for r in rows:
            code = self._uom_code.get(r[5])
            if code is None:
                code = self._uom_code[r[5]] = len(self._uoms)
                self._uoms.append(r[5])
            codes.append(code)
        n = len(rows)
        return dict(
            ids=np.fromiter((r[0] for r in rows), np.int64, n),
            src=np.fromiter((r[1] for r in rows), _ID, n),
            dst=np.fromiter((r[2] for r in rows), _ID, n),
            rel=np.fromiter((_REL_CODE[r[3]] for r in rows), np.int8, n),
            qty=np.fromiter((np.nan if r[4] is None else r[4] for r in rows), np.float64, n),
            uom=np.array(codes, dtype=np.int16),
            event=np.fromiter((r[6] for r in rows), _ID, n),
            vf=_micros([r[7] for r in rows]),
            vt=_micros([r[8] for r in rows]),
        )

    def _merge(self) -> None:
        names = ("ids", "src", "dst", "rel", "qty", "uom", "event", "vf", "vt")
        parts = self.segments
        self.segments = [
            _Segment(**{name: np.concatenate([getattr(s, name) for s in parts]) for name in names})
        ]

    def refresh(self, reader: Reader) -> None:
        """Bring the index up to the store's state as ``reader`` sees it."""
        version = reader.graph_version()
        with self._lock:
            if version == self.version:
                return
            if version[0] != self.version[0]:
                self._load(reader, full=True)
                return
            closed = reader.query(
                "SELECT id, valid_to FROM edges WHERE closed_by > ?", (self.max_event,)
            )
            self._load(reader, full=False)
            for edge_id, valid_to in closed:
                for seg in self.segments:
                    at = int(np.searchsorted(seg.ids, edge_id))
                    if at < len(seg) and seg.ids[at] == edge_id:
                        seg.vt[at] = _micros([valid_to])[0]
                        break
            if len(self.segments) > 8:
                self._merge()

    def __len__(self) -> int:
        return sum(len(s) for s in self.segments)

    # -- the walk ---------------------------------------------------------------------------------
    def walk(
        self,
        roots: Iterable[int],
        *,
        forward: bool,
        max_depth: int | None = None,
        links: bool | Sequence[str] = False,
    ) -> IndexWalk:
        """The walk of :func:`threadline.genealogy.walk.walk`, one vectorised step per level.

        Each object keeps the earliest start of an open-ended span it was reached over; a new
        span is followed only if it starts earlier (or is a closed span not yet covered), which
        is the SQL walk's coverage rule. ``links`` also collects every link followed (or, given
        relation names, every link of those relations).
        """
        if isinstance(links, bool):
            wanted = np.ones(len(RELATIONS), dtype=bool) if links else None
        else:
            wanted = np.array([name in links for name in RELATIONS])
        with self._lock:
            return self._walk(list(dict.fromkeys(roots)), forward, max_depth, wanted)

    def _scratch(self, size: int) -> tuple[npt.NDArray[np.int32], I64]:
        """Per-object working arrays, reused between walks (reset after each, under the lock)."""
        if self._depth_of.shape[0] < size:
            size = int(size * 1.25) + 1024
            self._depth_of = np.full(size, -1, dtype=np.int32)
            self._best_of = np.full(size, _UNSEEN, dtype=np.int64)
        return self._depth_of, self._best_of

    def _walk(
        self,
        roots: list[int],
        forward: bool,
        max_depth: int | None,
        want_links: npt.NDArray[np.bool_] | None,
    ) -> IndexWalk:
        depth_of, best_of = self._scratch(max(self.max_object, *roots) + 1)
        touched: list[I64] = [np.array(roots, dtype=np.int64)]
        closed_seen: dict[int, list[tuple[int, int]]] = {}
        followed: dict[tuple[int, int], int] = {}
        reached: list[I64] = []
        reached_depth: list[I64] = []
        first_seg: list[I64] = []
        first_pos: list[I64] = []
        f_node = touched[0]
        depth_of[f_node] = 0
        best_of[f_node] = LO
        f_lo = np.full(len(roots), LO, dtype=np.int64)
        f_hi = np.full(len(roots), HI, dtype=np.int64)
        level = 0
        try:
            while f_node.shape[0] and (max_depth is None or level < max_depth):
                level += 1
                parts = [
                    self._step(number, seg, f_node, f_lo, f_hi, forward)
                    for number, seg in enumerate(self.segments)
                ]
                parts = [p for p in parts if p[0].shape[0]]
                if not parts:
                    break
                if len(parts) == 1:
                    node, lo, hi, sg, ps, vf, a, b, rel = parts[0]
                else:
                    node, lo, hi, sg, ps, vf, a, b, rel = (
                        np.concatenate(x) for x in zip(*parts, strict=True)
                    )
                touched.append(node)
                if want_links is not None:
                    pick = np.flatnonzero(want_links[rel])
                    for key in zip(sg[pick].tolist(), ps[pick].tolist(), strict=True):
                        followed.setdefault(key, level)
                # Newly reached objects and their first link: the earliest (time, src, dst,
                # relation) among this level's links to them.
                unseen = np.flatnonzero(depth_of[node] < 0)
                order = unseen[
                    np.lexsort((rel[unseen], b[unseen], a[unseen], vf[unseen], node[unseen]))
                ]
                node_o = node[order]
                lead = np.ones(node_o.shape[0], dtype=bool)
                lead[1:] = node_o[1:] != node_o[:-1]
                fresh = order[lead]
                if fresh.shape[0]:
                    depth_of[node[fresh]] = level
                    reached.append(node[fresh])
                    reached_depth.append(np.full(fresh.shape[0], level, dtype=np.int64))
                    first_seg.append(sg[fresh])
                    first_pos.append(ps[fresh])
                # Spans: per object, the earliest-starting open span, if it starts earlier
                # than any open span that already reached it.
                is_open = hi == HI
                o_idx = np.flatnonzero(is_open & (lo < best_of[node]))
                o_order = o_idx[np.lexsort((lo[o_idx], node[o_idx]))]
                o_node = node[o_order]
                o_lead = np.ones(o_node.shape[0], dtype=bool)
                o_lead[1:] = o_node[1:] != o_node[:-1]
                cand = o_order[o_lead]
                better = cand[lo[cand] < best_of[node[cand]]]
                best_of[node[better]] = lo[better]
                n_node, n_lo, n_hi = [node[better]], [lo[better]], [hi[better]]
                # Closed spans (a container later emptied) are rare: handle them one by one.
                extra_node: list[int] = []
                extra_lo: list[int] = []
                extra_hi: list[int] = []
                for i in np.flatnonzero(~is_open & (lo < best_of[node])).tolist():
                    n, start, end = int(node[i]), int(lo[i]), int(hi[i])
                    if best_of[n] <= start:
                        continue
                    spans = closed_seen.setdefault(n, [])
                    if any(x <= start and end <= y for x, y in spans):
                        continue
                    spans.append((start, end))
                    extra_node.append(n)
                    extra_lo.append(start)
                    extra_hi.append(end)
                if extra_node:
                    n_node.append(np.array(extra_node, dtype=np.int64))
                    n_lo.append(np.array(extra_lo, dtype=np.int64))
                    n_hi.append(np.array(extra_hi, dtype=np.int64))
                f_node = np.concatenate(n_node)
                f_lo = np.concatenate(n_lo)
                f_hi = np.concatenate(n_hi)
        finally:
            for ids in touched:
                depth_of[ids] = -1
                best_of[ids] = _UNSEEN

        def cat(parts: list[I64]) -> I64:
            return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

        return IndexWalk(
            nodes=cat(reached),
            depth=cat(reached_depth),
            first_seg=cat(first_seg),
            first_pos=cat(first_pos),
            links=[(s, p, d) for (s, p), d in followed.items()],
        )

    @staticmethod
    def _step(
        number: int, seg: _Segment, f_node: I64, f_lo: I64, f_hi: I64, forward: bool
    ) -> tuple[I64, ...]:
        entry, pos = seg.gather(f_node, forward)
        lo, hi = f_lo[entry], f_hi[entry]
        vf, vt = seg.vf[pos], seg.vt[pos]
        contain = _CONTAINMENT[seg.rel[pos]]
        if forward:
            new_lo = np.where(contain, np.maximum(lo, vf), vf)
            new_hi = np.where(contain, np.minimum(hi, vt), HI)
            ok = np.where(contain, new_lo < new_hi, (lo <= vf) & (vf < hi))
            there = seg.dst[pos]
        else:
            new_lo = np.where(contain, np.maximum(lo, vf), LO)
            # An input mattered up to and including the moment it was consumed or shipped.
            new_hi = np.where(contain, np.minimum(hi, vt), vf + 1)
            ok = np.where(contain, new_lo < new_hi, vf < hi)
            there = seg.src[pos]
        keep = np.flatnonzero(ok)
        pos = pos[keep]
        return (
            there[keep],
            new_lo[keep],
            new_hi[keep],
            np.full(keep.shape[0], number, dtype=np.int64),
            pos,
            seg.vf[pos],
            seg.src[pos],
            seg.dst[pos],
            seg.rel[pos].astype(np.int64),
        )

    # -- reading edges and objects back ---------------------------------------------------------
    def edge_rows(self, segs: I64, poss: I64) -> list[EdgeRow]:
        """The edges at (segment, position) as the store's :class:`EdgeRow` (edge ids included)."""
        cols = self.edges(segs, poss)
        ids = np.empty(segs.shape[0], dtype=np.int64)
        for number, seg in enumerate(self.segments):
            where = np.flatnonzero(segs == number)
            ids[where] = seg.ids[poss[where]]
        return [
            EdgeRow(*row)
            for row in zip(
                ids.tolist(),
                cols["src"],
                cols["dst"],
                cols["relation"],
                cols["quantity"],
                cols["uom"],
                cols["event"],
                cols["valid_from"],
                cols["valid_to"],
                strict=True,
            )
        ]

    def _material(self, ids: I64) -> npt.NDArray[np.bool_]:
        """Whether each object names material (a lot, a serialised item, a product)."""
        codes = self.keys.tags[0][np.searchsorted(self.keys.ids[0], ids)]
        names = self.keys.tag_names
        return np.array([names[c] in MATERIAL_KINDS for c in range(len(names))])[codes]

    def contents_step(
        self, entries: Sequence[tuple[int, int, str]], among: set[int]
    ) -> list[tuple[int, int, str, float | None, str | None, bool]]:
        """For (container, shipment row, time) entries: the children in ``among`` that were
        inside the container at that time, as (child, shipment, time, quantity, uom,
        child is material). Containment edges only."""
        if not entries:
            return []
        containers = np.array([e[0] for e in entries], dtype=np.int64)
        ships = [e[1] for e in entries]
        times = [e[2] for e in entries]
        moments = _micros(times)
        allowed = np.fromiter(among, np.int64, len(among))
        out: list[tuple[int, int, str, float | None, str | None, bool]] = []
        with self._lock:
            for seg in self.segments:
                entry, pos = seg.gather(containers, False)
                when = moments[entry]
                keep = (
                    _CONTAINMENT[seg.rel[pos]]
                    & (seg.vf[pos] <= when)
                    & (when < seg.vt[pos])
                    & np.isin(seg.src[pos], allowed)
                )
                entry, pos = entry[keep], pos[keep]
                if not pos.shape[0]:
                    continue
                src = seg.src[pos]
                material = self._material(src)
                qty = seg.qty[pos]
                has_qty = ~np.isnan(qty)
                uoms = [self._uoms[c] for c in seg.uom[pos].tolist()]
                for e, s, q, hq, u, m in zip(
                    entry.tolist(),
                    src.tolist(),
                    qty.tolist(),
                    has_qty.tolist(),
                    uoms,
                    material.tolist(),
                    strict=True,
                ):
                    if hq:
                        out.append((s, ships[e], times[e], q, u, m))
                    else:
                        out.append((s, ships[e], times[e], None, None, m))
        return self._serial_pieces(out)

    def _serial_pieces(
        self, rows: list[tuple[int, int, str, float | None, str | None, bool]]
    ) -> list[tuple[int, int, str, float | None, str | None, bool]]:
        """A serialised item inside a container counts as one piece."""
        bare = [i for i, r in enumerate(rows) if r[5] and r[3] is None]
        if not bare:
            return rows
        kinds = self.keys.tags_of(np.array([rows[i][0] for i in bare], dtype=np.int64))
        for i, kind in zip(bare, kinds, strict=True):
            if kind == "sgtin":
                s, ship, time, _, _, m = rows[i]
                rows[i] = (s, ship, time, 1.0, None, m)
        return rows

    def material_inside(
        self, *, sources: Sequence[int], into: Sequence[int], exclude: set[int]
    ) -> dict[int, list[tuple[float | None, str | None]]]:
        """Material each container holds now, over open packed_in edges from ``sources`` or
        into ``into`` (the latter skipping sources in ``exclude``)."""
        packed = _REL_CODE["packed_in"]
        out: dict[int, list[tuple[float | None, str | None]]] = {}
        froms = np.unique(np.asarray(list(sources), dtype=np.int64))
        intos = np.unique(np.asarray(list(into), dtype=np.int64))
        skip = np.fromiter(exclude, np.int64, len(exclude))
        with self._lock:
            for seg in self.segments:
                picks = []
                _, pos = seg.gather(froms, True)
                picks.append(pos)
                _, pos = seg.gather(intos, False)
                picks.append(pos[~np.isin(seg.src[pos], skip)])
                pos = np.concatenate(picks)
                pos = pos[(seg.rel[pos] == packed) & (seg.vt[pos] == HI)]
                if not pos.shape[0]:
                    continue
                src = seg.src[pos]
                pos = pos[self._material(src)]
                src = seg.src[pos]
                serial = np.array(self.keys.tags_of(src), dtype=object) == "sgtin"
                for d, q, c, ser in zip(
                    seg.dst[pos].tolist(),
                    seg.qty[pos].tolist(),
                    seg.uom[pos].tolist(),
                    serial.tolist(),
                    strict=True,
                ):
                    # q == q: not NaN, so the edge carries a quantity; else one serial piece.
                    item = (q, self._uoms[c]) if q == q else (1.0 if ser else None, None)
                    out.setdefault(d, []).append(item)
        return out

    def objects_by_id(self, ids: Iterable[int]) -> dict[int, ObjectRow]:
        """Key and kind of each object (``product`` and ``gcp_length`` are not kept here).

        An object stored after the index last caught up (a lot just received, with no
        genealogy link yet) is not in the answer; callers ask the store for those.
        """
        wanted = sorted(set(ids))
        keys = self.keys.lookup(wanted)
        kinds = self.keys.tags_of(np.asarray(wanted, dtype=np.int64))
        return {
            oid: ObjectRow(oid, key, kind, None, None)
            for oid, key, kind in zip(wanted, keys, kinds, strict=True)
            if key
        }

    # -- reading edges back ---------------------------------------------------------------------
    def edges(self, segs: I64, poss: I64) -> dict[str, list[Any]]:
        """Columns of the edges at (segment, position): src, dst, relation, quantity, uom,
        event row, eventID, valid_from and valid_to (storage text), in the order given."""
        n = segs.shape[0]
        if len(self.segments) == 1:
            seg = self.segments[0]
            out: dict[str, Any] = {
                "src": seg.src[poss],
                "dst": seg.dst[poss],
                "rel": seg.rel[poss],
                "qty": seg.qty[poss],
                "uom": seg.uom[poss],
                "event": seg.event[poss],
                "vt": seg.vt[poss],
            }
            return self._edge_columns(out)
        out = {
            name: np.empty(n, dtype=dtype)
            for name, dtype in (
                ("src", np.int64),
                ("dst", np.int64),
                ("rel", np.int64),
                ("qty", np.float64),
                ("uom", np.int64),
                ("event", np.int64),
                ("vf", np.int64),
                ("vt", np.int64),
            )
        }
        for number, seg in enumerate(self.segments):
            where = np.flatnonzero(segs == number)
            if where.shape[0] == 0:
                continue
            p = poss[where]
            out["src"][where] = seg.src[p]
            out["dst"][where] = seg.dst[p]
            out["rel"][where] = seg.rel[p]
            out["qty"][where] = seg.qty[p]
            out["uom"][where] = seg.uom[p]
            out["event"][where] = seg.event[p]
            out["vf"][where] = seg.vf[p]
            out["vt"][where] = seg.vt[p]
        return self._edge_columns(out)

    def _edge_columns(self, out: dict[str, Any]) -> dict[str, list[Any]]:
        event_rows = out["event"].tolist()
        event_texts = self.events.lookup(event_rows)
        return {
            "event_id": [t[:-TIME_WIDTH] for t in event_texts],
            "valid_from": [t[-TIME_WIDTH:] for t in event_texts],
            "src": out["src"].tolist(),
            "dst": out["dst"].tolist(),
            "relation": [RELATIONS[c] for c in out["rel"].tolist()],
            "quantity": [None if q != q else q for q in out["qty"].tolist()],
            "uom": [self._uoms[c] for c in out["uom"].tolist()],
            "event": event_rows,
            "valid_to": times_text(out["vt"]),
        }
