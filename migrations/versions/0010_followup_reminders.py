"""Follow-up reminders in the mail outbox.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 23:00:00

The outbox (``feedback_notification``) so far held notices to reporters, each
about one feedback. A user's daily follow-up reminder is about no feedback:
``feedback_id`` becomes optional, ``user_id`` and ``reminder_day`` name the
reminder, and their unique key makes a second ``crm alerts`` on the same day
(or on another host) queue nothing more. No table refers to this one, so
SQLite's batch copy of it is safe with foreign keys enforced.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("feedback_notification") as batch_op:
        batch_op.alter_column("feedback_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reminder_day", sa.Date(), nullable=True))
        batch_op.create_foreign_key(
            "fk_feedback_notification_user_id", "ab_user", ["user_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_unique_constraint(
            "uq_feedback_notification_reminder", ["user_id", "reminder_day"]
        )


def downgrade():
    op.execute("DELETE FROM feedback_notification WHERE feedback_id IS NULL")
    with op.batch_alter_table("feedback_notification") as batch_op:
        batch_op.drop_constraint("uq_feedback_notification_reminder", type_="unique")
        batch_op.drop_constraint("fk_feedback_notification_user_id", type_="foreignkey")
        batch_op.drop_column("reminder_day")
        batch_op.drop_column("user_id")
        batch_op.alter_column("feedback_id", existing_type=sa.Integer(), nullable=False)
