from flask_appbuilder import Model
from sqlalchemy import Column, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import relationship

from .base import AuditMixin


class Department(AuditMixin, Model):
    """A node of the company's tree (销售部 › 华东区); every user belongs to one."""

    __tablename__ = "department"
    __table_args__ = (UniqueConstraint("parent_id", "name", name="uq_department_parent_name"),)

    id = Column(Integer, primary_key=True)
    name = Column(String(50), nullable=False, index=True)
    parent_id = Column(Integer, ForeignKey("department.id"), index=True)
    parent = relationship("Department", remote_side=[id], lazy="joined", join_depth=1)

    def __str__(self) -> str:
        return self.name
