from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
)
from sqlalchemy.orm import relationship

from .base import AuditMixin, enum_column
from .choices import FeedbackLevel, FeedbackStatus


class Feedback(AuditMixin, Model):
    """A problem a customer reported, tracked until it is resolved."""

    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint(
            "resolved_at IS NULL OR resolved_at >= created_at",
            name="ck_feedback_resolved_after_created",
        ),
        Index("ix_feedback_customer_created", "customer_id", "created_at"),
        Index("ix_feedback_status_created", "status", "created_at"),
        Index("ix_feedback_engineer_created", "engineer_id", "created_at"),
        Index("ix_feedback_customer_status", "customer_id", "status"),
        Index("ix_feedback_customer_resolved", "customer_id", "resolved_at"),  # the timeline
    )

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customer.id"), nullable=False)
    customer = relationship("Customer")
    reporter_id = Column(Integer, ForeignKey("reporter.id"), nullable=False, index=True)
    reporter = relationship("Reporter")
    product_id = Column(Integer, ForeignKey("product.id"), index=True)
    product = relationship("Product")
    problem = Column(String(500), nullable=False)
    details = Column(Text)
    cause = Column(Text)
    engineer_id = Column(Integer, ForeignKey("ab_user.id"))
    engineer = relationship("CrmUser", foreign_keys=[engineer_id])
    created_at = Column(DateTime, nullable=False, default=datetime.now, index=True)
    resolved_at = Column(DateTime, index=True)  # the "resolved between" filter
    # Derived, for the statistics: set on every ORM write by ``_derive`` below.
    resolution_seconds = Column(BigInteger)
    level = enum_column(
        FeedbackLevel,
        "ck_feedback_level",
        nullable=False,
        default=FeedbackLevel.medium,
        index=True,
    )
    status = enum_column(
        FeedbackStatus, "ck_feedback_status", nullable=False, default=FeedbackStatus.new
    )
    city = Column(String(50), index=True)
    store = Column(String(100), index=True)

    def __str__(self) -> str:
        return f"#{self.id} {self.problem}"


def resolution_seconds(created_at: datetime | None, resolved_at: datetime | None) -> int | None:
    """Whole seconds from creation to resolution, as SQL's ``seconds_between`` counts them.

    Fractions are dropped from both ends first, as both databases do there.
    """
    if created_at is None or resolved_at is None:
        return None
    span = resolved_at.replace(microsecond=0) - created_at.replace(microsecond=0)
    return span.days * 86400 + span.seconds


@event.listens_for(Feedback, "before_insert")
@event.listens_for(Feedback, "before_update")
def _derive(_mapper, _connection, target: Feedback) -> None:
    """Every ORM write (pages, API, import, life cycle) keeps the derived column in step.

    Bulk Core inserts (the demo data) compute it with ``resolution_seconds`` themselves.
    """
    if target.created_at is None:  # the column default, applied early so the span sees it
        target.created_at = datetime.now()
    target.resolution_seconds = resolution_seconds(target.created_at, target.resolved_at)
