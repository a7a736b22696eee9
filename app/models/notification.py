from datetime import datetime

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Text
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
    """One attempt to tell a reporter about their problem, kept as a record."""

    __tablename__ = "feedback_notification"

    id = Column(Integer, primary_key=True)
    feedback_id = Column(
        Integer, ForeignKey("feedback.id", ondelete="CASCADE"), nullable=False, index=True
    )
    feedback = relationship("Feedback")
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
