from flask_appbuilder import Model
from sqlalchemy import Boolean, CheckConstraint, Column, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import relationship

from .base import AuditMixin


class License(AuditMixin, Model):
    """Seats of one product granted to its customer for a period."""

    __tablename__ = "license"
    __table_args__ = (
        CheckConstraint("seats >= 1", name="ck_license_seats_positive"),
        CheckConstraint("valid_to >= valid_from", name="ck_license_dates_ordered"),
    )

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customer.id"), nullable=False, index=True)
    customer = relationship("Customer")
    product_id = Column(Integer, ForeignKey("product.id"), nullable=False, index=True)
    product = relationship("Product")
    serial = Column(String(64), unique=True, nullable=False)
    seats = Column(Integer, nullable=False, default=1, index=True)
    valid_from = Column(Date, nullable=False, index=True)
    valid_to = Column(Date, nullable=False, index=True)
    machine_info = Column(Text)
    is_trial = Column(Boolean, nullable=False, default=False, index=True)

    def __str__(self) -> str:
        return self.serial
