from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import Role
from sqlalchemy import Column, ForeignKey, Integer
from sqlalchemy.orm import backref, relationship

from .base import enum_column
from .choices import DataScope


class RoleScope(Model):
    """A role's data scope (数据范围), beside Flask-AppBuilder's own role table.

    A role without a row sees all data, as every role did before scopes existed;
    ``crm init`` writes the seeded roles' scopes.
    """

    __tablename__ = "role_scope"

    role_id = Column(Integer, ForeignKey("ab_role.id", ondelete="CASCADE"), primary_key=True)
    scope = enum_column(DataScope, "ck_role_scope_scope", nullable=False, default=DataScope.all)
    role = relationship(
        Role, backref=backref("data_scope_row", uselist=False, cascade="all, delete-orphan")
    )

    def __str__(self) -> str:
        return str(self.scope)
