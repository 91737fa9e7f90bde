"""Tamper evidence: hash-chain the events in record order (see threadline.store.chain).

Events recorded before this revision are chained here, in id order, so that `threadline
verify` covers the whole record.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from threadline.store.chain import GENESIS, canonical_doc, link_hash

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_PAGE = 5000


def upgrade() -> None:
    RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    chain = op.create_table(
        "event_chain",
        sa.Column("id", RowId, primary_key=True, autoincrement=False),
        sa.Column("prev_hash", sa.Text, nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
    )
    bind = op.get_bind()
    head, last = GENESIS, -(2**62)
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT id, event_id, record_time, is_declaration, doc FROM events "
                "WHERE id > :last ORDER BY id LIMIT :page"
            ),
            {"last": last, "page": _PAGE},
        ).fetchall()
        if not rows:
            break
        links = []
        for row, event_id, record_time, declaration, doc in rows:
            data = json.loads(doc) if isinstance(doc, str | bytes) else doc
            digest = link_hash(
                head, row, event_id, record_time, bool(declaration), canonical_doc(data)
            )
            links.append({"id": row, "prev_hash": head, "hash": digest})
            head = digest
        # Appended in id order: the new table grows at its end, the events are not rewritten.
        op.bulk_insert(chain, links)
        last = rows[-1][0]


def downgrade() -> None:
    op.drop_table("event_chain")
