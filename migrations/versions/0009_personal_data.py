"""Personal data under PIPL: the security log (安全日志), forced password change.

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-01 19:00:00

``audit_event`` holds one row per security-relevant event (sign-ins,
exports, account and role changes, reveals); the app only ever inserts into
it, and ``crm audit prune`` drops rows older than at least 180 days.
``ab_user.must_change_password`` marks the admin ``crm init`` created with a
printed password, who must choose their own at first sign-in.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=256), nullable=True),
        sa.Column("address", sa.String(length=45), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_event_at", "audit_event", ["at"], unique=False)
    op.create_index("ix_audit_event_kind", "audit_event", ["kind"], unique=False)
    op.create_index("ix_audit_event_user_id", "audit_event", ["user_id"], unique=False)
    op.create_index("ix_audit_event_username", "audit_event", ["username"], unique=False)
    op.add_column(
        "ab_user",
        sa.Column(
            "must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()
        ),
    )


def downgrade():
    with op.batch_alter_table("ab_user") as batch_op:
        batch_op.drop_column("must_change_password")
    op.drop_index("ix_audit_event_username", table_name="audit_event")
    op.drop_index("ix_audit_event_user_id", table_name="audit_event")
    op.drop_index("ix_audit_event_kind", table_name="audit_event")
    op.drop_index("ix_audit_event_at", table_name="audit_event")
    op.drop_table("audit_event")
