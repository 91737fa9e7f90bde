"""Users, API tokens, login sessions and the append-only audit log.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ROLES = ("viewer", "operator", "quality", "admin")

# The audit log refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE) in the database itself, so
# no code path, not even a hand-typed statement, rewrites history without first dropping these.
_SQLITE_GUARDS = [
    f"CREATE TRIGGER audit_log_no_{op_name.lower()} BEFORE {op_name} ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: {op_name} refused'); END"
    for op_name in ("UPDATE", "DELETE")
]
_PG_FUNCTION = (
    "CREATE FUNCTION threadline_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', "
    "MESSAGE = 'audit_log is append-only: ' || TG_OP || ' refused'; END $$"
)
_PG_GUARDS = [
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION threadline_audit_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION threadline_audit_append_only()",
]


def upgrade() -> None:
    role_check = "role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")"
    op.create_table(
        "users",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created", sa.Text, nullable=False),
        sa.CheckConstraint(role_check, name="ck_users_role"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("label", sa.Text),
        # SHA-256 of the token (hex): the token itself is shown once and never stored.
        sa.Column("hash", sa.Text, nullable=False, unique=True),
        sa.Column("prefix", sa.Text, nullable=False),
        sa.Column("created", sa.Text, nullable=False),
        sa.Column("revoked", sa.Text),
    )
    op.create_table(
        "sessions",
        # SHA-256 of the cookie value: a copy of the table does not let anyone log in.
        sa.Column("hash", sa.Text, primary_key=True),
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created", sa.Text, nullable=False),
        sa.Column("expires", sa.Text, nullable=False),
        sa.Column("address", sa.Text),
    )
    op.create_index("ix_sessions_expires", "sessions", ["expires"])
    op.create_table(
        "audit_log",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("time", sa.Text, nullable=False),
        sa.Column("actor", sa.Text),
        sa.Column("role", sa.Text),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("target", sa.Text),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("address", sa.Text),
        sa.Column("request_id", sa.Text),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_audit_log_time", "audit_log", ["time"])
    # Login throttling looks up recent failures of one name from one address.
    op.create_index("ix_audit_log_actor_action_time", "audit_log", ["actor", "action", "time"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for statement in _PG_GUARDS:
            op.execute(statement)
    else:
        for statement in _SQLITE_GUARDS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS threadline_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    op.drop_index("ix_audit_log_actor_action_time", "audit_log")
    op.drop_index("ix_audit_log_time", "audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_sessions_expires", "sessions")
    op.drop_table("sessions")
    op.drop_table("tokens")
    op.drop_table("users")
