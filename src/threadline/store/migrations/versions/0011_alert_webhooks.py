"""Webhook subscriptions to alerts, and their delivery outbox.

``alert_subscriptions`` keeps where to POST alerts (``dest``), the signing secret, optional
filters (kind, equipment, parameter, site; NULL means any) and the delivery state shared by
every process that delivers: failures in a row, the last error, when to try again
(``retry_at``) and which process is delivering right now (``claimed_by`` until
``claimed_until``, a lease that a crashed process loses by itself).

``alert_deliveries`` is the outbox and the delivery record at once: one row per (subscription,
alert), written in the transaction that stores the alert, marked ``delivered_at`` once the
receiver answered 2xx. The partial index covers only what is still to deliver, so finding work
stays cheap however long the record grows.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PENDING = sa.text("delivered_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "alert_subscriptions",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("dest", sa.Text, nullable=False),
        sa.Column("secret", sa.Text),
        sa.Column("kind", sa.Text),
        sa.Column("equipment", sa.Text),
        sa.Column("parameter", sa.Text),
        sa.Column("site", sa.Text),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text),
        sa.Column("last_delivered_at", sa.Text),
        sa.Column("last_error", sa.Text),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("retry_at", sa.Text),
        sa.Column("claimed_by", sa.Text),
        sa.Column("claimed_until", sa.Text),
    )
    op.create_table(
        "alert_deliveries",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("subscription", sa.Text, nullable=False),
        sa.Column("alert", RowId, nullable=False),
        sa.Column("queued_at", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_attempt_at", sa.Text),
        sa.Column("status", sa.Integer),  # HTTP status of the last attempt (NULL: no answer)
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", sa.Text),
    )
    op.create_index(
        "uq_alert_deliveries", "alert_deliveries", ["subscription", "alert"], unique=True
    )
    op.create_index(
        "ix_alert_deliveries_pending",
        "alert_deliveries",
        ["subscription", "id"],
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_alert_deliveries_pending", "alert_deliveries")
    op.drop_index("uq_alert_deliveries", "alert_deliveries")
    op.drop_table("alert_deliveries")
    op.drop_table("alert_subscriptions")
