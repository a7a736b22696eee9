from flask_appbuilder import Model
from sqlalchemy import Column, ForeignKey, Integer, String
from sqlalchemy.orm import relationship

from .base import AuditMixin


class Reporter(AuditMixin, Model):
    """A store or person at a customer who reports problems and is told of fixes."""

    __tablename__ = "reporter"

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customer.id"), nullable=False, index=True)
    customer = relationship("Customer")
    name = Column(String(50), nullable=False, index=True)
    phone = Column(String(30), index=True)
    email = Column(String(120), index=True)
    store = Column(String(100), index=True)
    address = Column(String(300))

    def __str__(self) -> str:
        return f"{self.name} · {self.store}" if self.store else self.name
