"""An index for the open alerts: the alerts page and ``GET /alerts?unacked=true`` list them
newest first without walking past every acknowledged one.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_alerts_open",
        "alerts",
        ["id"],
        sqlite_where=sa.text("acked_at IS NULL"),
        postgresql_where=sa.text("acked_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_alerts_open", "alerts")
