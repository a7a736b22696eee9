from flask_appbuilder import Model
from sqlalchemy import CheckConstraint, Column, Date, ForeignKey, Integer, Numeric, String
from sqlalchemy.orm import query_expression, relationship

from .base import AuditMixin


class Contract(AuditMixin, Model):
    """A signed contract; the amount is exact decimal yuan."""

    __tablename__ = "contract"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="ck_contract_amount_not_negative"),
        CheckConstraint(
            "end_date IS NULL OR sign_date IS NULL OR end_date >= sign_date",
            name="ck_contract_dates_ordered",
        ),
    )

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customer.id"), nullable=False, index=True)
    customer = relationship("Customer")
    number = Column(String(50), unique=True, nullable=False)
    sign_date = Column(Date, index=True)
    end_date = Column(Date, index=True)
    payment_date = Column(Date, index=True)
    amount = Column(Numeric(14, 2), nullable=False, default=0, index=True)
    party_a = Column(String(200), index=True)
    party_b = Column(String(200), index=True)
    # 已回款 and 未回款: SQL the contract list loads with its rows
    # (app.services.payments.with_money); None where a query did not ask for them.
    received = query_expression()
    outstanding = query_expression()

    def __str__(self) -> str:
        return self.number
