"""Follow-ups (跟进记录), and the customer's last and next follow-up times.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 19:00:00

Existing customers have no follow-ups: both new customer columns start empty.
The app keeps them in step from then on (app/services/followups.py).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

METHODS = ("phone", "visit", "wechat", "email", "meeting", "other")


def upgrade():
    op.create_table(
        "followup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column(
            "method",
            sa.Enum(
                *METHODS,
                name="ck_followup_method",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("followed_at", sa.DateTime(), nullable=False),
        sa.Column("next_at", sa.DateTime(), nullable=True),
        sa.Column("next_step", sa.String(length=200), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.Column("row_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("changed_on", sa.DateTime(), nullable=False),
        sa.Column("created_by_fk", sa.Integer(), nullable=True),
        sa.Column("changed_by_fk", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["ab_user.id"]),
        sa.ForeignKeyConstraint(["created_by_fk"], ["ab_user.id"]),
        sa.ForeignKeyConstraint(["changed_by_fk"], ["ab_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_followup_customer_followed", "followup", ["customer_id", "followed_at"])
    op.create_index("ix_followup_user_next", "followup", ["user_id", "next_at"])
    op.create_index("ix_followup_contact_id", "followup", ["contact_id"])
    op.create_index("ix_followup_method", "followup", ["method"])
    op.create_index("ix_followup_followed_at", "followup", ["followed_at"])
    op.create_index("ix_followup_next_at", "followup", ["next_at"])
    op.create_index("ix_followup_next_step", "followup", ["next_step"])
    op.add_column("customer", sa.Column("last_followup_at", sa.DateTime(), nullable=True))
    op.add_column("customer", sa.Column("next_followup_at", sa.DateTime(), nullable=True))
    op.create_index("ix_customer_last_followup_at", "customer", ["last_followup_at"])
    op.create_index("ix_customer_next_followup_at", "customer", ["next_followup_at"])


def downgrade():
    op.drop_index("ix_customer_next_followup_at", table_name="customer")
    op.drop_index("ix_customer_last_followup_at", table_name="customer")
    for column in ("next_followup_at", "last_followup_at"):
        # SQLite drops an unindexed column in place; a batch copy would lose the
        # search index's triggers on the customer table (0006).
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE customer DROP COLUMN {column}")
        else:
            op.drop_column("customer", column)
    op.drop_table("followup")
