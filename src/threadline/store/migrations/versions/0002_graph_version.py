"""Graph version counters (for in-memory genealogy indexes) and an index on closed edges.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    meta = op.create_table(
        "meta",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(meta, [{"key": "graph_version", "value": 0}, {"key": "graph_epoch", "value": 0}])
    op.create_index(
        "ix_edges_closed_by",
        "edges",
        ["closed_by"],
        sqlite_where=sa.text("closed_by IS NOT NULL"),
        postgresql_where=sa.text("closed_by IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_edges_closed_by", "edges")
    op.drop_table("meta")
