"""An index of each customer's feedback by resolution time, for the customer timeline.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 06:00:00

The timeline of the customer's page (``app.services.timeline``) shows the
newest "feedback resolved" events and counts them. Without this index SQLite
read every one of a busy customer's feedback rows twice to do so (the
resolution time is not in the (customer, created) index): at 1 M feedback rows
the busiest customer's 9 753 rows cost about 65 ms a page; with it, both read
the index alone, under 1 ms (bench/RESULTS.md, "Customer show page").

A SQLite database that was ever analysed (``crm demo`` does) keeps statistics
for its other indexes only; the planner then takes the new, unmeasured index
for one that finds ten rows a customer and prefers it to the (customer,
created) one, sorting all the customer's rows for the feedback list instead of
walking that index (25 ms instead of 0.1 ms). So the new index is measured too.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_feedback_customer_resolved", "feedback", ["customer_id", "resolved_at"])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and sa.inspect(bind).has_table("sqlite_stat1"):
        op.execute("ANALYZE ix_feedback_customer_resolved")


def downgrade():
    op.drop_index("ix_feedback_customer_resolved", table_name="feedback")
