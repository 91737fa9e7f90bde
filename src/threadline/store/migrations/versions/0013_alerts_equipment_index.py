"""An index on the equipment of alerts: a machine's page lists its newest alerts however many
other machines raised since.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_alerts_equipment", "alerts", ["equipment", "id"])


def downgrade() -> None:
    op.drop_index("ix_alerts_equipment", "alerts")
