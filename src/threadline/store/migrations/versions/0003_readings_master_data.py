"""Sensor readings and EPCIS master data.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "readings",
        # Database-assigned: INTEGER PRIMARY KEY (rowid) on SQLite, BIGSERIAL on PostgreSQL.
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("equipment", sa.Text),
        sa.Column("parameter", sa.Text),
        sa.Column("time", sa.Text, nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("min_value", sa.Float),
        sa.Column("max_value", sa.Float),
        sa.Column("mean_value", sa.Float),
        sa.Column("s_dev", sa.Float),
        sa.Column("perc_rank", sa.Float),
        sa.Column("perc_value", sa.Float),
        sa.Column("unit", sa.Text),
        sa.Column("device_id", sa.Text),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("event", sa.BigInteger),
        sa.Column("extra", Json),
    )
    op.create_index(
        "ix_readings_equipment_parameter_time", "readings", ["equipment", "parameter", "time"]
    )
    op.create_index("ix_readings_event", "readings", ["event"])
    op.create_table(
        "master_data",
        sa.Column("type", sa.Text, primary_key=True),
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("attributes", Json),
        sa.Column("children", Json),
    )


def downgrade() -> None:
    op.drop_table("master_data")
    op.drop_index("ix_readings_event", "readings")
    op.drop_index("ix_readings_equipment_parameter_time", "readings")
    op.drop_table("readings")
