from flask_appbuilder import Model
from sqlalchemy import Column, Date, ForeignKey, Integer, String
from sqlalchemy.orm import relationship, validates

from app.services.encryption import EncryptedString, digest

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
    # Ciphertext in the database (app/services/encryption.py), clear text here; the
    # keyed hash beside it answers exact searches, kept in step by ``_hash_national_id``.
    national_id = Column("national_id_encrypted", EncryptedString(), key="national_id")
    national_id_hash = Column(String(64), index=True)
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

    @validates("national_id")
    def _hash_national_id(self, _key, value):
        """Every write of the number (form, API, import, anonymisation) updates its hash."""
        if isinstance(value, str):
            value = value.strip()
        self.national_id_hash = digest(value)
        return value

    def __str__(self) -> str:
        return self.name
