"""Capture jobs of the EPCIS REST capture interface (POST /capture).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "capture_jobs",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("finished_at", sa.Text),
        sa.Column("running", sa.Boolean, nullable=False),
        sa.Column("success", sa.Boolean, nullable=False),
        sa.Column("behaviour", sa.Text, nullable=False),
        sa.Column("received", sa.Integer, nullable=False),
        sa.Column("captured", sa.Integer, nullable=False),
        sa.Column("username", sa.Text),
        sa.Column("doc", Json, nullable=False),
    )
    op.create_index("ix_capture_jobs_created", "capture_jobs", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_capture_jobs_created", "capture_jobs")
    op.drop_table("capture_jobs")
