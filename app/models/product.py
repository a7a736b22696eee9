from flask_appbuilder import Model
from sqlalchemy import Column, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import relationship

from .base import AuditMixin


class Product(AuditMixin, Model):
    """A customised build of the vendor's software, owned by one customer."""

    __tablename__ = "product"

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customer.id"), nullable=False, index=True)
    customer = relationship("Customer")
    name = Column(String(200), nullable=False, index=True)
    description = Column(Text)
    version = Column(String(50), index=True)
    customization = Column(Text)
    backup_path = Column(String(500))
    manual_path = Column(String(500))
    created_date = Column(Date, index=True)
    authorization_code = Column(String(100), index=True)

    def __str__(self) -> str:
        return f"{self.name} {self.version}" if self.version else self.name
