"""The write path: events and their projections in one transaction, batch by batch.

A :class:`Writer` belongs to one open write transaction (see :meth:`Store.writer`). It buffers
events, and on each flush: drops events already stored, inserts the new ones, creates or finds
their objects, folds them into object status, opens and closes genealogy edges, and writes all of
it with a handful of bulk inserts. Error declarations are applied between batches: the
declared event leaves every projection and the objects it touched are re-folded from their
remaining history.
"""

from __future__ import annotations

import contextlib
import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from threadline.epcis.json_reader import parse_event, utc_text
from threadline.gs1.keys import canonical
from threadline.model.events import (
    Action,
    AggregationEvent,
    AnyEvent,
    AssociationEvent,
    ObjectEvent,
    TransformationEvent,
)
from threadline.model.identifiers import Identifier
from threadline.store.base import AppendResult, ProgressFn, Reader, Store
from threadline.store.chain import GENESIS, canonical_doc, link_hash
from threadline.store.projector import Role, Status, apply_status, is_shipping, roles_of
from threadline.store.readings import clear_event_readings, delete_readings, write_readings

_INSERT_EVENT = (
    "INSERT INTO events (id, event_id, is_declaration, type, action, biz_step, disposition, "
    "event_time, event_tz, record_time, read_point, biz_location, error_declared, doc) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {J})"
)
_INSERT_EDGE = (
    "INSERT INTO edges (id, src, dst, relation, quantity, uom, event, valid_from, valid_to, "
    "closed_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPSERT_STATUS = (
    "INSERT INTO status (object, state, disposition, location, read_point, container, quantity, "
    "total, uom, last_event, last_time, persistent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (object) DO UPDATE SET state = excluded.state, "
    "disposition = excluded.disposition, location = excluded.location, "
    "read_point = excluded.read_point, container = excluded.container, "
    "quantity = excluded.quantity, total = excluded.total, uom = excluded.uom, "
    "last_event = excluded.last_event, last_time = excluded.last_time, "
    "persistent = excluded.persistent"
)
_INSERT_EVENT_OBJECT = (
    "INSERT INTO event_objects (object, event, role) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
)
# The event_objects role linking an event to each entry of its bizTransactionList.
BIZ_TRANSACTION = "biz_transaction"
_INSERT_OBJECT = (
    "INSERT INTO objects (id, key, kind, product, gcp_length) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (key) DO NOTHING"
)

T = TypeVar("T")

_ADD, _DELETE = Action.ADD, Action.DELETE
_CONTAINER_EVENTS = frozenset({AggregationEvent, AssociationEvent})
_ILMD_ROLES = frozenset({"epc", "quantity", "output", "output_quantity"})

# Edge: [id, src, dst, relation, quantity, uom, event, valid_from, valid_to, closed_by]
Edge = list[Any]


def _relation(event: AnyEvent) -> str:
    if isinstance(event, AssociationEvent):
        return "associated_with"
    return "installed_in" if event.biz_step == "installing" else "packed_in"


class Writer(Reader):
    """Appends events inside one write transaction. Obtain one from :meth:`Store.writer`."""

    def __init__(self, store: Store, connection: Any) -> None:
        super().__init__(store, connection)
        self.result = AppendResult()
        self.graph_changed = False  # edges added or closed: in-memory indexes must refresh
        self.graph_rewritten = False  # edges removed or reopened: they must reload
        self._pending: list[AnyEvent] = []
        self._next_id: dict[str, int] = {}
        self._head: str | None = None  # chain hash of the last event row written
        self._links: list[tuple[int, str, str]] = []  # event_chain rows not yet written
        self._sql_event = store.sql(_INSERT_EVENT.replace("{J}", store.json_param()))
        self._sql_edge = store.sql(_INSERT_EDGE)
        self._sql_status = store.sql(_UPSERT_STATUS)
        self._sql_event_object = store.sql(_INSERT_EVENT_OBJECT)
        self._sql_object = store.sql(_INSERT_OBJECT)
        self._sql_link = store.sql("INSERT INTO event_chain (id, prev_hash, hash) VALUES (?, ?, ?)")
        # While append_parts runs: which part each event came from, and each part's result.
        self._owner: dict[int, AppendResult] | None = None

    # -- public ---------------------------------------------------------------------------------
    def append(self, events: Iterable[AnyEvent], *, progress: ProgressFn | None = None) -> None:
        """Buffer ``events`` and write them batch by batch (all inside this transaction).

        ``events`` may be a lazy iterator (a document being parsed); it is consumed one batch
        at a time, so memory stays bounded by the batch size.
        """
        size = self.store.batch_size
        with _no_cyclic_gc():
            self._append(events, size, progress)

    def _append(self, events: Iterable[AnyEvent], size: int, progress: ProgressFn | None) -> None:
        batches = (
            [list(events[i : i + size]) for i in range(0, len(events), size)]
            if isinstance(events, Sequence)
            else _chunks(events, size)
        )
        for batch in batches:
            self._pending.extend(batch)
            self.flush()
            if progress:
                progress(len(batch))

    def append_parts(self, parts: Sequence[Sequence[AnyEvent]]) -> list[AppendResult]:
        """Append several submissions' events as one batch; returns each submission's result.

        The group committer folds concurrent captures into one call: the whole group costs one
        round of queries and inserts instead of one per submission. Events keep their order
        (a declaration in a later part sees the events of earlier parts), and each part is told
        what happened to its own events. Every part's events are stored or none are, as with
        :meth:`append`.
        """
        results = [AppendResult() for _ in parts]
        owner: dict[int, AppendResult] = {}
        events: list[AnyEvent] = []
        for part, result in zip(parts, results, strict=True):
            for event in part:
                owner[id(event)] = result
            events.extend(part)
        self._owner = owner
        try:
            self.append(events)
            self.flush()
        finally:
            self._owner = None
        return results

    def _count(self, event: AnyEvent, field: str, n: int = 1) -> None:
        setattr(self.result, field, getattr(self.result, field) + n)
        if self._owner is not None:
            part = self._owner[id(event)]
            setattr(part, field, getattr(part, field) + n)

    def bump_graph_version(self) -> None:
        """Record, in this transaction, that the genealogy changed (see ``meta``)."""
        if self.graph_changed or self.graph_rewritten:
            self.cursor.execute("UPDATE meta SET value = value + 1 WHERE key = 'graph_version'")
        if self.graph_rewritten:
            self.cursor.execute("UPDATE meta SET value = value + 1 WHERE key = 'graph_epoch'")

    def flush(self) -> None:
        """Write what is buffered."""
        batch, self._pending = self._pending, []
        if not batch:
            return
        now = utc_text(datetime.now(UTC))
        fresh = self._drop_known(batch)
        segment: list[AnyEvent] = []
        for event in fresh:
            if event.error_declaration is not None:
                if segment:
                    self._store_events(segment, now)
                    segment = []
                self._declare(event, now)
            else:
                segment.append(event)
        if segment:
            self._store_events(segment, now)

    # -- ids ------------------------------------------------------------------------------------
    def _allocate(self, table: str, count: int) -> int:
        if table not in self._next_id:
            self._next_id[table] = self.store.first_free_id(self.cursor, table)
        first = self._next_id[table]
        self._next_id[table] = first + count
        return first

    def _drop_known(self, batch: Sequence[AnyEvent]) -> list[AnyEvent]:
        stored = {
            (r[0], bool(r[1]))
            for r in self.query_in(
                "SELECT event_id, is_declaration FROM events WHERE event_id {IN}",
                list({e.event_id for e in batch}),
            )
        }
        fresh: list[AnyEvent] = []
        seen: set[tuple[str, bool]] = set()
        for event in batch:
            key = (event.event_id, event.error_declaration is not None)
            if key in stored or key in seen:
                self._count(event, "duplicates")
                continue
            seen.add(key)
            fresh.append(event)
        return fresh

    def ensure_objects(self, idents: dict[str, Identifier]) -> dict[str, int]:
        """Object ids for canonical keys, creating the objects not seen before."""
        found = {key: row.id for key, row in self.objects_by_key(idents).items()}
        missing = [key for key in idents if key not in found]
        if missing:
            first = self._allocate("objects", len(missing))
            rows = []
            for offset, key in enumerate(missing):
                ident = idents[key]
                rows.append(
                    (first + offset, key, ident.kind.value, ident.product, ident.gcp_length)
                )
                found[key] = first + offset
            self.store.insert_rows(self.cursor, self._sql_object, rows)
        return found

    # -- events -----------------------------------------------------------------------------------
    def _chain_head(self) -> str:
        if self._head is None:
            found = self.query("SELECT hash FROM event_chain ORDER BY id DESC LIMIT 1")
            self._head = found[0][0] if found and found[0][0] else GENESIS
        return self._head

    def _write_links(self) -> None:
        if self._links:
            self.store.insert_rows(self.cursor, self._sql_link, self._links)
            self._links = []

    def _event_row(
        self, row: int, event: AnyEvent, time: str, now: str, *, declaration: bool, erroneous: bool
    ) -> tuple[Any, ...]:
        # One canonical serialisation serves both the stored document and its chain hash.
        doc = canonical_doc(event.raw)
        prev = self._chain_head()
        self._head = link_hash(prev, row, event.event_id, now, declaration, doc)
        self._links.append((row, prev, self._head))
        return (
            row,
            event.event_id,
            declaration,
            event.type.value,
            None if event.action is None else event.action.value,
            event.biz_step,
            event.disposition,
            time,
            event.event_time_zone_offset,
            now,
            None if event.read_point is None else canonical(event.read_point).key,
            None if event.biz_location is None else canonical(event.biz_location).key,
            erroneous,
            doc.decode(),
        )

    def _store_events(self, events: Sequence[AnyEvent], now: str) -> None:
        declared = {
            r[0]
            for r in self.query_in(
                "SELECT event_id FROM error_declarations WHERE event_id {IN}",
                [e.event_id for e in events],
            )
        }
        first = self._allocate("events", len(events))
        rows = []
        live: list[tuple[int, AnyEvent, str]] = []
        for offset, event in enumerate(events):
            time = utc_text(event.event_time)
            erroneous = event.event_id in declared
            rows.append(
                self._event_row(
                    first + offset, event, time, now, declaration=False, erroneous=erroneous
                )
            )
            if not erroneous:
                live.append((first + offset, event, time))
        self.store.insert_rows(self.cursor, self._sql_event, rows)
        self._write_links()
        if self._owner is None:  # a bulk import: one addition, not one call per event
            self.result.inserted += len(events)
        else:
            for event in events:
                self._count(event, "inserted")
        self.project(live)

    # -- projections -------------------------------------------------------------------------
    def project(self, live: Sequence[tuple[int, AnyEvent, str]]) -> None:
        """Fold stored events (row id, event, storage time) into edges, index and status."""
        # This loop runs once per event of every import; locals and precomputed lookups below
        # are deliberate (attribute and global lookups dominate otherwise).
        roles_by_event: list[list[Role]] = []
        raw_ids: set[str] = set()
        add_raw = raw_ids.add
        for _, event, _ in live:
            roles = roles_of(event)
            roles_by_event.append(roles)
            raw_ids.update([r.raw_id for r in roles])
            if event.read_point:
                add_raw(event.read_point)
            if event.biz_location:
                add_raw(event.biz_location)
            for party in event.sources:
                add_raw(party.id)
            for party in event.destinations:
                add_raw(party.id)
            for tx in event.biz_transactions:
                add_raw(tx.id)
        idents: dict[str, Identifier] = {}
        key_of: dict[str, str] = {}
        for raw in raw_ids:
            ident = canonical(raw)
            key_of[raw] = ident.key
            idents[ident.key] = ident
        ids = self.ensure_objects(idents)
        oid_of = {raw: ids[key] for raw, key in key_of.items()}
        subjects = {oid_of[r.raw_id] for roles in roles_by_event for r in roles}
        statuses = self.statuses(list(subjects))
        for oid in subjects:
            if oid not in statuses:
                statuses[oid] = Status(oid)

        batch = _EdgeBatch(self)
        index_rows: list[tuple[int, int, str]] = []
        add_index = index_rows.append
        attrs: dict[int, Any] = {}
        fold = apply_status
        for (row, event, time), roles in zip(live, roles_by_event, strict=True):
            parent_raw: str | None = getattr(event, "parent_id", None)
            parent = oid_of[parent_raw] if parent_raw else None
            location = key_of[event.biz_location] if event.biz_location else None
            read_point = key_of[event.read_point] if event.read_point else None
            pairs = [(oid_of[r.raw_id], r) for r in roles]
            if (
                parent is not None
                and event.action is _DELETE
                and type(event) in _CONTAINER_EVENTS
                and not pairs[1:]
            ):
                # A DELETE that names only the parent empties it.
                pairs.extend(batch.expand_children(parent, statuses))
            batch.apply(
                event,
                row,
                time,
                pairs,
                parent,
                statuses,
                [oid_of[d.id] for d in event.destinations] if event.destinations else (),
            )
            keeps_ilmd = bool(event.ilmd) and (
                event.action is _ADD or type(event) is TransformationEvent
            )
            # Orders and other business transactions are objects too, linked to their events
            # (role ``biz_transaction``): an order number is then found through the key index,
            # and its passport lists its events. They carry no status and no genealogy.
            for tx in event.biz_transactions:
                add_index((oid_of[tx.id], row, BIZ_TRANSACTION))
            for oid, role in pairs:
                add_index((oid, row, role.role))
                fold(
                    statuses[oid],
                    event,
                    role,
                    row=row,
                    time=time,
                    parent=parent,
                    location=location,
                    read_point=read_point,
                )
                if keeps_ilmd and role.role in _ILMD_ROLES:
                    attrs[oid] = event.ilmd
        batch.write()
        if index_rows:
            self.store.insert_rows(self.cursor, self._sql_event_object, index_rows)
        if statuses:
            self.store.insert_rows(
                self.cursor, self._sql_status, [s.as_row() for s in statuses.values()]
            )
        if attrs:
            sql = self.store.sql(
                f"UPDATE objects SET attrs = {self.store.json_param()} WHERE id = ?"
            )
            self.cursor.executemany(sql, [(self.store.dump_json(v), k) for k, v in attrs.items()])
        write_readings(self, live)

    # -- error declarations ------------------------------------------------------------------------
    def _declare(self, event: AnyEvent, now: str) -> None:
        declaration = event.error_declaration
        assert declaration is not None
        row = self._allocate("events", 1)
        time = utc_text(event.event_time)
        self.cursor.executemany(
            self._sql_event,
            [self._event_row(row, event, time, now, declaration=True, erroneous=False)],
        )
        self._write_links()
        self._count(event, "inserted")
        self.cursor.execute(
            self.store.sql(
                "INSERT INTO error_declarations (event_id, declared_at, reason, corrective_ids, "
                f"declaration) VALUES (?, ?, ?, {self.store.json_param()}, ?) "
                "ON CONFLICT (event_id) DO NOTHING"
            ),
            (
                event.event_id,
                utc_text(declaration.declaration_time),
                declaration.reason,
                self.store.dump_json(list(declaration.corrective_event_ids)),
                row,
            ),
        )
        found = self.query(
            "SELECT id, doc FROM events WHERE event_id = ? AND is_declaration = ? "
            "AND error_declared = ?",
            (event.event_id, False, False),
        )
        for original, doc in found:
            self.cursor.execute(
                self.store.sql("UPDATE events SET error_declared = ? WHERE id = ?"),
                (True, original),
            )
            self._retract(original, self.store.load_json(doc), event.event_id)
            self._count(event, "declared_in_error")

    def _retract(self, row: int, doc: dict[str, Any], event_id: str) -> None:
        """Remove one event from every projection and re-fold the objects it touched."""
        parsed = parse_event(doc, event_id=event_id)
        keys = {canonical(r.raw_id).key for r in roles_of(parsed)}
        touched = set(self.ensure_objects({k: canonical(k) for k in keys}).values())
        for src, dst in self.query("SELECT src, dst FROM edges WHERE event = ?", (row,)):
            touched.update((src, dst))
        for (src,) in self.query("SELECT src FROM edges WHERE closed_by = ?", (row,)):
            touched.add(src)
        self.graph_rewritten = True
        self.cursor.execute(self.store.sql("DELETE FROM edges WHERE event = ?"), (row,))
        delete_readings(self, row)
        self.cursor.execute(
            self.store.sql(
                "UPDATE edges SET valid_to = NULL, closed_by = NULL WHERE closed_by = ?"
            ),
            (row,),
        )
        for oid in touched:
            self.cursor.execute(
                self.store.sql("DELETE FROM event_objects WHERE object = ? AND event = ?"),
                (oid, row),
            )
        self.refold(sorted(touched))

    def refold(self, object_ids: Sequence[int]) -> None:
        """Recompute the status of ``object_ids`` from their (non-erroneous) event history."""
        objects = self.objects_by_id(object_ids)
        out: list[Status] = []
        for oid in object_ids:
            status = Status(oid)
            key = objects[oid].key
            for ev in self.events_of_object(oid):
                parsed = parse_event(ev.doc, event_id=ev.event_id)
                parent_raw = getattr(parsed, "parent_id", None)
                parent = None
                if parent_raw:
                    parent_key = canonical(parent_raw).key
                    parent = self.ensure_objects({parent_key: canonical(parent_key)})[parent_key]
                for role in roles_of(parsed):
                    if canonical(role.raw_id).key == key:
                        apply_status(
                            status,
                            parsed,
                            role,
                            row=ev.id,
                            time=ev.event_time,
                            parent=parent,
                            location=ev.biz_location,
                            read_point=ev.read_point,
                        )
            out.append(status)
        if out:
            # An object whose whole history was declared in error has no status at all.
            empty = [st.object for st in out if st.last_time is None]
            for fragment, chunk in self.store.in_clause(empty):
                self.cursor.execute(
                    self.store.sql(f"DELETE FROM status WHERE object {fragment}"), chunk
                )
            rows = [st.as_row() for st in out if st.last_time is not None]
            self.store.insert_rows(self.cursor, self._sql_status, rows)


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector during a bulk write.

    A batch allocates hundreds of thousands of small lists and tuples, none of them in cycles;
    with the collector on, each of its passes walks every object of the document being imported,
    which cost more than the projection itself. Reference counting still frees everything.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _EdgeBatch:
    """Genealogy edges opened and closed by one batch, written together at the end."""

    def __init__(self, writer: Writer) -> None:
        self.writer = writer
        self.new: list[Edge] = []
        self.open_new: dict[tuple[int, int], list[Edge]] = defaultdict(list)
        self.closed: dict[int, tuple[str, int]] = {}

    def _open(self, src: int, dst: int) -> list[Edge]:
        """Edges src->dst still open: stored ones not closed in this batch, then new ones."""
        found: list[Edge] = [
            [r[0], src, dst, r[1], r[2], r[3], None, None, None, None]
            for r in self.writer.query(
                "SELECT id, relation, quantity, uom FROM edges WHERE src = ? AND dst = ? "
                "AND valid_to IS NULL",
                (src, dst),
            )
            if r[0] not in self.closed
        ]
        found.extend(e for e in self.open_new[(src, dst)] if e[8] is None)
        return found

    def _close(self, edge: Edge, time: str, row: int) -> None:
        if edge[6] is None:  # stored edge
            self.closed[edge[0]] = (time, row)
        else:
            edge[8], edge[9] = time, row

    def _add(
        self,
        src: int,
        dst: int,
        relation: str,
        qty: float | None,
        uom: str | None,
        row: int,
        time: str,
    ) -> None:
        edge: Edge = [None, src, dst, relation, qty, uom, row, time, None, None]
        self.new.append(edge)
        self.open_new[(src, dst)].append(edge)

    def expand_children(self, parent: int, statuses: dict[int, Status]) -> list[tuple[int, Role]]:
        """The children currently inside ``parent`` (for a DELETE that lists none)."""
        out: list[tuple[int, Role]] = []
        stored = self.writer.query(
            "SELECT id, src, quantity, uom FROM edges WHERE dst = ? AND valid_to IS NULL", (parent,)
        )
        children = [(r[1], r[2], r[3]) for r in stored if r[0] not in self.closed]
        children += [
            (e[1], e[4], e[5])
            for (s, d), es in self.open_new.items()
            if d == parent
            for e in es
            if e[8] is None
        ]
        missing = [src for src, _, _ in children if src not in statuses]
        if missing:
            statuses.update(self.writer.statuses(missing))
            for src in missing:
                statuses.setdefault(src, Status(src))
        keys = self.writer.objects_by_id([c[0] for c in children])
        for src, qty, uom in children:
            role = "child" if qty is None else "child_quantity"
            out.append((src, Role(keys[src].key, role, qty, uom)))
        return out

    def apply(
        self,
        event: AnyEvent,
        row: int,
        time: str,
        pairs: Sequence[tuple[int, Role]],
        parent: int | None,
        statuses: dict[int, Status],
        destinations: Sequence[int],
    ) -> None:
        if isinstance(event, TransformationEvent):
            inputs = [(o, r) for o, r in pairs if r.role in ("input", "input_quantity")]
            outputs = [o for o, r in pairs if r.role in ("output", "output_quantity")]
            for src, role in inputs:
                for dst in outputs:
                    self._add(src, dst, "consumed_into", role.quantity, role.uom, row, time)
        elif isinstance(event, AggregationEvent | AssociationEvent) and parent is not None:
            relation = _relation(event)
            for oid, role in pairs:
                if role.role == "child":
                    self._child(event, oid, parent, relation, row, time, statuses)
                elif role.role == "child_quantity":
                    self._child_quantity(event, oid, role, parent, relation, row, time)
        elif isinstance(event, ObjectEvent) and destinations and is_shipping(event):
            for oid, role in pairs:
                for dst in destinations:
                    self._add(oid, dst, "shipped_to", role.quantity, role.uom, row, time)

    def _child(
        self,
        event: AnyEvent,
        child: int,
        parent: int,
        relation: str,
        row: int,
        time: str,
        statuses: dict[int, Status],
    ) -> None:
        if event.action == Action.ADD:
            current = statuses[child].container
            if current == parent and self._open(child, parent):
                return  # the same ADD twice: the child is already inside
            if current is not None and current != parent:
                # Moved to a new container without an explicit DELETE from the old one.
                for edge in self._open(child, current):
                    self._close(edge, time, row)
            self._add(child, parent, relation, None, None, row, time)
        elif event.action == Action.DELETE:
            for edge in self._open(child, parent):
                self._close(edge, time, row)

    def _child_quantity(
        self,
        event: AnyEvent,
        child: int,
        role: Role,
        parent: int,
        relation: str,
        row: int,
        time: str,
    ) -> None:
        if event.action == Action.ADD:
            self._add(child, parent, relation, role.quantity, role.uom, row, time)
        elif event.action == Action.DELETE:
            open_edges = self._open(child, parent)
            inside = sum(e[4] or 0.0 for e in open_edges)
            for edge in open_edges:
                self._close(edge, time, row)
            if role.quantity is not None and inside > role.quantity:
                self._add(child, parent, relation, inside - role.quantity, role.uom, row, time)

    def write(self) -> None:
        writer = self.writer
        if self.new or self.closed:
            writer.graph_changed = True
        if self.new:
            first = writer._allocate("edges", len(self.new))
            for offset, edge in enumerate(self.new):
                edge[0] = first + offset
            writer.store.insert_rows(writer.cursor, writer._sql_edge, self.new)
        if self.closed:
            writer.cursor.executemany(
                writer.store.sql("UPDATE edges SET valid_to = ?, closed_by = ? WHERE id = ?"),
                [(t, r, eid) for eid, (t, r) in self.closed.items()],
            )


def rebuild_projections(
    store: Store, connection: Any, *, progress: ProgressFn | None = None
) -> int:
    """Empty the projection tables and replay every valid event in event-time order."""
    writer = Writer(store, connection)
    for table in ("edges", "event_objects", "status"):
        writer.cursor.execute(f"DELETE FROM {table}")
    clear_event_readings(writer)
    writer.graph_rewritten = True
    last_time, last_id, count = "", -1, 0
    while True:
        rows = writer.query(
            "SELECT id, event_id, event_time, doc FROM events WHERE is_declaration = ? "
            "AND error_declared = ? AND (event_time > ? OR (event_time = ? AND id > ?)) "
            "ORDER BY event_time, id LIMIT ?",
            (False, False, last_time, last_time, last_id, store.batch_size),
        )
        if not rows:
            break
        live = [(r[0], parse_event(store.load_json(r[3]), event_id=r[1]), r[2]) for r in rows]
        writer.project(live)
        last_time, last_id = rows[-1][2], rows[-1][0]
        count += len(rows)
        if progress:
            progress(len(rows))
    writer.bump_graph_version()
    return count
