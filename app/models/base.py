"""Column helpers shared by the business models."""

import enum
from datetime import datetime

from flask import g, has_request_context
from sqlalchemy import Column, DateTime, Enum, ForeignKey, Integer
from sqlalchemy.orm import declared_attr, relationship


class LabeledEnum(enum.Enum):
    """An enumeration stored by member name, shown by its (lazy) translated label.

    The member name is the stable code in the database and the API; the value is
    the label, so ``str(member)`` renders in the request's language.
    """

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def choices(cls):
        return [(member.name, str(member.value)) for member in cls]


def enum_column(enum_class, name: str, **kwargs) -> Column:
    """A VARCHAR column with a CHECK constraint that accepts only the codes."""
    return Column(
        Enum(
            enum_class,
            native_enum=False,
            create_constraint=True,
            length=20,
            name=name,
        ),
        **kwargs,
    )


def _current_user_id():
    if has_request_context():
        user = getattr(g, "user", None)
        return getattr(user, "id", None)
    return None


class AuditMixin:
    """Who created and last changed a row, when, and its version.

    Unlike Flask-AppBuilder's mixin, the user is optional: rows written by the
    command line (demo data, imports) have none.
    """

    created_on = Column(DateTime, default=datetime.now, nullable=False)
    # Optimistic locking: SQLAlchemy adds "AND row_version = <loaded>" to every
    # UPDATE and DELETE and bumps it, so a save over a newer row fails instead
    # of silently overwriting it (app.services.versioning explains the refusal).
    # Not called "version": products have a business field of that name.
    row_version = Column(Integer, nullable=False, default=1, server_default="1")
    changed_on = Column(DateTime, default=datetime.now, onupdate=datetime.now, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls):
        return {"version_id_col": cls.row_version}

    @declared_attr
    def created_by_fk(cls):
        return Column(Integer, ForeignKey("ab_user.id"), default=_current_user_id)

    @declared_attr
    def changed_by_fk(cls):
        return Column(
            Integer, ForeignKey("ab_user.id"), default=_current_user_id, onupdate=_current_user_id
        )

    @declared_attr
    def created_by(cls):
        return relationship("User", foreign_keys=[cls.created_by_fk], lazy="select")

    @declared_attr
    def changed_by(cls):
        return relationship("User", foreign_keys=[cls.changed_by_fk], lazy="select")
