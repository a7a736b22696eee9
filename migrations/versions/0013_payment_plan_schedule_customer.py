"""The instalments' schedule index carries the customer too (the receivables report).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 02:40:00

The report's aging walks every instalment in each contract's date order and
adds up what stays open per customer (``app.services.receivables.open_plans``).
With ``customer_id`` in ``ix_payment_plan_schedule`` that walk reads the index
alone instead of looking up each instalment's row (bench/RESULTS.md, issue 15).
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

NAME = "ix_payment_plan_schedule"
BEFORE = ["contract_id", "planned_date", "instalment", "planned_amount"]
AFTER = [*BEFORE, "customer_id"]


def upgrade():
    op.drop_index(NAME, table_name="payment_plan")
    op.create_index(NAME, "payment_plan", AFTER)


def downgrade():
    op.drop_index(NAME, table_name="payment_plan")
    op.create_index(NAME, "payment_plan", BEFORE)
