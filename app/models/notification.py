from datetime import datetime

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import relationship

from .base import AuditMixin, LabeledEnum, enum_column


class NotificationChannel(LabeledEnum):
    email = _l("E-mail")
    phone = _l("Phone call")


class NotificationState(LabeledEnum):
    pending = _l("Sending")
    sent = _l("Sent")
    failed = _l("Failed")
    call_needed = _l("Call needed")


class FeedbackNotification(AuditMixin, Model):
    """The mail outbox: one attempt to tell someone something, kept as a record.

    Either a notice to a reporter about their problem (``feedback``) or a
    user's daily follow-up reminder (``user`` and ``reminder_day``; one per
    user and day, which the unique key holds however often ``crm alerts`` runs).
    """

    __tablename__ = "feedback_notification"
    __table_args__ = (
        UniqueConstraint("user_id", "reminder_day", name="uq_feedback_notification_reminder"),
    )

    id = Column(Integer, primary_key=True)
    feedback_id = Column(Integer, ForeignKey("feedback.id", ondelete="CASCADE"), index=True)
    feedback = relationship("Feedback")
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"))
    user = relationship("CrmUser", foreign_keys=[user_id])
    reminder_day = Column(Date)
    channel = enum_column(NotificationChannel, "ck_notification_channel", nullable=False)
    recipient = Column(String(120), nullable=False)
    subject = Column(String(200), nullable=False)
    body = Column(Text, nullable=False)
    state = enum_column(
        NotificationState,
        "ck_notification_state",
        nullable=False,
        default=NotificationState.pending,
    )
    error = Column(String(500))
    sent_at = Column(DateTime)
    queued_at = Column(DateTime, nullable=False, default=datetime.now)

    def __str__(self) -> str:
        return f"{self.channel} {self.recipient}"
