"""Row-level rules on top of the role permissions, shared by pages and the API.

An engineer may edit only the feedback assigned to them; the rest is
read-only for them. A user with any other role that may edit feedback
(the administrator, support, or a role the admin edited) edits all of it.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _

from app.permissions import EDIT, ENGINEER, FEEDBACK, permission_name


class RecordForbidden(Exception):
    """The user may not change this record; ``str()`` is the user's message."""


def may_edit_feedback(user, feedback) -> bool:
    """May ``user`` change ``feedback``? Read from the request's permission cache.

    The edit permission on feedback is needed; granted only through the
    engineer role, it covers the feedback assigned to the user.
    """
    roles = list(getattr(user, "roles", None) or ())
    sm = current_app.appbuilder.sm
    can_edit = permission_name(EDIT)
    if not sm.roles_grant(roles, can_edit, FEEDBACK):
        return False
    engineer_role = current_app.config["CRM_ROLE_NAMES"][ENGINEER]
    others = [role for role in roles if role.name != engineer_role]
    return sm.roles_grant(others, can_edit, FEEDBACK) or (
        feedback.engineer_id is not None and feedback.engineer_id == getattr(user, "id", None)
    )


def check_feedback_editable(user, feedback, reassigning: bool = False) -> None:
    """Raise ``RecordForbidden``, saying why, unless ``user`` may change ``feedback``."""
    if may_edit_feedback(user, feedback):
        return
    if reassigning:
        message = _(
            "Feedback %(record)s is assigned to another engineer: only its tracking "
            "engineer may reassign it.",
            record=str(feedback),
        )
    else:
        message = _(
            "Feedback %(record)s is assigned to another engineer: you may read it "
            "but only its tracking engineer may change it.",
            record=str(feedback),
        )
    raise RecordForbidden(message)
