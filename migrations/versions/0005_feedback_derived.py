"""Feedback derived for the statistics: resolution seconds stored, an index for open counts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 15:30:00

``resolution_seconds`` is what the statistics used to compute on every row of
every report (whole seconds from ``created_at`` to ``resolved_at``, fractions
dropped from both ends); the app sets it on every write from now on, and this
migration fills it in for the rows already there. ``(customer_id, status)``
serves the customer page's open-feedback count. On a large PostgreSQL database
the UPDATE rewrites every resolved row and the CREATE INDEX locks the table
for writes while they run.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The same arithmetic as app.services.sqlfunctions.seconds_between, frozen here.
BACKFILL = {
    "postgresql": (
        "UPDATE feedback SET resolution_seconds = CAST("
        "EXTRACT(EPOCH FROM date_trunc('second', resolved_at))"
        " - EXTRACT(EPOCH FROM date_trunc('second', created_at)) AS BIGINT)"
        " WHERE resolved_at IS NOT NULL"
    ),
    "sqlite": (
        "UPDATE feedback SET resolution_seconds ="
        " CAST(strftime('%s', substr(resolved_at, 1, 19)) AS INTEGER)"
        " - CAST(strftime('%s', substr(created_at, 1, 19)) AS INTEGER)"
        " WHERE resolved_at IS NOT NULL"
    ),
}


def upgrade():
    op.add_column("feedback", sa.Column("resolution_seconds", sa.BigInteger(), nullable=True))
    op.execute(BACKFILL[op.get_bind().dialect.name])
    op.create_index(
        "ix_feedback_customer_status", "feedback", ["customer_id", "status"], unique=False
    )


def downgrade():
    op.drop_index("ix_feedback_customer_status", table_name="feedback")
    with op.batch_alter_table("feedback") as batch_op:
        batch_op.drop_column("resolution_seconds")
