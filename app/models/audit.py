"""The security log (安全日志): who signed in, exported, changed accounts, from where.

Rows are written by ``app.services.audit.record`` alone and never changed:
the session refuses to update or delete them (``app.services.audit`` adds
the guard), except ``crm audit prune``, which drops old rows in one Core
statement. The acting user is copied (id and login name, no foreign key) so
that deleting the account keeps its trail.
"""

import json
from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import Column, DateTime, Integer, String, Text


class AuditEvent(Model):
    """One security-relevant event: when, who, from which address, what, on what."""

    __tablename__ = "audit_event"

    id = Column(Integer, primary_key=True)
    at = Column(DateTime, default=datetime.now, nullable=False, index=True)
    user_id = Column(Integer, index=True)  # no foreign key: the row outlives the account
    username = Column(String(256), index=True)
    address = Column(String(45))
    kind = Column(String(40), nullable=False, index=True)
    target = Column(String(300))
    details = Column(Text, nullable=False, default="{}")  # JSON object

    def detail_items(self) -> list[tuple[str, object]]:
        try:
            data = json.loads(self.details or "{}")
        except ValueError:
            return []
        return sorted(data.items()) if isinstance(data, dict) else []

    def __str__(self) -> str:
        return f"{self.kind} {self.target or ''}".strip()
