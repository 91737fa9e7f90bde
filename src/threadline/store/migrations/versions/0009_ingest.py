"""Shop-floor ingestion: stations, ingest errors, and one identity per machine reading.

``stations`` holds each scanning station's configuration (read point, bizStep, optional
bizLocation and disposition): a scan at a station becomes an EPCIS ObjectEvent from it.
``ingest_errors`` keeps every payload an ingester refused (where it came from, an excerpt, the
reason), so a bad message is visible without ever stopping ingestion.

``uq_readings_identity`` gives every reading from a machine (MQTT, OPC UA: any source but
``epcis``) one identity, ``(equipment, parameter, time, source)``; the ingesters insert with
``ON CONFLICT DO NOTHING``, so a message redelivered after a crash stores nothing twice.
Readings projected from EPCIS events are left out: they follow their event (deleted with it
when it is declared in error) and are deduplicated by the event's eventID.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "stations",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("read_point", sa.Text, nullable=False),
        sa.Column("biz_step", sa.Text, nullable=False),
        sa.Column("biz_location", sa.Text),
        sa.Column("disposition", sa.Text),
        sa.Column("updated_at", sa.Text, nullable=False),
    )
    op.create_table(
        "ingest_errors",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("time", sa.Text, nullable=False),  # when the payload was refused (UTC text)
        sa.Column("source", sa.Text, nullable=False),  # mqtt | opcua | scan
        sa.Column("topic", sa.Text),  # MQTT topic, OPC UA node id, station
        sa.Column("payload", sa.Text),  # the first bytes of the payload, as text
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("ix_ingest_errors_time", "ingest_errors", ["time"])
    op.create_index(
        "uq_readings_identity",
        "readings",
        ["equipment", "parameter", "time", "source"],
        unique=True,
        sqlite_where=sa.text("source <> 'epcis'"),
        postgresql_where=sa.text("source <> 'epcis'"),
    )


def downgrade() -> None:
    op.drop_index("uq_readings_identity", "readings")
    op.drop_index("ix_ingest_errors_time", "ingest_errors")
    op.drop_table("ingest_errors")
    op.drop_table("stations")
