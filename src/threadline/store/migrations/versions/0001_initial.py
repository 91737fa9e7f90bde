"""Initial schema: events, objects, genealogy edges, event index, status, error declarations.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", RowId, primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("is_declaration", sa.Boolean, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("action", sa.Text),
        sa.Column("biz_step", sa.Text),
        sa.Column("disposition", sa.Text),
        sa.Column("event_time", sa.Text, nullable=False),
        sa.Column("event_tz", sa.Text, nullable=False),
        sa.Column("record_time", sa.Text, nullable=False),
        sa.Column("read_point", sa.Text),
        sa.Column("biz_location", sa.Text),
        sa.Column("error_declared", sa.Boolean, nullable=False),
        sa.Column("doc", Json, nullable=False),
        sa.UniqueConstraint("event_id", "is_declaration", name="uq_events_event_id"),
    )
    op.create_index("ix_events_read_point_time", "events", ["read_point", "event_time"])
    op.create_index("ix_events_event_time", "events", ["event_time"])
    op.create_table(
        "objects",
        sa.Column("id", RowId, primary_key=True, autoincrement=False),
        sa.Column("key", sa.Text, nullable=False, unique=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("product", sa.Text),
        sa.Column("gcp_length", sa.Integer),
        sa.Column("attrs", Json),
    )
    op.create_table(
        "edges",
        sa.Column("id", RowId, primary_key=True, autoincrement=False),
        sa.Column("src", sa.BigInteger, nullable=False),
        sa.Column("dst", sa.BigInteger, nullable=False),
        sa.Column("relation", sa.Text, nullable=False),
        sa.Column("quantity", sa.Float),
        sa.Column("uom", sa.Text),
        sa.Column("event", sa.BigInteger, nullable=False),
        sa.Column("valid_from", sa.Text, nullable=False),
        sa.Column("valid_to", sa.Text),
        sa.Column("closed_by", sa.BigInteger),
    )
    op.create_index("ix_edges_src", "edges", ["src"])
    op.create_index("ix_edges_dst", "edges", ["dst"])
    op.create_table(
        "event_objects",
        sa.Column("object", sa.BigInteger, primary_key=True),
        sa.Column("event", sa.BigInteger, primary_key=True),
        sa.Column("role", sa.Text, primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "status",
        sa.Column("object", RowId, primary_key=True, autoincrement=False),
        sa.Column("state", sa.Text),
        sa.Column("disposition", sa.Text),
        sa.Column("location", sa.Text),
        sa.Column("read_point", sa.Text),
        sa.Column("container", sa.BigInteger),
        sa.Column("quantity", sa.Float),
        sa.Column("total", sa.Float),
        sa.Column("uom", sa.Text),
        sa.Column("last_event", sa.BigInteger),
        sa.Column("last_time", sa.Text),
    )
    op.create_table(
        "error_declarations",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("declared_at", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("corrective_ids", Json),
        sa.Column("declaration", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("error_declarations", "status", "event_objects", "edges", "objects", "events"):
        op.drop_table(table)
