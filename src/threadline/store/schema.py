"""The current database schema as SQLAlchemy Core tables (migrations create it; queries use it).

Timestamps are stored as UTC text ``YYYY-MM-DDTHH:MM:SS.ffffffZ``: it sorts correctly as text and
reads the same on SQLite and PostgreSQL, so range queries need no engine-specific casts.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

# INTEGER PRIMARY KEY is SQLite's rowid alias; BIGINT everywhere else.
RowId = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")

events = Table(
    "events",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=False),
    Column("event_id", Text, nullable=False),
    # An errorDeclaration repeats the eventID of the event it declares in error; both are kept.
    Column("is_declaration", Boolean, nullable=False, default=False),
    Column("type", Text, nullable=False),
    Column("action", Text),
    Column("biz_step", Text),
    Column("disposition", Text),
    Column("event_time", Text, nullable=False),
    Column("event_tz", Text, nullable=False),
    Column("record_time", Text, nullable=False),
    Column("read_point", Text),
    Column("biz_location", Text),
    Column("error_declared", Boolean, nullable=False, default=False),
    Column("doc", Json, nullable=False),
    UniqueConstraint("event_id", "is_declaration", name="uq_events_event_id"),
)
Index("ix_events_read_point_time", events.c.read_point, events.c.event_time)
Index("ix_events_event_time", events.c.event_time)

objects = Table(
    "objects",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=False),
    Column("key", Text, nullable=False, unique=True),
    Column("kind", Text, nullable=False),
    Column("product", Text),
    Column("gcp_length", Integer),
    Column("attrs", Json),
)

edges = Table(
    "edges",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=False),
    Column("src", BigInteger, nullable=False),
    Column("dst", BigInteger, nullable=False),
    Column("relation", Text, nullable=False),
    Column("quantity", Float),
    Column("uom", Text),
    Column("event", BigInteger, nullable=False),
    Column("valid_from", Text, nullable=False),
    Column("valid_to", Text),
    Column("closed_by", BigInteger),
)
Index(
    "ix_edges_closed_by",
    edges.c.closed_by,
    sqlite_where=edges.c.closed_by.isnot(None),
    postgresql_where=edges.c.closed_by.isnot(None),
)
Index("ix_edges_src", edges.c.src)
Index("ix_edges_dst", edges.c.dst)

event_objects = Table(
    "event_objects",
    metadata,
    Column("object", BigInteger, primary_key=True),
    Column("event", BigInteger, primary_key=True),
    Column("role", Text, primary_key=True),
    sqlite_with_rowid=False,
)

status = Table(
    "status",
    metadata,
    Column("object", RowId, primary_key=True, autoincrement=False),
    Column("state", Text),
    Column("disposition", Text),
    Column("location", Text),
    Column("read_point", Text),
    Column("container", BigInteger),
    Column("quantity", Float),
    Column("total", Float),
    Column("uom", Text),
    Column("last_event", BigInteger),
    Column("last_time", Text),
    # Persistent dispositions: JSON text {value: [time, event row, 1 set / 0 unset]} (projector).
    Column("persistent", Text),
)

error_declarations = Table(
    "error_declarations",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("declared_at", Text, nullable=False),
    Column("reason", Text),
    Column("corrective_ids", Json),
    Column("declaration", BigInteger, nullable=False),
)

# graph_version: bumped by every write that adds or closes edges; graph_epoch: bumped when edges
# are removed or rewritten (error declarations, rebuild), which in-memory indexes must reload.
meta = Table(
    "meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# Sensor time series: one row per sensorReport of a stored event (source "epcis") or per value
# from an MQTT / OPC UA source. Ids are assigned by the database (inserts leave ``id`` out), so
# ingesters that do not go through the event writer can append readings too.
readings = Table(
    "readings",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("equipment", Text),  # canonical deviceID, else the event's canonical readPoint
    Column("parameter", Text),  # measurement type: a bare GS1 word (Temperature) or a URI
    Column("time", Text, nullable=False),
    Column("value", Float),
    Column("min_value", Float),
    Column("max_value", Float),
    Column("mean_value", Float),
    Column("s_dev", Float),
    Column("perc_rank", Float),
    Column("perc_value", Float),
    Column("unit", Text),
    Column("device_id", Text),
    Column("source", Text, nullable=False),
    Column("event", BigInteger),
    Column("extra", Json),
)
Index("ix_readings_equipment_parameter_time", readings.c.equipment, readings.c.parameter,
      readings.c.time)  # fmt: skip
Index("ix_readings_event", readings.c.event)

# EPCIS master data from document headers: one row per vocabulary element.
master_data = Table(
    "master_data",
    metadata,
    Column("type", Text, primary_key=True),  # e.g. urn:epcglobal:epcis:vtype:BusinessLocation
    Column("id", Text, primary_key=True),  # canonical key where the id is a GS1 key
    Column("attributes", Json),  # [{"id": ..., "attribute": ...}, ...] as received
    Column("children", Json),  # [child id, ...] as received
)

# Tamper evidence (threadline.store.chain): one link per event row, in record order. A table of
# its own, so that chaining never rewrites the event rows themselves.
event_chain = Table(
    "event_chain",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=False),
    Column("prev_hash", Text, nullable=False),
    Column("hash", Text, nullable=False),
)

# EPCIS REST capture jobs (POST /capture): the job document as the client reads it back.
capture_jobs = Table(
    "capture_jobs",
    metadata,
    Column("id", Text, primary_key=True),
    Column("created_at", Text, nullable=False),
    Column("finished_at", Text),
    Column("running", Boolean, nullable=False),
    Column("success", Boolean, nullable=False),
    Column("behaviour", Text, nullable=False),
    Column("received", Integer, nullable=False),
    Column("captured", Integer, nullable=False),
    Column("username", Text),
    Column("doc", Json, nullable=False),
)
Index("ix_capture_jobs_created", capture_jobs.c.created_at, capture_jobs.c.id)
