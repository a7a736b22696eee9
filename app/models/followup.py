from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, String, Text, event
from sqlalchemy.orm import relationship

from .base import AuditMixin, _current_user_id, enum_column
from .choices import FollowUpMethod


class FollowUp(AuditMixin, Model):
    """One contact with a customer (跟进记录): what was said, and when to follow up next.

    Each write keeps the customer's last and next follow-up times in step
    (app.services.followups).
    """

    __tablename__ = "followup"
    __table_args__ = (
        Index("ix_followup_customer_followed", "customer_id", "followed_at"),
        Index("ix_followup_user_next", "user_id", "next_at"),
    )

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customer.id"), nullable=False)
    customer = relationship("Customer")
    contact_id = Column(Integer, ForeignKey("contact.id"), index=True)
    contact = relationship("Contact")
    method = enum_column(
        FollowUpMethod,
        "ck_followup_method",
        nullable=False,
        default=FollowUpMethod.phone,
        index=True,
    )
    content = Column(Text, nullable=False)
    followed_at = Column(DateTime, nullable=False, default=datetime.now, index=True)
    next_at = Column(DateTime, index=True)
    next_step = Column(String(200), index=True)
    # 跟进人: who followed up; set to the signed-in user when the record is added.
    user_id = Column(Integer, ForeignKey("ab_user.id"))
    user = relationship("CrmUser", foreign_keys=[user_id], lazy="select")

    def __str__(self) -> str:
        return f"{self.followed_at:%Y-%m-%d %H:%M} {self.customer}" if self.followed_at else ""


@event.listens_for(FollowUp, "before_insert")
def _followed_up_by(_mapper, _connection, target: FollowUp) -> None:
    """跟进人 is whoever records the follow-up (pages, API, import); nobody picks it."""
    if target.user_id is None and target.user is None:
        target.user_id = _current_user_id()
