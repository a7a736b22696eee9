"""Payments (回款): payment plans (instalments) and payments received.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-01 19:00:00

Each existing contract with an amount becomes a one-instalment plan: its
付款日期 (or, when empty, its end date, sign date or creation day) and its
合同金额. Both tables carry the contract's customer for the data scope
(app/services/payments.py keeps it in step).
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Frozen copy of app.models.choices.PaymentMethod's codes at this revision.
METHODS = ("bank_transfer", "cheque", "cash", "acceptance_bill", "other")


def _audit_columns():
    return [
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.Column("row_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("changed_on", sa.DateTime(), nullable=False),
        sa.Column("created_by_fk", sa.Integer(), nullable=True),
        sa.Column("changed_by_fk", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["changed_by_fk"], ["ab_user.id"]),
        sa.ForeignKeyConstraint(["created_by_fk"], ["ab_user.id"]),
    ]


def upgrade():
    op.create_table(
        "payment_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("instalment", sa.Integer(), nullable=False),
        sa.Column("planned_date", sa.Date(), nullable=False),
        sa.Column("planned_amount", sa.Numeric(precision=14, scale=2), nullable=False),
        *_audit_columns(),
        sa.CheckConstraint("planned_amount > 0", name="ck_payment_plan_amount_positive"),
        sa.CheckConstraint("instalment >= 1", name="ck_payment_plan_instalment_positive"),
        sa.ForeignKeyConstraint(["contract_id"], ["contract.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contract_id", "instalment", name="uq_payment_plan_instalment"),
    )
    for column in ("contract_id", "customer_id", "planned_date", "instalment", "planned_amount"):
        op.create_index(f"ix_payment_plan_{column}", "payment_plan", [column])

    op.create_table(
        "payment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column(
            "method",
            sa.Enum(
                *METHODS,
                name="ck_payment_method",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("invoice_number", sa.String(length=50), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        *_audit_columns(),
        sa.CheckConstraint("amount > 0", name="ck_payment_amount_positive"),
        sa.ForeignKeyConstraint(["contract_id"], ["contract.id"]),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.ForeignKeyConstraint(["plan_id"], ["payment_plan.id"]),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["ab_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in (
        "contract_id",
        "customer_id",
        "plan_id",
        "paid_on",
        "amount",
        "method",
        "invoice_number",
        "recorded_by_id",
    ):
        op.create_index(f"ix_payment_{column}", "payment", [column])

    day_created = (
        "date(created_on)" if op.get_bind().dialect.name == "sqlite" else "CAST(created_on AS DATE)"
    )
    op.execute(
        "INSERT INTO payment_plan (contract_id, customer_id, instalment, planned_date, "
        "planned_amount, created_on, changed_on, row_version) "
        f"SELECT id, customer_id, 1, COALESCE(payment_date, end_date, sign_date, {day_created}), "
        "amount, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1 FROM contract WHERE amount > 0"
    )


def downgrade():
    op.drop_table("payment")
    op.drop_table("payment_plan")
