"""The password policy: length, character classes, not the login name, not a common one.

``problem(password, username)`` says what is wrong, or None. Flask-AppBuilder
calls ``complexity_validator`` (``FAB_PASSWORD_COMPLEXITY_VALIDATOR`` in
config.py) on the user add page and both reset-password forms; ``crm init``
and ``crm demo --sales-password`` call ``problem`` directly. Settings:
``CRM_PASSWORD_MIN_LENGTH`` (default 10) and ``CRM_PASSWORD_MIN_CLASSES``
(of lower case, upper case, digits, other characters; default 3).
"""

from __future__ import annotations

import string

from flask import current_app, g, has_app_context, has_request_context, request
from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_babel import gettext as _

# A short list of the passwords tried first (leaked-password lists, Chinese ones too);
# compared without case, and with the digits and symbols at the ends taken off.
COMMON = frozenset(
    {
        "password",
        "passw0rd",
        "p@ssw0rd",
        "p@ssword",
        "qwerty",
        "qwertyuiop",
        "qwe123",
        "qweasdzxc",
        "1qaz2wsx",
        "1q2w3e4r",
        "1q2w3e4r5t",
        "abc123",
        "abcd1234",
        "aa123456",
        "a123456",
        "admin",
        "admin123",
        "administrator",
        "root",
        "welcome",
        "letmein",
        "iloveyou",
        "woaini",
        "woaini1314",
        "changeme",
        "monkey",
        "dragon",
        "sunshine",
        "princess",
        "football",
        "baseball",
        "superman",
        "trustno1",
        "zxcvbnm",
        "asdfghjkl",
        "123456",
        "1234567",
        "12345678",
        "123456789",
        "1234567890",
        "0123456789",
        "111111",
        "000000",
        "666666",
        "888888",
        "123123",
        "654321",
        "147258369",
        "5201314",
        "changyi",
        "changyicrm",
        "crm",
    }
)
CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits)


def _setting(name: str, default: int) -> int:
    if not has_app_context():
        return default
    return int(current_app.config.get(name, default))


def classes_of(password: str) -> int:
    found = sum(1 for chars in CLASSES if any(ch in chars for ch in password))
    return found + (1 if any(not ch.isascii() or not ch.isalnum() for ch in password) else 0)


def _core(text: str) -> str:
    """``P@ssw0rd!2024`` → ``p@ssw0rd``: lower case, digits and symbols off both ends."""
    return text.lower().strip(string.digits + string.punctuation + " ")


def problem(password: str | None, username: str | None = None) -> str | None:
    """Why ``password`` is refused, in the reader's language; None when it is good."""
    password = password or ""
    length = _setting("CRM_PASSWORD_MIN_LENGTH", 10)
    classes = _setting("CRM_PASSWORD_MIN_CLASSES", 3)
    if len(password) < length:
        return _("The password must have at least %(count)d characters.", count=length)
    if classes_of(password) < classes:
        return _(
            "The password must mix at least %(count)d of: lower-case letters, upper-case "
            "letters, digits, other characters.",
            count=classes,
        )
    name = (username or "").strip().lower()
    if name and name in (password.lower(), _core(password)):
        return _("The password must not be the login name.")
    if password.lower() in COMMON or _core(password) in COMMON:
        return _("This password is too common; choose another.")
    return None


def _login_name_of_request() -> str | None:
    """Whose password a form sets: the add page's login name, the reset page's user, or me."""
    if not has_request_context():
        return None
    if request.form.get("username"):
        return request.form["username"]
    pk = request.args.get("pk")
    if pk and str(pk).isdigit():
        user = current_app.appbuilder.sm.get_user_by_id(int(pk))
        if user is not None:
            return user.username
    user = getattr(g, "user", None)
    return getattr(user, "username", None)


def complexity_validator(password: str) -> None:
    """Flask-AppBuilder's hook (``FAB_PASSWORD_COMPLEXITY_VALIDATOR``)."""
    refusal = problem(password, _login_name_of_request())
    if refusal:
        raise PasswordComplexityValidationError(refusal)
