"""Record versions: a ``row_version`` on every versioned table (optimistic locking).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 08:10:10.218794
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = (
    "customer", "contact", "contract", "product", "license", "reporter", "feedback",
    "feedback_notification",
)


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(
                sa.Column("row_version", sa.Integer(), server_default="1", nullable=False)
            )


def downgrade():
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("row_version")
