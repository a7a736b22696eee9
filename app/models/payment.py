from flask_appbuilder import Model
from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from .base import AuditMixin, _current_user_id, enum_column
from .choices import PaymentMethod


class PaymentPlan(AuditMixin, Model):
    """One instalment (期次) of a contract's payment plan, in exact decimal yuan.

    ``customer_id`` repeats the contract's customer so that the data scope
    (app.services.scope) narrows plans like every customer record; it is kept
    in step by app.services.payments, never typed.
    """

    __tablename__ = "payment_plan"
    __table_args__ = (
        CheckConstraint("planned_amount > 0", name="ck_payment_plan_amount_positive"),
        CheckConstraint("instalment >= 1", name="ck_payment_plan_instalment_positive"),
        UniqueConstraint("contract_id", "instalment", name="uq_payment_plan_instalment"),
        # covering: the receivables report's sums read the index alone (migrations
        # 0012 and 0013: the aging's walk needs the customer too)
        Index("ix_payment_plan_date_amount", "planned_date", "planned_amount"),
        Index(
            "ix_payment_plan_schedule",
            "contract_id",
            "planned_date",
            "instalment",
            "planned_amount",
            "customer_id",
        ),
    )

    id = Column(Integer, primary_key=True)
    # a contract's plan goes with it (a contract with payments is not deleted)
    contract_id = Column(
        Integer, ForeignKey("contract.id", ondelete="CASCADE"), nullable=False, index=True
    )
    contract = relationship("Contract")
    customer_id = Column(Integer, ForeignKey("customer.id"), nullable=False, index=True)
    customer = relationship("Customer")
    instalment = Column(Integer, nullable=False, default=1, index=True)
    planned_date = Column(Date, nullable=False, index=True)
    planned_amount = Column(Numeric(14, 2), nullable=False, index=True)

    def __str__(self) -> str:
        contract = self.contract.number if self.contract is not None else ""
        return f"{contract} #{self.instalment}"


class Payment(AuditMixin, Model):
    """Money received on a contract (回款), optionally against one of its instalments."""

    __tablename__ = "payment"
    __table_args__ = (
        CheckConstraint("amount > 0", name="ck_payment_amount_positive"),
        # covering: per-day and per-contract sums read the index alone (migration 0012)
        Index("ix_payment_paid_on_amount", "paid_on", "amount"),
        Index("ix_payment_contract_paid_amount", "contract_id", "paid_on", "amount"),
    )

    id = Column(Integer, primary_key=True)
    contract_id = Column(Integer, ForeignKey("contract.id"), nullable=False, index=True)
    contract = relationship("Contract")
    customer_id = Column(Integer, ForeignKey("customer.id"), nullable=False, index=True)
    customer = relationship("Customer")
    plan_id = Column(Integer, ForeignKey("payment_plan.id"), index=True)
    plan = relationship("PaymentPlan")
    paid_on = Column(Date, nullable=False, index=True)
    amount = Column(Numeric(14, 2), nullable=False, index=True)
    method = enum_column(
        PaymentMethod,
        "ck_payment_method",
        nullable=False,
        default=PaymentMethod.bank_transfer,
        index=True,
    )
    invoice_number = Column(String(50), index=True)
    # 经办人: whoever signs in and records it (none for imports from the command line)
    recorded_by_id = Column(Integer, ForeignKey("ab_user.id"), index=True, default=_current_user_id)
    recorded_by = relationship("CrmUser", foreign_keys=[recorded_by_id])

    def __str__(self) -> str:
        contract = self.contract.number if self.contract is not None else ""
        return f"{contract} {self.paid_on or ''} {self.amount}"
