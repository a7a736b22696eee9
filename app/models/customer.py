from flask_appbuilder import Model
from sqlalchemy import Column, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import relationship

from .base import AuditMixin, enum_column
from .choices import CustomerCategory, CustomerStatus, Importance


class Customer(AuditMixin, Model):
    """A business customer; every other module hangs off its code."""

    __tablename__ = "customer"

    id = Column(Integer, primary_key=True)
    code = Column(String(20), unique=True, nullable=False)
    name = Column(String(200), nullable=False, index=True)
    category = enum_column(CustomerCategory, "ck_customer_category", index=True)
    status = enum_column(
        CustomerStatus,
        "ck_customer_status",
        nullable=False,
        default=CustomerStatus.prospect,
        index=True,
    )
    importance = enum_column(Importance, "ck_customer_importance", index=True)
    address = Column(String(300))
    phone = Column(String(30), index=True)
    email = Column(String(120), index=True)
    # 负责人: the salesperson the customer belongs to; none means it is in the pool (公海).
    owner_id = Column(Integer, ForeignKey("ab_user.id"), index=True)
    owner = relationship("CrmUser", foreign_keys=[owner_id], lazy="select")
    # 最后跟进时间 / 下次跟进时间: derived from the follow-ups by app.services.followups
    # in the transaction that writes them; never edited directly.
    last_followup_at = Column(DateTime, index=True)
    next_followup_at = Column(DateTime, index=True)

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
