"""Helpers the test modules share: the seeded accounts, a browser-like visitor,
reading pages, a mail inbox. Fixtures live in conftest.py; rows come from factories.py.
"""

from __future__ import annotations

import html
import re
import socket
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy

from sqlalchemy import event

from app.extensions import db
from app.models import CrmUser
from app.permissions import ADMIN, ENGINEER, FINANCE, MANAGER, ROLE_GRANTS, SALES, SUPPORT

PASSWORD = "Test-Passw0rd!"
ROLE_KEYS = (ADMIN, *ROLE_GRANTS)
# login name -> role key; engineer2 exists for the "assigned to me" rule.
# department -> its parent; the seeded salesperson works in 华东区 under 销售部,
# whose manager sees both (本部门及下级).
SEEDED_DEPARTMENTS = {"销售部": None, "华东区": "销售部"}
SEEDED_USER_DEPARTMENTS = {"sales": "华东区", "manager": "销售部"}
SEEDED_USERS = {
    ADMIN: ADMIN,
    SALES: SALES,
    SUPPORT: SUPPORT,
    ENGINEER: ENGINEER,
    MANAGER: MANAGER,
    FINANCE: FINANCE,
    "engineer2": ENGINEER,
}
# The support desk's "now" in the tests that freeze it (the ``frozen`` fixture).
FROZEN_DESK_TIME = datetime(2026, 3, 10, 12, 0)


class Visitor:
    """Someone using the panel through the test client, carrying the CSRF token."""

    def __init__(self, app):
        self.client = app.test_client()
        self.csrf_token = None

    def login(self, username: str, password: str = PASSWORD):
        self.csrf_token = csrf_token_of(self.client.get("/login/"))
        return self.client.post(
            "/login/",
            data={"username": username, "password": password, "csrf_token": self.csrf_token},
        )

    def get(self, url: str, **kwargs):
        return self.client.get(url, **kwargs)

    def post(self, url: str, data: dict | None = None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token)
        return self.client.post(url, data=data, **kwargs)


def csrf_token_of(response) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.get_data(as_text=True))
    assert match, "page has no CSRF token"
    return match.group(1)


def make_user(app, username="zhaolei", role="sales", **extra) -> CrmUser:
    """A software user of one of the panel's roles, made through FAB's security manager."""
    sm = app.appbuilder.sm
    user = sm.add_user(
        username=username,
        first_name=f"{username}姓名",
        last_name="",
        email=f"{username}@example.com",
        role=sm.find_role(app.config["CRM_ROLE_NAMES"][role]),
        password=PASSWORD,
    )
    for key, value in extra.items():
        setattr(user, key, value)
    db.session.commit()
    return user


@dataclass
class Related:
    """Rows a new record points at, made before an add form is posted (``related`` fixture)."""

    customer: int
    product: int
    reporter: int
    engineer: int


# ---------------------------------------------------------------- reading pages


def visible_text(response) -> str:
    """The page as a reader sees it: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def unescaped_html(response) -> str:
    """The page's HTML with entities decoded, for checks that need the markup too."""
    return html.unescape(response.get_data(as_text=True))


def flashes(response_or_html) -> list[tuple[str, str]]:
    """The flashed ``(category, message)`` pairs on a page."""
    page = (
        response_or_html if isinstance(response_or_html, str) else unescaped_html(response_or_html)
    )
    found = re.findall(
        r'<div class="alert alert-(\w+)">\s*<button[^>]*>.*?</button>\s*(.*?)\s*</div>', page, re.S
    )
    return [(category, re.sub(r"\s+", " ", message)) for category, message in found]


def field_errors(response_or_html) -> dict[str, str]:
    """Each form field's error message, keyed by field id."""
    page = (
        response_or_html if isinstance(response_or_html, str) else unescaped_html(response_or_html)
    )
    errors = {}
    for block in re.split(r'<label for="', page)[1:]:
        name = block.split('"', 1)[0]
        match = re.search(r'<div class="alert alert-danger">\s*(.*?)\s*</div>', block, re.S)
        if match:
            errors[name] = re.sub(r"\s+", " ", match.group(1))
    return errors


# ---------------------------------------------------------------- queries


@contextmanager
def counting_statements(app):
    """The SQL statements the app's engine runs inside the block, as a growing list."""
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


# ---------------------------------------------------------------- mail


class Inbox:
    """An aiosmtpd handler keeping every message it is given."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
