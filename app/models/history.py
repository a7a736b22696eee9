"""The change history: one row per create, update or delete of a tracked record.

Rows are written by ``app.services.history`` in the same transaction as the
change itself, and never changed afterwards. The acting user is copied (id
and login name, no foreign key) so that deleting the account keeps its trail.
"""

import json
from datetime import datetime

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, DateTime, Index, Integer, String, Text

from app.services.encryption import unseal

from .base import LabeledEnum, enum_column


class ChangeAction(LabeledEnum):
    create = _l("Created")
    update = _l("Changed")
    delete = _l("Deleted")


class ChangeRecord(Model):
    """Who changed which record, when, from where, and each field's old and new value."""

    __tablename__ = "change_record"
    __table_args__ = (Index("ix_change_record_model_row", "model", "row_id"),)

    id = Column(Integer, primary_key=True)
    changed_at = Column(DateTime, default=datetime.now, nullable=False, index=True)
    user_id = Column(Integer, index=True)  # no foreign key: the row outlives the account
    username = Column(String(256), index=True)
    remote_addr = Column(String(45))
    model = Column(String(50), nullable=False)
    row_id = Column(Integer, nullable=False)
    record = Column(String(300))  # the record's name when it changed
    action = enum_column(ChangeAction, "ck_change_record_action", nullable=False, index=True)
    changes = Column(Text, nullable=False, default="{}")  # {field: {"old": …, "new": …}}

    def change_items(self) -> list[tuple[str, object, object]]:
        """``(field, old, new)`` sorted by field, from the stored JSON; encrypted values
        (身份证号) decrypted, for the readers to mask as they must."""
        try:
            data = json.loads(self.changes or "{}")
        except ValueError:
            return []
        return [
            (field, unseal(value.get("old")), unseal(value.get("new")))
            for field, value in sorted(data.items())
            if isinstance(value, dict)
        ]

    def __str__(self) -> str:
        return f"{self.model} #{self.row_id} {self.action.name if self.action else ''}"
