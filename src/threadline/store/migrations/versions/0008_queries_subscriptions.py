"""Named EPCIS queries and their webhook subscriptions (EPCIS REST ``/queries``).

``named_queries`` keeps each query's parameters as the client gave them (JSON); ``subscriptions``
keeps, per subscription, where to deliver, how (stream or schedule), the signing secret and the
watermark: the last event row already reported, so that nothing is delivered twice or skipped
across restarts.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "named_queries",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("query", Json, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("query_name", sa.Text, nullable=False),
        sa.Column("dest", sa.Text, nullable=False),
        sa.Column("secret", sa.Text),
        sa.Column("stream", sa.Boolean, nullable=False),
        sa.Column("schedule", Json),
        sa.Column("report_if_empty", sa.Boolean, nullable=False),
        sa.Column("format", sa.Text, nullable=False),
        sa.Column("epc_format", sa.Text, nullable=False),
        sa.Column("initial_record_time", sa.Text),
        sa.Column("watermark", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text),
        sa.Column("last_notified_at", sa.Text),
        sa.Column("last_error", sa.Text),
        sa.Column("failures", sa.Integer, nullable=False),
    )
    op.create_index("ix_subscriptions_query", "subscriptions", ["query_name", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_subscriptions_query", "subscriptions")
    op.drop_table("subscriptions")
    op.drop_table("named_queries")
