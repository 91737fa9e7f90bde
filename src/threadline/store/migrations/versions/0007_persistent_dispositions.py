"""Persistent dispositions in the object status (EPCIS 2.0 ``persistentDisposition``).

Adds ``status.persistent`` (JSON text, see threadline.store.projector.fold_persistent) and fills
it from the events already stored, so a store upgraded in place (or a restored backup) shows
the persistent dispositions of its history without a full rebuild. Only events that carry a
``persistentDisposition`` are read.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from threadline.epcis.json_reader import parse_event
from threadline.gs1.keys import canonical
from threadline.store.projector import fold_persistent, roles_of

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("status") as batch:
        batch.add_column(sa.Column("persistent", sa.Text))
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT id, event_id, event_time, doc FROM events WHERE is_declaration = :no "
            "AND error_declared = :no AND CAST(doc AS TEXT) LIKE '%persistentDisposition%' "
            "ORDER BY event_time, id"
        ),
        {"no": False},
    ).fetchall()
    state: dict[str, str | None] = {}  # canonical object key -> persistent JSON text
    for row, event_id, event_time, doc in rows:
        data = json.loads(doc) if isinstance(doc, str | bytes) else doc
        change = data.get("persistentDisposition") if isinstance(data, dict) else None
        if not change:
            continue  # the words appeared elsewhere in the document (an extension, a string)
        event = parse_event(data, event_id=event_id)
        for key in dict.fromkeys(canonical(r.raw_id).key for r in roles_of(event)):
            state[key] = fold_persistent(state.get(key), change, event_time, row)
    updates = []
    for key, text in state.items():
        found = bind.execute(sa.text("SELECT id FROM objects WHERE key = :key"), {"key": key})
        object_id = found.scalar()
        if object_id is not None and text is not None:
            updates.append({"object": object_id, "persistent": text})
    if updates:
        bind.execute(
            sa.text("UPDATE status SET persistent = :persistent WHERE object = :object"), updates
        )


def downgrade() -> None:
    with op.batch_alter_table("status") as batch:
        batch.drop_column("persistent")
