"""Quality: specification limits, alerts and holds.

``specs`` holds the limits (LSL, USL, target) of one parameter, optionally for one product and
one operation or piece of equipment; ``''`` in ``product`` / ``equipment`` means "any", so the
unique index can tell one spec from another (NULLs never collide in a unique index).

``alerts`` keeps every alert raised (a reading outside its limits, a capture flagged for
touching held material); ``dedup`` makes raising idempotent, because a redelivered batch of
readings is checked again. ``holds`` keeps every hold placed on a lot or container and its
release; what is downstream of a held object is held with it, computed from the genealogy.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "specs",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("product", sa.Text, nullable=False, server_default=""),
        sa.Column("equipment", sa.Text, nullable=False, server_default=""),
        sa.Column("parameter", sa.Text, nullable=False),
        sa.Column("lsl", sa.Float),
        sa.Column("usl", sa.Float),
        sa.Column("target", sa.Float),
        sa.Column("unit", sa.Text),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.Column("updated_by", sa.Text),
    )
    op.create_index("uq_specs_scope", "specs", ["product", "equipment", "parameter"], unique=True)
    op.create_index("ix_specs_parameter", "specs", ["parameter"])
    op.create_table(
        "alerts",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("time", sa.Text, nullable=False),  # when it was raised (UTC text)
        sa.Column("kind", sa.Text, nullable=False),  # out_of_spec | held_material
        sa.Column("spec", RowId),
        sa.Column("equipment", sa.Text),
        sa.Column("parameter", sa.Text),
        sa.Column("reading_time", sa.Text),
        sa.Column("value", sa.Float),
        sa.Column("lsl", sa.Float),
        sa.Column("usl", sa.Float),
        sa.Column("unit", sa.Text),
        sa.Column("source", sa.Text),
        sa.Column("object", sa.Text),
        sa.Column("site", sa.Text),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("dedup", sa.Text, nullable=False),
        sa.Column("acked_at", sa.Text),
        sa.Column("acked_by", sa.Text),
    )
    op.create_index("uq_alerts_dedup", "alerts", ["dedup"], unique=True)
    op.create_table(
        "holds",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("object", sa.Text, nullable=False),  # canonical key of the held object
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("placed_at", sa.Text, nullable=False),
        sa.Column("placed_by", sa.Text),
        sa.Column("released_at", sa.Text),
        sa.Column("released_by", sa.Text),
        sa.Column("release_reason", sa.Text),
    )
    op.create_index("ix_holds_object", "holds", ["object"])


def downgrade() -> None:
    op.drop_index("ix_holds_object", "holds")
    op.drop_table("holds")
    op.drop_index("uq_alerts_dedup", "alerts")
    op.drop_table("alerts")
    op.drop_index("ix_specs_parameter", "specs")
    op.drop_index("uq_specs_scope", "specs")
    op.drop_table("specs")
