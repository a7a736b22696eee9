from flask_appbuilder import Model
from sqlalchemy import Column, Date, ForeignKey, Integer, String
from sqlalchemy.orm import relationship

from .base import AuditMixin, enum_column
from .choices import ContactStatus


class Contact(AuditMixin, Model):
    """A person at a customer whom staff deal with."""

    __tablename__ = "contact"

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customer.id"), nullable=False, index=True)
    customer = relationship("Customer")
    name = Column(String(50), nullable=False, index=True)
    position = Column(String(50), index=True)
    birth_date = Column(Date)
    national_id = Column(String(18), index=True)
    phone = Column(String(30), index=True)
    email = Column(String(120), index=True)
    address = Column(String(300))
    status = enum_column(
        ContactStatus,
        "ck_contact_status",
        nullable=False,
        default=ContactStatus.active,
        index=True,
    )

    def __str__(self) -> str:
        return self.name
