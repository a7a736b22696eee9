"""Fixtures: one migrated database and app per test worker, users of every role.

The database is SQLite in a temporary folder, or PostgreSQL when
``DATABASE_URL`` names a server (CI): each xdist worker then gets a database
of its own, created here. Business rows are deleted after every test.
"""

from __future__ import annotations

import contextvars
import os
import re
import shutil
import tempfile
import threading
from datetime import datetime

# Before anything imports config.py: keep keys and files out of the checkout.
os.environ["CRM_INSTANCE_DIR"] = tempfile.mkdtemp(prefix="crm-test-")

import pytest
from flask.testing import FlaskClient
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from app.models import (
    ChangeRecord,
    Contact,
    Contract,
    CrmUser,
    Customer,
    Department,
    Feedback,
    FeedbackNotification,
    FollowUp,
    License,
    Payment,
    PaymentPlan,
    Product,
    Reporter,
)
from app.permissions import ADMIN, CUSTOMER, FEEDBACK, READ
from app.services import feedback as desk
from helpers import (
    FROZEN_DESK_TIME,
    PASSWORD,
    SEEDED_DEPARTMENTS,
    SEEDED_USER_DEPARTMENTS,
    SEEDED_USERS,
    Inbox,
    Related,
    Visitor,
    free_port,
)

CHILD_FIRST = (
    FeedbackNotification,  # cascades with its feedback, but a reminder has none
    FollowUp,
    Payment,
    PaymentPlan,
    Feedback,
    License,
    Reporter,
    Product,
    Contract,
    Contact,
    Customer,
)


def _worker_database_url(tmp_path_factory, worker_id: str) -> str:
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'crm.sqlite3'}"
    import psycopg

    url = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"crm_test_{worker_id}"
    admin_dsn = url.set(drivername="postgresql", database=url.database or "postgres")
    with psycopg.connect(admin_dsn.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


class RequestClient(FlaskClient):
    """A test client whose every request gets an app context of its own, as on a server.

    Flask reuses an app context that is already pushed (``db_session`` keeps one
    open for the whole test), so ``g`` (Flask-Login's user, the CSRF token, the
    locale) and the scoped session would be shared by the test and every request.
    An empty ``contextvars.Context`` has no app context, so Flask pushes a new one.
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture(scope="session")
def app(tmp_path_factory, worker_id):
    from flask_migrate import upgrade

    from app.services.roles import apply_roles

    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": _worker_database_url(tmp_path_factory, worker_id),
            "RATELIMIT_ENABLED": False,
            "SERVER_NAME": None,
        }
    )
    app.test_client_class = RequestClient
    with app.app_context():
        upgrade()
        apply_roles(app.appbuilder)
        sm = app.appbuilder.sm
        names = app.config["CRM_ROLE_NAMES"]
        departments = {}
        for name, parent in SEEDED_DEPARTMENTS.items():
            departments[name] = Department(name=name, parent=departments.get(parent))
            db.session.add(departments[name])
        db.session.commit()
        for username, role_key in SEEDED_USERS.items():
            user = sm.add_user(
                username=username,
                first_name=f"{username} user",
                last_name="",
                email=f"{username}@example.com",
                role=sm.find_role(names[role_key]),
                password=PASSWORD,
            )
            department = departments.get(SEEDED_USER_DEPARTMENTS.get(username))
            user.department_id = department.id if department else None
        db.session.commit()
        app.config["TEST_SEEDED_ACCOUNTS"] = [
            {"b_id": user.id, "b_password": user.password, "b_department": user.department_id}
            for user in db.session.scalars(select(CrmUser))
        ]
        app.config["TEST_SEEDED_DEPARTMENTS"] = [dept.id for dept in departments.values()]
        db.session.remove()
    return app


@pytest.fixture(autouse=True)
def _clean_database(app):
    yield
    with app.app_context():
        db.session.rollback()
        _restore_seeded_accounts(app)
        for model in CHILD_FIRST:
            db.session.execute(delete(model))
        extra_users = select(CrmUser).where(CrmUser.username.not_in(list(SEEDED_USERS)))
        for user in db.session.scalars(extra_users):
            db.session.delete(user)
        db.session.commit()
        seeded = app.config["TEST_SEEDED_DEPARTMENTS"]
        db.session.execute(delete(Department).where(Department.id.not_in(seeded)))
        _restore_role_scopes(app)
        db.session.commit()
        db.session.execute(delete(ChangeRecord))  # including the deletes just recorded
        db.session.commit()
        db.session.remove()


def _restore_seeded_accounts(app) -> None:
    """Whatever a test did to a seeded account (lock, deactivate, new password) is undone."""
    table = CrmUser.__table__
    db.session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            password=bindparam("b_password"),
            active=True,
            fail_login_count=0,
            locked_until=None,
            last_seen_at=None,
            department_id=bindparam("b_department"),
        ),
        app.config["TEST_SEEDED_ACCOUNTS"],
    )


def _restore_role_scopes(app) -> None:
    """A test that changed a seeded role's data scope leaves it as seeded."""
    from app.permissions import ROLE_SCOPES
    from app.services.scope import set_scope

    for key, scope in ROLE_SCOPES.items():
        role = app.appbuilder.sm.find_role(app.config["CRM_ROLE_NAMES"][key])
        if role is not None and key != ADMIN:
            set_scope(role, scope)


@pytest.fixture
def db_session(app):
    """The app's session inside an app context, for arranging and checking rows.

    Requests made meanwhile do not share this context (see ``RequestClient``).
    """
    with app.app_context():
        yield db.session
        db.session.remove()


@pytest.fixture
def visitor(app):
    return Visitor(app)


@pytest.fixture
def login_as(app):
    """``login_as("sales")`` returns a signed-in Visitor of that seeded user."""

    def sign_in(username: str) -> Visitor:
        visitor = Visitor(app)
        response = visitor.login(username)
        assert response.status_code == 302, f"{username} could not sign in"
        return visitor

    return sign_in


@pytest.fixture
def admin(login_as):
    return login_as(ADMIN)


@pytest.fixture(scope="module")
def signed_in(app):
    """``signed_in("support")``: one signed-in Visitor per user, shared by a module's tests
    (a sign-in costs a password hash)."""
    visitors = {}

    def get(username: str) -> Visitor:
        if username not in visitors:
            visitor = Visitor(app)
            assert visitor.login(username).status_code == 302, f"{username} could not sign in"
            visitors[username] = visitor
        return visitors[username]

    return get


@pytest.fixture(scope="module")
def module_admin(signed_in):
    """The admin signed in once per module, for the files with many page tests."""
    return signed_in(ADMIN)


@pytest.fixture
def api(app):
    """A JSON client signed in as ``api.as_(role)``."""

    class Api:
        def __init__(self):
            self.client = app.test_client()
            self.headers = {}

        def as_(self, username):
            response = self.client.post(
                "/api/v1/security/login",
                json={"username": username, "password": PASSWORD, "provider": "db"},
            )
            assert response.status_code == 200, response.json
            self.headers = {"Authorization": f"Bearer {response.json['access_token']}"}
            return self

        def __getattr__(self, verb):
            method = getattr(self.client, verb)
            return lambda url, **kwargs: method(url, headers=self.headers, **kwargs)

    return Api()


@pytest.fixture(scope="module")
def jwt_headers(app):
    """``jwt_headers("sales")``: the REST API's Authorization header for a seeded user,
    signed in through /api/v1/security/login once per module, and again when the token
    is half-way through its life (a long module on a loaded machine outlives one)."""
    tokens = {}
    renew_after = app.config["JWT_ACCESS_TOKEN_EXPIRES"] / 2

    def get(username: str) -> dict:
        issued, headers = tokens.get(username, (None, None))
        if issued is None or datetime.now() - issued > renew_after:
            response = app.test_client().post(
                "/api/v1/security/login",
                json={"username": username, "password": PASSWORD, "provider": "db"},
            )
            assert response.status_code == 200, response.json
            headers = {"Authorization": f"Bearer {response.json['access_token']}"}
            tokens[username] = (datetime.now(), headers)
        return headers

    return get


@pytest.fixture
def related(db_session) -> Related:
    """A customer with a product and a reporter, and the engineer, for add forms to point at."""
    from factories import make_customer, make_product, make_reporter

    customer = make_customer()
    product = make_product(customer=customer)
    reporter = make_reporter(customer=customer)
    engineer = db_session.scalar(select(CrmUser).where(CrmUser.username == "engineer"))
    return Related(customer.id, product.id, reporter.id, engineer.id)


@pytest.fixture
def frozen(monkeypatch):
    """The support desk's clock stopped at ``FROZEN_DESK_TIME``."""
    monkeypatch.setattr(desk, "now", lambda: FROZEN_DESK_TIME)
    return FROZEN_DESK_TIME


@pytest.fixture
def reader_without_license(app):
    """A user whose only role reads customers and feedback, not licenses."""
    from app.services.roles import granted_permission_views

    with app.app_context():
        sm = app.appbuilder.sm
        role = sm.add_role(
            "无授权查看",
            granted_permission_views(app.appbuilder, {CUSTOMER: (READ,), FEEDBACK: (READ,)}),
        )
        sm.add_user(
            username="nolicense",
            first_name="nolicense user",
            last_name="",
            email="nolicense@example.com",
            role=role,
            password=PASSWORD,
        )
        db.session.remove()
    yield "nolicense"
    with app.app_context():
        sm = app.appbuilder.sm
        user = sm.find_user(username="nolicense")
        if user is not None:
            db.session.delete(user)
            db.session.commit()
        role = sm.find_role("无授权查看")
        if role is not None:
            db.session.delete(role)
            db.session.commit()
        db.session.remove()


@pytest.fixture
def mail_config(app):
    """The app's mail settings pointed at a free port on 127.0.0.1, restored afterwards."""
    saved = {key: app.config.get(key) for key in ("MAIL_SERVER", "MAIL_PORT")}
    port = free_port()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    yield port
    app.config.update(saved)


@pytest.fixture
def smtp_server(mail_config):
    """A real SMTP server on that port; its ``messages`` are what it received."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=mail_config)
    controller.start()
    yield inbox
    controller.stop()


@pytest.fixture(scope="session")
def live_server(app):
    """The app served over HTTP on 127.0.0.1 for the browser tests."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


def pytest_unconfigure(config):
    """The instance folder made above (secret key, uploads) goes when the run ends."""
    folder = os.environ.get("CRM_INSTANCE_DIR", "")
    if os.path.basename(folder).startswith("crm-test-"):
        shutil.rmtree(folder, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def page(browser, request):
    """A fresh browser page; a screenshot lands in test-artifacts/ when the test fails."""
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        os.makedirs("test-artifacts", exist_ok=True)
        name = re.sub(r"[^\w.-]", "_", request.node.nodeid)
        page.screenshot(path=f"test-artifacts/{name}.png", full_page=True)
    context.close()
