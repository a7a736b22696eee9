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


def edits_all_feedback(user) -> bool:
    """True unless the user's only way to edit feedback is the engineer role."""
    config = current_app.config
    engineer_role = config["CRM_ROLE_NAMES"][ENGINEER]
    wanted = permission_name(EDIT)
    for role in getattr(user, "roles", ()):
        if role.name == config["AUTH_ROLE_ADMIN"]:
            return True
        if role.name == engineer_role:
            continue
        for permission_view in role.permissions:
            if (
                permission_view.permission.name == wanted
                and permission_view.view_menu.name == FEEDBACK
            ):
                return True
    return False


def may_edit_feedback(user, feedback) -> bool:
    return edits_all_feedback(user) or feedback.engineer_id == getattr(user, "id", None)


def check_feedback_editable(user, feedback) -> None:
    if not may_edit_feedback(user, feedback):
        raise RecordForbidden(
            _(
                "Feedback %(record)s is assigned to another engineer: you may read it "
                "but only its tracking engineer may change it.",
                record=str(feedback),
            )
        )
